# The ingest image. Build from the repository root:
#   docker build -f docker/ingest.Dockerfile -t spool/ingest .
# Build arguments:
#   NODE_IMAGE     base image with Node.js 22.15+ (23.8+ in 23) and npm (default: the official node:24-bookworm-slim)
# A CA to trust while installing packages (TLS-intercepting proxies): put its PEM file in
# docker/extra-ca/ (see the README there); `make images` does so with the host's NODE_EXTRA_CA_CERTS.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV CI=true
WORKDIR /src
COPY docker/with-extra-ca /usr/local/bin/with-extra-ca
COPY docker/extra-ca/ /tmp/extra-ca/
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# The pnpm of package.json's packageManager: its version is written in one place.
RUN with-extra-ca npm install --global --no-audit --no-fund --loglevel=error \
  "pnpm@$(node -p 'require("./package.json").packageManager.split("@")[1]')"
COPY apps/ingest/package.json apps/ingest/
COPY apps/flusher/package.json apps/flusher/
COPY packages/shared/package.json packages/shared/
COPY packages/testkit/package.json packages/testkit/
RUN with-extra-ca pnpm install --frozen-lockfile --reporter=append-only
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY apps apps
RUN pnpm exec tsc -b apps/ingest/tsconfig.build.json \
  && with-extra-ca pnpm --filter @spool/ingest deploy --prod --legacy /out \
  && chmod -R a+rX /out

FROM ${NODE_IMAGE}
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=build --chown=root:root /out ./
# Node is PID 1 and handles SIGTERM itself (graceful shutdown); it runs unprivileged.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
