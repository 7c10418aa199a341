# The duragent worker image used by docker-compose.yml. The workflow bundle is built into the
# image (`duragent build`), so a container serves as soon as it has connected, with no webpack
# run at start: a restarted worker picks up a dead one's steps within seconds.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY bin ./bin
COPY examples ./examples
RUN npm run build \
 && node bin/duragent.js --config examples/finder/duragent.config.yaml build --out /app/workflow-bundle.js

FROM node:22-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The runtime dependencies as locked, plus the MCP servers the finder example's config starts,
# pinned: a worker's tools should not change under it between two image builds.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm install --no-save --no-audit --no-fund @modelcontextprotocol/server-filesystem@2026.8.31 @modelcontextprotocol/server-everything@2026.8.31
COPY --from=build /app/dist ./dist
COPY --from=build /app/workflow-bundle.js ./workflow-bundle.js
COPY bin ./bin
COPY examples ./examples
# Not root: the worker runs model-chosen tool calls through its MCP servers. A worker started
# without --bundle writes its bundle cache here.
RUN mkdir -p node_modules/.cache && chown node:node node_modules/.cache
USER node
CMD ["node", "bin/duragent.js", "worker", "--bundle", "/app/workflow-bundle.js"]
