# One image for every role: web (`serve --no-worker`), `worker`, `beat` (see compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGERBRIDGE_DATA_DIR=/data \
    LEDGERBRIDGE_HOST=0.0.0.0 \
    LEDGERBRIDGE_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home /data ledgerbridge \
    && mkdir -p /data && chown ledgerbridge /data

USER ledgerbridge
VOLUME ["/data"]
EXPOSE 8000 9100
ENTRYPOINT ["ledgerbridge"]
CMD ["serve", "--no-worker"]
