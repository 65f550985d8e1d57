// Direct channels-last convolution (the `conv` family): NHWC input, HWIO
// filter, float32, as implicit GEMMs with the output channels in AVX-512
// registers. Registered only where the processor has AVX-512; elsewhere the
// core convolves through im2col and matmul.
//
// Note: every kernel here is one engine, `correlate`: out[q, p, :] = sum over
// taps (i, j) and channels c of in[q*sy + i*dy, p*sx + j*dx, c] * w[i, j, c, :]
// over a zero-padded input. A tile keeps a block of output pixels times up to
// 64 output channels (4 zmm) in registers and runs over the reduction index
// k = (i, j, c), broadcasting one input value per pixel against one weight
// row [k][oc] per step; the input of a band of output rows is padded once
// into a buffer, so the tiles have no branches, and the reduction is cut into
// chunks whose weight rows stay in L1. The forward pass is correlate itself;
// the input gradient is correlate over the zero-padded output gradient with
// the filter flipped and its channels swapped (at stride s, s_h * s_w such
// correlations, one per phase of the input grid); the filter gradient is its
// own tile, a block of (i, j, c) rows times the output channels summed over a
// band of pixels whose gradient stays in L1.
#include "kernel_util.h"
#include "kernels.h"
#include "parallel.h"
#include "strided.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <array>
#include <numeric>
#include <utility>
#include <vector>

