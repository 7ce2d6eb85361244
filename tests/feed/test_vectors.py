"""The viewer-interest vector (feed/vectors.py): embeddings learned from co-engagement place
videos of one audience together, even those no viewer paired directly; a viewer's vector brings
such videos into their feed when no other source offers them; the model is stored in the
database, one row, and loaded by a process once per model."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.feed import vectors
from molodets.feed.models import CoEngagement, VectorModel, VideoStats
from molodets.feed.recommender import ViewerRef
from molodets.feed.tasks import train_video_vectors
from molodets.ids import new_id
from molodets.runtime import Runtime
from tests.factories.accounts import make_user
from tests.factories.videos import make_ready_video
from tests.feed.test_recommender import now_ms, page_ids, record, watched
from tests.videos.test_pipeline import run_job_directly


def pair(db: Session, edges: list[tuple[int, int]], weight: float = 1.0) -> None:
    """Co-engagement as the event writer stores it: both directions."""
    for a, b in edges:
        for video_id, neighbour_id in ((a, b), (b, a)):
            db.merge(CoEngagement(video_id=video_id, neighbour_id=neighbour_id, weight=weight))
    db.commit()


def ids(count: int) -> list[int]:
    return [new_id() for _ in range(count)]


def audience(ids: list[int], viewers: int, seed: int = 0) -> list[tuple[int, int]]:
    """Pairs as one audience leaves them: each viewer likes 5 of the videos, each like paired
    with the ones before it (online.PAIR_WINDOW), so many of the videos are never paired."""
    rng = np.random.default_rng(seed)
    edges: set[tuple[int, int]] = set()
    everyone = rng.permutation(ids).tolist()  # the first viewers between them like each video once
    for n in range(viewers):
        liked = everyone[5 * n : 5 * n + 5] or rng.choice(ids, size=5, replace=False).tolist()
        edges |= {(a, b) for a, b in itertools.combinations(liked, 2)}
    return sorted(edges)


def test_videos_of_one_audience_end_up_close_even_when_never_paired(db: Session) -> None:
    # Real ids, made within the same millisecond: they differ only in their lowest bits.
    cats, dogs = ids(24), ids(24)
    cat_pairs = audience(cats, viewers=8)
    edges = [*cat_pairs, *audience(dogs, viewers=8, seed=1), (cats[0], dogs[0])]  # one crossed over
    pair(db, edges)
    assert vectors.train(db, now_ms=now_ms()) == 48
    db.commit()
    model = vectors.current(db)
    assert model is not None
    assert np.allclose(np.linalg.norm(model.matrix, axis=1), 1.0, atol=1e-5)
    probe = cat_pairs[0][0]
    first = model.matrix[model.rows_of(np.array([probe]))[0]]
    never_paired = [cat for cat in cats if cat != probe and not {(probe, cat), (cat, probe)} & set(cat_pairs)]
    assert len(never_paired) >= 8
    unpaired_cats, dogs_too = (
        model.similarity(first, np.array(never_paired)),
        model.similarity(first, np.array(dogs)),
    )
    assert unpaired_cats.mean() > dogs_too.mean() + 0.3, (unpaired_cats, dogs_too)
    taste = model.viewer_vector([dogs[3], cats[2], cats[1]])  # newest last: mostly cats
    assert taste is not None
    nearest = model.nearest(taste, 10, leave_out=[cats[1], cats[2]])
    assert len(set(nearest) & set(cats)) >= 8, nearest
    assert not {cats[1], cats[2]} & set(nearest)
    missing, found = model.rows_of(np.array([999, probe])).tolist()
    assert missing == -1
    assert model.ids[found] == probe
    assert model.viewer_vector([999]) is None


def test_too_few_pairs_keep_the_previous_model(db: Session) -> None:
    assert vectors.train(db, now_ms=now_ms()) is None  # nothing to learn from
    pair(db, audience(ids(60), viewers=30))
    assert vectors.train(db, now_ms=now_ms()) == 60
    db.commit()
    first = vectors.current(db)
    assert first is not None
    assert vectors.current(db) is first
    assert first.matrix.shape == (60, 3)
    assert first.matrix.dtype == np.float32
    db.execute(delete(CoEngagement))
    pair(db, audience(ids(30), viewers=30))
    assert vectors.train(db, now_ms=now_ms()) is None  # 30 videos: too few
    db.commit()
    assert vectors.current(db) is first
    later = ids(60)
    pair(db, audience(later, viewers=30))
    assert vectors.train(db, now_ms=now_ms()) == 90
    db.commit()
    second = vectors.current(db)
    assert second is not None
    assert second.model_id != first.model_id
    assert set(later) <= set(second.ids.tolist())
    assert db.scalar(select(func.count()).select_from(VectorModel)) == 1


@pytest.fixture
def creators(db: Session) -> list[User]:
    return [make_user(db, username=f"vcreator{n}") for n in range(8)]


def test_the_interest_vector_brings_what_no_other_source_offers(
    runtime: Runtime, db: Session, creators: list[User]
) -> None:
    """The cluster's videos are old, untagged, neither trending nor strong, and only a few are
    paired with what the viewer liked: without the vectors the far end never reaches their
    feed, with them it is among the first of it."""
    cluster = [make_ready_video(db, creators[n % 8]) for n in range(30)]
    crowd = [make_ready_video(db, creators[n % 8], caption="#толпа") for n in range(160)]
    db.execute(
        update(VideoStats)
        .where(VideoStats.video_id.in_([v.id for v in crowd]))
        .values(quality=5.0, trend=50.0)
    )
    db.commit()
    liked = cluster[:2]
    for video in liked:
        record(db, "u1", *watched(video, 3000), ("like", video, {}))
    cluster_ids = [video.id for video in cluster]
    liked_ids = {video.id for video in liked}
    crowd_ids = [video.id for video in crowd]
    edges = audience(cluster_ids, viewers=10) + audience(crowd_ids[:40], viewers=20)
    pair(db, edges)
    paired_with_liked = {b for a, b in edges if a in liked_ids} | {a for a, b in edges if b in liked_ids}
    far_end = set(cluster_ids) - paired_with_liked - liked_ids  # no pair reaches them
    viewer = ViewerRef(key="u1")

    def far_end_places(seed: int) -> list[int]:
        ids = page_ids(db, viewer, limit=30, seed=seed)
        return [place for place, video_id in enumerate(ids) if video_id in far_end]

    assert all(not far_end_places(seed) for seed in range(3))
    db.rollback()  # the job writes with a session of its own
    run_job_directly(runtime, train_video_vectors)
    for seed in range(3):
        places = far_end_places(seed)
        assert len(places) >= 8, (places, len(far_end))
        assert min(places) < 8, places
    assert not set(page_ids(db, viewer, limit=30)) & liked_ids


def test_the_training_job_holds_no_write_lock_while_it_factorises(
    runtime: Runtime, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a job's own session takes the only write lock at its first statement: had the
    job read the pairs there, the event writer, likes and comments would wait for the whole
    factorisation (seconds at 100,000 videos), past their busy timeout."""
    pair(db, audience(ids(60), viewers=30))
    db.rollback()
    written: list[float] = []
    factorise = vectors._embed

    def embed_while_another_writes(counts: Any, dimensions: int) -> Any:
        started = time.monotonic()
        with runtime.db.sessions() as other:
            other.merge(CoEngagement(video_id=1, neighbour_id=2, weight=1.0))
            other.commit()
        written.append(time.monotonic() - started)
        return factorise(counts, dimensions)

    monkeypatch.setattr(vectors, "_embed", embed_while_another_writes)
    run_job_directly(runtime, train_video_vectors)
    assert written
    assert written[0] < 2.0, written  # not queued behind the job's transaction
    model = vectors.current(db)
    assert model is not None
    assert len(model.ids) == 60
