// Fast path for the explicit recurrent cells (bench/fastpath.py builds this on first use).
//
// One layer, zero initial state, time-major x (T, B, I), PyTorch's parameter layout (weight_ih (G*H, I),
// weight_hh (G*H, H), bias_ih, bias_hh (G*H,)), CPU, float32 / float64, all buffers contiguous.
//
// Forward: the input projection of all steps is one GEMM into a (T, B, G*H) buffer; each step then does
// one GEMM for the recurrent part (B, H) @ (H, G*H) and one fused elementwise loop (gates, c, h), keeping
// the activations for the backward. Backward: per step one fused elementwise loop (dL/d preactivations)
// and one GEMM dL/dh_{t-1} = dA_t @ W_hh; the weight and input gradients are three GEMMs over all steps at
// the end (dW_hh = dA^T @ H_prev, dW_ih = dA^T @ X, dX = dA @ W_ih). GEMMs go straight to the BLAS that
// libtorch exports (sgemm_/dgemm_, MKL in the x86 wheels), or through ATen where there is none.
//
// Ops (registered as torch.ops.rnn_bench_fastpath.*; `variant` is an index into the lists in fastpath.py):
//   lstm_fwd(x, w_ih, w_hh, b_ih, b_hh, variant) -> (out, acts, cs, ys)
//   lstm_bwd(dout, x, w_ih, w_hh, out, acts, cs, ys, variant, need_x) -> (dx, dw_ih, dw_hh, db)
//   gru_fwd(x, w_ih, w_hh, b_ih, b_hh, variant) -> (out, acts, hpn)
//   gru_bwd(dout, x, w_ih, w_hh, out, acts, hpn, variant, need_x) -> (dx, dw_ih, dw_hh, db_ih, db_hh)
//   rnn_fwd(x, w_ih, w_hh, b_ih, b_hh, variant) -> out
//   rnn_bwd(dout, x, w_ih, w_hh, out, variant, need_x) -> (dx, dw_ih, dw_hh, db)

#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

// glibc's vector math (libmvec): declaring the SIMD variants lets `#pragma omp simd` loops call
// exp/tanh on 4-8 lanes at once (<= 4 ulp) without -ffast-math. Elsewhere the loops stay scalar.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 35)
extern "C" {
__attribute__((__simd__("notinbranch"))) float expf(float) noexcept;
__attribute__((__simd__("notinbranch"))) double exp(double) noexcept;
__attribute__((__simd__("notinbranch"))) float tanhf(float) noexcept;
__attribute__((__simd__("notinbranch"))) double tanh(double) noexcept;
}
#endif
#endif

extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
            const int*, const float*, const int*, const float*, float*, const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
            const int*, const double*, const int*, const double*, double*, const int*) __attribute__((weak));
}

namespace {

using at::Tensor;

// ---------------------------------------------------------------------------------------------------------
// GEMM, row-major: C (m, n) = alpha * op(A) @ op(B) + beta * C; A is (m, k) or, transposed, stored (k, m);
// B is (k, n) or, transposed, stored (n, k); lda/ldb/ldc are row strides.

template <typename T>
void blas(char ta, char tb, int m, int n, int k, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
          T* C, int ldc);

template <>
void blas<float>(char ta, char tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, A, &lda, B, &ldb, &beta, C, &ldc);
}

template <>
void blas<double>(char ta, char tb, int m, int n, int k, double alpha, const double* A, int lda,
                  const double* B, int ldb, double beta, double* C, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, A, &lda, B, &ldb, &beta, C, &ldc);
}