namespace devrt_cpu {
namespace {

// Note: the zero-masked forms of some intrinsics (maskz_max, maskz_srli, ...)
// under a full mask are the plain ones without GCC 12's placeholder for the
// unused lanes, which its -Wmaybe-uninitialized reports once inlined.
constexpr __mmask16 kAll = 0xFFFF;
constexpr int64_t kBlockOut = 4 * kLanes;       // output channels per tile
constexpr int64_t kWeightChunkBytes = 24 << 10; // a reduction chunk's weights
constexpr int64_t kBandBytes = 16 << 10;        // a filter-gradient band of g
constexpr int64_t kFilterSlots = 8;             // partial filter gradients

// Pixels per correlate tile and rows per filter tile, by zmm per row: the
// accumulators (and the weight or gradient vectors) fill the 32 registers,
// and each pixel's (or row's) pointer takes a general register. Two vectors
// take 8, not 12: twelve pointers do not fit beside the loop's own in the 16
// general registers, and the spills made the input gradient of a 32-channel
// convolution (Deep MNIST's second) 18% slower than at 8.
constexpr int kTile[5] = {0, 12, 8, 8, 6};

// ---- tiles
// ------------------------------------------------------------------- Note: the
// loops over a tile's registers carry `#pragma GCC unroll`: GCC scalarises the
// accumulator arrays only when these loops are unrolled early, and otherwise
// stores every accumulator to the stack on each step of the reduction
// (measured: half the speed).

// How a tile starts its accumulators: zero, the bias, or the partial sums
// already in the output (a later chunk of the reduction).
enum Start { kZero, kBias, kAccumulate };

// acc[i][v] += a[i][o] * b[v] for M pointers a: the outer product each tile
// below adds once per step of its reduction (a reduction row of the
// correlation, a pixel of the filter gradient).
template <int M, int NV>
[[gnu::always_inline]] DEVRT_AVX512 inline void
outer_product(__m512 (&acc)[M][NV], const float *const (&a)[M], int64_t o,
              const __m512 (&b)[NV]) {
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const __m512 s = _mm512_set1_ps(a[i][o]);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm512_fmadd_ps(s, b[v], acc[i][v]);
  }
}

// P output pixels x NV vectors of channels: out[p][v] (+)= sum over the k
// rows of px[p][roff[r]] * w[r][v]. w has row stride ldw and is padded so
// that full vectors may be read; only the last vector is masked on output.
template <int NV, int P>
DEVRT_AVX512 void corr_tile(const float *const *px, const int64_t *roff,
                            int64_t k, const float *w, int64_t ldw,
                            const float *bias, Start start, float *const *out,
                            int64_t ob, __mmask16 tail) {
  __m512 acc[P][NV];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : __mmask16(0xFFFF);
      acc[p][v] = start == kAccumulate
                      ? _mm512_maskz_loadu_ps(m, out[p] + ob + v * kLanes)
                  : start == kBias ? _mm512_maskz_loadu_ps(m, bias + v * kLanes)
                                   : _mm512_setzero_ps();
    }
  const float *base[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
    base[p] = px[p];
  for (int64_t r = 0; r < k; ++r, w += ldw) {
    const int64_t o = roff[r];
    __m512 wv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      wv[v] = _mm512_loadu_ps(w + v * kLanes);
    outer_product(acc, base, o, wv);
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 16
    for (int v = 0; v < NV - 1; ++v)
      _mm512_storeu_ps(out[p] + ob + v * kLanes, acc[p][v]);
    _mm512_mask_storeu_ps(out[p] + ob + (NV - 1) * kLanes, tail,
                          acc[p][NV - 1]);
  }
}

// R filter rows x NV vectors of channels: gw[r][v] += sum over the n pixels
// of x[xoff[p] + roff[r]] * g[p][v]. gw has row stride ldw and room for full
// vectors; g's masked lanes read as 0, so the padding of gw stays 0.
template <int NV, int R>
DEVRT_AVX512 void filter_tile(const float *x, const int64_t *xoff,
                              const int64_t *roff, const float *g, int64_t ldg,
                              int64_t n, float *gw, int64_t ldw,
                              __mmask16 tail) {
  __m512 acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      acc[r][v] = _mm512_loadu_ps(gw + r * ldw + v * kLanes);
  const float *row[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    row[r] = x + roff[r];
  for (int64_t p = 0; p < n; ++p, g += ldg) {
    const int64_t o = xoff[p];
    __m512 gv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV - 1; ++v)
      gv[v] = _mm512_loadu_ps(g + v * kLanes);
    gv[NV - 1] = _mm512_maskz_loadu_ps(tail, g + (NV - 1) * kLanes);
    outer_product(acc, row, o, gv);
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      _mm512_storeu_ps(gw + r * ldw + v * kLanes, acc[r][v]);
}

using CorrTile = void (*)(const float *const *, const int64_t *, int64_t,
                          const float *, int64_t, const float *, Start,
                          float *const *, int64_t, __mmask16);
using FilterTile = void (*)(const float *, const int64_t *, const int64_t *,
                            const float *, int64_t, int64_t, float *, int64_t,
                            __mmask16);

// tiles[nv][n - 1]: the tile of nv vectors and n pixels (or rows).
template <int NV, int... Ns>
constexpr std::array<CorrTile, 12> corr_row(std::integer_sequence<int, Ns...>) {
  return {{&corr_tile<NV, Ns + 1>...}};
}
template <int NV, int... Ns>
constexpr std::array<FilterTile, 12>
filter_row(std::integer_sequence<int, Ns...>) {
  return {{&filter_tile<NV, Ns + 1>...}};
}
const std::array<CorrTile, 12> kCorrTiles[5] = {
    {},
    corr_row<1>(std::make_integer_sequence<int, kTile[1]>{}),
    corr_row<2>(std::make_integer_sequence<int, kTile[2]>{}),
    corr_row<3>(std::make_integer_sequence<int, kTile[3]>{}),
    corr_row<4>(std::make_integer_sequence<int, kTile[4]>{})};
const std::array<FilterTile, 12> kFilterTiles[5] = {
    {},
    filter_row<1>(std::make_integer_sequence<int, kTile[1]>{}),
    filter_row<2>(std::make_integer_sequence<int, kTile[2]>{}),
    filter_row<3>(std::make_integer_sequence<int, kTile[3]>{}),
    filter_row<4>(std::make_integer_sequence<int, kTile[4]>{})};

// A block of output channels [ob, ob + width): its vectors and last mask.
struct ChannelBlock {
  int nv;
  __mmask16 tail;
};
ChannelBlock channel_block(int64_t ob, int64_t channels) {
  const int64_t width = std::min(kBlockOut, channels - ob);
  const int64_t nv = (width + kLanes - 1) / kLanes;
  const int64_t last = width - (nv - 1) * kLanes;
  return {static_cast<int>(nv), static_cast<__mmask16>((1u << last) - 1)};
}

// ---- the padded input
// --------------------------------------------------------

// rows [r0, r0 + rows) x columns [0, cols) of an (h, w, c) image placed at
// row `top` and column `left` of a zero plane (either may be negative: a
// crop), into dst (rows, cols, c). row(sr, x0, n, d) writes the image's
// pixels [x0, x0 + n) of row sr to d.
template <class Row>
void pad_band(int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
              int64_t r0, int64_t rows, int64_t cols, float *dst, Row &&row) {
  const int64_t lo = std::clamp<int64_t>(left, 0, cols);
  const int64_t hi = std::max(lo, std::clamp<int64_t>(left + w, 0, cols));
  for (int64_t r = 0; r < rows; ++r) {
    float *d = dst + r * cols * c;
    const int64_t sr = r0 + r - top;
    if (sr < 0 || sr >= h) {
      std::fill(d, d + cols * c, 0.0f);
      continue;
    }
    std::fill(d, d + lo * c, 0.0f);
    if (hi > lo)
      row(sr, lo - left, hi - lo, d + lo * c);
    std::fill(d + hi * c, d + cols * c, 0.0f);
  }
}

// ---- the gradient of a 2x2 pooling, spread on the fly
// --------------------------------------------------------
// The convolutions' gradients after conv2d_nhwc_relu_pool take g as the
// pooling's gradient and taps (N, oh/2, ow/2, OC each) and spread the rows
// of the full gradient they need into their own buffers, as
// max_pool2d_nhwc_taps_backward would write them: each window's gradient
// divided by the number of its set taps, on those taps, 0 elsewhere. The
// full gradient (four times the pooled one) is never written.
struct PooledGrad {
  const float *g;
  const uint8_t *taps;
  int64_t ph, pw, oc; // the pooled height and width, the channels
};

// Pixels [x0, x0 + n) of row r of image img of the full gradient into dst.
// Note: a share is the window's gradient times 1, 1/2 or 1/4 (exact, as
// the division the taps' kernel does) or divided by 3 where three taps tie.
DEVRT_AVX512 void spread_row(const PooledGrad &p, int64_t img, int64_t r,
                             int64_t x0, int64_t n, float *dst) {
  const int64_t at = (img * p.ph + r / 2) * p.pw * p.oc;
  const float *g = p.g + at;
  const uint8_t *taps = p.taps + at;
  const int top = static_cast<int>(r % 2) * 2; // bit of the window's tap
  const __m512 inverse = _mm512_setr_ps(1.0f, 1.0f, 0.5f, 1.0f, 0.25f, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i one = _mm512_set1_epi32(1), three = _mm512_set1_epi32(3);
  for (int64_t pc = x0 / 2; pc <= (x0 + n - 1) / 2; ++pc)
    for (int64_t o = 0; o < p.oc; o += kLanes) {
      const __mmask16 m = static_cast<__mmask16>(
          p.oc - o >= kLanes ? 0xFFFF : (1u << (p.oc - o)) - 1u);
      __m128i bytes = _mm_setzero_si128();
      std::memcpy(&bytes, taps + pc * p.oc + o,
                  static_cast<size_t>(std::min(kLanes, p.oc - o)));
      const __m512i bits = _mm512_maskz_cvtepu8_epi32(kAll, bytes);
      __m512i count = _mm512_and_si512(bits, one);
      for (int b = 1; b < 4; ++b)
        count = _mm512_add_epi32(
            count,
            _mm512_and_si512(_mm512_maskz_srli_epi32(kAll, bits, b), one));
      const __m512 gv = _mm512_maskz_loadu_ps(m, g + pc * p.oc + o);
      __m512 share =
          _mm512_mul_ps(gv, _mm512_maskz_permutexvar_ps(kAll, count, inverse));
      const __mmask16 tied = _mm512_cmpeq_epi32_mask(count, three);
      if (tied)
        share = _mm512_mask_div_ps(share, tied, gv, _mm512_set1_ps(3.0f));
      for (int j = 0; j < 2; ++j) {
        const int64_t x = 2 * pc + j;
        if (x < x0 || x >= x0 + n)
          continue;
        const __mmask16 hit =
            _mm512_test_epi32_mask(bits, _mm512_set1_epi32(1 << (top + j)));
        _mm512_mask_storeu_ps(dst + (x - x0) * p.oc + o, m,
                              _mm512_maskz_mov_ps(hit, share));
      }
    }
}

// The whole gradient (n images of (2 ph, 2 pw, oc)), for the paths that
// read it whole.
std::vector<float> spread_all(const PooledGrad &p, int64_t n) {
  const int64_t row = 2 * p.pw * p.oc;
  std::vector<float> full(static_cast<size_t>(n * 2 * p.ph * row));
  parallel_for(n * 2 * p.ph, std::max<int64_t>(1, kGrainCheap / (row + 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r)
                   spread_row(p, r / (2 * p.ph), r % (2 * p.ph), 0, 2 * p.pw,
                              full.data() + r * row);
               });
  return full;
}

// ---- correlate
// ---------------------------------------------------------------

// out[n][q][p][:] = sum over taps (i, j) < (kh, kw) and channels c of
// in[n][q*sy + i*dy - top][p*sx + j*dx - left][c] * w[(i*kw + j)*c + c][:]
// (zero outside the input), plus bias. out(n, q, p) is at
// out + n*out_n + q*out_q + p*out_p.
struct Corr {
  const float *in;
  int64_t n, h, w, c;
  int64_t top, left;
  int64_t oh, ow, sy, sx;
  int64_t kh, kw, dy, dx;
  const float *weights; // [kh*kw*c][ldw], ldw >= round_up(oc, 16)
  int64_t ldw;
  const float *bias; // oc values padded to ldw, or null
  float *out;
  int64_t oc, out_n, out_q, out_p;
  bool relu; // relu applied to the band while it is in cache
  // With pooled: each band is computed into a buffer and pooled into
  // pooled and taps (max_pool_2x2_relu_taps) instead of written to out.
  float *pooled = nullptr;
  uint8_t *taps = nullptr;
  // With spread: in is null, and its rows are spread from a pooling's
  // gradient.
  const PooledGrad *spread = nullptr;
};

// relu over n floats in place, as the unary kernel's (NaN and -0.0 stay):
// max(0, v) returns its second operand where the two compare equal or
// either is NaN.
DEVRT_AVX512 void relu_inplace(float *v, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(v + i,
                     _mm512_maskz_max_ps(kAll, zero, _mm512_loadu_ps(v + i)));
  const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
  _mm512_mask_storeu_ps(
      v + i, m,
      _mm512_maskz_max_ps(kAll, zero, _mm512_maskz_loadu_ps(m, v + i)));
}

// Output rows per task: whole images when there are enough of them.
int64_t band_rows(int64_t n, int64_t rows) {
  const int64_t want = 4 * std::max<int64_t>(devrt_num_threads(), 1);
  if (n >= want)
    return rows;
  const int64_t bands = std::min(rows, (want + n - 1) / n);
  return (rows + bands - 1) / bands;
}

// The two engines' bands of input rows (K is Corr or FilterGrad: the input
// image, its padding and the window geometry):

// The width of a band: the input columns one output row's windows span.
template <class K> int64_t band_cols(const K &k) {
  return (k.ow - 1) * k.sx + (k.kw - 1) * k.dx + 1;
}

// Where reduction row (tap i, j, channel ch) reads in a band `cols` wide,
// from the band's pixel of the window's first tap.
template <class K> std::vector<int64_t> tap_offsets(const K &k, int64_t cols) {
  std::vector<int64_t> roff(static_cast<size_t>(k.kh * k.kw * k.c));
  for (int64_t i = 0; i < k.kh; ++i)
    for (int64_t j = 0; j < k.kw; ++j)
      for (int64_t ch = 0; ch < k.c; ++ch)
        roff[static_cast<size_t>((i * k.kw + j) * k.c + ch)] =
            (i * k.dy * cols + j * k.dx) * k.c + ch;
  return roff;
}

// The input rows that output rows [q0, q1) of image img read, zero-padded
// into buf as a (rows, cols, c) block; spread: where the rows come from
// instead of k.in.
template <class K>
void load_band(const K &k, int64_t img, int64_t q0, int64_t q1, int64_t cols,
               std::vector<float> &buf, const PooledGrad *spread = nullptr) {
  const int64_t in_rows = (q1 - 1 - q0) * k.sy + (k.kh - 1) * k.dy + 1;
  buf.resize(static_cast<size_t>(in_rows * cols * k.c));
  const float *in = spread ? nullptr : k.in + img * k.h * k.w * k.c;
  pad_band(k.h, k.w, k.c, k.top, k.left, q0 * k.sy, in_rows, cols, buf.data(),
           [&](int64_t sr, int64_t x0, int64_t n, float *d) {
             if (spread)
               spread_row(*spread, img, sr, x0, n, d);
             else
               std::memcpy(d, in + (sr * k.w + x0) * k.c,
                           static_cast<size_t>(n * k.c) * sizeof(float));
           });
}

void correlate(const Corr &k) {
  const int64_t cols = band_cols(k);
  const int64_t red = k.kh * k.kw * k.c;
  const std::vector<int64_t> roff = tap_offsets(k, cols);
  const int64_t rows =
      k.pooled ? round_up(band_rows(k.n, k.oh), 2) : band_rows(k.n, k.oh);
  const int64_t bands = (k.oh + rows - 1) / rows;
  parallel_for(k.n * bands, 1, [&](int64_t u0, int64_t u1) {
    std::vector<float> buf, band_out;
    std::vector<const float *> px;
    std::vector<float *> out;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t img = u / bands, q0 = u % bands * rows;
      const int64_t q1 = std::min(k.oh, q0 + rows);
      load_band(k, img, q0, q1, cols, buf, k.spread);
      if (k.pooled)
        band_out.resize(static_cast<size_t>((q1 - q0) * k.ow * k.oc));
      px.clear();
      out.clear();
      for (int64_t q = q0; q < q1; ++q)
        for (int64_t p = 0; p < k.ow; ++p) {
          px.push_back(buf.data() + ((q - q0) * k.sy * cols + p * k.sx) * k.c);
          out.push_back(
              k.pooled ? band_out.data() + ((q - q0) * k.ow + p) * k.oc
                       : k.out + img * k.out_n + q * k.out_q + p * k.out_p);
        }
      const int64_t pixels = static_cast<int64_t>(px.size());
      for (int64_t ob = 0; ob < k.oc; ob += kBlockOut) {
        const ChannelBlock cb = channel_block(ob, k.oc);
        const int64_t tile = kTile[cb.nv];
        const int64_t chunk =
            std::max<int64_t>(kLanes, kWeightChunkBytes / (cb.nv * kLanes * 4));
        for (int64_t r0 = 0; r0 < red; r0 += chunk) {
          const int64_t kc = std::min(chunk, red - r0);
          const Start start = r0 > 0 ? kAccumulate : k.bias ? kBias : kZero;
          for (int64_t p0 = 0; p0 < pixels; p0 += tile) {
            const int64_t np = std::min(tile, pixels - p0);
            kCorrTiles[cb.nv][np - 1](px.data() + p0, roff.data() + r0, kc,
                                      k.weights + r0 * k.ldw + ob, k.ldw,
                                      k.bias ? k.bias + ob : nullptr, start,
                                      out.data() + p0, ob, cb.tail);
          }
        }
      }
      if (k.relu)
        for (float *row : out)
          relu_inplace(row, k.oc);
      if (k.pooled) {
        const int64_t at = (img * (k.oh / 2) + q0 / 2) * (k.ow / 2) * k.oc;
        max_pool_2x2_relu_taps(band_out.data(), q1 - q0, k.ow, k.oc,
                               k.pooled + at, k.taps + at);
      }
    }
  });
}

// ---- the filter gradient
// -----------------------------------------------------

// sum[o] += the rows' values in column o, for `rows` rows of `cols` values.
DEVRT_AVX512 void sum_rows(const float *g, int64_t rows, int64_t cols,
                           float *sum) {
  for (int64_t o = 0; o < cols; o += kLanes) {
    const __mmask16 m = static_cast<__mmask16>(
        cols - o >= kLanes ? 0xFFFF : (1u << (cols - o)) - 1u);
    __m512 acc = _mm512_maskz_loadu_ps(m, sum + o);
    for (int64_t p = 0; p < rows; ++p)
      acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, g + p * cols + o));
    _mm512_mask_storeu_ps(sum + o, m, acc);
  }
}

