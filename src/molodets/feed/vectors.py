"""The viewer-interest vector: video embeddings learned from co-engagement, searched by nearest
neighbour.

Co-engagement pairs (`feed_co_engagement`: two videos one viewer engaged with positively, close
together) link only the videos a viewer actually met side by side. An embedding spreads that
evidence: videos whose audiences overlap end up close even when no single viewer paired them,
so a viewer's few reactions point at a whole neighbourhood of the catalogue. The embedding is
the truncated SVD of the pairs' positive pointwise mutual information (PPMI), which finds what
word2vec's skip-gram finds for words in a corpus (Levy & Goldberg 2014), in one sparse
factorisation a worker runs periodically (`feed.tasks.train_video_vectors`).

The viewer's vector is computed per slate, in real time, from their latest positives: the
recency-weighted mean of those videos' vectors. Its nearest videos (cosine, an exact search
over the whole matrix, about 2 ms for 100,000 videos) are a candidate source, and the
similarity of every candidate lifts its value. The model is one row in the database, so every
process serves the same one; a process loads it when a newer one appears.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import structlog
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import svds
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from molodets.feed.models import CoEngagement, VectorModel

log = structlog.get_logger(__name__)

DIMENSIONS = 32
VIDEOS_PER_DIMENSION = 20  # fewer, and the factorisation spends dimensions on single pairs, not audiences
MIN_VIDEOS = 2 * VIDEOS_PER_DIMENSION  # fewer paired videos teach nothing an embedding could add
CONTEXT_SMOOTHING = 0.75  # PPMI's context-distribution smoothing (Levy, Goldberg & Dagan 2015)
RECENCY = 0.8  # weight of a positive relative to the next newer one in the viewer's vector
NEAREST_LIMIT = 60  # candidates from the nearest-neighbour search
READ_CHUNK = 100_000  # pairs read at a time when training


@dataclass(frozen=True)
class Vectors:
    """A trained model: unit-length rows, one per video, ids ascending (rows found by bisection)."""

    model_id: int
    ids: np.ndarray  # int64
    matrix: np.ndarray  # float32, len(ids) x dimensions

    def rows_of(self, video_ids: np.ndarray) -> np.ndarray:
        """Each id's row, or -1 for a video the model has no vector for."""
        positions = np.searchsorted(self.ids, video_ids)
        positions = np.minimum(positions, len(self.ids) - 1)
        return np.where(self.ids[positions] == video_ids, positions, -1)

    def viewer_vector(self, recent_positives: list[int]) -> np.ndarray | None:
        """The recency-weighted mean of the vectors of `recent_positives` (newest last), unit
        length; None when the model knows none of them."""
        rows = self.rows_of(np.array(recent_positives, dtype=np.int64))
        weights = RECENCY ** np.arange(len(rows) - 1, -1, -1, dtype=np.float32)
        known = rows >= 0
        if not known.any():
            return None
        summed = weights[known] @ self.matrix[rows[known]]
        norm = float(np.linalg.norm(summed))
        return summed / norm if norm > 0 else None

    def similarity(self, vector: np.ndarray, video_ids: np.ndarray) -> np.ndarray:
        """Cosine of each video with `vector`, 0 for a video without a vector."""
        rows = self.rows_of(video_ids)
        scores = np.zeros(len(video_ids), dtype=np.float64)
        known = rows >= 0
        scores[known] = self.matrix[rows[known]] @ vector
        return scores

    def nearest(self, vector: np.ndarray, count: int, leave_out: list[int]) -> np.ndarray:
        """The ids of the `count` videos closest to `vector`, best first, none of `leave_out`."""
        scores = self.matrix @ vector
        left_out = self.rows_of(np.array(leave_out, dtype=np.int64))
        scores[left_out[left_out >= 0]] = -np.inf
        count = min(count, len(scores))
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        found: np.ndarray = self.ids[best[np.isfinite(scores[best])]]
        return found


