# A GPU worker: the CPU worker plus CUDA, @tensorflow/tfjs-node-gpu (the embed stage picks its
# backend on its own) and a CUDA build of FAISS for the addon. NOT BUILT OR RUN HERE: the development
# machines have no GPU and no container engine. tfjs-node-gpu downloads libtensorflow at install
# time, which a build host with internet access can do.
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t lumina-worker-gpu .
FROM nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04 AS base
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates perl ffmpeg build-essential python3 git cmake libblas-dev liblapack-dev \
  && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs \
  && rm -rf /var/lib/apt/lists/*

FROM nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04 AS build
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates build-essential python3 git cmake libopenblas-dev liblapack-dev \
  && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm install --no-save @tensorflow/tfjs-node-gpu
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
COPY test ./test
# FAISS with GPU support (needs the CUDA toolkit image and internet at build time), then the addon.
RUN git clone --depth 1 --branch v1.7.4 https://github.com/facebookresearch/faiss /tmp/faiss \
  && cmake -S /tmp/faiss -B /tmp/faiss/build -DFAISS_ENABLE_GPU=ON -DFAISS_ENABLE_PYTHON=OFF -DBUILD_TESTING=OFF -DBUILD_SHARED_LIBS=ON \
  && cmake --build /tmp/faiss/build -j && cmake --install /tmp/faiss/build
COPY native ./native
RUN npm run build && LUMINA_FAISS_GPU=1 LUMINA_FAISS_LIB=/usr/local/lib LUMINA_FAISS_INCLUDE=/usr/local/include npm run build:native && npm prune --omit=dev

FROM base
WORKDIR /app
ENV NODE_ENV=production LUMINA_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release ./native/build/Release
COPY --from=build /usr/local/lib/libfaiss* /usr/local/lib/
COPY package.json ./
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker", "--concurrency", "2"]
