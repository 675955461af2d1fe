# syntax=docker/dockerfile:1
# Multi-stage build: one image runs either app (api by default; `node dist/apps/worker/src/main.js` for
# the worker). Node 24 LTS, as the project's own `node` dev dependency gives npm scripts elsewhere (pruned
# here with the other dev dependencies: the image's Node is the runtime).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY migrations ./migrations
# The build's second half (the operator console: its API types, type check and bundle) is a script.
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOOKHUB_DATA_DIR=/data \
    PORT=3000
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown node:node /data
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 CMD curl -fsS http://127.0.0.1:3000/health/ready || exit 1
CMD ["node", "dist/apps/api/src/main.js"]
