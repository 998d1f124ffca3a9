# The one Archipel image: every component (manager, api, cwl entrypoint) runs from it.
# Node 24 could run the TypeScript sources directly, but its type stripper (amaro) holds ~18 MiB in
# every process: the build writes each source's JavaScript beside it (types replaced by spaces, so
# lines and columns match the .ts) and the components run those.
# Not built in this project's CI (its machines have no Docker engine): hack/images builds the same
# content as archipel.local/archipel (docs/decisions/images-without-registry.md).

# What needs the development dependencies is built in a stage of its own, and only its outputs
# reach the image: the web UI (Vite; web/dist, which the API serves at /) and the Kubernetes client
# reduced to what operators/ imports (rolldown; it replaces the installed client's entry point,
# ~20 MiB less in each process: docs/decisions/kube-client-bundle.md).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY operators/pipeline/cli/ operators/pipeline/cli/
RUN npm ci --no-audit --no-fund
COPY web/ web/
COPY operators/ operators/
COPY images/kubeClientBundle.ts images/kubeClientBundle.ts
RUN node_modules/.bin/vite build --config web/vite.config.ts && node images/kubeClientBundle.ts . kube-client.js

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
COPY --from=build /app/web/dist web/dist
COPY --from=build /app/kube-client.js node_modules/@kubernetes/client-node/dist/index.js
# node:24-slim's `node` user, numerically: runAsNonRoot (config/manager) can only verify a numeric user
USER 1000:1000
ENTRYPOINT ["node"]
CMD ["operators/manager/main.js"]