template <typename T>
bool have_blas() {
  if constexpr (std::is_same_v<T, float>) {
    return sgemm_ != nullptr;
  } else {
    return dgemm_ != nullptr;
  }
}

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T beta, const T* A, int64_t lda, const T* B,
          int64_t ldb, T* C, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // empty sum
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) C[r * ldc + j] = beta == T(0) ? T(0) : beta * C[r * ldc + j];
    return;
  }
  if (have_blas<T>()) {
    // column-major BLAS sees row-major X as X^T: C^T = op(B)^T @ op(A)^T
    blas<T>(tb ? 'T' : 'N', ta ? 'T' : 'N', int(n), int(m), int(k), T(1), B, int(ldb), A, int(lda), beta, C,
            int(ldc));
    return;
  }
  auto opt = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  Tensor a = at::from_blob(const_cast<T*>(A), {ta ? k : m, ta ? m : k}, {lda, 1}, opt);
  Tensor b = at::from_blob(const_cast<T*>(B), {tb ? n : k, tb ? k : n}, {ldb, 1}, opt);
  Tensor c = at::from_blob(C, {m, n}, {ldc, 1}, opt);
  if (ta) a = a.t();
  if (tb) b = b.t();
  if (beta == T(0)) {
    at::mm_out(c, a, b);
  } else {
    c.mul_(beta).addmm_(a, b);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Buffer pool. The (T, B, G*H) buffers are tens of MB at the study's shapes; glibc serves allocations over
// its mmap threshold (at most 32 MB) with fresh mmaps, so every call would page-fault them in again (that
// was ~25% of the LSTM forward at H128 T300 B64). Big buffers therefore come from a small per-thread pool:
// a buffer is free again once nothing but the pool holds its storage (the autograd graph that saved it,
// or the caller holding an output, has let go). At most kPoolBuffers buffers and kPoolBytes per thread;
// clear_pool() empties it.

constexpr int64_t kPoolMinBytes = int64_t(1) << 20;  // smaller ones: plain at::empty
constexpr int64_t kPoolBytes = int64_t(1) << 30;
constexpr size_t kPoolBuffers = 12;
thread_local std::vector<Tensor> g_pool;

bool is_free(const Tensor& b) { return b.storage().use_count() == 1; }

Tensor pooled_empty(at::IntArrayRef shape, const at::TensorOptions& opt, bool exact = false) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  const int64_t bytes = numel * int64_t(opt.dtype().itemsize());
  if (bytes < kPoolMinBytes) return at::empty(shape, opt);
  Tensor* best = nullptr;
  for (auto& b : g_pool) {
    if (b.dtype() != opt.dtype() || b.numel() < numel || b.numel() > (exact ? numel : 2 * numel)) continue;
    if (!is_free(b)) continue;
    if (best == nullptr || b.numel() < best->numel()) best = &b;
  }
  if (best != nullptr) return best->narrow(0, 0, numel).view(shape);
  Tensor fresh = at::empty({numel}, opt);
  int64_t total = 0;
  for (auto& b : g_pool) total += b.nbytes();
  while ((g_pool.size() >= kPoolBuffers || total + bytes > kPoolBytes) && !g_pool.empty()) {
    auto it = std::find_if(g_pool.begin(), g_pool.end(), is_free);  // evict the oldest free buffer
    if (it == g_pool.end()) break;
    total -= it->nbytes();
    g_pool.erase(it);
  }
  if (g_pool.size() < kPoolBuffers && total + bytes <= kPoolBytes) g_pool.push_back(fresh);
  return fresh.view(shape);
}

int64_t clear_pool() {
  const auto n = int64_t(g_pool.size());
  g_pool.clear();
  return n;
}

template <typename T>
inline T sigm(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// fill each of `rows` rows (length n) of dst with bias
template <typename T>
void fill_rows(T* dst, const T* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * n, bias, sizeof(T) * n);
}

template <typename T>
void col_sum(const T* src, int64_t rows, int64_t n, T* out) {
  std::fill(out, out + n, T(0));
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = src + r * n;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) out[j] += s[j];
  }
}

void check_inputs(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, int64_t G) {
  TORCH_CHECK(x.dim() == 3, "x must be (T, B, I)");
  TORCH_CHECK(x.device().is_cpu(), "fastpath: CPU tensors only");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, "float32 or float64 only");
  const int64_t H = w_hh.size(1);
  TORCH_CHECK(w_hh.size(0) == G * H && w_ih.size(0) == G * H && w_ih.size(1) == x.size(2),
              "fastpath: bad weight shapes");
  TORCH_CHECK(x.size(0) >= 1 && x.size(1) >= 1, "fastpath: T and B must be >= 1");
}

// ---------------------------------------------------------------------------------------------------------
// LSTM. Variants (index = position in fastpath.LSTM_VARIANTS): gate blocks per variant in order i, f, g, o
// minus the dropped one.

enum LstmV { L_VANILLA = 0, L_NIG, L_NFG, L_NOG, L_NIAF, L_NOAF, L_CIFG, L_COUNT };

template <int V>
struct LstmLayout {
  static constexpr bool has_i = V != L_NIG;
  static constexpr bool has_f = V != L_NFG && V != L_CIFG;
  static constexpr bool has_o = V != L_NOG;
  static constexpr bool lin_g = V == L_NIAF;
  static constexpr bool lin_y = V == L_NOAF;
  static constexpr bool cifg = V == L_CIFG;
  static constexpr int oi = 0;
  static constexpr int of_ = has_i ? 1 : 0;
  static constexpr int og = int(has_i) + int(has_f);
  static constexpr int oo = og + 1;
  static constexpr int G = int(has_i) + int(has_f) + 1 + int(has_o);
};

