// dnnkit's optional native kernels: oneDNN (Debian's libdnnl) primitives that compute directly
// on the tfjs wasm backend's heap. JavaScript passes Float32Array views of the wasm memory; their
// data pointers are the tensors (NHWC activations, HWIO filters, row-major matrices): no copies.
//
// Every entry point takes typed arrays plus an Int32Array of shape parameters, and throws a JS
// error when oneDNN refuses (the TypeScript side then runs the wasm kernel instead).
// Primitives are cached by their parameters (LRU, at most kCacheEntries per kind); oneDNN runs
// with the OpenMP thread count set by setThreads (1 by default).
//
// Signals: every call runs with asynchronous signals blocked (see AsyncSignalsBlocked).
//
// Lifetimes (checked under AddressSanitizer: scripts/test_asan.ts):
// - Heap pointers are taken from the typed arrays at each call and used only during it: the wasm
//   memory may grow (a new ArrayBuffer) between calls, never during one (nothing here calls JS).
// - The engine, stream, caches and scratch buffer are created on first use and never destroyed:
//   a process that exits (process.exit from a signal handler included) runs no destructor of
//   oneDNN objects after the engine they belong to is gone, whatever the order of static
//   destruction; the OS reclaims them.
// - The reordered-weights buffer is one scratch area shared by all cached primitives of a thread
//   (each call reorders into it and uses it before returning), so a second batch size does not
//   duplicate a large filter (58 MB for VGG-16's).
// Threads: each of them (thread_local) is per thread, so Node worker threads that load the addon
// (train-mnist --workers 2: one replica of the model per thread) call it at the same time without
// sharing a stream, a cache or the scratch area; oneDNN itself is thread-safe for distinct
// streams. A worker thread's objects are not freed when it ends (a few MB, once per worker).
// test/core/native_threads.test.ts runs two threads at once against one.
#include <node_api.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "lstm.h"

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine& Engine() {
  thread_local dnnl::engine* eng = new dnnl::engine(dnnl::engine::kind::cpu, 0);  // never destroyed (see top)
  return *eng;
}
dnnl::stream& Stream() {
  thread_local dnnl::stream* s = new dnnl::stream(Engine());  // never destroyed (see top)
  return *s;
}

struct JsError {
  std::string msg;
};

// Most primitives kept per kind: enough for a training run's shapes (a few layers times a few
// batch sizes); explaining images of many sizes evicts the least recently used.
constexpr size_t kCacheEntries = 64;

// A least-recently-used map from a parameter key to a cached primitive (and its descriptors).
template <class T>
class LruCache {
 public:
  // The entry for `key`, made by `make()` when missing (an exception from make() inserts nothing).
  template <class Make>
  T& Get(const std::string& key, Make make) {
    auto found = index_.find(key);
    if (found != index_.end()) {
      order_.splice(order_.begin(), order_, found->second);
      return *found->second->second;
    }
    std::unique_ptr<T> made = make();
    order_.emplace_front(key, std::move(made));
    index_[key] = order_.begin();
    if (order_.size() > kCacheEntries) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return *order_.front().second;
  }
  size_t size() const { return order_.size(); }

 private:
  std::list<std::pair<std::string, std::unique_ptr<T>>> order_;
  std::unordered_map<std::string, typename std::list<std::pair<std::string, std::unique_ptr<T>>>::iterator> index_;
};

// A never-destroyed cache per kind and thread (see the lifetimes at the top).
template <class T>
LruCache<T>& CacheOf() {
  thread_local LruCache<T>* cache = new LruCache<T>();
  return *cache;
}

// The scratch area for filters in a primitive's preferred layout: one buffer, grown to the
// largest filter seen (64-byte aligned, as oneDNN prefers), shared by every convolution call of
// the thread.
thread_local size_t weight_scratch_capacity = 0;  // bytes held by this thread's scratch area (cacheStats)

void* WeightScratch(size_t bytes) {
  thread_local void* buf = nullptr;
  size_t& capacity = weight_scratch_capacity;
  if (bytes > capacity) {
    std::free(buf);
    const size_t rounded = (bytes + 63) / 64 * 64;
    buf = std::aligned_alloc(64, rounded);
    if (!buf) {
      capacity = 0;
      throw JsError{"out of memory for the reordered filter"};
    }
    capacity = rounded;
  }
  return buf;
}

// ---- N-API helpers -------------------------------------------------------------------------

// The data of a typed array argument of the expected type (its element count in *len), or a JS
// error naming what was expected.
template <typename T>
T* TypedArg(napi_env env, napi_value v, napi_typedarray_type want, const char* what, size_t* len = nullptr) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) throw JsError{std::string("expected ") + what};
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset);
  if (type != want) throw JsError{std::string("expected ") + what};
  if (len) *len = length;
  return static_cast<T*>(data);
}

float* F32(napi_env env, napi_value v, size_t* len = nullptr) {
  return TypedArg<float>(env, v, napi_float32_array, "a Float32Array", len);
}

float* F32OrNull(napi_env env, napi_value v, size_t* len = nullptr) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) return nullptr;
  return F32(env, v, len);
}

// Convolution parameters (N H W C KH KW F OH OW ...) against the buffers' lengths: a caller that
// bypasses tfjs's shape checks gets an error instead of oneDNN reading or writing past a buffer.
void CheckConvSizes(const char* what, const std::vector<int64_t>& p, size_t nsrc, size_t nwei, size_t ndst,
                    const float* bias = nullptr, size_t nbias = 0) {
  if (p.size() < 9) throw JsError{std::string(what) + ": 18 parameters expected"};
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], F = p[6], OH = p[7], OW = p[8];
  for (int i = 0; i < 9; i++) {
    if (p[i] < 1) throw JsError{std::string(what) + ": shape parameters must be positive"};
  }
  if (static_cast<int64_t>(nsrc) != N * H * W * C || static_cast<int64_t>(nwei) != KH * KW * C * F ||
      static_cast<int64_t>(ndst) != N * OH * OW * F || (bias && static_cast<int64_t>(nbias) != F)) {
    throw JsError{std::string(what) + ": buffer sizes do not match the parameters"};
  }
}

std::vector<int64_t> Params(napi_env env, napi_value v) {
  size_t length;
  const int32_t* p = TypedArg<const int32_t>(env, v, napi_int32_array, "an Int32Array of parameters", &length);
  return std::vector<int64_t>(p, p + length);
}

std::string Key(const char* kind, const std::vector<int64_t>& p, int extra = 0) {
  std::string k(kind);
  for (int64_t v : p) k += ',' + std::to_string(v);
  k += '|' + std::to_string(extra);
  return k;
}

