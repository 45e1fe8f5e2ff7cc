# Kindred in a container: `docker compose up` (compose.yaml) runs it beside PostgreSQL; see README "Docker".
FROM python:3.11-slim

# Voice: ffmpeg converts audio, espeak-ng speaks, libopus0 encodes a voice channel's audio (the Makefile's
# SYSTEM_PACKAGES).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg espeak-ng libopus0 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Every file checked against the sha256 the lock files hold (pip's --require-hashes; `make lock` writes them).
# The CPU build of torch first, from PyTorch's CPU index: left to itself pip would pull a multi-GB CUDA build.
# The same pin as pyproject.toml and the Makefile (tests/test_docker.py checks they agree); what it needs
# comes with the rest.
COPY requirements-torch.lock requirements.lock ./
RUN pip install --index-url https://download.pytorch.org/whl/cpu --no-deps --require-hashes -r requirements-torch.lock

# The other dependencies in a layer of their own, rebuilt only when requirements.lock changes.
RUN pip install --require-hashes -r requirements.lock

# Then Kindred itself: nothing more to fetch (its dependencies are installed, setuptools is locked).
COPY . .
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf build *.egg-info

# Not root. data/ (the SQLite database when DATABASE_URL is empty) and logs/ (enable_api_call_logging) are
# the only places Kindred writes; data/ is a volume so it outlives the container.
RUN useradd --create-home --uid 1000 kindred \
    && mkdir -p /app/data /app/logs \
    && chown kindred:kindred /app/data /app/logs \
    && chmod 0700 /app/data
# config.env is optional: compose mounts the checkout at /app/host (read-only) and this link reads its
# config.env when there is one; a dangling link is no file, so every setting keeps its default.
RUN ln -s /app/host/config.env /app/config.env
USER kindred
VOLUME ["/app/data"]

# Exec form: python is the process Docker's SIGTERM reaches, and Kindred stops gracefully on it (replies in
# flight finish within shutdown_grace_seconds, then everything closes and it exits 0).
STOPSIGNAL SIGTERM
# Healthy while the bot keeps its heartbeat fresh (cluster_heartbeat_seconds, 5 s): `main.py health`.
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 CMD ["python", "main.py", "health"]
CMD ["python", "main.py"]