// gw[(i*kw + j)*c + c][o] = sum over n, q, p of
// in[n][q*sy + i*dy - top][p*sx + j*dx - left][c] * g[n][q][p][o].
struct FilterGrad {
  const float *in;
  int64_t n, h, w, c;
  int64_t top, left;
  const float *g;
  int64_t oh, ow, oc, sy, sx;
  int64_t kh, kw, dy, dx;
  float *gw; // (kh*kw*c, oc)
  float *gb; // (oc): g summed over the pixels, or null
  // With spread: g is null, and each band of it is spread from a pooling's
  // gradient into a buffer.
  const PooledGrad *spread = nullptr;
};

void filter_gradient(const FilterGrad &k) {
  const int64_t cols = band_cols(k);
  const int64_t red = k.kh * k.kw * k.c, ldw = round_up(k.oc, kLanes);
  const std::vector<int64_t> roff = tap_offsets(k, cols);
  // Bands of output rows whose gradient fits in L1. The bands are dealt to a
  // fixed number of slots, each summing its bands in order into a partial
  // gradient of its own, and the partials are added in slot order: the
  // result does not depend on how the pool splits the work.
  const int64_t rows = std::clamp<int64_t>(
      kBandBytes / std::max<int64_t>(k.ow * k.oc * 4, 1), 1, k.oh);
  const int64_t bands = (k.oh + rows - 1) / rows, units = k.n * bands;
  const int64_t slots = std::min<int64_t>(units, kFilterSlots);
  // The bias's gradient, where asked, from the same bands of g while they
  // are in L1: a partial sum per slot, added in slot order as well.
  std::vector<std::vector<float>> partial(static_cast<size_t>(slots)),
      bias(static_cast<size_t>(k.gb ? slots : 0));
  parallel_for(slots, 1, [&](int64_t s0, int64_t s1) {
    std::vector<float> buf, band_g;
    std::vector<int64_t> xoff;
    for (int64_t s = s0; s < s1; ++s) {
      std::vector<float> &acc = partial[static_cast<size_t>(s)];
      acc.assign(static_cast<size_t>(red * ldw), 0.0f);
      if (k.gb)
        bias[static_cast<size_t>(s)].assign(static_cast<size_t>(k.oc), 0.0f);
      for (int64_t u = s * units / slots; u < (s + 1) * units / slots; ++u) {
        const int64_t img = u / bands, q0 = u % bands * rows;
        const int64_t q1 = std::min(k.oh, q0 + rows);
        load_band(k, img, q0, q1, cols, buf);
        xoff.clear();
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t p = 0; p < k.ow; ++p)
            xoff.push_back(((q - q0) * k.sy * cols + p * k.sx) * k.c);
        const float *g;
        if (k.spread) {
          band_g.resize(static_cast<size_t>((q1 - q0) * k.ow * k.oc));
          for (int64_t q = q0; q < q1; ++q)
            spread_row(*k.spread, img, q, 0, k.ow,
                       band_g.data() + (q - q0) * k.ow * k.oc);
          g = band_g.data();
        } else {
          g = k.g + (img * k.oh + q0) * k.ow * k.oc;
        }
        const int64_t pixels = static_cast<int64_t>(xoff.size());
        for (int64_t ob = 0; ob < k.oc; ob += kBlockOut) {
          const ChannelBlock cb = channel_block(ob, k.oc);
          const int64_t tile = kTile[cb.nv];
          for (int64_t r0 = 0; r0 < red; r0 += tile) {
            const int64_t nr = std::min(tile, red - r0);
            kFilterTiles[cb.nv][nr - 1](
                buf.data(), xoff.data(), roff.data() + r0, g + ob, k.oc, pixels,
                acc.data() + r0 * ldw + ob, ldw, cb.tail);
          }
        }
        if (k.gb)
          sum_rows(g, pixels, k.oc, bias[static_cast<size_t>(s)].data());
      }
    }
  });
  if (k.gb) {
    std::copy(bias[0].begin(), bias[0].end(), k.gb);
    for (int64_t s = 1; s < slots; ++s)
      for (int64_t o = 0; o < k.oc; ++o)
        k.gb[o] += bias[static_cast<size_t>(s)][static_cast<size_t>(o)];
  }
  parallel_for(red, std::max<int64_t>(1, kGrainCheap / (ldw * slots + 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) {
                   float *dst = k.gw + r * k.oc;
                   const float *src = partial[0].data() + r * ldw;
                   std::copy(src, src + k.oc, dst);
                   for (int64_t s = 1; s < slots; ++s) {
                     src = partial[static_cast<size_t>(s)].data() + r * ldw;
                     for (int64_t o = 0; o < k.oc; ++o)
                       dst[o] += src[o];
                   }
                 }
               });
}

