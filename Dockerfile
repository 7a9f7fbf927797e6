# ao: one image for the API and the worker (`npm start -- api|worker`).
FROM node:20-bookworm-slim
# tini as PID 1: it passes `docker stop`'s SIGTERM to ao (which drains, then exits 0) and reaps
# orphans. ao itself is one node process (no npm/npx/tsx wrapper in between that would swallow
# the signal or double it).
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV AO_HOST=0.0.0.0 AO_DATA_DIR=/data
VOLUME /data
EXPOSE 7420
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "tsx", "cli/start.ts"]
CMD ["start"]