template <typename T, int V>
void lstm_fwd_impl(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& bias, Tensor& out,
                   Tensor& acts, Tensor& cs, Tensor& ys) {
  using L = LstmLayout<V>;
  const int64_t T_ = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1), GH = L::G * H;
  T* A = acts.data_ptr<T>();
  T* C = cs.data_ptr<T>();
  T* Y = ys.data_ptr<T>();
  T* O = out.data_ptr<T>();
  const T* Wih = w_ih.data_ptr<T>();
  const T* Whh = w_hh.data_ptr<T>();
  fill_rows(A, bias.data_ptr<T>(), T_ * B, GH);
  gemm<T>(false, true, T_ * B, GH, I, T(1), x.data_ptr<T>(), I, Wih, I, A, GH);
  for (int64_t t = 0; t < T_; ++t) {
    T* At = A + t * B * GH;
    const T* hprev = O + (t - 1) * B * H;
    const T* cprev = C + (t - 1) * B * H;
    if (t > 0) gemm<T>(false, true, B, GH, H, T(1), hprev, H, Whh, H, At, GH);
    T* ct = C + t * B * H;
    T* yt = Y + t * B * H;
    T* ht = O + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      T* a = At + b * GH;
      T* ai = a + L::oi * H;
      T* af = a + L::of_ * H;
      T* ag = a + L::og * H;
      T* ao = a + L::oo * H;
      const T* cp = cprev + b * H;
      T* cr = ct + b * H;
      T* yr = yt + b * H;
      T* hr = ht + b * H;
      const bool first = t == 0;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        T i = T(1), f = T(1), o = T(1);
        if constexpr (L::has_i) {
          i = sigm(ai[j]);
          ai[j] = i;
        }
        if constexpr (L::has_f) {
          f = sigm(af[j]);
          af[j] = f;
        }
        if constexpr (L::cifg) f = T(1) - i;
        T g = ag[j];
        if constexpr (!L::lin_g) {
          g = std::tanh(g);
          ag[j] = g;
        }
        const T c0 = first ? T(0) : cp[j];
        const T c = f * c0 + i * g;
        T y = c;
        if constexpr (!L::lin_y) y = std::tanh(c);
        if constexpr (L::has_o) {
          o = sigm(ao[j]);
          ao[j] = o;
        }
        cr[j] = c;
        yr[j] = y;
        hr[j] = o * y;
      }
    }
  }
}

