# syntax=docker/dockerfile:1
# Small production image: dependencies are installed in a build stage, the runtime stage runs as the `node` user.
# TypeScript runs as is (Node 24 strips types), so there is no build step and no dev dependency in the image.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production \
    PORT=3000 \
    STORE_URL=sqlite:///app/data/bridge.sqlite
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
# The team's snippets: mount your templates.yml at /app/templates.yml (the example shows the format).
COPY templates.example.yml ./
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (exec form), which finishes in-flight sends and keeps the rest stored.
CMD ["node", "src/cli/main.ts", "start"]
