# A GPU worker: the CPU worker plus CUDA, @tensorflow/tfjs-node-gpu and a CUDA build of FAISS,
# for the embedding and near-duplicate stages (issue 4). NOT BUILT OR RUN HERE: the development
# machines have no GPU and no container engine. tfjs-node-gpu downloads libtensorflow at install
# time, which a build host with internet access can do.
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t lumina-worker-gpu .
FROM nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04 AS base
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates perl ffmpeg build-essential python3 \
  && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs \
  && rm -rf /var/lib/apt/lists/*

FROM base AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm install --no-save @tensorflow/tfjs-node-gpu
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
COPY test ./test
RUN npm run build && npm prune --omit=dev
# The FAISS addon (native/) builds against a CUDA FAISS when LUMINA_FAISS_GPU=1 (issue 4).

FROM base
WORKDIR /app
ENV NODE_ENV=production LUMINA_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker", "--concurrency", "2"]
