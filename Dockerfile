# ao: one image for the API, the worker and the one-shot migration (docker-compose.yml).
# Node's Active LTS line (Node 20 reached end of life).
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Only the manifests so far, so this layer is cached until the lockfile changes; `prepare` skips
# the build here (no tsconfig.build.json yet) and it runs below, once the sources are in.
RUN npm ci --no-audit --no-fund
COPY . .
# dist/ and oclif.manifest.json, then drop the dev dependencies (tsc, tsx, vitest, …): nothing
# in dist/ imports them.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:26-bookworm-slim
# git: the worker inspects the checkouts and makes the worktrees. tini: see ENTRYPOINT.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates tini \
  && rm -rf /var/lib/apt/lists/* \
  # the mounted repositories belong to the host's user, not to this container's root: without
  # this git refuses them ("dubious ownership")
  && git config --system --add safe.directory '*'
WORKDIR /app
COPY --from=build /app/package.json /app/oclif.manifest.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# read at run time (core/db/migrate.ts finds it above dist/)
COPY --from=build /app/migrations ./migrations
# the `ao` CLI inside the container: `docker compose exec api ao project add /repos/<name>`
RUN ln -s /app/bin/run.js /usr/local/bin/ao
ENV NODE_ENV=production AO_HOST=0.0.0.0 AO_DATA_DIR=/data
VOLUME /data
EXPOSE 7420
STOPSIGNAL SIGTERM
# tini as PID 1: it passes `docker stop`'s SIGTERM to ao (which drains, then exits 0) and reaps
# orphans (git's children). ao is one plain node process: no npm/npx/tsx wrapper in between that
# would swallow the signal or double it.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli/start.js"]
CMD ["start"]