def train(session: Session, *, now_ms: int) -> int | None:
    """`learn` and `store` in one session: for a caller that has the database to itself (the
    simulator, benchmarks). Returns the number of videos embedded, or None (see `learn`)."""
    learned = learn(session)
    if learned is None:
        return None
    store(session, *learned, now_ms=now_ms)
    return len(learned[0])


def learn(session: Session) -> tuple[np.ndarray, np.ndarray] | None:
    """The vectors of every paired video (ids ascending, their rows), from every co-engagement
    pair; None when there are too few pairs to learn from. Only reads: give it a read session,
    so that no write lock is held while it factorises (seconds at 100,000 videos)."""
    statement = select(CoEngagement.video_id, CoEngagement.neighbour_id, CoEngagement.weight)
    # Streamed into arrays a chunk at a time: millions of pairs as Python tuples would not fit.
    result = session.execute(statement, execution_options={"yield_per": READ_CHUNK})
    pairs: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for part in result.partitions():
        # Ids stay int64: as float64 (one array with the weights) they would lose their low bits.
        pairs.append(
            np.array([(video_id, neighbour_id) for video_id, neighbour_id, _ in part], dtype=np.int64)
        )
        weights.append(np.array([weight for _, _, weight in part], dtype=np.float64))
    if not pairs:
        return None
    ids, index = np.unique(np.concatenate(pairs), return_inverse=True)
    index = index.reshape(-1, 2)
    if len(ids) < MIN_VIDEOS:
        return None
    counts = csr_matrix((np.concatenate(weights), (index[:, 0], index[:, 1])), shape=(len(ids), len(ids)))
    return ids, _embed(counts, min(DIMENSIONS, len(ids) // VIDEOS_PER_DIMENSION))


def store(session: Session, ids: np.ndarray, vectors: np.ndarray, *, now_ms: int) -> None:
    """Make these vectors the newest model (the older ones are deleted)."""
    session.execute(delete(VectorModel))
    session.add(
        VectorModel(
            trained_ms=now_ms,
            dimensions=vectors.shape[1],
            video_ids=ids.astype("<i8").tobytes(),
            vectors=vectors.astype("<f4").tobytes(),
        )
    )


def _embed(counts: csr_matrix, dimensions: int) -> np.ndarray:
    """Rows of unit length from the truncated SVD of the counts' PPMI (singular values split
    evenly between the two sides, as for symmetric co-occurrence)."""
    total = counts.sum()
    rows = np.asarray(counts.sum(axis=1)).ravel()
    context = np.asarray(counts.sum(axis=0)).ravel() ** CONTEXT_SMOOTHING
    context /= context.sum()
    coo = counts.tocoo()
    pmi = np.log(coo.data * 1.0 / total / (rows[coo.row] / total) / context[coo.col])
    keep = pmi > 0
    ppmi = csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    left, singular, _ = svds(ppmi, k=dimensions, random_state=0)
    embedded = left * np.sqrt(singular)
    norms = np.linalg.norm(embedded, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(embedded, norms, out=np.zeros_like(embedded), where=norms > 0)
    return unit


_loaded: dict[str, Vectors] = {}
_loading = threading.Lock()


def current(session: Session) -> Vectors | None:
    """The newest model, loaded once per process per model (one indexed read to check)."""
    newest = session.connection().execute(select(func.max(VectorModel.id))).scalar()
    if newest is None:
        return None
    key = str(session.get_bind().engine.url)
    held = _loaded.get(key)
    if held is not None and held.model_id == newest:
        return held
    with _loading:
        held = _loaded.get(key)
        if held is not None and held.model_id == newest:
            return held
        row = session.get(VectorModel, newest)
        if row is None:  # replaced since the check: the next slate finds the newer one
            return None
        ids = np.frombuffer(row.video_ids, dtype="<i8").astype(np.int64)
        matrix = np.frombuffer(row.vectors, dtype="<f4").reshape(len(ids), row.dimensions).astype(np.float32)
        held = Vectors(model_id=row.id, ids=ids, matrix=matrix)
        _loaded[key] = held
        log.info("feed_vectors_loaded", model=row.id, videos=len(ids), dimensions=row.dimensions)
        return held
