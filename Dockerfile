# AudiobookPipeline images. Build from the repository root:
#   docker build --target worker     -t audiobook-worker .      # CPU worker (Piper), cpu + tts queues
#   docker build --target worker-gpu -t audiobook-worker-gpu .  # GPU worker (CUDA torch + qwen-tts)
#   docker build --target web        -t audiobook-web .         # web app on port 3000 (see below)
# Every container is configured through the environment only (audiobook_app/settings.py):
#   DATABASE_URL=postgresql+psycopg://user:pass@db:5432/audiobook  REDIS_URL=redis://redis:6379/0
#   AUDIOBOOK_STORAGE_BACKEND=s3 AUDIOBOOK_S3_BUCKET=... AUDIOBOOK_S3_ENDPOINT_URL=...
#   AUDIOBOOK_S3_ACCESS_KEY_ID=... AUDIOBOOK_S3_SECRET_ACCESS_KEY=... SECRET_KEY=...
#   AUDIOBOOK_ENVIRONMENT=production
# Run the web app once (it migrates the database), workers on any machine that reaches
# Redis, the database and storage:
#   docker run -d --env-file prod.env -p 3000:3000 audiobook-web
#   docker run -d --env-file prod.env audiobook-worker
#   docker run -d --gpus all --env-file prod.env -v /models:/models audiobook-worker-gpu
# Model weights are never downloaded: mount them (e.g. /models) and name the folders, on the
# GPU workers and the web app alike: AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR=/models/CustomVoice,
# AUDIOBOOK_QWEN_BASE_DIR=/models/Base, AUDIOBOOK_QWEN_VOICE_DESIGN_DIR=/models/VoiceDesign.

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

# GPU worker: CUDA torch and qwen-tts on top (kept out of requirements.txt); qwen-tts without
# its declared dependencies (torchaudio, sox, gradio: see requirements-nodeps.txt).
FROM base AS worker-gpu
USER root
COPY requirements-gpu.txt requirements-nodeps.txt ./
RUN pip install -r requirements-gpu.txt && pip install --no-deps -r requirements-nodeps.txt
USER audiobook
CMD ["audiobook", "worker", "--queues", "gpu"]

# Web tier: the Reflex app in prod mode, pages + websocket + uploads + /health on port 3000
# (AUDIOBOOK_WEB_PORT), on every interface of the container (AUDIOBOOK_WEB_HOST=0.0.0.0;
# outside Docker the default is 127.0.0.1). It applies the schema migrations first (the one
# place PostgreSQL is migrated). Node 22 and bun come from the npm registry (scripts/web_tools.sh; Debian's npm
# only bootstraps them) and the frontend's packages are installed and built into .web/ at
# image build time, so a container needs no registry to start.
FROM base AS web
USER root
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
COPY rxconfig.py ./
COPY reflex.lock ./reflex.lock
COPY scripts ./scripts
RUN scripts/web_tools.sh \
    && bash -c 'source scripts/web_env.sh && reflex export --frontend-only --no-zip --env prod' \
    && chown audiobook /app && chown -R audiobook /app/.web /app/reflex.lock  # Reflex writes .states/ and its lockfile
USER audiobook
ENV AUDIOBOOK_WEB_HOST=0.0.0.0
EXPOSE 3000
HEALTHCHECK --interval=60s --timeout=30s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/health', timeout=25)"]
CMD ["bash", "-c", "source scripts/web_env.sh && audiobook db upgrade && exec reflex run --env prod"]
