// Lumina's N-API binding to FAISS: inner-product indexes for CNN embeddings (flat, IVF, HNSW) and
// binary indexes for 64-bit perceptual hashes (flat, multi-hash). Each exposes add, search, range
// search, save and load. Vectors cross as typed arrays; results come back as typed arrays.
#include <napi.h>

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryHash.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/index_io.h>
#include <omp.h>

#ifdef LUMINA_FAISS_GPU
#include <faiss/gpu/GpuCloner.h>
#include <faiss/gpu/StandardGpuResources.h>
#endif

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace {

// FAISS reports errors as exceptions; each becomes a JavaScript Error with FAISS's message.
template <typename F>
auto guarded(const Napi::Env& env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("faiss: ") + e.what());
  }
}

// k nearest per query as {distances, labels}: float similarities or integer Hamming distances.
template <typename JsArray, typename T>
Napi::Object knnResult(Napi::Env env, const std::vector<T>& d, const std::vector<faiss::Index::idx_t>& l) {
  auto dist = JsArray::New(env, d.size());
  auto labels = Napi::Float64Array::New(env, l.size());
  for (size_t i = 0; i < d.size(); i++) {
    dist[i] = d[i];
    labels[i] = static_cast<double>(l[i]);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("distances", dist);
  out.Set("labels", labels);
  return out;
}

Napi::Object rangeResult(Napi::Env env, faiss::RangeSearchResult& res, size_t nq, bool floatDistances) {
  auto lims = Napi::Float64Array::New(env, nq + 1);
  for (size_t i = 0; i <= nq; i++) lims[i] = static_cast<double>(res.lims[i]);
  size_t total = res.lims[nq];
  auto labels = Napi::Float64Array::New(env, total);
  for (size_t i = 0; i < total; i++) labels[i] = static_cast<double>(res.labels[i]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("lims", lims);
  out.Set("labels", labels);
  if (floatDistances) {
    auto d = Napi::Float32Array::New(env, total);
    for (size_t i = 0; i < total; i++) d[i] = res.distances[i];
    out.Set("distances", d);
  } else {
    // Binary range search reports Hamming distances in the float array, as integers.
    auto d = Napi::Int32Array::New(env, total);
    for (size_t i = 0; i < total; i++) d[i] = static_cast<int32_t>(res.distances[i]);
    out.Set("distances", d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
class FloatIndex : public Napi::ObjectWrap<FloatIndex> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "FloatIndex",
                       {InstanceMethod("train", &FloatIndex::Train), InstanceMethod("add", &FloatIndex::Add),
                        InstanceMethod("search", &FloatIndex::Search), InstanceMethod("rangeSearch", &FloatIndex::RangeSearch),
                        InstanceMethod("save", &FloatIndex::Save), InstanceAccessor("ntotal", &FloatIndex::NTotal, nullptr),
                        InstanceAccessor("dim", &FloatIndex::Dim, nullptr), InstanceAccessor("isTrained", &FloatIndex::IsTrained, nullptr),
                        StaticMethod("load", &FloatIndex::Load)});
  }

  // new FloatIndex(dim, kind = 'flat' | 'ivf' | 'hnsw', { nlist, nprobe, m, efSearch, gpu })
  FloatIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FloatIndex>(info) {
    Napi::Env env = info.Env();
    if (info.Length() == 1 && info[0].IsExternal()) {
      index_.reset(info[0].As<Napi::External<faiss::Index>>().Data());
      return;
    }
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "FloatIndex(dim, kind?, options?)");
    int dim = info[0].As<Napi::Number>().Int32Value();
    if (dim <= 0) throw Napi::RangeError::New(env, "dim must be positive");
    std::string kind = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "flat";
    Napi::Object o = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    auto num = [&](const char* k, int def) { return o.Has(k) ? o.Get(k).As<Napi::Number>().Int32Value() : def; };
    guarded(env, [&] {
      if (kind == "flat") {
        index_.reset(new faiss::IndexFlatIP(dim));
      } else if (kind == "ivf") {
        quantizer_.reset(new faiss::IndexFlatIP(dim));
        auto ivf = new faiss::IndexIVFFlat(quantizer_.get(), dim, num("nlist", 100), faiss::METRIC_INNER_PRODUCT);
        ivf->nprobe = num("nprobe", 8);
        index_.reset(ivf);
      } else if (kind == "hnsw") {
        auto hnsw = new faiss::IndexHNSWFlat(dim, num("m", 32), faiss::METRIC_INNER_PRODUCT);
        hnsw->hnsw.efSearch = num("efSearch", 64);
        index_.reset(hnsw);
      } else {
        throw Napi::TypeError::New(env, "kind must be flat, ivf or hnsw");
      }
#ifdef LUMINA_FAISS_GPU
      if (o.Has("gpu") && o.Get("gpu").ToBoolean()) {
        resources_.reset(new faiss::gpu::StandardGpuResources());
        index_.reset(faiss::gpu::index_cpu_to_gpu(resources_.get(), 0, index_.get()));
      }
#endif
      return 0;
    });
  }

 private:
  std::unique_ptr<faiss::Index> quantizer_;
  std::unique_ptr<faiss::Index> index_;
#ifdef LUMINA_FAISS_GPU
  std::unique_ptr<faiss::gpu::StandardGpuResources> resources_;
#endif

  size_t rows(const Napi::Env& env, const Napi::Float32Array& a) {
    if (a.ElementLength() % index_->d) throw Napi::RangeError::New(env, "vector length is not a multiple of dim");
    return a.ElementLength() / index_->d;
  }

  Napi::Value Train(const Napi::CallbackInfo& info) {
    auto x = info[0].As<Napi::Float32Array>();
    size_t n = rows(info.Env(), x);
    guarded(info.Env(), [&] { index_->train(n, x.Data()); return 0; });
    return info.Env().Undefined();
  }
  Napi::Value Add(const Napi::CallbackInfo& info) {
    auto x = info[0].As<Napi::Float32Array>();
    size_t n = rows(info.Env(), x);
    guarded(info.Env(), [&] { index_->add(n, x.Data()); return 0; });
    return info.Env().Undefined();
  }
  Napi::Value Search(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto q = info[0].As<Napi::Float32Array>();
    int k = info[1].As<Napi::Number>().Int32Value();
    size_t nq = rows(env, q);
    std::vector<float> d(nq * k);
    std::vector<faiss::Index::idx_t> l(nq * k);
    guarded(env, [&] { index_->search(nq, q.Data(), k, d.data(), l.data()); return 0; });
    return knnResult<Napi::Float32Array>(env, d, l);
  }
  // Every indexed vector with inner product above `radius`, for each query.
  Napi::Value RangeSearch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto q = info[0].As<Napi::Float32Array>();
    float radius = info[1].As<Napi::Number>().FloatValue();
    size_t nq = rows(env, q);
    if (dynamic_cast<faiss::IndexHNSW*>(index_.get())) return hnswRange(env, q, nq, radius);
    faiss::RangeSearchResult res(nq);
    guarded(env, [&] { index_->range_search(nq, q.Data(), radius, &res); return 0; });
    return rangeResult(env, res, nq, true);
  }
  // FAISS 1.7.3's HNSW has no range search: its k nearest (k = efSearch), kept above the radius.
  Napi::Value hnswRange(Napi::Env env, const Napi::Float32Array& q, size_t nq, float radius) {
    auto hnsw = static_cast<faiss::IndexHNSW*>(index_.get());
    size_t k = std::min<size_t>(std::max(1, hnsw->hnsw.efSearch), static_cast<size_t>(std::max<faiss::Index::idx_t>(1, index_->ntotal)));
    std::vector<float> d(nq * k);
    std::vector<faiss::Index::idx_t> l(nq * k);
    guarded(env, [&] { index_->search(nq, q.Data(), k, d.data(), l.data()); return 0; });
    auto lims = Napi::Float64Array::New(env, nq + 1);
    std::vector<double> labels;
    std::vector<float> dist;
    lims[0] = 0;
    for (size_t i = 0; i < nq; i++) {
      for (size_t j = 0; j < k; j++) {
        if (l[i * k + j] >= 0 && d[i * k + j] > radius) {
          labels.push_back(static_cast<double>(l[i * k + j]));
          dist.push_back(d[i * k + j]);
        }
      }
      lims[i + 1] = static_cast<double>(labels.size());
    }
    auto outLabels = Napi::Float64Array::New(env, labels.size());
    auto outDist = Napi::Float32Array::New(env, dist.size());
    for (size_t i = 0; i < labels.size(); i++) {
      outLabels[i] = labels[i];
      outDist[i] = dist[i];
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("lims", lims);
    out.Set("labels", outLabels);
    out.Set("distances", outDist);
    return out;
  }
  Napi::Value Save(const Napi::CallbackInfo& info) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    guarded(info.Env(), [&] { faiss::write_index(index_.get(), path.c_str()); return 0; });
    return info.Env().Undefined();
  }
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = info[0].As<Napi::String>().Utf8Value();
    faiss::Index* idx = guarded(env, [&] { return faiss::read_index(path.c_str()); });
    return constructor->New({Napi::External<faiss::Index>::New(env, idx)});
  }
  Napi::Value NTotal(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(index_->ntotal)); }
  Napi::Value Dim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), index_->d); }
  Napi::Value IsTrained(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), index_->is_trained); }

 public:
  static Napi::FunctionReference* constructor;
};
Napi::FunctionReference* FloatIndex::constructor = nullptr;

