// Single-precision matrix products with a short reduction (K <= 256), as a
// dense layer's weight gradient x^T g over a batch is: on AVX-512, each
// 8-row tile of the output is computed over the whole reduction in
// registers and stored once. BLAS (OpenBLAS's beta = 0 path) first clears
// the whole output, then adds each block's product into it: for Deep
// MNIST's 3136x1024 weight gradient, 12.8 MB written, read and written
// again.
//
// Note: the reduction runs in order k = 0, 1, ... with one fused
// multiply-add per step, as BLAS kernels do; the operands may have any
// strides (each tile of A and all of B are packed first).
#include "kernel_util.h"
#include "kernels.h"
#include "parallel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace devrt_cpu {
namespace {

constexpr int kRows = 8;         // output rows per tile
constexpr int kPanelVectors = 3; // a panel of B: 48 columns
constexpr int64_t kMaxK = 256;   // the packed A tile and B panel stay in L1
// B is packed whole: past 64 MB of it, BLAS (which packs block by block).
constexpr int64_t kMaxPackedB = int64_t{1} << 24;

// c[i][0, 16 NV) for the first `rows` rows of a tile: the packed A tile
// ap ([k][kRows]) times the packed B panel bp ([k][16 NV]); the last vector
// stored under `tail`.
template <int NV>
DEVRT_AVX512 void tile(int64_t k, const float *__restrict ap,
                       const float *__restrict bp, float *__restrict c,
                       int64_t ldc, int rows, __mmask16 tail) {
  __m512 acc[kRows][NV];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm512_setzero_ps();
  for (int64_t r = 0; r < k; ++r, ap += kRows, bp += NV * kLanes) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      b[v] = _mm512_load_ps(bp + v * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512 s = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_fmadd_ps(s, b[v], acc[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    if (i >= rows)
      break;
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v)
      _mm512_storeu_ps(c + i * ldc + v * kLanes, acc[i][v]);
    _mm512_mask_storeu_ps(c + i * ldc + (NV - 1) * kLanes, tail,
                          acc[i][NV - 1]);
  }
}

// A panel of B: its first column, width, vectors and packed data.
struct Panel {
  int64_t col, width;
  int nv;
  const float *data;
};

} // namespace

bool small_k_matmul(const float *a, int64_t ars, int64_t acs, const float *b,
                    int64_t brs, int64_t bcs, float *y, int64_t yrs, int64_t m,
                    int64_t n, int64_t k) {
  if (k < 1 || k > kMaxK || m < 4 * kRows || n < kLanes ||
      m * n * k < (int64_t{1} << 22) || k * n > kMaxPackedB ||
      !__builtin_cpu_supports("avx512f"))
    return false;
  // B packed once, panel by panel ([k][16 nv], zero past n), 64-byte
  // aligned for the tiles' loads.
  std::vector<Panel> panels;
  int64_t size = 0;
  for (int64_t j = 0; j < n;) {
    const int64_t width = n - j >= kPanelVectors * kLanes
                              ? kPanelVectors * kLanes
                              : std::min<int64_t>(kLanes, n - j);
    const int nv = static_cast<int>(round_up(width, kLanes) / kLanes);
    panels.push_back({j, width, nv, nullptr});
    size += k * nv * kLanes;
    j += width;
  }
  std::vector<float> packed_b(static_cast<size_t>(size + kLanes));
  float *at = reinterpret_cast<float *>(
      round_up(reinterpret_cast<intptr_t>(packed_b.data()), 64));
  for (Panel &p : panels) {
    p.data = at;
    at += k * p.nv * kLanes;
  }
  parallel_for(
      static_cast<int64_t>(panels.size()), 1, [&](int64_t p0, int64_t p1) {
        for (int64_t q = p0; q < p1; ++q) {
          const Panel &p = panels[static_cast<size_t>(q)];
          float *dst = const_cast<float *>(p.data);
          const int64_t ld = p.nv * kLanes;
          for (int64_t r = 0; r < k; ++r) {
            const float *src = b + r * brs + p.col * bcs;
            float *row = dst + r * ld;
            if (bcs == 1)
              std::memcpy(row, src,
                          static_cast<size_t>(p.width) * sizeof(float));
            else
              for (int64_t j = 0; j < p.width; ++j)
                row[j] = src[j * bcs];
            std::fill(row + p.width, row + ld, 0.0f);
          }
        }
      });
  const int64_t tiles = (m + kRows - 1) / kRows;
  parallel_for(tiles, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> ap(static_cast<size_t>(k * kRows));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = t * kRows;
      const int rows = static_cast<int>(std::min<int64_t>(kRows, m - i0));
      for (int64_t r = 0; r < k; ++r) {
        float *dst = ap.data() + r * kRows;
        const float *src = a + i0 * ars + r * acs;
        if (ars == 1 && rows == kRows)
          std::memcpy(dst, src, kRows * sizeof(float));
        else
          for (int i = 0; i < kRows; ++i)
            dst[i] = i < rows ? src[i * ars] : 0.0f;
      }
      for (const Panel &p : panels) {
        float *c = y + i0 * yrs + p.col;
        const int64_t last = p.width - (p.nv - 1) * kLanes;
        const __mmask16 tail = static_cast<__mmask16>((1u << last) - 1u);
        if (p.nv == kPanelVectors)
          tile<kPanelVectors>(k, ap.data(), p.data, c, yrs, rows, tail);
        else
          tile<1>(k, ap.data(), p.data, c, yrs, rows, tail);
      }
    }
  });
  return true;
}

} // namespace devrt_cpu

#else

namespace devrt_cpu {
bool small_k_matmul(const float *, int64_t, int64_t, const float *, int64_t,
                    int64_t, float *, int64_t, int64_t, int64_t, int64_t) {
  return false; // BLAS does them
}
} // namespace devrt_cpu

#endif
