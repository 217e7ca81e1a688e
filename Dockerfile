# syntax=docker/dockerfile:1.7
# canarist's image: the webhook, the reconciler and the proxy (`canarist webhook|reconcile|proxy`),
# as the Helm chart in charts/canarist runs them.
#
#   docker build -t ghcr.io/canarist/canarist:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheels of canarist (with its "fast" extra: uvloop, orjson) and its deps -----
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY webhook ./webhook
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels ".[fast]"

# --- run: the installed wheels only, as an unprivileged user --------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="canarist" \
      org.opencontainers.image.description="Canary releases for plain Kubernetes Deployments: admission webhook, reconciler and proxy" \
      org.opencontainers.image.source="https://github.com/canarist/canarist" \
      org.opencontainers.image.url="https://github.com/canarist/canarist" \
      org.opencontainers.image.documentation="https://github.com/canarist/canarist/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links /wheels "canarist[fast]" \
 && groupadd --system --gid 65532 canarist \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin canarist
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Matches the chart's runAsUser; the root filesystem can be mounted read-only (writes go to
# /tmp, an emptyDir in the chart).
USER 65532:65532
WORKDIR /tmp
# webhook (HTTPS), reconciler metrics, proxy traffic, proxy admin
EXPOSE 8443 8080 9901
ENTRYPOINT ["canarist"]
CMD ["--help"]