// ---- the kernels
// -------------------------------------------------------------

struct Geometry {
  int64_t sy, sx, py, px, dy, dx;
};

Geometry read_geometry(const devrt_kernel_call &call) {
  auto pair = [&](int i) {
    const devrt_attr &a = attr(call, i, DEVRT_ATTR_INTS);
    if (a.count != 2)
      fail(DEVRT_ERROR_RUNTIME, "expected two values per geometry attribute");
    return a.ints;
  };
  const int64_t *s = pair(0), *p = pair(1), *d = pair(2);
  Geometry g{s[0], s[1], p[0], p[1], d[0], d[1]};
  if (g.sy <= 0 || g.sx <= 0 || g.dy <= 0 || g.dx <= 0 || g.py < 0 || g.px < 0)
    fail(DEVRT_ERROR_RUNTIME, "bad stride, padding or dilation");
  return g;
}

void expect_float_contiguous(const devrt_view &v, const char *what) {
  expect_dtype(v, DEVRT_FLOAT32, what);
  if (v.ndim != 4)
    fail(DEVRT_ERROR_RUNTIME, std::string(what) + " must be 4-D");
  if (numel(v) == 0) // any strides will do
    return;
  int64_t expected = 1;
  for (int32_t d = 3; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected)
      fail(DEVRT_ERROR_RUNTIME, std::string(what) + " must be contiguous");
    expected *= v.shape[d];
  }
}