template <typename T, int V>
void lstm_bwd_impl(const Tensor& dout, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh,
                   const Tensor& out, const Tensor& acts, const Tensor& cs, const Tensor& ys, bool need_x,
                   Tensor& dx, Tensor& dw_ih, Tensor& dw_hh, Tensor& db) {
  using L = LstmLayout<V>;
  const int64_t T_ = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1), GH = L::G * H;
  const T* A = acts.data_ptr<T>();
  const T* C = cs.data_ptr<T>();
  const T* Y = ys.data_ptr<T>();
  const T* O = out.data_ptr<T>();
  const T* dO = dout.data_ptr<T>();
  Tensor dA_t = pooled_empty({T_, B, GH}, x.options());
  Tensor dh_t = at::empty({B, H}, x.options());
  Tensor dc_t = at::zeros({B, H}, x.options());
  T* dA = dA_t.data_ptr<T>();
  T* dh = dh_t.data_ptr<T>();
  T* dcn = dc_t.data_ptr<T>();  // dL/dc_t through c_{t+1}
  std::memcpy(dh, dO + (T_ - 1) * B * H, sizeof(T) * B * H);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const T* At = A + t * B * GH;
    T* dAt = dA + t * B * GH;
    const T* cprev = C + (t - 1) * B * H;
    const T* yt = Y + t * B * H;
    const bool first = t == 0;
    for (int64_t b = 0; b < B; ++b) {
      const T* a = At + b * GH;
      const T* ai = a + L::oi * H;
      const T* af = a + L::of_ * H;
      const T* ag = a + L::og * H;
      const T* ao = a + L::oo * H;
      T* d = dAt + b * GH;
      T* di_ = d + L::oi * H;
      T* df_ = d + L::of_ * H;
      T* dg_ = d + L::og * H;
      T* do_ = d + L::oo * H;
      const T* cp = cprev + b * H;
      const T* yr = yt + b * H;
      const T* dhr = dh + b * H;
      T* dcr = dcn + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T dhj = dhr[j], y = yr[j], g = ag[j];
        const T c0 = first ? T(0) : cp[j];
        T dy = dhj;
        if constexpr (L::has_o) {
          const T o = ao[j];
          do_[j] = dhj * y * o * (T(1) - o);
          dy = dhj * o;
        }
        T dc = dcr[j];
        if constexpr (L::lin_y) {
          dc += dy;
        } else {
          dc += dy * (T(1) - y * y);
        }
        T i = T(1);
        if constexpr (L::has_i) i = ai[j];
        const T dg = dc * i;
        T dcp;
        if constexpr (L::cifg) {
          di_[j] = dc * (g - c0) * i * (T(1) - i);
          dcp = dc - dg;  // dc * (1 - i)
        } else {
          if constexpr (L::has_i) di_[j] = dc * g * i * (T(1) - i);
          if constexpr (L::has_f) {
            const T f = af[j];
            df_[j] = dc * c0 * f * (T(1) - f);
            dcp = dc * f;
          } else {
            dcp = dc;
          }
        }
        if constexpr (L::lin_g) {
          dg_[j] = dg;
        } else {
          dg_[j] = dg * (T(1) - g * g);
        }
        dcr[j] = dcp;
      }
    }
    if (t > 0) {  // dL/dh_{t-1}: direct + through step t
      std::memcpy(dh, dO + (t - 1) * B * H, sizeof(T) * B * H);
      gemm<T>(false, false, B, H, GH, T(1), dAt, GH, w_hh.data_ptr<T>(), H, dh, H);
    }
  }
  // dW_hh = sum_t dA_t^T h_{t-1} (h_{-1} = 0), dW_ih = dA^T X, dX = dA W_ih
  gemm<T>(true, false, GH, H, (T_ - 1) * B, T(0), dA + B * GH, GH, O, H, dw_hh.data_ptr<T>(), H);
  gemm<T>(true, false, GH, I, T_ * B, T(0), dA, GH, x.data_ptr<T>(), I, dw_ih.data_ptr<T>(), I);
  if (need_x) gemm<T>(false, false, T_ * B, I, GH, T(0), dA, GH, w_ih.data_ptr<T>(), I, dx.data_ptr<T>(), I);
  col_sum(dA, T_ * B, GH, db.data_ptr<T>());
}

template <typename T, int V = 0>
void lstm_fwd_dispatch(int64_t v, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& bias,
                       Tensor& out, Tensor& acts, Tensor& cs, Tensor& ys) {
  if constexpr (V < L_COUNT) {
    if (v == V) return lstm_fwd_impl<T, V>(x, w_ih, w_hh, bias, out, acts, cs, ys);
    return lstm_fwd_dispatch<T, V + 1>(v, x, w_ih, w_hh, bias, out, acts, cs, ys);
  } else {
    TORCH_CHECK(false, "fastpath: unknown LSTM variant ", v);
  }
}

template <typename T, int V = 0>
void lstm_bwd_dispatch(int64_t v, const Tensor& dout, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh,
                       const Tensor& out, const Tensor& acts, const Tensor& cs, const Tensor& ys, bool need_x,
                       Tensor& dx, Tensor& dw_ih, Tensor& dw_hh, Tensor& db) {
  if constexpr (V < L_COUNT) {
    if (v == V) return lstm_bwd_impl<T, V>(dout, x, w_ih, w_hh, out, acts, cs, ys, need_x, dx, dw_ih, dw_hh, db);
    return lstm_bwd_dispatch<T, V + 1>(v, dout, x, w_ih, w_hh, out, acts, cs, ys, need_x, dx, dw_ih, dw_hh, db);
  } else {
    TORCH_CHECK(false, "fastpath: unknown LSTM variant ", v);
  }
}

int64_t lstm_gates(int64_t v) {
  TORCH_CHECK(v >= 0 && v < L_COUNT, "fastpath: unknown LSTM variant ", v);
  static const int64_t g[L_COUNT] = {LstmLayout<0>::G, LstmLayout<1>::G, LstmLayout<2>::G, LstmLayout<3>::G,
                                     LstmLayout<4>::G, LstmLayout<5>::G, LstmLayout<6>::G};
  return g[v];
}

