# ao: one image for the API and the worker (`npm start -- api|worker`).
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV AO_HOST=0.0.0.0 AO_DATA_DIR=/data
VOLUME /data
EXPOSE 7420
ENTRYPOINT ["npx", "tsx", "cli/start.ts"]
CMD ["start"]
