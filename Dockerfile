# AudiobookPipeline images. Build from the repository root:
#   docker build --target worker     -t audiobook-worker .      # CPU worker (Piper), cpu + tts queues
#   docker build --target worker-gpu -t audiobook-worker-gpu .  # GPU worker (CUDA torch + qwen-tts)
#   docker build --target web        -t audiobook-web .         # web tier (see below)
# Every container is configured through the environment only (audiobook_app/settings.py):
#   DATABASE_URL=postgresql+psycopg://user:pass@db:5432/audiobook  REDIS_URL=redis://redis:6379/0
#   AUDIOBOOK_STORAGE_BACKEND=s3 AUDIOBOOK_S3_BUCKET=... AUDIOBOOK_S3_ENDPOINT_URL=...
#   AUDIOBOOK_S3_ACCESS_KEY_ID=... AUDIOBOOK_S3_SECRET_ACCESS_KEY=... SECRET_KEY=...
#   AUDIOBOOK_ENVIRONMENT=production
# Run a worker on any machine that reaches Redis, the database and storage:
#   docker run -d --env-file prod.env audiobook-worker
#   docker run -d --gpus all --env-file prod.env -v /models:/models audiobook-worker-gpu
# Model weights are never downloaded: mount them (e.g. /models) and point the config at them.

FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY pipeline ./pipeline
COPY audiobook_app ./audiobook_app
COPY worker ./worker
RUN pip install --no-deps -e . && useradd --create-home --uid 1000 audiobook && mkdir -p /app/data \
    && chown audiobook /app/data
USER audiobook
HEALTHCHECK --interval=60s --timeout=30s CMD ["audiobook", "doctor"]

# CPU worker: Piper synthesis plus parse/assemble. Scale by running more containers.
FROM base AS worker
CMD ["audiobook", "worker", "--queues", "cpu,tts"]

# GPU worker: CUDA torch and qwen-tts on top (kept out of requirements.txt).
FROM base AS worker-gpu
USER root
COPY requirements-gpu.txt ./
RUN pip install -r requirements-gpu.txt
USER audiobook
CMD ["audiobook", "worker", "--queues", "tts"]

# Web tier: applies the schema migrations (the one place PostgreSQL is migrated), then
# serves. The Reflex app (issue "The Reflex web app") replaces the serving command;
# until then the container migrates, reports `audiobook doctor`, and exits.
FROM base AS web
EXPOSE 3000
CMD ["sh", "-c", "audiobook db upgrade && audiobook doctor"]