std::tuple<Tensor, Tensor, Tensor, Tensor> lstm_fwd(const Tensor& x_, const Tensor& w_ih_, const Tensor& w_hh_,
                                                    const Tensor& b_ih, const Tensor& b_hh, int64_t variant) {
  const int64_t G = lstm_gates(variant);
  check_inputs(x_, w_ih_, w_hh_, G);
  Tensor x = x_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  Tensor bias = (b_ih + b_hh).contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(1);
  Tensor out = pooled_empty({T_, B, H}, x.options(), true);
  Tensor acts = pooled_empty({T_, B, G * H}, x.options());
  Tensor cs = pooled_empty({T_, B, H}, x.options());
  Tensor ys = pooled_empty({T_, B, H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_fwd", [&] {
    lstm_fwd_dispatch<scalar_t>(variant, x, w_ih, w_hh, bias, out, acts, cs, ys);
  });
  return {out, acts, cs, ys};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> lstm_bwd(const Tensor& dout_, const Tensor& x, const Tensor& w_ih_,
                                                    const Tensor& w_hh_, const Tensor& out, const Tensor& acts,
                                                    const Tensor& cs, const Tensor& ys, int64_t variant,
                                                    bool need_x) {
  Tensor dout = dout_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  Tensor dx = need_x ? at::empty_like(x) : at::empty({0}, x.options());
  Tensor dw_ih = at::empty_like(w_ih), dw_hh = at::empty_like(w_hh);
  Tensor db = at::empty({w_hh.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_bwd", [&] {
    lstm_bwd_dispatch<scalar_t>(variant, dout, x, w_ih, w_hh, out, acts, cs, ys, need_x, dx, dw_ih, dw_hh, db);
  });
  return {dx, dw_ih, dw_hh, db};
}

// ---------------------------------------------------------------------------------------------------------
// GRU (PyTorch's equations). Variants: 0 vanilla (r, z, n), 1 nrg (z, n), 2 nug (r, n).

enum GruV { G_VANILLA = 0, G_NRG, G_NUG, G_COUNT };

template <int V>
struct GruLayout {
  static constexpr bool has_r = V != G_NRG;
  static constexpr bool has_z = V != G_NUG;
  static constexpr int orr = 0;
  static constexpr int oz = has_r ? 1 : 0;
  static constexpr int on = int(has_r) + int(has_z);
  static constexpr int G = on + 1;
};

template <typename T, int V>
void gru_fwd_impl(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                  const Tensor& b_hh, Tensor& out, Tensor& acts, Tensor& hpn) {
  using L = GruLayout<V>;
  const int64_t T_ = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1), GH = L::G * H;
  T* A = acts.data_ptr<T>();
  T* O = out.data_ptr<T>();
  T* HN = L::has_r ? hpn.data_ptr<T>() : nullptr;
  const T* bhh = b_hh.data_ptr<T>();
  Tensor hp_t = at::empty({B, GH}, x.options());
  T* hp = hp_t.data_ptr<T>();
  fill_rows(A, b_ih.data_ptr<T>(), T_ * B, GH);
  gemm<T>(false, true, T_ * B, GH, I, T(1), x.data_ptr<T>(), I, w_ih.data_ptr<T>(), I, A, GH);
  for (int64_t t = 0; t < T_; ++t) {
    T* At = A + t * B * GH;
    const T* hprev = O + (t - 1) * B * H;
    fill_rows(hp, bhh, B, GH);  // b_hh + W_hh h_{t-1}
    if (t > 0) gemm<T>(false, true, B, GH, H, T(1), hprev, H, w_hh.data_ptr<T>(), H, hp, GH);
    T* ht = O + t * B * H;
    const bool first = t == 0;
    for (int64_t b = 0; b < B; ++b) {
      T* a = At + b * GH;
      const T* p = hp + b * GH;
      T* ar = a + L::orr * H;
      T* az = a + L::oz * H;
      T* an = a + L::on * H;
      const T* pr = p + L::orr * H;
      const T* pz = p + L::oz * H;
      const T* pn = p + L::on * H;
      T* hn = L::has_r ? HN + (t * B + b) * H : nullptr;
      const T* hp_r = hprev + b * H;
      T* hr = ht + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        T n;
        if constexpr (L::has_r) {
          const T r = sigm(ar[j] + pr[j]);
          ar[j] = r;
          hn[j] = pn[j];
          n = std::tanh(an[j] + r * pn[j]);
        } else {
          n = std::tanh(an[j] + pn[j]);
        }
        an[j] = n;
        if constexpr (L::has_z) {
          const T z = sigm(az[j] + pz[j]);
          az[j] = z;
          const T h0 = first ? T(0) : hp_r[j];
          hr[j] = (T(1) - z) * n + z * h0;
        } else {
          hr[j] = n;
        }
      }
    }
  }
}

