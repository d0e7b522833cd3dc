// A fused LSTM layer (gate order i, f, g, o) over a whole sequence, forward and backward, as one
// call each: the per-step work of the tfjs path (a matmul and a cell kernel per step, forward and
// backward, each with the fixed overhead of a kernel call) runs here as a loop of dnnl_sgemm calls
// plus vectorised element-wise code.
//
// Forward, with z_t = x_t W_x + b + h_{t-1} W_h ([batch, 4u]):
//   i = sigma(z_i)  f = sigma(z_f)  g = tanh(z_g)  o = sigma(z_o)
//   c_t = f * c_{t-1} + i * g      h_t = o * tanh(c_t)
// The input projection of all steps is one GEMM into the gates buffer (pre-filled with the bias);
// each step adds h_{t-1} W_h with one GEMM, then activates in place (the activated gates and c_t
// are what backward needs; tanh(c_t) is recomputed there).
// Backward (dh = dy_t + dh from step t+1, dc from step t+1):
//   dcTotal = dc + dh * o * (1 - tanh(c)^2)
//   dz_i = dcTotal * g * i (1 - i)   dz_f = dcTotal * c_{t-1} * f (1 - f)
//   dz_g = dcTotal * i * (1 - g^2)   dz_o = dh * tanh(c) * o (1 - o)
//   dc_{t-1} = dcTotal * f           dh_{t-1} = dz W_h^T (one GEMM per step)
// then over all steps at once: dW_h = H_prev^T dZ, dW_x = X^T dZ, dx = dZ W_x^T, db = sum dZ.
// Everything is sequential (given oneDNN's thread count), hence deterministic.
#include "lstm.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.h"

namespace dnnkit {
namespace {

// Row-major C = alpha op(A) op(B) + beta C.
void Gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
          float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t r = 0; r < M; r++) {
      float* row = C + r * ldc;
      for (int64_t j = 0; j < N; j++) row[j] = beta == 0.0f ? 0.0f : row[j] * beta;
    }
    return;
  }
  dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw std::runtime_error("lstm: dnnl_sgemm failed (status " + std::to_string(st) + ")");
}

// exp(x) for x clamped to [-87, 88]: 2^n * e^r with |r| <= ln2 / 2 and a degree-6 polynomial
// (relative error ~2e-7). Branch-free so that the loops below vectorise.
__attribute__((always_inline)) inline float Exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // Round x * log2(e) to the nearest integer n by adding 1.5 * 2^23 (round-to-nearest mode).
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t nbits;
  std::memcpy(&nbits, &shifted, sizeof(nbits));
  // The low bits of `shifted` hold n + 2^22 (n in [-126, 127]).
  const int32_t bits = (nbits - 0x4B400000 + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}
__attribute__((always_inline)) inline float Sigmoid(float x) { return 1.0f / (1.0f + Exp(-x)); }
__attribute__((always_inline)) inline float Tanh(float x) { return 2.0f / (1.0f + Exp(-2.0f * x)) - 1.0f; }

// One step's element-wise forward over `batch` rows: z [batch, 4u] (pre-activations, activated in
// place), cp [batch, u] or null (zero state), c and h [batch, u] out.
__attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
void CellForward(int64_t batch, int64_t u, float* __restrict z, const float* __restrict cp, float* __restrict c,
                 float* __restrict h) {
  for (int64_t b = 0; b < batch; b++) {
    float* __restrict zr = z + b * 4 * u;
    float* __restrict cr = c + b * u;
    float* __restrict hr = h + b * u;
    for (int64_t j = 0; j < 2 * u; j++) zr[j] = Sigmoid(zr[j]);
    for (int64_t j = 2 * u; j < 3 * u; j++) zr[j] = Tanh(zr[j]);
    for (int64_t j = 3 * u; j < 4 * u; j++) zr[j] = Sigmoid(zr[j]);
    const float* __restrict ig = zr;
    const float* __restrict fg = zr + u;
    const float* __restrict gg = zr + 2 * u;
    const float* __restrict og = zr + 3 * u;
    if (cp) {
      const float* __restrict cpr = cp + b * u;
      for (int64_t j = 0; j < u; j++) cr[j] = fg[j] * cpr[j] + ig[j] * gg[j];
    } else {
      for (int64_t j = 0; j < u; j++) cr[j] = ig[j] * gg[j];
    }
    for (int64_t j = 0; j < u; j++) hr[j] = og[j] * Tanh(cr[j]);
  }
}