// oneDNN 2.6's generated x64 GEMM kernels (behind dnnl_sgemm, which the fused LSTM calls, and
// the matmul primitives) point rsp into a heap workspace while they run; oneDNN fixed this upstream
// in 2026 (pull request 4855, "do not clobber rsp in autogenerated GEMM kernels"), after the 2.6.3
// that Debian ships. A signal delivered to the thread meanwhile (Ctrl-C, SIGTERM, a terminal
// resize, a profiler's SIGPROF) has its frame written below that pointer, into the heap: the
// `malloc(): ... corrupted` aborts after Ctrl-C in `dnnkit sst2 repeat` (test/core/native_signals).
// So each call into the addon blocks the asynchronous signals and restores the mask on return;
// a pending signal is then delivered on the real stack (or meanwhile to another thread, where
// libuv's handler only writes to its pipe). OpenMP's worker threads are created inside a call and
// inherit the blocked mask. Synchronous signals stay open: blocking them would kill the process.
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked() {
    sigset_t blocked;
    sigfillset(&blocked);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(&blocked, sig);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous_);
  }
  ~AsyncSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

using Fn = void (*)(napi_env, napi_value*, size_t);

template <Fn F, size_t ARGC>
napi_value Wrap(napi_env env, napi_callback_info info) {
  napi_value argv[ARGC];
  size_t argc = ARGC;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  try {
    if (argc < ARGC) throw JsError{"too few arguments"};
    AsyncSignalsBlocked no_signals;
    F(env, argv, argc);
  } catch (const JsError& e) {
    napi_throw_error(env, "DNNKIT_NATIVE", e.msg.c_str());
  } catch (const dnnl::error& e) {
    napi_throw_error(env, "DNNKIT_ONEDNN", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "DNNKIT_NATIVE", e.what());
  }
  return nullptr;
}

// ---- convolution ---------------------------------------------------------------------------
// Parameters: N H W C KH KW F OH OW sh sw pt pl pb pr dh dw act   (act: 0 linear, 1 relu)

struct ConvShape {
  memory::dims src, wei, dst, strides, dil, pl, pr;
  memory::desc src_md, wei_user_md, dst_md, wei_any_md;
  explicit ConvShape(const std::vector<int64_t>& p) {
    if (p.size() < 18) throw JsError{"conv: 18 parameters expected"};
    const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], F = p[6], OH = p[7], OW = p[8];
    src = {N, C, H, W};
    wei = {F, C, KH, KW};
    dst = {N, F, OH, OW};
    strides = {p[9], p[10]};
    pl = {p[11], p[12]};
    pr = {p[13], p[14]};
    dil = {p[15] - 1, p[16] - 1};
    src_md = memory::desc(src, dt::f32, tag::nhwc);
    dst_md = memory::desc(dst, dt::f32, tag::nhwc);
    wei_user_md = memory::desc(wei, dt::f32, tag::hwio);
    wei_any_md = memory::desc(wei, dt::f32, tag::any);
  }
};

// The filter in the primitive's preferred layout and the reorder between it and tfjs's HWIO,
// when they differ. The reordered filter lives in the shared scratch area during one call.
struct WeightsBuffer {
  bool reorder_needed = false;
  memory::desc internal_md;
  dnnl::reorder to_internal, from_internal;
  void Init(const memory::desc& user, const memory::desc& prim, bool forward) {
    reorder_needed = !(user == prim);
    if (!reorder_needed) return;
    internal_md = prim;
    if (forward) {
      to_internal = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), user, Engine(), prim));
    } else {
      from_internal = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), prim, Engine(), user));
    }
  }
  // The internal filter's memory for this call (in the scratch area).
  memory Internal() const { return memory(internal_md, Engine(), WeightScratch(internal_md.get_size())); }
  // The filter the primitive reads: tfjs's `user` itself, or its reordered copy.
  memory ForReading(dnnl::stream& st, memory user) const {
    if (!reorder_needed) return user;
    memory internal = Internal();
    to_internal.execute(st, user, internal);
    return internal;
  }
};

struct ConvFwd {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightsBuffer w;
  memory::desc bias_md;
  bool has_bias;
};

dnnl::convolution_forward::primitive_desc MakeConvFwdPd(const ConvShape& s, bool bias, bool relu, dnnl::prop_kind pk) {
  memory::desc bias_md = bias ? memory::desc({s.wei[0]}, dt::f32, tag::x) : memory::desc();
  dnnl::convolution_forward::desc d = bias
      ? dnnl::convolution_forward::desc(pk, dnnl::algorithm::convolution_direct, s.src_md, s.wei_any_md, bias_md,
                                        s.dst_md, s.strides, s.dil, s.pl, s.pr)
      : dnnl::convolution_forward::desc(pk, dnnl::algorithm::convolution_direct, s.src_md, s.wei_any_md, s.dst_md,
                                        s.strides, s.dil, s.pl, s.pr);
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops po;
    po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(po);
  }
  return dnnl::convolution_forward::primitive_desc(d, attr, Engine());
}

// conv2d(x, filter, bias | null, y, params)
void Conv2D(napi_env env, napi_value* a, size_t) {
  size_t nx, nw, nb = 0, ny;
  float* x = F32(env, a[0], &nx);
  float* w = F32(env, a[1], &nw);
  float* b = F32OrNull(env, a[2], &nb);
  float* y = F32(env, a[3], &ny);
  std::vector<int64_t> p = Params(env, a[4]);
  CheckConvSizes("conv2d", p, nx, nw, ny, b, nb);
  const bool relu = p.size() > 17 && p[17] == 1;
  ConvFwd& e = CacheOf<ConvFwd>().Get(Key("fwd", p, b ? 1 : 0), [&] {
    ConvShape s(p);
    auto made = std::make_unique<ConvFwd>();
    made->pd = MakeConvFwdPd(s, b != nullptr, relu, dnnl::prop_kind::forward_inference);
    made->prim = dnnl::convolution_forward(made->pd);
    made->w.Init(s.wei_user_md, made->pd.weights_desc(), true);
    made->has_bias = b != nullptr;
    if (b) made->bias_md = memory::desc({s.wei[0]}, dt::f32, tag::x);
    return made;
  });
  dnnl::stream& st = Stream();
  memory src(e.pd.src_desc(), Engine(), x);
  memory dst(e.pd.dst_desc(), Engine(), y);
  memory wk = e.w.ForReading(st, memory(memory::desc(e.pd.weights_desc().dims(), dt::f32, tag::hwio), Engine(), w));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wk}, {DNNL_ARG_DST, dst}};
  if (b) args.emplace(DNNL_ARG_BIAS, memory(e.bias_md, Engine(), b));
  e.prim.execute(st, args);
  st.wait();
}

struct ConvBwdData {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  WeightsBuffer w;
};

