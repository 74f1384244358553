# One image for every POC Dojo deployable: the command picks the service
# (`pocdojo serve identity|poc|dojo|media`, `pocdojo worker media`, `pocdojo migrate up`).
# Build: docker build -t pocdojo:$(git rev-parse --short HEAD) .

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/pocdojo
WORKDIR /src
COPY pyproject.toml README.md ./
COPY auth_tokens auth_tokens
COPY runtime runtime
COPY crdt crdt
COPY signaling signaling
COPY dojo dojo
COPY poc_api poc_api
COPY media media
COPY identity identity
COPY deploy deploy
# A regular (not editable) install: the runtime stage gets the virtualenv only, not the sources.
RUN /opt/pocdojo/bin/pip install --upgrade pip && /opt/pocdojo/bin/pip install .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 pocdojo \
 && useradd --system --uid 10001 --gid pocdojo --home-dir /home/pocdojo --create-home --shell /usr/sbin/nologin pocdojo
COPY --from=build /opt/pocdojo /opt/pocdojo
ENV PATH=/opt/pocdojo/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    POCDOJO_HOST=0.0.0.0 \
    POCDOJO_PORT=8000 \
    POCDOJO_STATE_DIR=/home/pocdojo/state
WORKDIR /home/pocdojo
USER 10001:10001
EXPOSE 8000
# Liveness only (the process answers); readiness (database, Redis) is /readyz, which the ALB checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["pocdojo", "serve", "identity"]