template <typename T, int V>
void gru_bwd_impl(const Tensor& dout, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& out,
                  const Tensor& acts, const Tensor& hpn, bool need_x, Tensor& dx, Tensor& dw_ih, Tensor& dw_hh,
                  Tensor& db_ih, Tensor& db_hh) {
  using L = GruLayout<V>;
  const int64_t T_ = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1), GH = L::G * H;
  const T* A = acts.data_ptr<T>();
  const T* O = out.data_ptr<T>();
  const T* HN = L::has_r ? hpn.data_ptr<T>() : nullptr;
  const T* dO = dout.data_ptr<T>();
  Tensor dXA_t = pooled_empty({T_, B, GH}, x.options());  // dL/d(input projection + b_ih)
  Tensor dHP_t = pooled_empty({T_, B, GH}, x.options());  // dL/d(W_hh h + b_hh)
  Tensor dh_t = at::empty({B, H}, x.options());
  Tensor dh2_t = at::empty({B, H}, x.options());
  T* dXA = dXA_t.data_ptr<T>();
  T* dHP = dHP_t.data_ptr<T>();
  T* dh = dh_t.data_ptr<T>();
  T* dhn = dh2_t.data_ptr<T>();
  std::memcpy(dh, dO + (T_ - 1) * B * H, sizeof(T) * B * H);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const T* At = A + t * B * GH;
    const T* hprev = O + (t - 1) * B * H;
    T* dXAt = dXA + t * B * GH;
    T* dHPt = dHP + t * B * GH;
    const T* dOprev = dO + (t - 1) * B * H;
    const bool first = t == 0;
    for (int64_t b = 0; b < B; ++b) {
      const T* a = At + b * GH;
      const T* ar = a + L::orr * H;
      const T* az = a + L::oz * H;
      const T* an = a + L::on * H;
      T* dx_ = dXAt + b * GH;
      T* dp_ = dHPt + b * GH;
      const T* hn = L::has_r ? HN + (t * B + b) * H : nullptr;
      const T* h0r = hprev + b * H;
      const T* dhr = dh + b * H;
      T* dnext = dhn + b * H;
      const T* dor = dOprev + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T dhj = dhr[j], n = an[j];
        T dn = dhj, direct = T(0);
        if constexpr (L::has_z) {
          const T z = az[j];
          const T h0 = first ? T(0) : h0r[j];
          const T daz = dhj * (h0 - n) * z * (T(1) - z);
          dx_[L::oz * H + j] = daz;
          dp_[L::oz * H + j] = daz;
          dn = dhj * (T(1) - z);
          direct = dhj * z;
        }
        const T dan = dn * (T(1) - n * n);
        dx_[L::on * H + j] = dan;
        if constexpr (L::has_r) {
          const T r = ar[j];
          const T dar = dan * hn[j] * r * (T(1) - r);
          dx_[L::orr * H + j] = dar;
          dp_[L::orr * H + j] = dar;
          dp_[L::on * H + j] = dan * r;
        } else {
          dp_[L::on * H + j] = dan;
        }
        if (!first) dnext[j] = dor[j] + direct;
      }
    }
    if (t > 0) {
      gemm<T>(false, false, B, H, GH, T(1), dHPt, GH, w_hh.data_ptr<T>(), H, dhn, H);
      std::swap(dh, dhn);
    }
  }
  gemm<T>(true, false, GH, H, (T_ - 1) * B, T(0), dHP + B * GH, GH, O, H, dw_hh.data_ptr<T>(), H);
  gemm<T>(true, false, GH, I, T_ * B, T(0), dXA, GH, x.data_ptr<T>(), I, dw_ih.data_ptr<T>(), I);
  if (need_x) gemm<T>(false, false, T_ * B, I, GH, T(0), dXA, GH, w_ih.data_ptr<T>(), I, dx.data_ptr<T>(), I);
  col_sum(dXA, T_ * B, GH, db_ih.data_ptr<T>());
  col_sum(dHP, T_ * B, GH, db_hh.data_ptr<T>());
}

int64_t gru_gates(int64_t v) {
  TORCH_CHECK(v >= 0 && v < G_COUNT, "fastpath: unknown GRU variant ", v);
  return v == G_VANILLA ? 3 : 2;
}