// conv2dBackpropInput(dy, filter, dx, params)
void Conv2DBackpropInput(napi_env env, napi_value* a, size_t) {
  size_t ndy, nw, ndx;
  float* dy = F32(env, a[0], &ndy);
  float* w = F32(env, a[1], &nw);
  float* dx = F32(env, a[2], &ndx);
  std::vector<int64_t> p = Params(env, a[3]);
  CheckConvSizes("conv2dBackpropInput", p, ndx, nw, ndy);
  p.resize(18, 0);
  p[17] = 0;
  ConvBwdData& e = CacheOf<ConvBwdData>().Get(Key("bwd_data", p), [&] {
    ConvShape s(p);
    auto made = std::make_unique<ConvBwdData>();
    auto hint = MakeConvFwdPd(s, false, false, dnnl::prop_kind::forward_training);
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, s.src_md, s.wei_any_md, s.dst_md,
                                            s.strides, s.dil, s.pl, s.pr);
    made->pd = dnnl::convolution_backward_data::primitive_desc(d, Engine(), hint);
    made->prim = dnnl::convolution_backward_data(made->pd);
    made->w.Init(s.wei_user_md, made->pd.weights_desc(), true);
    return made;
  });
  dnnl::stream& st = Stream();
  memory ddst(e.pd.diff_dst_desc(), Engine(), dy);
  memory dsrc(e.pd.diff_src_desc(), Engine(), dx);
  memory wk = e.w.ForReading(st, memory(memory::desc(e.pd.weights_desc().dims(), dt::f32, tag::hwio), Engine(), w));
  e.prim.execute(st, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wk}, {DNNL_ARG_DIFF_SRC, dsrc}});
  st.wait();
}

struct ConvBwdWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  WeightsBuffer w;
};

// conv2dBackpropFilter(x, dy, dw, params)
void Conv2DBackpropFilter(napi_env env, napi_value* a, size_t) {
  size_t nx, ndy, ndw;
  float* x = F32(env, a[0], &nx);
  float* dy = F32(env, a[1], &ndy);
  float* dw = F32(env, a[2], &ndw);
  std::vector<int64_t> p = Params(env, a[3]);
  CheckConvSizes("conv2dBackpropFilter", p, nx, ndw, ndy);
  p.resize(18, 0);
  p[17] = 0;
  ConvBwdWeights& e = CacheOf<ConvBwdWeights>().Get(Key("bwd_w", p), [&] {
    ConvShape s(p);
    auto made = std::make_unique<ConvBwdWeights>();
    auto hint = MakeConvFwdPd(s, false, false, dnnl::prop_kind::forward_training);
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, s.src_md, s.wei_any_md, s.dst_md,
                                               s.strides, s.dil, s.pl, s.pr);
    made->pd = dnnl::convolution_backward_weights::primitive_desc(d, Engine(), hint);
    made->prim = dnnl::convolution_backward_weights(made->pd);
    made->w.Init(s.wei_user_md, made->pd.diff_weights_desc(), false);
    return made;
  });
  dnnl::stream& st = Stream();
  memory src(e.pd.src_desc(), Engine(), x);
  memory ddst(e.pd.diff_dst_desc(), Engine(), dy);
  memory wu(memory::desc(e.pd.diff_weights_desc().dims(), dt::f32, tag::hwio), Engine(), dw);
  memory wk = e.w.reorder_needed ? e.w.Internal() : wu;
  e.prim.execute(st, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, wk}});
  if (e.w.reorder_needed) e.w.from_internal.execute(st, wk, wu);
  st.wait();
}

// ---- matmul --------------------------------------------------------------------------------
// Parameters: batchA batchB M K N transposeA transposeB act   (act: 0 linear, 1 relu)
// a is [batchA, M, K] ([batchA, K, M] when transposed), b is [batchB, K, N] ([batchB, N, K]).

struct MatMul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  memory::desc a_md, b_md, c_md, bias_md;
};

// matmul(a, b, bias | null, c, params)
void MatMulFn(napi_env env, napi_value* a, size_t) {
  size_t na, nb, nbias = 0, nc;
  float* A = F32(env, a[0], &na);
  float* B = F32(env, a[1], &nb);
  float* bias = F32OrNull(env, a[2], &nbias);
  float* C = F32(env, a[3], &nc);
  std::vector<int64_t> p = Params(env, a[4]);
  if (p.size() < 8) throw JsError{"matmul: 8 parameters expected"};
  {
    const int64_t bA = p[0], bB = p[1], M = p[2], K = p[3], N = p[4];
    if (bA < 1 || bB < 1 || M < 1 || K < 1 || N < 1 || (bA != bB && bA != 1 && bB != 1)) {
      throw JsError{"matmul: invalid shape parameters"};
    }
    if (static_cast<int64_t>(na) != bA * M * K || static_cast<int64_t>(nb) != bB * K * N ||
        static_cast<int64_t>(nc) != std::max(bA, bB) * M * N || (bias && static_cast<int64_t>(nbias) != N)) {
      throw JsError{"matmul: buffer sizes do not match the parameters"};
    }
  }
  MatMul& e = CacheOf<MatMul>().Get(Key("mm", p, bias ? 1 : 0), [&] {
    const int64_t bA = p[0], bB = p[1], M = p[2], K = p[3], N = p[4];
    const bool tA = p[5] != 0, tB = p[6] != 0, relu = p[7] == 1;
    const int64_t batch = std::max(bA, bB);
    auto e = std::make_unique<MatMul>();
    e->a_md = memory::desc({bA, M, K}, dt::f32, tA ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    e->b_md = memory::desc({bB, K, N}, dt::f32, tB ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    e->c_md = memory::desc({batch, M, N}, dt::f32, memory::dims{M * N, N, 1});
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(po);
    }
    if (bias) {
      e->bias_md = memory::desc({1, 1, N}, dt::f32, memory::dims{N, N, 1});
      e->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(e->a_md, e->b_md, e->bias_md, e->c_md), attr, Engine());
    } else {
      e->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(e->a_md, e->b_md, e->c_md), attr, Engine());
    }
    e->prim = dnnl::matmul(e->pd);
    return e;
  });
  dnnl::stream& st = Stream();
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(e.a_md, Engine(), A)},
                                       {DNNL_ARG_WEIGHTS, memory(e.b_md, Engine(), B)},
                                       {DNNL_ARG_DST, memory(e.c_md, Engine(), C)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(e.bias_md, Engine(), bias));
  e.prim.execute(st, args);
  st.wait();
}

// ---- elementwise ---------------------------------------------------------------------------
// Loops over at least this many elements run on oneDNN's OpenMP threads (--threads N; 1 by
// default). Every element (or batch item, or output row) is computed by one thread in the same
// order as on one thread, so the results are the same bits for any thread count.
constexpr int64_t kParallelMin = int64_t{1} << 15;