// ---------------------------------------------------------------------------------------------
class BinaryIndex : public Napi::ObjectWrap<BinaryIndex> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BinaryIndex",
                       {InstanceMethod("add", &BinaryIndex::Add), InstanceMethod("search", &BinaryIndex::Search),
                        InstanceMethod("rangeSearch", &BinaryIndex::RangeSearch), InstanceMethod("save", &BinaryIndex::Save),
                        InstanceAccessor("ntotal", &BinaryIndex::NTotal, nullptr), StaticMethod("load", &BinaryIndex::Load)});
  }

  // new BinaryIndex(bits = 64, kind = 'flat' | 'multihash', { nhash, b })
  BinaryIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BinaryIndex>(info) {
    Napi::Env env = info.Env();
    if (info.Length() == 1 && info[0].IsExternal()) {
      index_.reset(info[0].As<Napi::External<faiss::IndexBinary>>().Data());
      return;
    }
    int bits = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 64;
    if (bits <= 0 || bits % 8) throw Napi::RangeError::New(env, "bits must be a positive multiple of 8");
    std::string kind = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "flat";
    Napi::Object o = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    auto num = [&](const char* k, int def) { return o.Has(k) ? o.Get(k).As<Napi::Number>().Int32Value() : def; };
    guarded(env, [&] {
      if (kind == "flat") index_.reset(new faiss::IndexBinaryFlat(bits));
      else if (kind == "multihash") {
        auto mh = new faiss::IndexBinaryMultiHash(bits, num("nhash", 4), num("b", 16));
        // Bits flipped per probed chunk: nhash chunks with nflip each cover radius nhash * (nflip + 1) - 1.
        mh->nflip = num("nflip", 2);
        index_.reset(mh);
      }
      else throw Napi::TypeError::New(env, "kind must be flat or multihash");
      return 0;
    });
  }

 private:
  std::unique_ptr<faiss::IndexBinary> index_;

  size_t rows(const Napi::Env& env, const Napi::Uint8Array& a) {
    if (a.ElementLength() % index_->code_size) throw Napi::RangeError::New(env, "code length is not a multiple of bits / 8");
    return a.ElementLength() / index_->code_size;
  }
  Napi::Value Add(const Napi::CallbackInfo& info) {
    auto x = info[0].As<Napi::Uint8Array>();
    size_t n = rows(info.Env(), x);
    guarded(info.Env(), [&] { index_->add(n, x.Data()); return 0; });
    return info.Env().Undefined();
  }
  Napi::Value Search(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto q = info[0].As<Napi::Uint8Array>();
    int k = info[1].As<Napi::Number>().Int32Value();
    size_t nq = rows(env, q);
    std::vector<int32_t> d(nq * k);
    std::vector<faiss::Index::idx_t> l(nq * k);
    guarded(env, [&] { index_->search(nq, q.Data(), k, d.data(), l.data()); return 0; });
    return knnResult<Napi::Int32Array>(env, d, l);
  }
  // Every indexed code with Hamming distance below `radius` (strictly, as FAISS defines it).
  Napi::Value RangeSearch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto q = info[0].As<Napi::Uint8Array>();
    int radius = info[1].As<Napi::Number>().Int32Value();
    size_t nq = rows(env, q);
    faiss::RangeSearchResult res(nq);
    guarded(env, [&] { index_->range_search(nq, q.Data(), radius, &res); return 0; });
    return rangeResult(env, res, nq, false);
  }
  Napi::Value Save(const Napi::CallbackInfo& info) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    guarded(info.Env(), [&] { faiss::write_index_binary(index_.get(), path.c_str()); return 0; });
    return info.Env().Undefined();
  }
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = info[0].As<Napi::String>().Utf8Value();
    faiss::IndexBinary* idx = guarded(env, [&] { return faiss::read_index_binary(path.c_str()); });
    return constructor->New({Napi::External<faiss::IndexBinary>::New(env, idx)});
  }
  Napi::Value NTotal(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(index_->ntotal)); }

 public:
  static Napi::FunctionReference* constructor;
};
Napi::FunctionReference* BinaryIndex::constructor = nullptr;

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = FloatIndex::Init(env);
  FloatIndex::constructor = new Napi::FunctionReference(Napi::Persistent(f));
  Napi::Function b = BinaryIndex::Init(env);
  BinaryIndex::constructor = new Napi::FunctionReference(Napi::Persistent(b));
  exports.Set("FloatIndex", f);
  exports.Set("BinaryIndex", b);
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
#ifdef LUMINA_FAISS_GPU
  exports.Set("gpu", Napi::Boolean::New(env, true));
#else
  exports.Set("gpu", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(lumina_faiss, Init)