std::tuple<Tensor, Tensor, Tensor> gru_fwd(const Tensor& x_, const Tensor& w_ih_, const Tensor& w_hh_,
                                           const Tensor& b_ih_, const Tensor& b_hh_, int64_t variant) {
  const int64_t G = gru_gates(variant);
  check_inputs(x_, w_ih_, w_hh_, G);
  Tensor x = x_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  Tensor b_ih = b_ih_.contiguous(), b_hh = b_hh_.contiguous();
  const int64_t T_ = x.size(0), B = x.size(1), H = w_hh.size(1);
  Tensor out = pooled_empty({T_, B, H}, x.options(), true);
  Tensor acts = pooled_empty({T_, B, G * H}, x.options());
  Tensor hpn = variant == G_NRG ? at::empty({0}, x.options()) : pooled_empty({T_, B, H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_fwd", [&] {
    if (variant == G_VANILLA) gru_fwd_impl<scalar_t, G_VANILLA>(x, w_ih, w_hh, b_ih, b_hh, out, acts, hpn);
    if (variant == G_NRG) gru_fwd_impl<scalar_t, G_NRG>(x, w_ih, w_hh, b_ih, b_hh, out, acts, hpn);
    if (variant == G_NUG) gru_fwd_impl<scalar_t, G_NUG>(x, w_ih, w_hh, b_ih, b_hh, out, acts, hpn);
  });
  return {out, acts, hpn};
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> gru_bwd(const Tensor& dout_, const Tensor& x,
                                                           const Tensor& w_ih_, const Tensor& w_hh_,
                                                           const Tensor& out, const Tensor& acts,
                                                           const Tensor& hpn, int64_t variant, bool need_x) {
  gru_gates(variant);
  Tensor dout = dout_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  Tensor dx = need_x ? at::empty_like(x) : at::empty({0}, x.options());
  Tensor dw_ih = at::empty_like(w_ih), dw_hh = at::empty_like(w_hh);
  Tensor db_ih = at::empty({w_hh.size(0)}, x.options()), db_hh = at::empty({w_hh.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_bwd", [&] {
    if (variant == G_VANILLA)
      gru_bwd_impl<scalar_t, G_VANILLA>(dout, x, w_ih, w_hh, out, acts, hpn, need_x, dx, dw_ih, dw_hh, db_ih,
                                        db_hh);
    if (variant == G_NRG)
      gru_bwd_impl<scalar_t, G_NRG>(dout, x, w_ih, w_hh, out, acts, hpn, need_x, dx, dw_ih, dw_hh, db_ih, db_hh);
    if (variant == G_NUG)
      gru_bwd_impl<scalar_t, G_NUG>(dout, x, w_ih, w_hh, out, acts, hpn, need_x, dx, dw_ih, dw_hh, db_ih, db_hh);
  });
  return {dx, dw_ih, dw_hh, db_ih, db_hh};
}

// ---------------------------------------------------------------------------------------------------------
// vanilla RNN: 0 tanh, 1 relu

template <typename T, bool RELU>
void rnn_fwd_impl(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& bias, Tensor& out) {
  const int64_t T_ = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  T* O = out.data_ptr<T>();
  fill_rows(O, bias.data_ptr<T>(), T_ * B, H);
  gemm<T>(false, true, T_ * B, H, I, T(1), x.data_ptr<T>(), I, w_ih.data_ptr<T>(), I, O, H);
  for (int64_t t = 0; t < T_; ++t) {
    T* ht = O + t * B * H;
    if (t > 0) gemm<T>(false, true, B, H, H, T(1), ht - B * H, H, w_hh.data_ptr<T>(), H, ht, H);
    const int64_t n = B * H;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      if constexpr (RELU) {
        ht[j] = ht[j] > T(0) ? ht[j] : T(0);
      } else {
        ht[j] = std::tanh(ht[j]);
      }
    }
  }
}

template <typename T, bool RELU>
void rnn_bwd_impl(const Tensor& dout, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& out,
                  bool need_x, Tensor& dx, Tensor& dw_ih, Tensor& dw_hh, Tensor& db) {
  const int64_t T_ = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  const T* O = out.data_ptr<T>();
  const T* dO = dout.data_ptr<T>();
  Tensor dA_t = pooled_empty({T_, B, H}, x.options());
  Tensor dh_t = at::empty({B, H}, x.options());
  T* dA = dA_t.data_ptr<T>();
  T* dh = dh_t.data_ptr<T>();
  const int64_t n = B * H;
  std::memcpy(dh, dO + (T_ - 1) * n, sizeof(T) * n);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const T* ht = O + t * n;
    T* dAt = dA + t * n;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      if constexpr (RELU) {
        dAt[j] = ht[j] > T(0) ? dh[j] : T(0);
      } else {
        dAt[j] = dh[j] * (T(1) - ht[j] * ht[j]);
      }
    }
    if (t > 0) {
      std::memcpy(dh, dO + (t - 1) * n, sizeof(T) * n);
      gemm<T>(false, false, B, H, H, T(1), dAt, H, w_hh.data_ptr<T>(), H, dh, H);
    }
  }
  gemm<T>(true, false, H, H, (T_ - 1) * B, T(0), dA + n, H, O, H, dw_hh.data_ptr<T>(), H);
  gemm<T>(true, false, H, I, T_ * B, T(0), dA, H, x.data_ptr<T>(), I, dw_ih.data_ptr<T>(), I);
  if (need_x) gemm<T>(false, false, T_ * B, I, H, T(0), dA, H, w_ih.data_ptr<T>(), I, dx.data_ptr<T>(), I);
  col_sum(dA, T_ * B, H, db.data_ptr<T>());
}