// relu(x, y): y = max(x, 0); NaN stays NaN as in tfjs.
void Relu(napi_env env, napi_value* a, size_t) {
  size_t n, m;
  const float* x = F32(env, a[0], &n);
  float* y = F32(env, a[1], &m);
  if (m != n) throw JsError{"relu: sizes"};
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

// reluGrad(dy, x, dx): dx = x > 0 ? dy : 0 as tfjs's mul(dy, step(x)) computes it (dy * 1 or
// dy * 0, so -0 and NaN as there); NaN in x gives NaN (src/core/kernels/relu_grad.ts).
void ReluGrad(napi_env env, napi_value* a, size_t) {
  size_t ndy, nx, ndx;
  const float* __restrict dy = F32(env, a[0], &ndy);
  const float* __restrict x = F32(env, a[1], &nx);
  float* __restrict dx = F32(env, a[2], &ndx);
  if (ndy != nx || ndx != nx) throw JsError{"reluGrad: sizes"};
  const int64_t count = static_cast<int64_t>(nx);
  const float nan = std::numeric_limits<float>::quiet_NaN();
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; i++) {
    const float xi = x[i];
    // The product first, then the select: written as one conditional expression, gcc 12 -O3
    // branched on xi != xi per element, which mispredicts on mixed signs (same bits this way;
    // profile_mnist_step.js --kernels: 3.17 -> 1.21 ms on [128, 26, 26, 32]).
    const float r = dy[i] * static_cast<float>(xi > 0.0f);
    dx[i] = xi != xi ? nan : r;
  }
}

// slice(x, y, params: rank shape[rank] begin[rank] size[rank]): y = x[begin : begin + size] of a
// row-major tensor, as contiguous runs (the trailing whole axes and the innermost cut one) copied
// with memcpy. tfjs's wasm Slice copies runs of the innermost axis only, from JavaScript: the
// gradient of a 16 x 230 x 230 x 3 padding (3 floats a run) took 0.1 s.
void SliceFn(napi_env env, napi_value* a, size_t) {
  size_t nx, ny;
  const float* x = F32(env, a[0], &nx);
  float* y = F32(env, a[1], &ny);
  std::vector<int64_t> p = Params(env, a[2]);
  if (p.empty() || p[0] < 1 || p[0] > 8 || static_cast<int64_t>(p.size()) < 1 + 3 * p[0]) throw JsError{"slice: parameters"};
  const int rank = static_cast<int>(p[0]);
  const int64_t* shape = p.data() + 1;
  const int64_t* begin = shape + rank;
  const int64_t* sz = begin + rank;
  int64_t totalX = 1, totalY = 1;
  for (int d = 0; d < rank; d++) {
    if (shape[d] < 0 || begin[d] < 0 || sz[d] < 0 || begin[d] + sz[d] > shape[d]) throw JsError{"slice: out of range"};
    totalX *= shape[d];
    totalY *= sz[d];
  }
  if (totalX != static_cast<int64_t>(nx) || totalY != static_cast<int64_t>(ny)) throw JsError{"slice: sizes"};
  if (totalY == 0) return;
  // Axes after k are whole: a run is sz[k] rows of `inner` contiguous floats.
  int k = rank - 1;
  int64_t inner = 1;
  while (k >= 0 && begin[k] == 0 && sz[k] == shape[k]) inner *= shape[k--];
  if (k < 0) {
    std::memcpy(y, x, ny * sizeof(float));
    return;
  }
  std::vector<int64_t> stride(rank);
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d];
  }
  const int64_t run = sz[k] * inner;
  const int64_t runs = totalY / run;
  const int64_t* st = stride.data();
#pragma omp parallel for schedule(static) if (totalY >= kParallelMin && runs > 1)
  for (int64_t r = 0; r < runs; r++) {
    int64_t rem = r, off = begin[k] * st[k];
    for (int d = k - 1; d >= 0; d--) {
      off += (begin[d] + rem % sz[d]) * st[d];
      rem /= sz[d];
    }
    std::memcpy(y + r * run, x + off, run * sizeof(float));
  }
}

// batchNorm(x, mean, variance, offset | null, scale | null, y, params [channels], epsilon)
// Per-channel parameters on the innermost axis: y = (x - mean) * scale / sqrt(variance + eps) + offset.
void BatchNorm(napi_env env, napi_value* a, size_t) {
  size_t n, nm, nv;
  const float* x = F32(env, a[0], &n);
  const float* mean = F32(env, a[1], &nm);
  const float* var = F32(env, a[2], &nv);
  size_t noff = 0, nscale = 0, ny;
  const float* off = F32OrNull(env, a[3], &noff);
  const float* scale = F32OrNull(env, a[4], &nscale);
  float* y = F32(env, a[5], &ny);
  std::vector<int64_t> p = Params(env, a[6]);
  double eps;
  napi_get_value_double(env, a[7], &eps);
  if (p.empty() || p[0] < 1) throw JsError{"batchNorm: per-channel parameters expected"};
  const size_t C = static_cast<size_t>(p[0]);
  if (nm != C || nv != C || n % C != 0 || (off && noff != C) || (scale && nscale != C)) {
    throw JsError{"batchNorm: per-channel parameters expected"};
  }
  if (ny != n) throw JsError{"batchNorm: sizes"};
  std::vector<float> mul(C), add(C);
  for (size_t c = 0; c < C; c++) {
    const float inv = 1.0f / std::sqrt(var[c] + static_cast<float>(eps));
    mul[c] = (scale ? scale[c] : 1.0f) * inv;
    add[c] = (off ? off[c] : 0.0f) - mean[c] * mul[c];
  }
  const int64_t rows = static_cast<int64_t>(n / C);
  const float* mp = mul.data();
  const float* ap = add.data();
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(n) >= kParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    for (size_t c = 0; c < C; c++) yr[c] = xr[c] * mp[c] + ap[c];
  }
}