// The shapes of one call: x (N, H, W, C), filter (KH, KW, C, OC),
// y (N, OH, OW, OC), checked against each other and the geometry.
struct Shapes {
  int64_t n, h, w, c, kh, kw, oc, oh, ow;
};

Shapes check_shapes(const devrt_view &x, const devrt_view &f,
                    const devrt_view &y, const Geometry &g, int64_t pool = 1) {
  expect_float_contiguous(x, "input");
  expect_float_contiguous(f, "filter");
  expect_float_contiguous(y, "output");
  Shapes s{x.shape[0], x.shape[1],        x.shape[2],
           x.shape[3], f.shape[0],        f.shape[1],
           f.shape[3], y.shape[1] * pool, y.shape[2] * pool};
  const int64_t span_h = s.h + 2 * g.py - g.dy * (s.kh - 1) - 1;
  const int64_t span_w = s.w + 2 * g.px - g.dx * (s.kw - 1) - 1;
  if (f.shape[2] != s.c || y.shape[0] != s.n || y.shape[3] != s.oc ||
      span_h < 0 || span_w < 0 || s.oh != span_h / g.sy + 1 ||
      s.ow != span_w / g.sx + 1)
    fail(DEVRT_ERROR_RUNTIME, "input, filter and output shapes do not match");
  return s;
}

bool empty(const Shapes &s) {
  return s.n * s.h * s.w * s.c * s.kh * s.kw * s.oc * s.oh * s.ow == 0;
}

