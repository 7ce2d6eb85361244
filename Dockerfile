# syntax=docker/dockerfile:1
#
# Molodets production image. The default command is a scale-out web process; the same image runs
# `molodets worker`, `molodets migrate`, and `molodets serve` (embedded mode: SQLite, job queue
# and media in the /data volume). docs/operations.md explains how to run it; compose.yaml runs
# the whole scale-out stack.
#
#   docker build -t molodets .
#   docker run --rm -p 8000:8000 -v molodets-data:/data molodets molodets serve   # embedded mode

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# builder: a wheel of the project, installed with its runtime dependencies into /opt/molodets.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/molodets \
    && /opt/molodets/bin/pip install --no-cache-dir --upgrade pip

WORKDIR /build

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# --only-binary: every dependency comes as a wheel, so nothing is compiled here and nothing needs
# a compiler at run time. The wheels of av (PyAV), pillow, psycopg-binary and numpy carry their own
# shared libraries; imageio-ffmpeg carries a static ffmpeg.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/molodets/bin/pip install --only-binary=:all: -r requirements.txt

# Then the project itself, as a wheel (migrations, templates, static files and catalogs are
# package data, so `molodets migrate` works from the installed wheel).
COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/molodets/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/molodets/bin/pip install --no-deps /wheels/molodets-*.whl \
    && /opt/molodets/bin/pip check

# ---------------------------------------------------------------------------------------------
# runtime: the same Python, the venv, a non-root user. No compiler, no apt packages.
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/molodets/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MOLODETS_DATA_DIR=/data \
    MOLODETS_HOST=0.0.0.0 \
    MOLODETS_LOG_FORMAT=json

# /data/uploads exists in the image so that a volume mounted there (compose.yaml shares one
# between the web processes and the worker) starts owned by the molodets user.
RUN groupadd --system --gid 10001 molodets \
    && useradd --system --uid 10001 --gid molodets --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin molodets \
    && mkdir -p /data/uploads \
    && chown -R molodets:molodets /data

COPY --from=builder /opt/molodets /opt/molodets

USER molodets
WORKDIR /data

# Fail the build, not the first upload, if a shared library is missing or the bundled ffmpeg cannot
# run as this user: import what loads native code, ask psycopg which libpq it found, run ffmpeg the
# way the media jobs find it, and import the whole application.
RUN python -c "import av, numpy, PIL.Image, psycopg, subprocess; \
from molodets.media.ffmpeg import ffmpeg_executable; \
assert psycopg.pq.__impl__ == 'binary', psycopg.pq.__impl__; \
subprocess.run([ffmpeg_executable(), '-hide_banner', '-version'], check=True, stdout=subprocess.DEVNULL); \
import molodets.app" \
    && molodets --help > /dev/null

VOLUME ["/data"]
EXPOSE 8000

# Liveness only (/healthz checks nothing else, so a database outage does not restart every web
# process); /readyz is for load balancers. Python, because the image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["molodets", "web", "--host", "0.0.0.0", "--port", "8000"]