// maxPoolGrad(dy, x, dx, params: N H W C OH OW KH KW sh sw pt pl)
// The gradient of each window goes to its first maximum in row-major scan order (as tfjs's cpu
// backend picks it); padding is never a candidate.
void MaxPoolGrad(napi_env env, napi_value* a, size_t) {
  size_t ndy, nx, ndx;
  const float* dy = F32(env, a[0], &ndy);
  const float* x = F32(env, a[1], &nx);
  float* dx = F32(env, a[2], &ndx);
  std::vector<int64_t> p = Params(env, a[3]);
  if (p.size() < 12) throw JsError{"maxPoolGrad: 12 parameters expected"};
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], OH = p[4], OW = p[5], KH = p[6], KW = p[7], sh = p[8],
                sw = p[9], pt = p[10], pl = p[11];
  for (int i = 0; i < 10; i++) {
    if (p[i] < 1) throw JsError{"maxPoolGrad: shape parameters must be positive"};
  }
  if (pt < 0 || pl < 0 || pt >= KH || pl >= KW) throw JsError{"maxPoolGrad: invalid padding"};
  if (static_cast<int64_t>(nx) != N * H * W * C || static_cast<int64_t>(ndx) != N * H * W * C ||
      static_cast<int64_t>(ndy) != N * OH * OW * C) {
    throw JsError{"maxPoolGrad: sizes do not match the parameters"};
  }
  // Batch items in parallel: each writes only its own part of dx.
  const bool parallel = N > 1 && static_cast<int64_t>(nx) >= kParallelMin;
  if (sh >= KH && sw >= KW && pt == 0 && pl == 0) {
    // Windows that do not overlap: every input element has at most one window, so dx is written
    // once, sequentially: the window's first maximum gets dy, the rest 0 (no scatter).
    const bool covered = sh == KH && sw == KW && OH * KH == H && OW * KW == W;
    if (!covered) std::memset(dx, 0, ndx * sizeof(float));
#pragma omp parallel if (parallel)
    {
    std::vector<float> best(C);
    std::vector<uint32_t> taken(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      for (int64_t oy = 0; oy < OH; oy++) {
        const int64_t ky1 = std::min<int64_t>(KH, H - oy * sh);
        for (int64_t ox = 0; ox < OW; ox++) {
          const int64_t kx1 = std::min<int64_t>(KW, W - ox * sw);
          const int64_t origin = ((n * H + oy * sh) * W + ox * sw) * C;
          float* __restrict bp = best.data();
          uint32_t* __restrict tp = taken.data();
          for (int64_t c = 0; c < C; c++) {
            bp[c] = -INFINITY;
            tp[c] = 0;
          }
          for (int64_t ky = 0; ky < ky1; ky++) {
            for (int64_t kx = 0; kx < kx1; kx++) {
              const float* __restrict xr = x + origin + (ky * W + kx) * C;
              for (int64_t c = 0; c < C; c++) bp[c] = xr[c] > bp[c] ? xr[c] : bp[c];
            }
          }
          // Branch-free (random data mispredicts): bit masks select dy or +0.
          const uint32_t* __restrict dyb = reinterpret_cast<const uint32_t*>(dy + ((n * OH + oy) * OW + ox) * C);
          for (int64_t ky = 0; ky < ky1; ky++) {
            for (int64_t kx = 0; kx < kx1; kx++) {
              const float* __restrict xr = x + origin + (ky * W + kx) * C;
              uint32_t* __restrict dxb = reinterpret_cast<uint32_t*>(dx + origin + (ky * W + kx) * C);
              for (int64_t c = 0; c < C; c++) {
                // A window of -Infinity only has no maximum (as on cpu: a strict > finds none).
                const uint32_t first = (0u - static_cast<uint32_t>(xr[c] == bp[c] && bp[c] > -INFINITY)) & ~tp[c];
                dxb[c] = dyb[c] & first;
                tp[c] |= first;
              }
            }
          }
        }
      }
    }
    }
    return;
  }
  std::memset(dx, 0, ndx * sizeof(float));
#pragma omp parallel if (parallel)
  {
  std::vector<float> best(C);
  std::vector<int32_t> at(C);
#pragma omp for schedule(static)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const int64_t y0 = oy * sh - pt;
      const int64_t ky0 = std::max<int64_t>(0, -y0), ky1 = std::min<int64_t>(KH, H - y0);
      for (int64_t ox = 0; ox < OW; ox++) {
        const int64_t x0 = ox * sw - pl;
        const int64_t kx0 = std::max<int64_t>(0, -x0), kx1 = std::min<int64_t>(KW, W - x0);
        float* __restrict bp = best.data();
        int32_t* __restrict ap = at.data();
        for (int64_t c = 0; c < C; c++) {
          bp[c] = -INFINITY;
          ap[c] = -1;
        }
        // Window positions in row-major order; a later position wins only when strictly larger.
        for (int64_t ky = ky0; ky < ky1; ky++) {
          for (int64_t kx = kx0; kx < kx1; kx++) {
            const float* __restrict xr = x + ((n * H + y0 + ky) * W + x0 + kx) * C;
            const int32_t pos = static_cast<int32_t>((ky * W + kx) * C);  // offset from the window's origin
            for (int64_t c = 0; c < C; c++) {
              const bool gt = xr[c] > bp[c];
              bp[c] = gt ? xr[c] : bp[c];
              ap[c] = gt ? pos : ap[c];
            }
          }
        }
        const float* __restrict dyr = dy + ((n * OH + oy) * OW + ox) * C;
        const int64_t origin = ((n * H + y0) * W + x0) * C;  // negative in the padding; origin + ap[c] is not
        for (int64_t c = 0; c < C; c++) {
          if (ap[c] >= 0) dx[origin + ap[c] + c] += dyr[c];
        }
      }
    }
  }
  }
}

// sumRows(x, y, params: rows cols): y[c] = sum over r of x[r * cols + c], rows in order,
// accumulated in double as the JavaScript kernel (src/core/kernels/sum.ts) does: the same result
// bit for bit, and no float32 drift over the ~10^6 rows of a large layer's bias gradient.
void SumRows(napi_env env, napi_value* a, size_t) {
  size_t nx, ny;
  const float* x = F32(env, a[0], &nx);
  float* y = F32(env, a[1], &ny);
  std::vector<int64_t> p = Params(env, a[2]);
  if (p.size() < 2) throw JsError{"sumRows: 2 parameters expected"};
  const int64_t rows = p[0], cols = p[1];
  if (static_cast<int64_t>(nx) != rows * cols || static_cast<int64_t>(ny) != cols) throw JsError{"sumRows: sizes"};
  std::vector<double> acc(cols, 0.0);
  double* __restrict ap = acc.data();
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict xr = x + r * cols;
    for (int64_t c = 0; c < cols; c++) ap[c] += xr[c];
  }
  for (int64_t c = 0; c < cols; c++) y[c] = static_cast<float>(ap[c]);
}

// ---- fused LSTM layer (lstm.cc) -------------------------------------------------------------
// Parameters: time batch in units reverse.

dnnkit::LstmShape LstmParams(napi_env env, napi_value v) {
  std::vector<int64_t> p = Params(env, v);
  if (p.size() < 5) throw JsError{"lstm: 5 parameters expected"};
  dnnkit::LstmShape s{p[0], p[1], p[2], p[3], p[4] != 0};
  if (s.time < 1 || s.batch < 1 || s.in < 1 || s.units < 1) throw JsError{"lstm: empty shape"};
  return s;
}

float* Sized(napi_env env, napi_value v, int64_t n, const char* what) {
  size_t len;
  float* d = F32(env, v, &len);
  if (static_cast<int64_t>(len) != n) throw JsError{std::string("lstm: wrong size of ") + what};
  return d;
}