Tensor rnn_fwd(const Tensor& x_, const Tensor& w_ih_, const Tensor& w_hh_, const Tensor& b_ih,
               const Tensor& b_hh, int64_t variant) {
  TORCH_CHECK(variant == 0 || variant == 1, "fastpath: unknown RNN variant ", variant);
  check_inputs(x_, w_ih_, w_hh_, 1);
  Tensor x = x_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  Tensor bias = (b_ih + b_hh).contiguous();
  Tensor out = pooled_empty({x.size(0), x.size(1), w_hh.size(1)}, x.options(), true);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_fwd", [&] {
    if (variant == 1) {
      rnn_fwd_impl<scalar_t, true>(x, w_ih, w_hh, bias, out);
    } else {
      rnn_fwd_impl<scalar_t, false>(x, w_ih, w_hh, bias, out);
    }
  });
  return out;
}

std::tuple<Tensor, Tensor, Tensor, Tensor> rnn_bwd(const Tensor& dout_, const Tensor& x, const Tensor& w_ih_,
                                                   const Tensor& w_hh_, const Tensor& out, int64_t variant,
                                                   bool need_x) {
  Tensor dout = dout_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  Tensor dx = need_x ? at::empty_like(x) : at::empty({0}, x.options());
  Tensor dw_ih = at::empty_like(w_ih), dw_hh = at::empty_like(w_hh);
  Tensor db = at::empty({w_hh.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_bwd", [&] {
    if (variant == 1) {
      rnn_bwd_impl<scalar_t, true>(dout, x, w_ih, w_hh, out, need_x, dx, dw_ih, dw_hh, db);
    } else {
      rnn_bwd_impl<scalar_t, false>(dout, x, w_ih, w_hh, out, need_x, dx, dw_ih, dw_hh, db);
    }
  });
  return {dx, dw_ih, dw_hh, db};
}

bool uses_blas() { return have_blas<float>() && have_blas<double>(); }

}  // namespace

TORCH_LIBRARY(rnn_bench_fastpath, m) {
  m.def("lstm_fwd(Tensor x, Tensor w_ih, Tensor w_hh, Tensor b_ih, Tensor b_hh, int variant) "
        "-> (Tensor, Tensor, Tensor, Tensor)");
  m.def("lstm_bwd(Tensor dout, Tensor x, Tensor w_ih, Tensor w_hh, Tensor out, Tensor acts, Tensor cs, "
        "Tensor ys, int variant, bool need_x) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("gru_fwd(Tensor x, Tensor w_ih, Tensor w_hh, Tensor b_ih, Tensor b_hh, int variant) "
        "-> (Tensor, Tensor, Tensor)");
  m.def("gru_bwd(Tensor dout, Tensor x, Tensor w_ih, Tensor w_hh, Tensor out, Tensor acts, Tensor hpn, "
        "int variant, bool need_x) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("rnn_fwd(Tensor x, Tensor w_ih, Tensor w_hh, Tensor b_ih, Tensor b_hh, int variant) -> Tensor");
  m.def("rnn_bwd(Tensor dout, Tensor x, Tensor w_ih, Tensor w_hh, Tensor out, int variant, bool need_x) "
        "-> (Tensor, Tensor, Tensor, Tensor)");
  m.def("uses_blas() -> bool", &uses_blas);
  m.def("clear_pool() -> int", &clear_pool);
}

TORCH_LIBRARY_IMPL(rnn_bench_fastpath, CompositeExplicitAutograd, m) {
  m.impl("lstm_fwd", &lstm_fwd);
  m.impl("lstm_bwd", &lstm_bwd);
  m.impl("gru_fwd", &gru_fwd);
  m.impl("gru_bwd", &gru_bwd);
  m.impl("rnn_fwd", &rnn_fwd);
  m.impl("rnn_bwd", &rnn_bwd);
}
