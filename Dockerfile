# carnet: FHIR R4 server. Multi-stage: build with dev dependencies, run with production ones only.
# Node 24 LTS: Node 20 reached end of life in April 2026.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# npm ci runs the prepare script, which builds only where sources exist: not yet, at this layer.
COPY package.json package-lock.json ./
COPY scripts/build-if-stale.mjs ./scripts/
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    CARNET_DATA_DIR=/data \
    CARNET_WORKERS=auto
# auto: one server process per core with MONGODB_URI set, one on the embedded store (README).
WORKDIR /app
# lmdb's native binary ships inside its npm package (glibc build): keep a Debian base, not Alpine.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY conformance ./conformance
COPY profiles ./profiles
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
# A larger young generation than Node's default: see SEMI_SPACE_FLAG in src/cluster.ts (workers get it anyway).
CMD ["node", "--max-semi-space-size=64", "dist/src/main.js"]
