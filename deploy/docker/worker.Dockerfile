# A CPU worker: `lumina worker`. Needs perl (ExifTool), ffmpeg (video frames) and the FAISS
# addon's BLAS, LAPACK and OpenMP runtimes (FAISS itself is linked in statically).
#   docker build -f deploy/docker/worker.Dockerfile -t lumina-worker .
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends libfaiss-dev libblas-dev liblapack-dev g++ make python3 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
COPY test ./test
COPY native ./native
RUN npm run build && npm run build:native && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends perl ffmpeg libblas3 liblapack3 libopenblas0-pthread libgomp1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production LUMINA_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release ./native/build/Release
COPY package.json ./
USER node
# SIGTERM: running shards get --grace-s seconds, then go back to the queue.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker", "--concurrency", "2"]