// lstmSeq(x, wx, wh, b, h, c, gates, params)
void LstmSeq(napi_env env, napi_value* a, size_t) {
  const dnnkit::LstmShape s = LstmParams(env, a[7]);
  const int64_t TB = s.time * s.batch, G = 4 * s.units;
  const float* x = Sized(env, a[0], TB * s.in, "x");
  const float* wx = Sized(env, a[1], s.in * G, "kernel");
  const float* wh = Sized(env, a[2], s.units * G, "recurrentKernel");
  const float* b = Sized(env, a[3], G, "bias");
  float* h = Sized(env, a[4], TB * s.units, "h");
  float* c = Sized(env, a[5], TB * s.units, "c");
  float* gates = Sized(env, a[6], TB * G, "gates");
  dnnkit::LstmSeqForward(s, x, wx, wh, b, h, c, gates);
}

// lstmSeqGrad(dy, x, wx, wh, h, c, gates, dx, dwx, dwh, db, params)
void LstmSeqGrad(napi_env env, napi_value* a, size_t) {
  const dnnkit::LstmShape s = LstmParams(env, a[11]);
  const int64_t TB = s.time * s.batch, G = 4 * s.units;
  const float* dy = Sized(env, a[0], TB * s.units, "dy");
  const float* x = Sized(env, a[1], TB * s.in, "x");
  const float* wx = Sized(env, a[2], s.in * G, "kernel");
  const float* wh = Sized(env, a[3], s.units * G, "recurrentKernel");
  const float* h = Sized(env, a[4], TB * s.units, "h");
  const float* c = Sized(env, a[5], TB * s.units, "c");
  const float* gates = Sized(env, a[6], TB * G, "gates");
  float* dx = Sized(env, a[7], TB * s.in, "dx");
  float* dwx = Sized(env, a[8], s.in * G, "dkernel");
  float* dwh = Sized(env, a[9], s.units * G, "drecurrentKernel");
  float* db = Sized(env, a[10], G, "dbias");
  dnnkit::LstmSeqBackward(s, dy, x, wx, wh, h, c, gates, dx, dwx, dwh, db);
}

// ---- element-wise float32 ops for large tensors (Adam's updates, bias adds) --------------------
// binary(a, b, y, params: op aPeriod bPeriod): op 0 add, 1 sub, 2 mul, 3 div. An operand's period
// is 0 when it has y's size, else it repeats every `period` elements: 1 for a scalar, C for a
// bias of C over a [..., C] tensor (y[i] = op(a[i], b[i % C])). unary(x, y, params: op): op 0
// sqrt, 1 square. IEEE single precision as the wasm kernels compute them (same results).

template <typename Op>
void BinaryLoop(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t count, int64_t ka,
                int64_t kb, Op op) {
  const bool parallel = count >= kParallelMin;
  if (ka == 0 && kb == 0) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < count; i++) y[i] = op(a[i], b[i]);
  } else if (ka == 1 && kb == 0) {
    const float av = a[0];
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < count; i++) y[i] = op(av, b[i]);
  } else if (ka == 0 && kb == 1) {
    const float bv = b[0];
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < count; i++) y[i] = op(a[i], bv);
  } else {
    // One operand whole, the other a run of k repeated (a bias): rows of k, each thread whole rows.
    const int64_t k = ka == 0 ? kb : ka;
    const int64_t rows = count / k;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t o = r * k;
      if (ka == 0) {
        for (int64_t j = 0; j < k; j++) y[o + j] = op(a[o + j], b[j]);
      } else {
        for (int64_t j = 0; j < k; j++) y[o + j] = op(a[j], b[o + j]);
      }
    }
  }
}

void Binary(napi_env env, napi_value* a, size_t) {
  size_t na, nb, ny;
  const float* A = F32(env, a[0], &na);
  const float* B = F32(env, a[1], &nb);
  float* Y = F32(env, a[2], &ny);
  std::vector<int64_t> p = Params(env, a[3]);
  if (p.size() < 3) throw JsError{"binary: 3 parameters expected"};
  const int64_t count = static_cast<int64_t>(ny), ka = p[1], kb = p[2];
  // An operand is whole (period 0: its size is y's) or a repeated run of period k dividing y;
  // at least one of them is whole.
  const auto fits = [count](size_t n, int64_t k) {
    return k == 0 ? static_cast<int64_t>(n) == count : k > 0 && static_cast<int64_t>(n) == k && count % k == 0;
  };
  if (!fits(na, ka) || !fits(nb, kb) || (ka != 0 && kb != 0)) throw JsError{"binary: sizes"};
  switch (p[0]) {
    case 0: BinaryLoop(A, B, Y, count, ka, kb, [](float x, float z) { return x + z; }); break;
    case 1: BinaryLoop(A, B, Y, count, ka, kb, [](float x, float z) { return x - z; }); break;
    case 2: BinaryLoop(A, B, Y, count, ka, kb, [](float x, float z) { return x * z; }); break;
    case 3: BinaryLoop(A, B, Y, count, ka, kb, [](float x, float z) { return x / z; }); break;
    default: throw JsError{"binary: unknown op"};
  }
}

void Unary(napi_env env, napi_value* a, size_t) {
  size_t nx, ny;
  const float* __restrict X = F32(env, a[0], &nx);
  float* __restrict Y = F32(env, a[1], &ny);
  std::vector<int64_t> p = Params(env, a[2]);
  if (p.empty() || nx != ny) throw JsError{"unary: sizes"};
  const int64_t count = static_cast<int64_t>(nx);
  if (p[0] == 0) {
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
    for (int64_t i = 0; i < count; i++) Y[i] = std::sqrt(X[i]);
  } else if (p[0] == 1) {
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
    for (int64_t i = 0; i < count; i++) Y[i] = X[i] * X[i];
  } else {
    throw JsError{"unary: unknown op"};
  }
}

// gatherRows(x, indices, y, params: rows slice): y[i] = x[indices[i]] (rows of `slice` floats);
// the caller checked that every index is in [0, rows).
void GatherRows(napi_env env, napi_value* a, size_t) {
  size_t nx, ny;
  const float* x = F32(env, a[0], &nx);
  size_t ni;
  const int32_t* idx = TypedArg<const int32_t>(env, a[1], napi_int32_array, "an Int32Array of indices (gatherRows)", &ni);
  float* y = F32(env, a[2], &ny);
  std::vector<int64_t> p = Params(env, a[3]);
  if (p.size() < 2) throw JsError{"gatherRows: 2 parameters expected"};
  const int64_t rows = p[0], slice = p[1];
  if (static_cast<int64_t>(nx) != rows * slice || static_cast<int64_t>(ny) != static_cast<int64_t>(ni) * slice) {
    throw JsError{"gatherRows: sizes"};
  }
  for (size_t i = 0; i < ni; i++) {
    if (idx[i] < 0 || idx[i] >= rows) throw JsError{"gatherRows: index out of range"};
    std::memcpy(y + i * slice, x + static_cast<int64_t>(idx[i]) * slice, slice * sizeof(float));
  }
}