// One step's element-wise backward: dh [batch, u] in, dc [batch, u] in (from step t+1) and out
// (dc_{t-1}), gates [batch, 4u] and c [batch, u] of this step, cp [batch, u] or null, dz out.
__attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
void CellBackward(int64_t batch, int64_t u, const float* __restrict dh, float* __restrict dc,
                  const float* __restrict gates, const float* __restrict c, const float* __restrict cp,
                  float* __restrict dz) {
  for (int64_t b = 0; b < batch; b++) {
    const float* __restrict ig = gates + b * 4 * u;
    const float* __restrict fg = ig + u;
    const float* __restrict gg = ig + 2 * u;
    const float* __restrict og = ig + 3 * u;
    const float* __restrict cr = c + b * u;
    const float* __restrict dhr = dh + b * u;
    float* __restrict dcr = dc + b * u;
    float* __restrict dzi = dz + b * 4 * u;
    float* __restrict dzf = dzi + u;
    float* __restrict dzg = dzi + 2 * u;
    float* __restrict dzo = dzi + 3 * u;
    for (int64_t j = 0; j < u; j++) {
      const float i = ig[j], f = fg[j], g = gg[j], o = og[j];
      const float t = Tanh(cr[j]);
      const float d = dhr[j];
      const float dct = dcr[j] + d * o * (1.0f - t * t);
      dzi[j] = dct * g * i * (1.0f - i);
      dzg[j] = dct * i * (1.0f - g * g);
      dzo[j] = d * t * o * (1.0f - o);
      dcr[j] = dct * f;
    }
    if (cp) {
      const float* __restrict cpr = cp + b * u;
      for (int64_t j = 0; j < u; j++) {
        const float f = fg[j];
        // dcr now holds dct * f; dz_f = dct * cp * f (1 - f) = dcr * cp * (1 - f).
        dzf[j] = dcr[j] * cpr[j] * (1.0f - f);
      }
    } else {
      for (int64_t j = 0; j < u; j++) dzf[j] = 0.0f;
    }
  }
}

void Check(const LstmShape& s) {
  if (s.time < 1 || s.batch < 1 || s.in < 1 || s.units < 1) throw std::runtime_error("lstm: empty shape");
}

}  // namespace

void LstmSeqForward(const LstmShape& s, const float* x, const float* wx, const float* wh, const float* b, float* h,
                    float* c, float* gates) {
  Check(s);
  const int64_t T = s.time, B = s.batch, I = s.in, U = s.units, G = 4 * U;
  for (int64_t r = 0; r < T * B; r++) std::memcpy(gates + r * G, b, G * sizeof(float));
  Gemm('N', 'N', T * B, G, I, x, I, wx, G, 1.0f, gates, G);
  int64_t prev = -1;
  for (int64_t k = 0; k < T; k++) {
    const int64_t t = s.reverse ? T - 1 - k : k;
    float* z = gates + t * B * G;
    if (prev >= 0) Gemm('N', 'N', B, G, U, h + prev * B * U, U, wh, G, 1.0f, z, G);
    CellForward(B, U, z, prev >= 0 ? c + prev * B * U : nullptr, c + t * B * U, h + t * B * U);
    prev = t;
  }
}

void LstmSeqBackward(const LstmShape& s, const float* dy, const float* x, const float* wx, const float* wh,
                     const float* h, const float* c, const float* gates, float* dx, float* dwx, float* dwh, float* db) {
  Check(s);
  const int64_t T = s.time, B = s.batch, I = s.in, U = s.units, G = 4 * U;
  static thread_local std::vector<float> dZbuf, dhbuf, dcbuf, whTbuf;
  dZbuf.resize(static_cast<size_t>(T * B * G));
  // W_h^T [4u, u]: the per-step dh GEMM is faster untransposed.
  whTbuf.resize(static_cast<size_t>(G * U));
  float* whT = whTbuf.data();
  for (int64_t r = 0; r < U; r++) {
    for (int64_t j = 0; j < G; j++) whT[j * U + r] = wh[r * G + j];
  }
  dhbuf.resize(static_cast<size_t>(B * U));
  dcbuf.assign(static_cast<size_t>(B * U), 0.0f);
  float* dZ = dZbuf.data();
  float* dh = dhbuf.data();
  float* dc = dcbuf.data();
  for (int64_t k = T - 1; k >= 0; k--) {
    const int64_t t = s.reverse ? T - 1 - k : k;
    const int64_t prev = k == 0 ? -1 : (s.reverse ? t + 1 : t - 1);
    const float* dyt = dy + t * B * U;
    // dh = dy_t + dh_t from the later step (dh holds dz_{t+1} W_h^T after the first iteration).
    if (k == T - 1) {
      std::memcpy(dh, dyt, B * U * sizeof(float));
    } else {
      for (int64_t j = 0; j < B * U; j++) dh[j] = dyt[j] + dh[j];
    }
    float* dzt = dZ + t * B * G;
    CellBackward(B, U, dh, dc, gates + t * B * G, c + t * B * U, prev >= 0 ? c + prev * B * U : nullptr, dzt);
    if (k > 0) Gemm('N', 'N', B, U, G, dzt, G, whT, U, 0.0f, dh, U);
  }
  // dW_h = sum_t h_{prev(t)}^T dz_t over the steps that had a previous state: contiguous blocks
  // (left-to-right: h_0..h_{T-2} with dz_1..dz_{T-1}; right-to-left: h_1..h_{T-1} with dz_0..dz_{T-2}).
  if (T > 1) {
    const float* hp = s.reverse ? h + B * U : h;
    const float* dzp = s.reverse ? dZ : dZ + B * G;
    Gemm('T', 'N', U, G, (T - 1) * B, hp, U, dzp, G, 0.0f, dwh, G);
  } else {
    std::memset(dwh, 0, U * G * sizeof(float));
  }
  Gemm('T', 'N', I, G, T * B, x, I, dZ, G, 0.0f, dwx, G);
  Gemm('N', 'T', T * B, I, G, dZ, G, wx, G, 0.0f, dx, I);
  std::memset(db, 0, G * sizeof(float));
  for (int64_t r = 0; r < T * B; r++) {
    const float* row = dZ + r * G;
    for (int64_t j = 0; j < G; j++) db[j] += row[j];
  }
}

}  // namespace dnnkit