// m (rows, cols) copied into a zeroed (rows, round_up(cols, 16)) matrix.
std::vector<float> padded_rows(const float *m, int64_t rows, int64_t cols) {
  const int64_t ld = round_up(cols, kLanes);
  std::vector<float> out(static_cast<size_t>(rows * ld), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    std::copy(m + r * cols, m + (r + 1) * cols, out.data() + r * ld);
  return out;
}

// conv2d_nhwc, conv2d_nhwc_relu (the same with relu on the result) and
// conv2d_nhwc_relu_pool (then max pooling in 2x2 windows with its taps, each
// band of the output pooled from a buffer: the full output is never
// written).
template <bool Relu, bool Pool = false>
void conv2d_nhwc(const devrt_kernel_call &call) {
  constexpr int32_t outputs = Pool ? 2 : 1;
  if (call.n_inputs != 2 && call.n_inputs != 3)
    expect_arity(call, 2, outputs);
  expect_arity(call, call.n_inputs, outputs);
  const devrt_view &x = call.inputs[0], &f = call.inputs[1];
  const devrt_view &y = call.outputs[0];
  const Geometry g = read_geometry(call);
  const Shapes s = check_shapes(x, f, y, g, Pool ? 2 : 1);
  uint8_t *taps = nullptr;
  if constexpr (Pool)
    taps = taps_of(call.outputs[1], y);
  if (s.n * s.oh * s.ow * s.oc == 0)
    return;
  const float *bias = nullptr;
  std::vector<float> bias_padded;
  if (call.n_inputs == 3) {
    const devrt_view &b = call.inputs[2];
    expect_dtype(b, DEVRT_FLOAT32, "bias");
    if (b.ndim != 1 || b.shape[0] != s.oc || (s.oc > 1 && b.strides[0] != 1))
      fail(DEVRT_ERROR_RUNTIME, "bias must be a contiguous (OC,) vector");
    bias_padded = padded_rows(static_cast<const float *>(b.data), 1, s.oc);
    bias = bias_padded.data();
  }
  float *out = static_cast<float *>(y.data);
  if (empty(s)) { // no input channels: the bias, or sums of nothing
    std::vector<float> full;
    float *to = out;
    if constexpr (Pool) {
      full.resize(static_cast<size_t>(s.n * s.oh * s.ow * s.oc));
      to = full.data();
    }
    for (int64_t i = 0; i < s.n * s.oh * s.ow; ++i)
      for (int64_t o = 0; o < s.oc; ++o)
        to[i * s.oc + o] =
            bias ? (Relu ? std::max(bias[o], 0.0f) : bias[o]) : 0.0f;
    if constexpr (Pool)
      for (int64_t i = 0; i < s.n; ++i) {
        const int64_t at = i * (s.oh / 2) * (s.ow / 2) * s.oc;
        max_pool_2x2_relu_taps(to + i * s.oh * s.ow * s.oc, s.oh, s.ow, s.oc,
                               out + at, taps + at);
      }
    return;
  }
  const int64_t red = s.kh * s.kw * s.c;
  const float *w = static_cast<const float *>(f.data);
  std::vector<float> packed;
  if (s.oc % kLanes) {
    packed = padded_rows(w, red, s.oc);
    w = packed.data();
  }
  Corr k{static_cast<const float *>(x.data),
         s.n,
         s.h,
         s.w,
         s.c,
         g.py,
         g.px,
         s.oh,
         s.ow,
         g.sy,
         g.sx,
         s.kh,
         s.kw,
         g.dy,
         g.dx,
         w,
         round_up(s.oc, kLanes),
         bias,
         Pool ? nullptr : out,
         s.oc,
         s.oh * s.ow * s.oc,
         s.ow * s.oc,
         s.oc,
         Relu,
         Pool ? out : nullptr,
         taps};
  correlate(k);
}

int64_t floor_div(int64_t a, int64_t b) { // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Note: the input gradient gx[y][x] sums g[oy][ox] * f[i][j]^T over the taps
// with y + py = oy*sy + i*dy (and likewise along x). For one phase ry of the
// rows (y + py = q*sy + ry), the taps are those with i*dy = ry (mod sy): an
// arithmetic progression i = i0 + m*step, reading g's row q - (i*dy - ry)/sy.
// In reverse order of m these are a correlation over g's rows with
// dilation dy*step/sy, so each phase is one correlate with the flipped,
// transposed filter restricted to its taps. At stride 1 there is one phase
// with every tap.
struct Phase {
  int64_t first, count, step; // taps first + m*step, m < count
  int64_t q0, rows;           // output rows q0, q0 + 1, ... (q = (y+py-ry)/sy)
  int64_t top, dil;           // correlate's top (or left) and dilation
};

Phase phase_of(int64_t r, int64_t stride, int64_t pad, int64_t dil,
               int64_t taps, int64_t extent) {
  Phase ph{0, 0, stride / std::gcd(stride, dil), 0, 0, 0, 0};
  while (ph.first < taps && (ph.first * dil - r) % stride != 0)
    ++ph.first;
  if (ph.first < taps)
    ph.count = (taps - 1 - ph.first) / ph.step + 1;
  // rows y = q*stride + r - pad inside [0, extent)
  ph.q0 = floor_div(pad - r + stride - 1, stride);
  const int64_t q1 = floor_div(extent - 1 + pad - r, stride) + 1;
  ph.rows = std::max<int64_t>(0, q1 - ph.q0);
  if (ph.count > 0) {
    const int64_t a_last = (ph.first + (ph.count - 1) * ph.step) * dil - r;
    ph.top = a_last / stride - ph.q0; // the last tap reads g's row q - a/s
    ph.dil = ph.step * dil / stride;
  }
  return ph;
}

// Note: with fewer input channels than a vector holds, the correlation above
// would fill a fraction of each vector (1/16 for one channel). The input
// gradient is then computed per output pixel instead: the pixel's gradient
// times the transposed filter is the gradient of its (kh, kw, C) patch, a
// correlate tile vectorised over the patch, and the patches are summed into
// a padded copy of each image, which is cropped into gx.
void input_gradient_by_patches(const float *gy, const float *f, const Shapes &s,
                               const Geometry &g, float *gx) {
  const int64_t red = s.kh * s.kw * s.c, ldk = round_up(red, kLanes);
  std::vector<float> wt(static_cast<size_t>(s.oc * ldk), 0.0f);
  for (int64_t k = 0; k < red; ++k)
    for (int64_t o = 0; o < s.oc; ++o)
      wt[static_cast<size_t>(o * ldk + k)] = f[k * s.oc + o];
  std::vector<int64_t> roff(static_cast<size_t>(s.oc));
  std::iota(roff.begin(), roff.end(), int64_t{0});
  const int64_t hp = std::max((s.oh - 1) * g.sy + (s.kh - 1) * g.dy + 1,
                              s.h + g.py),
                wp = std::max((s.ow - 1) * g.sx + (s.kw - 1) * g.dx + 1,
                              s.w + g.px);
  constexpr int64_t kPixels = 12;
  const int64_t pixels = s.oh * s.ow;
  parallel_for(s.n, 1, [&](int64_t n0, int64_t n1) {
    std::vector<float> pad(static_cast<size_t>(hp * wp * s.c));
    std::vector<float> cols(static_cast<size_t>(kPixels * ldk));
    const float *px[kPixels];
    float *out[kPixels];
    for (int64_t i = 0; i < kPixels; ++i)
      out[i] = cols.data() + i * ldk;
    for (int64_t img = n0; img < n1; ++img) {
      std::fill(pad.begin(), pad.end(), 0.0f);
      for (int64_t p0 = 0; p0 < pixels; p0 += kPixels) {
        const int64_t np = std::min(kPixels, pixels - p0);
        for (int64_t i = 0; i < np; ++i)
          px[i] = gy + (img * pixels + p0 + i) * s.oc;
        for (int64_t ob = 0; ob < red; ob += kBlockOut) {
          const ChannelBlock cb = channel_block(ob, red);
          const int64_t tile = kTile[cb.nv];
          for (int64_t i0 = 0; i0 < np; i0 += tile)
            kCorrTiles[cb.nv][std::min(tile, np - i0) - 1](
                px + i0, roff.data(), s.oc, wt.data() + ob, ldk, nullptr, kZero,
                out + i0, ob, cb.tail);
        }
        for (int64_t i = 0; i < np; ++i) {
          const int64_t oy = (p0 + i) / s.ow, ox = (p0 + i) % s.ow;
          for (int64_t ti = 0; ti < s.kh; ++ti)
            for (int64_t tj = 0; tj < s.kw; ++tj) {
              float *d =
                  pad.data() +
                  ((oy * g.sy + ti * g.dy) * wp + ox * g.sx + tj * g.dx) * s.c;
              const float *src = out[i] + (ti * s.kw + tj) * s.c;
              for (int64_t ch = 0; ch < s.c; ++ch)
                d[ch] += src[ch];
            }
        }
      }
      for (int64_t y = 0; y < s.h; ++y)
        std::memcpy(gx + (img * s.h + y) * s.w * s.c,
                    pad.data() + ((y + g.py) * wp + g.px) * s.c,
                    static_cast<size_t>(s.w * s.c) * sizeof(float));
    }
  });
}

// gx (out) from the output's gradient gy, or from the spread of a 2x2
// pooling's gradient (gy null), and the filter fw.
void input_gradient(const float *gy, const PooledGrad *spread, const float *fw,
                    const Shapes &s, const Geometry &g, float *out) {
  if (!empty(s) && s.c < kLanes) {
    std::vector<float> full;
    if (spread) {
      full = spread_all(*spread, s.n);
      gy = full.data();
    }
    input_gradient_by_patches(gy, fw, s, g, out);
    return;
  }
  if (empty(s) || g.sy > 1 || g.sx > 1) // positions no phase may reach
    std::fill(out, out + s.n * s.h * s.w * s.c, 0.0f);
  if (empty(s))
    return;
  const int64_t ldw = round_up(s.c, kLanes);
  for (int64_t ry = 0; ry < g.sy; ++ry)
    for (int64_t rx = 0; rx < g.sx; ++rx) {
      const Phase py = phase_of(ry, g.sy, g.py, g.dy, s.kh, s.h);
      const Phase px = phase_of(rx, g.sx, g.px, g.dx, s.kw, s.w);
      if (py.count == 0 || px.count == 0 || py.rows == 0 || px.rows == 0)
        continue;
      // Row ((mi*kw' + mj)*oc + o) of the phase's filter: tap
      // (first + (count-1-m)*step) of f, transposed.
      std::vector<float> w(
          static_cast<size_t>(py.count * px.count * s.oc * ldw), 0.0f);
      for (int64_t mi = 0; mi < py.count; ++mi)
        for (int64_t mj = 0; mj < px.count; ++mj) {
          const int64_t i = py.first + (py.count - 1 - mi) * py.step;
          const int64_t j = px.first + (px.count - 1 - mj) * px.step;
          const float *tap = fw + (i * s.kw + j) * s.c * s.oc;
          float *rows = w.data() + (mi * px.count + mj) * s.oc * ldw;
          for (int64_t ch = 0; ch < s.c; ++ch)
            for (int64_t o = 0; o < s.oc; ++o)
              rows[o * ldw + ch] = tap[ch * s.oc + o];
        }
      const int64_t y0 = py.q0 * g.sy + ry - g.py;
      const int64_t x0 = px.q0 * g.sx + rx - g.px;
      Corr k{gy,
             s.n,
             s.oh,
             s.ow,
             s.oc,
             py.top,
             px.top,
             py.rows,
             px.rows,
             1,
             1,
             py.count,
             px.count,
             py.dil,
             px.dil,
             w.data(),
             ldw,
             nullptr,
             out + (y0 * s.w + x0) * s.c,
             s.c,
             s.h * s.w * s.c,
             g.sy * s.w * s.c,
             g.sx * s.c,
             false};
      k.spread = spread;
      correlate(k);
    }
}

void conv2d_nhwc_backward_input(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &gy = call.inputs[0], &f = call.inputs[1];
  const devrt_view &gx = call.outputs[0];
  const Geometry g = read_geometry(call);
  input_gradient(static_cast<const float *>(gy.data), nullptr,
                 static_cast<const float *>(f.data), check_shapes(gx, f, gy, g),
                 g, static_cast<float *>(gx.data));
}

// A call of the pooled-gradient kernels: its geometry, its shapes (x the
// input or its gradient, f the filter or its gradient, g the pooled
// gradient: the full one's output grid twice g's) and the spread of g by
// its taps.
struct PooledCall {
  Geometry g;
  Shapes s;
  PooledGrad spread;
};

PooledCall pooled_call(const devrt_kernel_call &call, const devrt_view &x,
                       const devrt_view &f, const devrt_view &g,
                       const devrt_view &taps) {
  PooledCall p{read_geometry(call), {}, {}};
  p.s = check_shapes(x, f, g, p.g, 2);
  p.spread = {static_cast<const float *>(g.data), taps_of(taps, g), p.s.oh / 2,
              p.s.ow / 2, p.s.oc};
  return p;
}

// conv2d_nhwc_pool_backward_input: the same from a 2x2 pooling's gradient
// and taps.
void conv2d_nhwc_pool_backward_input(const devrt_kernel_call &call) {
  expect_arity(call, 3, 1);
  const devrt_view &f = call.inputs[2], &gx = call.outputs[0];
  const PooledCall p = pooled_call(call, gx, f, call.inputs[0], call.inputs[1]);
  input_gradient(nullptr, &p.spread, static_cast<const float *>(f.data), p.s,
                 p.g, static_cast<float *>(gx.data));
}

// The filter's gradient (out) and the bias's (gb, or null) from the input x
// and the output's gradient gy, or the spread of a 2x2 pooling's gradient
// (gy null).
void filter_and_bias_gradient(const float *x, const float *gy,
                              const PooledGrad *spread, const Shapes &s,
                              const Geometry &g, float *out, float *gb) {
  if (empty(s)) { // no taps: a zero filter gradient; the bias's is g's sum
    std::fill(out, out + s.kh * s.kw * s.c * s.oc, 0.0f);
    if (gb) {
      std::fill(gb, gb + s.oc, 0.0f);
      std::vector<float> full;
      if (spread && s.n * s.oh * s.ow > 0) {
        full = spread_all(*spread, s.n);
        gy = full.data();
      }
      if (s.oc > 0)
        sum_rows(gy, s.n * s.oh * s.ow, s.oc, gb);
    }
    return;
  }
  FilterGrad k{x,    s.n,  s.h,  s.w,  s.c,  g.py, g.px, gy,  s.oh, s.ow,
               s.oc, g.sy, g.sx, s.kh, s.kw, g.dy, g.dx, out, gb,   spread};
  filter_gradient(k);
}

// The bias gradient's output of conv2d_nhwc_backward_filter_bias and
// conv2d_nhwc_pool_backward_filter_bias.
float *bias_gradient_of(const devrt_view &b, int64_t oc) {
  expect_dtype(b, DEVRT_FLOAT32, "bias gradient");
  if (b.ndim != 1 || b.shape[0] != oc || (oc > 1 && b.strides[0] != 1))
    fail(DEVRT_ERROR_RUNTIME,
         "bias gradient must be a contiguous (OC,) vector");
  return static_cast<float *>(b.data);
}

// conv2d_nhwc_backward_filter, and conv2d_nhwc_backward_filter_bias (the
// bias's gradient too, from the same pass over g).
template <bool Bias>
void conv2d_nhwc_backward_filter(const devrt_kernel_call &call) {
  expect_arity(call, 2, Bias ? 2 : 1);
  const devrt_view &x = call.inputs[0], &gy = call.inputs[1];
  const devrt_view &gf = call.outputs[0];
  const Geometry g = read_geometry(call);
  const Shapes s = check_shapes(x, gf, gy, g);
  filter_and_bias_gradient(
      static_cast<const float *>(x.data), static_cast<const float *>(gy.data),
      nullptr, s, g, static_cast<float *>(gf.data),
      Bias ? bias_gradient_of(call.outputs[1], s.oc) : nullptr);
}

// conv2d_nhwc_pool_backward_filter_bias: both from a 2x2 pooling's gradient
// and taps.
void conv2d_nhwc_pool_backward_filter_bias(const devrt_kernel_call &call) {
  expect_arity(call, 3, 2);
  const devrt_view &x = call.inputs[0], &gf = call.outputs[0];
  const PooledCall p = pooled_call(call, x, gf, call.inputs[1], call.inputs[2]);
  filter_and_bias_gradient(static_cast<const float *>(x.data), nullptr,
                           &p.spread, p.s, p.g, static_cast<float *>(gf.data),
                           bias_gradient_of(call.outputs[1], p.s.oc));
}

} // namespace

void register_conv_direct_kernels() {
  if (!__builtin_cpu_supports("avx512f"))
    return; // the core convolves through im2col and matmul
  constexpr uint32_t f32 = 1u << DEVRT_FLOAT32;
  register_kernel("conv2d_nhwc", f32, kernel_entry<conv2d_nhwc<false>>);
  register_kernel("conv2d_nhwc_relu", f32, kernel_entry<conv2d_nhwc<true>>);
  register_kernel("conv2d_nhwc_relu_pool", f32,
                  kernel_entry<conv2d_nhwc<true, true>>);
  register_kernel("conv2d_nhwc_backward_input", f32,
                  kernel_entry<conv2d_nhwc_backward_input>);
  register_kernel("conv2d_nhwc_backward_filter", f32,
                  kernel_entry<conv2d_nhwc_backward_filter<false>>);
  register_kernel("conv2d_nhwc_backward_filter_bias", f32,
                  kernel_entry<conv2d_nhwc_backward_filter<true>>);
  register_kernel("conv2d_nhwc_pool_backward_input", f32,
                  kernel_entry<conv2d_nhwc_pool_backward_input>);
  register_kernel("conv2d_nhwc_pool_backward_filter_bias", f32,
                  kernel_entry<conv2d_nhwc_pool_backward_filter_bias>);
}

} // namespace devrt_cpu

#else

namespace devrt_cpu {
void register_conv_direct_kernels() {} // the core uses im2col and matmul
} // namespace devrt_cpu

#endif