// segmentSum(x, ids, y, params: numSegments inner): y = 0, then y[ids[i]] += x[i] in order of i
// (ids outside [0, numSegments) dropped, as TensorFlow does): UnsortedSegmentSum, the gradient of
// an embedding lookup; the same additions in the same order as the JS kernel, so the same sums.
void SegmentSum(napi_env env, napi_value* a, size_t) {
  size_t nx, ny;
  const float* x = F32(env, a[0], &nx);
  size_t ni;
  const int32_t* ids = TypedArg<const int32_t>(env, a[1], napi_int32_array, "an Int32Array of ids (segmentSum)", &ni);
  float* y = F32(env, a[2], &ny);
  std::vector<int64_t> p = Params(env, a[3]);
  if (p.size() < 2) throw JsError{"segmentSum: 2 parameters expected"};
  const int64_t segs = p[0], inner = p[1];
  if (static_cast<int64_t>(ny) != segs * inner || static_cast<int64_t>(nx) != static_cast<int64_t>(ni) * inner) {
    throw JsError{"segmentSum: sizes"};
  }
  std::memset(y, 0, ny * sizeof(float));
  for (size_t i = 0; i < ni; i++) {
    const int64_t sgm = ids[i];
    if (sgm < 0 || sgm >= segs) continue;
    const float* __restrict src = x + i * inner;
    float* __restrict dst = y + sgm * inner;
    for (int64_t j = 0; j < inner; j++) dst[j] += src[j];
  }
}

