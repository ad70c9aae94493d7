# syntax=docker/dockerfile:1
# One image for every process of docker-compose.yml (web, gateway, worker, beat).

# Front-end libraries come from npm at build time and are served locally (no CDN).
FROM node:20-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund && npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/data/var \
    STORAGE_ROOT=/data/storage \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/staticfiles \
    WEB_BIND=0.0.0.0:8000
WORKDIR /app
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home teleradio
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
COPY --from=frontend /src/static/vendor ./static/vendor
# Hashed, compressed static files are baked into the image; WhiteNoise serves them.
RUN DEBUG=False SECRET_KEY=collectstatic-only-not-a-real-key python manage.py collectstatic --noinput \
    && mkdir -p /data/var /data/storage /data/media \
    && chown -R teleradio:teleradio /data
USER teleradio
EXPOSE 8000 11112
CMD ["gunicorn", "--config", "gunicorn.conf.py", "teleradio.wsgi"]
