{
  # Lumina's N-API binding to FAISS, built against Debian's libfaiss-dev (a static library; CPU).
  # LUMINA_FAISS_GPU=1 builds against a CUDA FAISS instead (libfaiss with GPU support, CUDA
  # runtime and cuBLAS): see native/README.md. Not built or run here: these machines have no GPU.
  "variables": {
    "faiss_gpu%": "<!(node -p \"process.env.LUMINA_FAISS_GPU === '1' ? 1 : 0\")",
    "faiss_lib%": "<!(node -p \"process.env.LUMINA_FAISS_LIB || '/usr/lib/x86_64-linux-gnu'\")",
    "faiss_include%": "<!(node -p \"process.env.LUMINA_FAISS_INCLUDE || '/usr/include'\")"
  },
  "targets": [
    {
      "target_name": "lumina_faiss",
      "sources": ["src/binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(faiss_include)"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-frtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "ldflags": ["-fopenmp"],
      "conditions": [
        ["faiss_gpu==1", {
          "defines": ["LUMINA_FAISS_GPU=1"],
          "libraries": ["-L<(faiss_lib)", "-lfaiss", "-lcudart", "-lcublas", "-lblas", "-llapack", "-lgomp"]
        }, {
          "libraries": ["<(faiss_lib)/libfaiss.a", "-lblas", "-llapack", "-lgomp"]
        }]
      ]
    }
  ]
}