// equal(a, b, y, params: R shape[R] strideA[R] strideB[R]): y (bool, one byte each) = a == b
// with numpy broadcasting (stride 0 on broadcast axes), row-major over `shape`. The gradient of
// max-pooling over time compares [time, batch, units] with [1, batch, units].
void EqualFn(napi_env env, napi_value* a, size_t) {
  size_t na, nb;
  const float* A = F32(env, a[0], &na);
  const float* B = F32(env, a[1], &nb);
  size_t ny;
  uint8_t* Y = TypedArg<uint8_t>(env, a[2], napi_uint8_array, "a Uint8Array output (equal)", &ny);
  std::vector<int64_t> p = Params(env, a[3]);
  if (p.empty()) throw JsError{"equal: parameters"};
  const int64_t R = p[0];
  if (R < 1 || static_cast<int64_t>(p.size()) != 1 + 3 * R) throw JsError{"equal: parameters"};
  const int64_t* shape = p.data() + 1;
  const int64_t* sa = shape + R;
  const int64_t* sb = sa + R;
  int64_t total = 1, maxA = 0, maxB = 0;
  for (int64_t d = 0; d < R; d++) {
    total *= shape[d];
    maxA += (shape[d] - 1) * sa[d];
    maxB += (shape[d] - 1) * sb[d];
  }
  if (total != static_cast<int64_t>(ny) || total == 0 || maxA >= static_cast<int64_t>(na) || maxB >= static_cast<int64_t>(nb)) {
    throw JsError{"equal: sizes"};
  }
  const int64_t inner = shape[R - 1], ia = sa[R - 1], ib = sb[R - 1];
  std::vector<int64_t> idx(R, 0);
  for (int64_t o = 0; o < total; o += inner) {
    int64_t offA = 0, offB = 0;
    for (int64_t d = 0; d < R - 1; d++) {
      offA += idx[d] * sa[d];
      offB += idx[d] * sb[d];
    }
    const float* __restrict ar = A + offA;
    const float* __restrict br = B + offB;
    uint8_t* __restrict yr = Y + o;
    for (int64_t j = 0; j < inner; j++) yr[j] = ar[j * ia] == br[j * ib] ? 1 : 0;
    for (int64_t d = R - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// tableAdam(w, m, v, seen, gradOf, grad, params: rows dim gradRows, hyper: lr beta1 beta2 epsilon
// 1-beta1^t 1-beta2^t scale): one Adam step of a [rows, dim] table whose gradient is given as
// rows (src/core/table_adam.ts): row r's gradient is grad row gradOf[r] (times scale), or zero
// when gradOf[r] < 0. Rows with seen[r] == 0 (never had a gradient: zero moments) are skipped.
// In place on w, m, v, in float32 like tf.train.adam's kernels.
void TableAdamFn(napi_env env, napi_value* a, size_t) {
  size_t nw, nm, nv, ns, ng, ngrad, nh;
  float* __restrict w = F32(env, a[0], &nw);
  float* __restrict m = F32(env, a[1], &nm);
  float* __restrict v = F32(env, a[2], &nv);
  const uint8_t* seen = TypedArg<const uint8_t>(env, a[3], napi_uint8_array, "a Uint8Array of seen rows (tableAdam)", &ns);
  const int32_t* gradOf = TypedArg<const int32_t>(env, a[4], napi_int32_array, "an Int32Array of gradient rows (tableAdam)", &ng);
  const float* __restrict grad = F32(env, a[5], &ngrad);
  std::vector<int64_t> p = Params(env, a[6]);
  const double* h = TypedArg<const double>(env, a[7], napi_float64_array, "a Float64Array of hyperparameters (tableAdam)", &nh);
  if (p.size() < 3 || nh < 7) throw JsError{"tableAdam: parameters"};
  const int64_t rows = p[0], dim = p[1], gradRows = p[2];
  if (rows < 0 || dim < 1 || gradRows < 0 || static_cast<int64_t>(nw) != rows * dim || nm != nw || nv != nw ||
      static_cast<int64_t>(ns) != rows || static_cast<int64_t>(ng) != rows || static_cast<int64_t>(ngrad) != gradRows * dim) {
    throw JsError{"tableAdam: sizes"};
  }
  for (int64_t r = 0; r < rows; r++) {
    if (gradOf[r] < -1 || gradOf[r] >= gradRows) throw JsError{"tableAdam: gradient row out of range"};
  }
  const float lr = static_cast<float>(h[0]), b1 = static_cast<float>(h[1]), b2 = static_cast<float>(h[2]);
  const float eps = static_cast<float>(h[3]), c1 = static_cast<float>(h[4]), c2 = static_cast<float>(h[5]);
  const float scale = static_cast<float>(h[6]);
  const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
  for (int64_t r = 0; r < rows; r++) {
    if (!seen[r]) continue;
    float* __restrict wr = w + r * dim;
    float* __restrict mr = m + r * dim;
    float* __restrict vr = v + r * dim;
    if (gradOf[r] < 0) {
      for (int64_t j = 0; j < dim; j++) {
        mr[j] = b1 * mr[j];
        vr[j] = b2 * vr[j];
        wr[j] -= lr * ((mr[j] / c1) / (std::sqrt(vr[j] / c2) + eps));
      }
    } else {
      const float* __restrict gr = grad + static_cast<int64_t>(gradOf[r]) * dim;
      for (int64_t j = 0; j < dim; j++) {
        const float g = gr[j] * scale;
        mr[j] = b1 * mr[j] + ob1 * g;
        vr[j] = b2 * vr[j] + ob2 * (g * g);
        wr[j] -= lr * ((mr[j] / c1) / (std::sqrt(vr[j] / c2) + eps));
      }
    }
  }
}

// adamStep(w, m, v, g, w2, m2, v2, hyper: -lr beta1 beta2 (1-beta1) (1-beta2) (1-beta1^t) (1-beta2^t)
// epsilon): one dense Adam step of tf.train.adam (src/core/optim.ts), written to new buffers:
// the same float32 operations in the same order as its dozen element-wise kernels, so the same
// bits, in one pass instead of a dozen full-size tensors.
void AdamStepFn(napi_env env, napi_value* a, size_t) {
  size_t nw, nm, nv, ng, nw2, nm2, nv2, nh;
  const float* __restrict w = F32(env, a[0], &nw);
  const float* __restrict m = F32(env, a[1], &nm);
  const float* __restrict v = F32(env, a[2], &nv);
  const float* __restrict g = F32(env, a[3], &ng);
  float* __restrict w2 = F32(env, a[4], &nw2);
  float* __restrict m2 = F32(env, a[5], &nm2);
  float* __restrict v2 = F32(env, a[6], &nv2);
  const double* h = TypedArg<const double>(env, a[7], napi_float64_array, "a Float64Array of hyperparameters (adamStep)", &nh);
  if (nh < 8) throw JsError{"adamStep: 8 hyperparameters expected"};
  if (nm != nw || nv != nw || ng != nw || nw2 != nw || nm2 != nw || nv2 != nw) throw JsError{"adamStep: sizes"};
  const float nlr = static_cast<float>(h[0]), b1 = static_cast<float>(h[1]), b2 = static_cast<float>(h[2]);
  const float ob1 = static_cast<float>(h[3]), ob2 = static_cast<float>(h[4]), c1 = static_cast<float>(h[5]);
  const float c2 = static_cast<float>(h[6]), eps = static_cast<float>(h[7]);
  const int64_t count = static_cast<int64_t>(nw);
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    m2[i] = mi;
    v2[i] = vi;
    w2[i] = ((mi / c1) / (std::sqrt(vi / c2) + eps)) * nlr + w[i];
  }
}

// bagScatter(src, from, to, weights, out, params: fromRows toRows dim): out = 0, then for each
// n-gram j in order, out[to[j]] += weights[j] * src[from[j]] (rows of `dim` floats): the subword
// bag (src/sst2/subword_bag.ts) forward (from = ids, to = positions) and its table gradient
// (from = positions, to = ids). Each sum is taken in double and stored as float, as the
// JavaScript loop it replaces does, so the results are the same bits.
void BagScatter(napi_env env, napi_value* a, size_t) {
  size_t ns, nf, nt, nw, no;
  const float* src = F32(env, a[0], &ns);
  const int32_t* from = TypedArg<const int32_t>(env, a[1], napi_int32_array, "an Int32Array of source rows (bagScatter)", &nf);
  const int32_t* to = TypedArg<const int32_t>(env, a[2], napi_int32_array, "an Int32Array of target rows (bagScatter)", &nt);
  const float* weights = F32(env, a[3], &nw);
  float* out = F32(env, a[4], &no);
  std::vector<int64_t> p = Params(env, a[5]);
  if (p.size() < 3) throw JsError{"bagScatter: 3 parameters expected"};
  const int64_t fromRows = p[0], toRows = p[1], dim = p[2];
  if (dim < 1 || fromRows < 0 || toRows < 0 || static_cast<int64_t>(ns) != fromRows * dim || static_cast<int64_t>(no) != toRows * dim ||
      nt != nf || nw != nf) {
    throw JsError{"bagScatter: sizes"};
  }
  for (size_t j = 0; j < nf; j++) {
    if (from[j] < 0 || from[j] >= fromRows || to[j] < 0 || to[j] >= toRows) throw JsError{"bagScatter: row out of range"};
  }
  std::memset(out, 0, no * sizeof(float));
  for (size_t j = 0; j < nf; j++) {
    const double w = weights[j];
    const float* __restrict s = src + static_cast<int64_t>(from[j]) * dim;
    float* __restrict d = out + static_cast<int64_t>(to[j]) * dim;
    for (int64_t e = 0; e < dim; e++) d[e] = static_cast<float>(static_cast<double>(d[e]) + w * static_cast<double>(s[e]));
  }
}

void SetThreads(napi_env env, napi_value* a, size_t) {
  int32_t n = 1;
  napi_get_value_int32(env, a[0], &n);
  if (n < 1) n = 1;
  omp_set_num_threads(n);
}

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  std::string s = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

// cacheStats() -> { primitives, scratchBytes }: cached primitives of every kind, and the bytes of
// the reordered-filter scratch area, both of the calling thread (tests check they stay bounded).
napi_value CacheStats(napi_env env, napi_callback_info) {
  napi_value out, primitives, scratch;
  napi_create_object(env, &out);
  const size_t n = CacheOf<ConvFwd>().size() + CacheOf<ConvBwdData>().size() + CacheOf<ConvBwdWeights>().size() + CacheOf<MatMul>().size();
  napi_create_double(env, static_cast<double>(n), &primitives);
  napi_create_double(env, static_cast<double>(weight_scratch_capacity), &scratch);
  napi_set_named_property(env, out, "primitives", primitives);
  napi_set_named_property(env, out, "scratchBytes", scratch);
  return out;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, omp_get_max_threads(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2d", nullptr, Wrap<Conv2D, 5>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Wrap<Conv2DBackpropInput, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Wrap<Conv2DBackpropFilter, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, Wrap<MatMulFn, 5>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Wrap<Relu, 2>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, Wrap<ReluGrad, 3>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"slice", nullptr, Wrap<SliceFn, 3>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNorm", nullptr, Wrap<BatchNorm, 8>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, Wrap<MaxPoolGrad, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, Wrap<SumRows, 3>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lstmSeq", nullptr, Wrap<LstmSeq, 8>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lstmSeqGrad", nullptr, Wrap<LstmSeqGrad, 12>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Wrap<Binary, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Wrap<Unary, 3>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gatherRows", nullptr, Wrap<GatherRows, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"segmentSum", nullptr, Wrap<SegmentSum, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"equal", nullptr, Wrap<EqualFn, 4>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tableAdam", nullptr, Wrap<TableAdamFn, 8>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamStep", nullptr, Wrap<AdamStepFn, 8>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bagScatter", nullptr, Wrap<BagScatter, 6>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, Wrap<SetThreads, 1>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cacheStats", nullptr, CacheStats, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  // One thread until told otherwise (PyTorch comparisons run with dnnkit's thread count).
  omp_set_num_threads(1);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
