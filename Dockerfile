# The one Archipel image: every component (manager, api, cwl entrypoint) runs from it.
# Node 24 could run the TypeScript sources directly, but its type stripper (amaro) holds ~18 MiB in
# every process: the build writes each source's JavaScript beside it (types replaced by spaces, so
# lines and columns match the .ts) and the components run those.
# Not built in this project's CI (its machines have no Docker engine): hack/images builds the same
# content as archipel.local/archipel (docs/decisions/images-without-registry.md).

# The web UI: Vite, a development dependency, builds it in a stage of its own; only its output
# (web/dist, which the API serves at /) reaches the image.
FROM node:24-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
COPY operators/pipeline/cli/ operators/pipeline/cli/
RUN npm ci --no-audit --no-fund
COPY web/ web/
RUN node_modules/.bin/vite build --config web/vite.config.ts

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# archipel-cwl-runner / archipel-cwl-entrypoint are a file: dependency (npm links their bins)
COPY operators/pipeline/cli/ operators/pipeline/cli/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY operators/ operators/
COPY crds/ crds/
COPY images/typeStripped.ts images/typeStripped.ts
RUN node images/typeStripped.ts operators
COPY --from=web /app/web/dist web/dist
# node:24-slim's `node` user, numerically: runAsNonRoot (config/manager) can only verify a numeric user
USER 1000:1000
ENTRYPOINT ["node"]
CMD ["operators/manager/main.js"]
