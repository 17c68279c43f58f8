# dicomweb-gateway as a container image: Debian slim with the recommended Node.js LTS (24), a user of its own,
# its data under the /data volume, configured by DICOMWEB_* variables and *_FILE secrets (docs/deploy.md).
#   docker build -t dicomweb-gateway .
#   docker compose -f docs/deploy/compose.yaml up      # in front of Orthanc
ARG NODE_VERSION=24.22.3

# Build: the release tarball as `npm pack` makes it, installed into a prefix; the compiler builds better-sqlite3
# where no prebuilt binary can be fetched, and stays in this stage.
FROM node:${NODE_VERSION}-bookworm-slim AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
    && npm pack --ignore-scripts \
    && npm install -g --prefix /opt/dicomweb-gateway --no-audit --no-fund ./dicomweb-gateway-*.tgz \
    && npm cache clean --force

# Run: the installed command, nothing of the build.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    PATH=/opt/dicomweb-gateway/bin:$PATH \
    DICOMWEB_HTTP_HOST=0.0.0.0 \
    DICOMWEB_HTTP_PORT=8080 \
    DICOMWEB_DIMSE_PORT=11112 \
    DICOMWEB_ARCHIVE_DIR=/data/archive \
    DICOMWEB_CACHE_DIR=/data/cache
COPY --from=build /opt/dicomweb-gateway /opt/dicomweb-gateway
RUN groupadd --system --gid 10001 dicomweb \
    && useradd --system --uid 10001 --gid dicomweb --home-dir /data --shell /usr/sbin/nologin dicomweb \
    && install -d -o dicomweb -g dicomweb -m 0750 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# DICOMweb (HTTP) and the Storage SCP (DICOM).
EXPOSE 8080 11112
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.DICOMWEB_HTTP_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["dicomweb-gateway"]
CMD ["serve"]
