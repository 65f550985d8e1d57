// im2col and col2im: the patch gather that convolution and pooling are
// built from in the core (conv = im2col + matmul), and its adjoint; and max
// pooling in one pass each way, channels first and channels last.
#include "kernels.h"
#include "parallel.h"
#include "strided.h"

#include <limits>
#include <vector>

namespace devrt_cpu {
namespace {

// The geometry both kernels share, read from the attributes
// kernel, stride, padding, dilation (INTS of two each).
struct Patch {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t h, w, oh, ow; // image and output grid sizes
};

Patch read_patch(const devrt_kernel_call &call, int first, int64_t h,
                 int64_t w) {
  auto pair = [&](int i) {
    const devrt_attr &a = attr(call, first + i, DEVRT_ATTR_INTS);
    if (a.count != 2)
      fail(DEVRT_ERROR_RUNTIME, "expected two values per geometry attribute");
    return a.ints;
  };
  const int64_t *k = pair(0), *s = pair(1), *p = pair(2), *d = pair(3);
  Patch g{k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], h, w, 0, 0};
  g.oh = (h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  return g;
}

void check_contiguous(const devrt_view &v, const char *what) {
  int64_t expected = 1;
  for (int32_t d = v.ndim - 1; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected)
      fail(DEVRT_ERROR_RUNTIME, std::string(what) + " must be contiguous");
    expected *= v.shape[d];
  }
}

// The columns' layout: element (n, c*taps + tap, l) sits at
// n*stride_n + (c*taps + tap)*stride_k + l. The core may ask for the batch
// inside the rows ((K, N, L) memory) to multiply all images in one GEMM.
struct ColumnLayout {
  int64_t channels, stride_n, stride_k;
  int64_t row(int64_t plane, int64_t tap, int64_t taps) const {
    return (plane / channels) * stride_n +
           ((plane % channels) * taps + tap) * stride_k;
  }
};

ColumnLayout column_layout(const devrt_view &cols, int64_t channels) {
  if (cols.ndim != 3 || (cols.shape[2] > 1 && cols.strides[2] != 1))
    fail(DEVRT_ERROR_RUNTIME, "columns must be (N, K, L) with unit L stride");
  return {channels, cols.strides[0], cols.strides[1]};
}

// The output positions [lo, hi) of `count` whose tap o * stride + offset
// lands inside [0, extent); the others fall on padding.
struct Span {
  int64_t lo, hi;
};
Span inside(int64_t offset, int64_t stride, int64_t extent, int64_t count) {
  auto ceil_div = [](int64_t a, int64_t b) { // b > 0
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
  };
  const int64_t lo =
      std::min(count, std::max<int64_t>(0, ceil_div(-offset, stride)));
  const int64_t hi = std::min(count, ceil_div(extent - offset, stride));
  return {lo, std::max(lo, hi)};
}

// Each tap (i, j) of the window visits the output rows ys and columns xs
// that read inside the image: f(tap, out_row0, src_row0, rows, offset, xs),
// tap being i * kw + j and src_row0 the image row the first of them reads.
// Taps that read nothing of the image are skipped.
template <typename F> void for_each_tap(const Patch &g, F &&f) {
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t oy_offset = i * g.dh - g.ph;
    const Span ys = inside(oy_offset, g.sh, g.h, g.oh);
    if (ys.hi <= ys.lo)
      continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t offset = j * g.dw - g.pw;
      const Span xs = inside(offset, g.sw, g.w, g.ow);
      if (xs.hi > xs.lo)
        f(i * g.kw + j, ys.lo * g.ow, (ys.lo * g.sh + oy_offset) * g.w,
          ys.hi - ys.lo, offset, xs);
    }
  }
}

// One tap's rows of the columns: out row r (ow wide) takes src row r (rows
// `step` apart) at ox * sw + offset for ox in `in`, pad elsewhere.
template <typename T>
DEVRT_CPU_CLONES void gather_rows(T *__restrict out, const T *__restrict src,
                                  int64_t rows, int64_t ow, int64_t step,
                                  int64_t sw, int64_t offset, Span in, T pad) {
  for (int64_t r = 0; r < rows; ++r) {
    T *o = out + r * ow;
    const T *line = src + r * step;
    for (int64_t ox = 0; ox < in.lo; ++ox)
      o[ox] = pad;
    if (sw == 1)
      for (int64_t ox = in.lo; ox < in.hi; ++ox)
        o[ox] = line[ox + offset];
    else
      for (int64_t ox = in.lo; ox < in.hi; ++ox)
        o[ox] = line[ox * sw + offset];
    for (int64_t ox = in.hi; ox < ow; ++ox)
      o[ox] = pad;
  }
}

// The adjoint of gather_rows: dst row r gains the in-image part of row r.
template <typename T>
DEVRT_CPU_CLONES void scatter_rows(T *__restrict dst, const T *__restrict in,
                                   int64_t rows, int64_t ow, int64_t step,
                                   int64_t sw, int64_t offset, Span span) {
  for (int64_t r = 0; r < rows; ++r) {
    T *line = dst + r * step;
    const T *i = in + r * ow;
    if (sw == 1)
      for (int64_t ox = span.lo; ox < span.hi; ++ox)
        line[ox + offset] += i[ox];
    else
      for (int64_t ox = span.lo; ox < span.hi; ++ox)
        line[ox * sw + offset] += i[ox];
  }
}

// x (N, C, H, W) -> cols (N, C*kh*kw, oh*ow); out-of-image taps read
// pad_value. Each (n, c) plane is one task; each tap copies the rows of the
// output grid that fall inside the image in one call.
template <typename T>
void im2col_planes(const T *x, T *cols, const Patch &g, int64_t planes, T pad,
                   const ColumnLayout &layout) {
  const int64_t plane = g.h * g.w, taps = g.kh * g.kw, L = g.oh * g.ow;
  parallel_for(planes, std::max<int64_t>(1, kGrainCheap / (taps * L + 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t p = p0; p < p1; ++p)
                   for (int64_t i = 0; i < g.kh; ++i) {
                     const int64_t oy_offset = i * g.dh - g.ph;
                     const Span ys = inside(oy_offset, g.sh, g.h, g.oh);
                     for (int64_t j = 0; j < g.kw; ++j) {
                       T *row = cols + layout.row(p, i * g.kw + j, taps);
                       const int64_t offset = j * g.dw - g.pw;
                       std::fill(row, row + ys.lo * g.ow, pad);
                       if (ys.hi > ys.lo) // else no row reads the image
                         gather_rows(
                             row + ys.lo * g.ow,
                             x + p * plane + (ys.lo * g.sh + oy_offset) * g.w,
                             ys.hi - ys.lo, g.ow, g.sh * g.w, g.sw, offset,
                             inside(offset, g.sw, g.w, g.ow), pad);
                       std::fill(row + ys.hi * g.ow, row + L, pad);
                     }
                   }
               });
}

// The adjoint: cols (N, C*kh*kw, oh*ow) summed back into x (N, C, H, W).
template <typename T>
void col2im_planes(const T *cols, T *x, const Patch &g, int64_t planes,
                   const ColumnLayout &layout) {
  const int64_t plane = g.h * g.w, taps = g.kh * g.kw;
  parallel_for(planes,
               std::max<int64_t>(1, kGrainCheap / (taps * g.oh * g.ow + 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t p = p0; p < p1; ++p) {
                   T *dst = x + p * plane;
                   std::fill(dst, dst + plane, T(0));
                   for_each_tap(g, [&](int64_t tap, int64_t o, int64_t s,
                                       int64_t rows, int64_t offset, Span xs) {
                     scatter_rows(dst + s, cols + layout.row(p, tap, taps) + o,
                                  rows, g.ow, g.sh * g.w, g.sw, offset, xs);
                   });
                 }
               });
}

void im2col(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &cols = call.outputs[0];
  if (x.ndim != 4)
    fail(DEVRT_ERROR_RUNTIME, "expected a 4-D input");
  check_contiguous(x, "input");
  const ColumnLayout layout = column_layout(cols, x.shape[1]);
  const Patch g = read_patch(call, 0, x.shape[2], x.shape[3]);
  const double pad = attr(call, 4, DEVRT_ATTR_FLOAT).f;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col_planes(static_cast<const T *>(x.data), static_cast<T *>(cols.data),
                  g, x.shape[0] * x.shape[1], static_cast<T>(pad), layout);
  });
}

void col2im(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &cols = call.inputs[0], &x = call.outputs[0];
  if (x.ndim != 4)
    fail(DEVRT_ERROR_RUNTIME, "expected a 4-D output");
  check_contiguous(x, "output");
  const ColumnLayout layout = column_layout(cols, x.shape[1]);
  const Patch g = read_patch(call, 0, x.shape[2], x.shape[3]);
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    col2im_planes(static_cast<const T *>(cols.data), static_cast<T *>(x.data),
                  g, x.shape[0] * x.shape[1], layout);
  });
}

// ---- max pooling -----------------------------------------------------------

// The pooling kernels' shared checks: 4-D contiguous views of one dtype,
// the window geometry, and y's grid matching it. Channels first (N, C, H, W)
// or, with `channels_last`, (N, H, W, C).
Patch pool_geometry(const devrt_kernel_call &call, const devrt_view &x,
                    const devrt_view &y, bool channels_last = false) {
  if (x.ndim != 4 || y.ndim != 4)
    fail(DEVRT_ERROR_RUNTIME, "expected 4-D input and output");
  expect_dtype(y, x.dtype, "y");
  check_contiguous(x, "input");
  check_contiguous(y, "output");
  const int hd = channels_last ? 1 : 2, cd = channels_last ? 3 : 1;
  const Patch g = read_patch(call, 0, x.shape[hd], x.shape[hd + 1]);
  if (y.shape[0] != x.shape[0] || y.shape[cd] != x.shape[cd] ||
      y.shape[hd] != g.oh || y.shape[hd + 1] != g.ow)
    fail(DEVRT_ERROR_RUNTIME, "the output does not match the window grid");
  return g;
}

// out row r = the greater of itself and src row r at ox * sw + offset.
template <typename T>
DEVRT_CPU_CLONES void max_rows(T *__restrict out, const T *__restrict src,
                               int64_t rows, int64_t ow, int64_t step,
                               int64_t sw, int64_t offset, Span xs) {
  for (int64_t r = 0; r < rows; ++r) {
    T *o = out + r * ow;
    const T *line = src + r * step;
    for (int64_t ox = xs.lo; ox < xs.hi; ++ox)
      o[ox] = nan_extreme<true>(o[ox], line[ox * sw + offset]);
  }
}

// v where c, else +0: on the bits, since GCC turns a product by the 0/1
// of c back into a branch, and which tap holds a window's maximum is as
// good as random.
template <typename T> inline T keep_if(bool c, T v) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U u;
  std::memcpy(&u, &v, sizeof u);
  u &= U(0) - static_cast<U>(c);
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// Whether tap value v is a maximum of its window, whose maximum is m: equal
// to it, or NaN (a NaN wins the window, as in the max reduction's rule).
template <typename T> inline bool maximal(T v, T m) {
  return (v == m) | (v != v);
}

// count row r += how many taps of row r of src are maximal in y's row r.
template <typename T>
DEVRT_CPU_CLONES void count_rows(T *__restrict count, const T *__restrict src,
                                 const T *__restrict y, int64_t rows,
                                 int64_t ow, int64_t step, int64_t sw,
                                 int64_t offset, Span xs) {
  for (int64_t r = 0; r < rows; ++r) {
    T *c = count + r * ow;
    const T *line = src + r * step, *m = y + r * ow;
    for (int64_t ox = xs.lo; ox < xs.hi; ++ox)
      c[ox] += keep_if(maximal(line[ox * sw + offset], m[ox]), T(1));
  }
}

// gx gains each window's share at its maximal taps.
template <typename T>
DEVRT_CPU_CLONES void
share_rows(T *__restrict gx, const T *__restrict src, const T *__restrict y,
           const T *__restrict share, int64_t rows, int64_t ow, int64_t step,
           int64_t sw, int64_t offset, Span xs) {
  for (int64_t r = 0; r < rows; ++r) {
    T *g = gx + r * step;
    const T *line = src + r * step, *m = y + r * ow, *sh = share + r * ow;
    for (int64_t ox = xs.lo; ox < xs.hi; ++ox) {
      const int64_t at = ox * sw + offset;
      g[at] += keep_if(maximal(line[at], m[ox]), sh[ox]);
    }
  }
}

// Note: float 2x2 windows at stride 2 without padding or dilation
// (max_pool2d(2), the common case) are one pass over each output row: the four
// taps of a window read as two pairs of adjacent elements, each window's maxima
// found and its share written into its four gx elements at once (no gx element
// is in two windows), with the general kernels' tie and NaN rules.
inline bool pool_2x2(const Patch &g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 &&
         g.pw == 0 && g.dh == 1 && g.dw == 1 && 2 * g.oh <= g.h &&
         2 * g.ow <= g.w; // every window inside the image (no ceil_mode tail)
}

// Eight windows of a 2x2, stride-2 pooling at a time (float): each pair of
// input rows loaded as 16 adjacent elements and split into the windows'
// left and right taps, so that the work is whole vectors; the same tie and
// NaN rules, element for element, as nan_extreme, maximal and keep_if.
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Mask8 __attribute__((vector_size(32)));
[[gnu::always_inline]] inline Floats8 load8(const float *p) {
  Floats8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store8(float *p, Floats8 v) {
  std::memcpy(p, &v, sizeof v);
}
[[gnu::always_inline]] inline Floats8 even8(Floats8 a, Floats8 b) {
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
}
[[gnu::always_inline]] inline Floats8 odd8(Floats8 a, Floats8 b) {
  return __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
}
[[gnu::always_inline]] inline Floats8 nan_max8(Floats8 a, Floats8 b) {
  return ((a >= b) | (a != a)) ? a : b;
}
[[gnu::always_inline]] inline Mask8 maximal8(Floats8 v, Floats8 m) {
  return (v == m) | (v != v);
}

// Eight windows' maxima from their rows' 16 elements each.
[[gnu::always_inline]] inline void
max_2x2_block(const float *top, const float *bottom, float *out) {
  const Floats8 t0 = load8(top), t1 = load8(top + 8);
  const Floats8 b0 = load8(bottom), b1 = load8(bottom + 8);
  store8(out, nan_max8(nan_max8(even8(t0, t1), odd8(t0, t1)),
                       nan_max8(even8(b0, b1), odd8(b0, b1))));
}

// Eight windows' gradients: each window's g shared among its maximal taps.
[[gnu::always_inline]] inline void
max_2x2_backward_block(const float *top, const float *bottom, const float *m,
                       const float *g, float *gtop, float *gbottom) {
  const Floats8 zero = {}, one = zero + 1.0f;
  const Floats8 t0 = load8(top), t1 = load8(top + 8);
  const Floats8 b0 = load8(bottom), b1 = load8(bottom + 8);
  const Floats8 mx = load8(m);
  const Mask8 k0 = maximal8(even8(t0, t1), mx), k1 = maximal8(odd8(t0, t1), mx),
              k2 = maximal8(even8(b0, b1), mx), k3 = maximal8(odd8(b0, b1), mx);
  const Floats8 count = (k0 ? one : zero) + (k1 ? one : zero) +
                        (k2 ? one : zero) + (k3 ? one : zero);
  const Floats8 share = load8(g) / (count >= one ? count : one);
  const Floats8 s0 = k0 ? share : zero, s1 = k1 ? share : zero,
                s2 = k2 ? share : zero, s3 = k3 ? share : zero;
  store8(gtop, __builtin_shufflevector(s0, s1, 0, 8, 1, 9, 2, 10, 3, 11));
  store8(gtop + 8, __builtin_shufflevector(s0, s1, 4, 12, 5, 13, 6, 14, 7, 15));
  store8(gbottom, __builtin_shufflevector(s2, s3, 0, 8, 1, 9, 2, 10, 3, 11));
  store8(gbottom + 8,
         __builtin_shufflevector(s2, s3, 4, 12, 5, 13, 6, 14, 7, 15));
}

// Output row oy of one plane of a 2x2, stride-2 pooling (float): blocks of
// eight windows, the last block through padded copies (rows of 7 or 14
// windows are common, and a scalar tail branches on NaN).
DEVRT_CPU_CLONES void max_pool_2x2_row(const float *__restrict x,
                                       float *__restrict y, const Patch &g,
                                       int64_t oy) {
  const float *top = x + 2 * oy * g.w, *bottom = top + g.w;
  float *out = y + oy * g.ow;
  int64_t ox = 0;
  for (; ox + 8 <= g.ow; ox += 8)
    max_2x2_block(top + 2 * ox, bottom + 2 * ox, out + ox);
  if (const int64_t rest = g.ow - ox; rest > 0) {
    float t[16] = {}, b[16] = {}, o[8];
    std::memcpy(t, top + 2 * ox, sizeof(float) * 2 * rest);
    std::memcpy(b, bottom + 2 * ox, sizeof(float) * 2 * rest);
    max_2x2_block(t, b, o);
    std::memcpy(out + ox, o, sizeof(float) * rest);
  }
}

// The gradient of output row oy: gx rows 2 oy and 2 oy + 1, both written.
DEVRT_CPU_CLONES void max_pool_2x2_backward_row(const float *__restrict gy,
                                                const float *__restrict x,
                                                const float *__restrict y,
                                                float *__restrict gx,
                                                const Patch &g, int64_t oy) {
  const int64_t r0 = 2 * oy * g.w, r1 = r0 + g.w;
  const float *m = y + oy * g.ow, *gr = gy + oy * g.ow;
  int64_t ox = 0;
  for (; ox + 8 <= g.ow; ox += 8)
    max_2x2_backward_block(x + r0 + 2 * ox, x + r1 + 2 * ox, m + ox, gr + ox,
                           gx + r0 + 2 * ox, gx + r1 + 2 * ox);
  if (const int64_t rest = g.ow - ox; rest > 0) {
    float t[16] = {}, b[16] = {}, mm[8] = {}, gg[8] = {}, gt[16], gb[16];
    const size_t pair = sizeof(float) * 2 * rest, one = sizeof(float) * rest;
    std::memcpy(t, x + r0 + 2 * ox, pair);
    std::memcpy(b, x + r1 + 2 * ox, pair);
    std::memcpy(mm, m + ox, one);
    std::memcpy(gg, gr + ox, one);
    max_2x2_backward_block(t, b, mm, gg, gt, gb);
    std::memcpy(gx + r0 + 2 * ox, gt, pair);
    std::memcpy(gx + r1 + 2 * ox, gb, pair);
  }
  for (int64_t c = 2 * g.ow; c < g.w; ++c) // an odd last column: no window
    gx[r0 + c] = gx[r1 + c] = 0.0f;
}

template <typename T>
void max_pool_planes(const T *x, T *y, const Patch &g, int64_t planes) {
  const int64_t plane = g.h * g.w, L = g.oh * g.ow;
  parallel_for(planes,
               std::max<int64_t>(1, kGrainCheap / (g.kh * g.kw * L + 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t p = p0; p < p1; ++p) {
                   const T *src = x + p * plane;
                   T *out = y + p * L;
                   if constexpr (std::is_same_v<T, float>)
                     if (pool_2x2(g)) {
                       for (int64_t oy = 0; oy < g.oh; ++oy)
                         max_pool_2x2_row(src, out, g, oy);
                       continue;
                     }
                   std::fill(out, out + L, -std::numeric_limits<T>::infinity());
                   for_each_tap(g, [&](int64_t, int64_t o, int64_t s,
                                       int64_t rows, int64_t offset, Span xs) {
                     max_rows(out + o, src + s, rows, g.ow, g.sh * g.w, g.sw,
                              offset, xs);
                   });
                 }
               });
}

template <typename T>
void max_pool_backward_planes(const T *gy, const T *x, const T *y, T *gx,
                              const Patch &g, int64_t planes) {
  const int64_t plane = g.h * g.w, L = g.oh * g.ow;
  parallel_for(
      planes, std::max<int64_t>(1, kGrainCheap / (2 * g.kh * g.kw * L + 1)),
      [&](int64_t p0, int64_t p1) {
        std::vector<T> share(static_cast<size_t>(L));
        for (int64_t p = p0; p < p1; ++p) {
          const T *src = x + p * plane, *yp = y + p * L, *gp = gy + p * L;
          T *dst = gx + p * plane;
          if constexpr (std::is_same_v<T, float>)
            if (pool_2x2(g)) {
              for (int64_t oy = 0; oy < g.oh; ++oy)
                max_pool_2x2_backward_row(gp, src, yp, dst, g, oy);
              // an odd last row: no window
              std::fill(dst + 2 * g.oh * g.w, dst + plane, T(0));
              continue;
            }
          std::fill(share.begin(), share.end(), T(0));
          for_each_tap(g, [&](int64_t, int64_t o, int64_t s, int64_t rows,
                              int64_t offset, Span xs) {
            count_rows(share.data() + o, src + s, yp + o, rows, g.ow,
                       g.sh * g.w, g.sw, offset, xs);
          });
          for (int64_t l = 0; l < L; ++l) // none in a window wholly on padding
            share[l] = gp[l] / std::max(share[l], T(1));
          std::fill(dst, dst + plane, T(0));
          for_each_tap(g, [&](int64_t, int64_t o, int64_t s, int64_t rows,
                              int64_t offset, Span xs) {
            share_rows(dst + s, src + s, yp + o, share.data() + o, rows, g.ow,
                       g.sh * g.w, g.sw, offset, xs);
          });
        }
      });
}

void max_pool2d(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  const Patch g = pool_geometry(call, x, y);
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool_planes(static_cast<const T *>(x.data), static_cast<T *>(y.data), g,
                    x.shape[0] * x.shape[1]);
  });
}

// The backward kernels' checks: inputs g, x, y and output gx, x and y
// checked as the forward kernel does, g like y and gx like x.
Patch pool_backward_geometry(const devrt_kernel_call &call,
                             bool channels_last) {
  expect_arity(call, 3, 1);
  const devrt_view &gy = call.inputs[0], &x = call.inputs[1],
                   &y = call.inputs[2], &gx = call.outputs[0];
  const Patch g = pool_geometry(call, x, y, channels_last);
  expect_dtype(gy, x.dtype, "g");
  expect_dtype(gx, x.dtype, "gx");
  check_contiguous(gy, "g");
  check_contiguous(gx, "gx");
  for (int d = 0; d < 4; ++d)
    if (gy.shape[d] != y.shape[d] || gx.shape[d] != x.shape[d])
      fail(DEVRT_ERROR_RUNTIME, "g must match y and gx must match x");
  return g;
}

void max_pool2d_backward(const devrt_kernel_call &call) {
  const Patch g = pool_backward_geometry(call, false);
  const devrt_view &gy = call.inputs[0], &x = call.inputs[1],
                   &y = call.inputs[2], &gx = call.outputs[0];
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool_backward_planes(
        static_cast<const T *>(gy.data), static_cast<const T *>(x.data),
        static_cast<const T *>(y.data), static_cast<T *>(gx.data), g,
        x.shape[0] * x.shape[1]);
  });
}

// ---- max pooling, channels last ------------------------------------------
// x (N, H, W, C) -> y (N, oh, ow, C): each output position's C maxima are
// one vector over its taps' adjacent channels. The same results and
// gradients as the planar kernels (ties share, a NaN tap wins).

// The in-image taps of output (oy, ox): rows [y0, y1) and columns [x0, x1)
// of the window, as tap indices.
struct Taps {
  int64_t y0, y1, x0, x1;
};
inline Taps window_taps(const Patch &g, int64_t oy, int64_t ox) {
  auto range = [](int64_t start, int64_t k, int64_t d, int64_t extent) {
    // taps t in [0, k) with 0 <= start + t * d < extent
    int64_t lo = start >= 0 ? 0 : (-start + d - 1) / d;
    int64_t hi = extent - start <= 0 ? 0 : (extent - start + d - 1) / d;
    return std::pair<int64_t, int64_t>{std::min(lo, k), std::min(hi, k)};
  };
  auto [y0, y1] = range(oy * g.sh - g.ph, g.kh, g.dh, g.h);
  auto [x0, x1] = range(ox * g.sw - g.pw, g.kw, g.dw, g.w);
  return {y0, std::max(y0, y1), x0, std::max(x0, x1)};
}

// f(tap pointer offset, tap index i * kw + j) for each in-image tap (i, j)
// of output (oy, ox) of image n, the offset being the tap's (n, iy, ix, 0)
// element.
template <typename F>
inline void for_each_indexed_nhwc_tap(const Patch &g, int64_t c, int64_t n,
                                      int64_t oy, int64_t ox, F &&f) {
  const Taps t = window_taps(g, oy, ox);
  for (int64_t i = t.y0; i < t.y1; ++i) {
    const int64_t iy = oy * g.sh - g.ph + i * g.dh;
    for (int64_t j = t.x0; j < t.x1; ++j) {
      const int64_t ix = ox * g.sw - g.pw + j * g.dw;
      f(((n * g.h + iy) * g.w + ix) * c, static_cast<int>(i * g.kw + j));
    }
  }
}

// f(tap pointer offset) for each in-image tap of output (oy, ox) of image n.
template <typename F>
inline void for_each_nhwc_tap(const Patch &g, int64_t c, int64_t n, int64_t oy,
                              int64_t ox, F &&f) {
  for_each_indexed_nhwc_tap(g, c, n, oy, ox, [&](int64_t at, int) { f(at); });
}

// Note: each output row (image r / oh, row r % oh) is one call of a
// function compiled per instruction set, its loops over channels inlined
// and vectorised; a call per tap and window of C = 32 channels (two
// vectors) cost more than the arithmetic.
template <typename T>
DEVRT_CPU_CLONES void max_pool_nhwc_row(const T *__restrict x, T *__restrict y,
                                        const Patch &g, int64_t r, int64_t c) {
  const int64_t img = r / g.oh, oy = r % g.oh;
  for (int64_t ox = 0; ox < g.ow; ++ox) {
    T *__restrict out = y + (r * g.ow + ox) * c;
    for (int64_t k = 0; k < c; ++k)
      out[k] = -std::numeric_limits<T>::infinity();
    for_each_nhwc_tap(g, c, img, oy, ox, [&](int64_t at) {
      const T *__restrict src = x + at;
      for (int64_t k = 0; k < c; ++k)
        out[k] = nan_extreme<true>(out[k], src[k]);
    });
  }
}

template <typename T>
void max_pool_nhwc(const T *x, T *y, const Patch &g, int64_t n, int64_t c) {
  parallel_for(n * g.oh,
               std::max<int64_t>(1, kGrainCheap / (g.kh * g.kw * g.ow * c + 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r)
                   max_pool_nhwc_row(x, y, g, r, c);
               });
}

// Which of `extent` input positions some window's tap reads, along one
// dimension (windows at o * stride - pad, taps i * dil, i < k).
std::vector<char> read_by_windows(int64_t extent, int64_t outs, int64_t k,
                                  int64_t stride, int64_t pad, int64_t dil) {
  std::vector<char> read(static_cast<size_t>(extent), 0);
  for (int64_t o = 0; o < outs; ++o)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t at = o * stride - pad + i * dil;
      if (at >= 0 && at < extent)
        read[static_cast<size_t>(at)] = 1;
    }
  return read;
}

// One output row's gradient (see max_pool_nhwc_row): each window's
// gradient shared among its maximal taps, written into gx where windows
// are disjoint, added where they may overlap. share holds c values.
template <typename T>
DEVRT_CPU_CLONES void
max_pool_nhwc_backward_row(const T *__restrict gy, const T *__restrict x,
                           const T *__restrict y, T *__restrict gx,
                           const Patch &g, int64_t r, int64_t c, bool disjoint,
                           T *__restrict share) {
  const int64_t img = r / g.oh, oy = r % g.oh;
  for (int64_t ox = 0; ox < g.ow; ++ox) {
    const int64_t o = (r * g.ow + ox) * c;
    for (int64_t k = 0; k < c; ++k)
      share[k] = T(0);
    for_each_nhwc_tap(g, c, img, oy, ox, [&](int64_t at) {
      for (int64_t k = 0; k < c; ++k)
        share[k] += keep_if(maximal(x[at + k], y[o + k]), T(1));
    });
    for (int64_t k = 0; k < c; ++k) // none where wholly on padding
      share[k] = gy[o + k] / std::max(share[k], T(1));
    for_each_nhwc_tap(g, c, img, oy, ox, [&](int64_t at) {
      if (disjoint)
        for (int64_t k = 0; k < c; ++k)
          gx[at + k] = keep_if(maximal(x[at + k], y[o + k]), share[k]);
      else
        for (int64_t k = 0; k < c; ++k)
          gx[at + k] += keep_if(maximal(x[at + k], y[o + k]), share[k]);
    });
  }
}

// f(o, at) for each window of output row r of a channels-last 2x2 pooling
// at stride 2 (pool_2x2): o the window's output offset, at its four taps'
// (0, 0), (0, 1), (1, 0) and (1, 1).
template <typename F>
[[gnu::always_inline]] inline void
for_each_2x2_window(const Patch &g, int64_t r, int64_t c, F &&f) {
  const int64_t img = r / g.oh, oy = r % g.oh;
  const int64_t row = (img * g.h + 2 * oy) * g.w * c, below = g.w * c;
  for (int64_t ox = 0; ox < g.ow; ++ox) {
    const int64_t at[4] = {row + 2 * ox * c, row + (2 * ox + 1) * c,
                           row + below + 2 * ox * c,
                           row + below + (2 * ox + 1) * c};
    f((r * g.ow + ox) * c, at);
  }
}

// Note: channels-last 2x2 windows at stride 2 without padding (pool_2x2)
// over a multiple of 8 channels are one pass per output row, as the
// channels-first ones: a window's four taps are four runs of C adjacent
// channels, taken eight channels at a time with the same tie and NaN rules
// (the general row above loops over the taps twice through a share buffer,
// and took twice as long on Deep MNIST's first pooling).
DEVRT_CPU_CLONES void max_pool_nhwc_2x2_backward_row(const float *__restrict gy,
                                                     const float *__restrict x,
                                                     const float *__restrict y,
                                                     float *__restrict gx,
                                                     const Patch &g, int64_t r,
                                                     int64_t c) {
  const Floats8 zero = {}, one = zero + 1.0f;
  for_each_2x2_window(g, r, c, [&](int64_t o, const int64_t (&at)[4]) {
    for (int64_t k = 0; k < c; k += 8) {
      const Floats8 mx = load8(y + o + k);
      Mask8 hit[4];
      Floats8 count = zero;
      for (int t = 0; t < 4; ++t) {
        hit[t] = maximal8(load8(x + at[t] + k), mx);
        count += hit[t] ? one : zero;
      }
      const Floats8 share = load8(gy + o + k) / (count >= one ? count : one);
      for (int t = 0; t < 4; ++t)
        store8(gx + at[t] + k, hit[t] ? share : zero);
    }
  });
}

// Windows overlap across output rows, so each task owns whole images.
// Note: where windows cannot overlap (a stride at least the window's span,
// as in 2x2 pooling at stride 2) each element of gx is written once,
// by its window or as 0 when no window reads it, instead of being zeroed
// and then summed into. row(r, disjoint, share) writes output row r's
// windows (share: c values of scratch).
template <typename T, typename Row>
void nhwc_pool_backward(T *gx, const Patch &g, int64_t n, int64_t c,
                        Row &&row) {
  const int64_t image = g.h * g.w * c, outs = g.oh * g.ow;
  const bool disjoint =
      g.sh >= (g.kh - 1) * g.dh + 1 && g.sw >= (g.kw - 1) * g.dw + 1;
  const std::vector<char> rows_read =
      read_by_windows(g.h, g.oh, g.kh, g.sh, g.ph, g.dh);
  const std::vector<char> cols_read =
      read_by_windows(g.w, g.ow, g.kw, g.sw, g.pw, g.dw);
  parallel_for(
      n, std::max<int64_t>(1, kGrainCheap / (2 * g.kh * g.kw * outs * c + 1)),
      [&](int64_t n0, int64_t n1) {
        std::vector<T> share(static_cast<size_t>(c));
        for (int64_t img = n0; img < n1; ++img) {
          if (!disjoint) {
            std::fill(gx + img * image, gx + (img + 1) * image, T(0));
          } else { // zero what no window reads; the windows write the rest
            for (int64_t iy = 0; iy < g.h; ++iy)
              for (int64_t ix = 0; ix < g.w; ++ix)
                if (!rows_read[static_cast<size_t>(iy)] ||
                    !cols_read[static_cast<size_t>(ix)]) {
                  T *at = gx + img * image + (iy * g.w + ix) * c;
                  std::fill(at, at + c, T(0));
                }
          }
          for (int64_t oy = 0; oy < g.oh; ++oy)
            row(img * g.oh + oy, disjoint, share.data());
        }
      });
}

template <typename T>
void max_pool_nhwc_backward(const T *gy, const T *x, const T *y, T *gx,
                            const Patch &g, int64_t n, int64_t c) {
  nhwc_pool_backward(gx, g, n, c, [&](int64_t r, bool disjoint, T *share) {
    if constexpr (std::is_same_v<T, float>)
      if (pool_2x2(g) && c % 8 == 0) {
        max_pool_nhwc_2x2_backward_row(gy, x, y, gx, g, r, c);
        return;
      }
    max_pool_nhwc_backward_row(gy, x, y, gx, g, r, c, disjoint, share);
  });
}

// ---- max pooling, channels last, with the maximal taps ---------------------
// max_pool2d_nhwc_taps writes beside y a byte per output element whose bit
// i * kw + j is set where tap (i, j) of the window is maximal (maximal's
// rule: equal to y, or NaN), none where relu is asked and y <= 0 (relu's
// gradient after the pooling: only y <= 0 stops it). The backward kernel
// spreads g from those bits alone, each window's g shared evenly among its
// set taps: the gradient of max_pool_nhwc_backward without reading x and y
// again.

typedef uint8_t Bytes8 __attribute__((vector_size(8)));
typedef uint8_t Bytes32 __attribute__((vector_size(32)));

// Output row r's taps, its maxima already written into y by
// max_pool_nhwc_row (with relu: then relu applied to them, y < 0 ? 0 : y,
// so that NaN and -0.0 stay).
template <typename T>
DEVRT_CPU_CLONES void
max_pool_nhwc_taps_row(const T *__restrict x, T *__restrict y,
                       uint8_t *__restrict taps, const Patch &g, int64_t r,
                       int64_t c, bool relu) {
  const int64_t img = r / g.oh, oy = r % g.oh;
  for (int64_t ox = 0; ox < g.ow; ++ox) {
    const int64_t o = (r * g.ow + ox) * c;
    uint8_t *__restrict bits = taps + o;
    T *__restrict m = y + o;
    for (int64_t k = 0; k < c; ++k)
      bits[k] = 0;
    for_each_indexed_nhwc_tap(g, c, img, oy, ox, [&](int64_t at, int t) {
      for (int64_t k = 0; k < c; ++k)
        bits[k] |= static_cast<uint8_t>(maximal(x[at + k], m[k]) << t);
    });
    if (relu)
      for (int64_t k = 0; k < c; ++k) {
        bits[k] = m[k] <= T(0) ? uint8_t(0) : bits[k];
        m[k] = m[k] < T(0) ? T(0) : m[k];
      }
  }
}

// max_pool_nhwc_row and max_pool_nhwc_taps_row in one pass over a float
// row of 2x2 windows at stride 2 (pool_2x2), eight channels at a time:
// the maximum taken tap after tap as nan_extreme takes it (the maximal taps
// found against it before relu).
DEVRT_CPU_CLONES void max_pool_nhwc_2x2_taps_row(const float *__restrict x,
                                                 float *__restrict y,
                                                 uint8_t *__restrict taps,
                                                 const Patch &g, int64_t r,
                                                 int64_t c, bool relu) {
  const Floats8 zero = {};
  for_each_2x2_window(g, r, c, [&](int64_t o, const int64_t (&at)[4]) {
    for (int64_t k = 0; k < c; k += 8) {
      Floats8 v[4];
      for (int t = 0; t < 4; ++t)
        v[t] = load8(x + at[t] + k);
      const Floats8 mx = nan_max8(nan_max8(nan_max8(v[0], v[1]), v[2]), v[3]);
      store8(y + o + k, relu ? (mx < zero ? zero : mx) : mx);
      Mask8 bits = {};
      for (int t = 0; t < 4; ++t)
        bits |= maximal8(v[t], mx) & (1 << t);
      if (relu)
        bits &= ~(mx <= zero);
      Bytes32 lanes; // the low byte of each lane
      std::memcpy(&lanes, &bits, sizeof lanes);
      const Bytes8 b =
          __builtin_shufflevector(lanes, lanes, 0, 4, 8, 12, 16, 20, 24, 28);
      std::memcpy(taps + o + k, &b, sizeof b);
    }
  });
}

// Output row r of max_pool2d_nhwc_taps: one pass for float 2x2 windows at
// stride 2 over whole vectors of channels, else the maxima and then their
// taps.
template <typename T>
void max_pool_nhwc_taps_rows(const T *x, T *y, uint8_t *taps, const Patch &g,
                             int64_t r, int64_t c, bool relu) {
  if constexpr (std::is_same_v<T, float>)
    if (pool_2x2(g) && c % 8 == 0) {
      max_pool_nhwc_2x2_taps_row(x, y, taps, g, r, c, relu);
      return;
    }
  max_pool_nhwc_row(x, y, g, r, c);
  max_pool_nhwc_taps_row(x, y, taps, g, r, c, relu);
}

// One output row's gradient from its taps (see max_pool_nhwc_backward_row).
template <typename T>
DEVRT_CPU_CLONES void max_pool_nhwc_taps_backward_row(
    const T *__restrict gy, const uint8_t *__restrict taps, T *__restrict gx,
    const Patch &g, int64_t r, int64_t c, bool disjoint, T *__restrict share) {
  const int64_t img = r / g.oh, oy = r % g.oh;
  for (int64_t ox = 0; ox < g.ow; ++ox) {
    const int64_t o = (r * g.ow + ox) * c;
    const uint8_t *__restrict bits = taps + o;
    for (int64_t k = 0; k < c; ++k) // none where wholly on padding
      share[k] = gy[o + k] /
                 std::max(static_cast<T>(__builtin_popcount(bits[k])), T(1));
    for_each_indexed_nhwc_tap(g, c, img, oy, ox, [&](int64_t at, int t) {
      if (disjoint)
        for (int64_t k = 0; k < c; ++k)
          gx[at + k] = keep_if(((bits[k] >> t) & 1) != 0, share[k]);
      else
        for (int64_t k = 0; k < c; ++k)
          gx[at + k] += keep_if(((bits[k] >> t) & 1) != 0, share[k]);
    });
  }
}

// The same for a float row of 2x2 windows at stride 2, eight channels at a
// time (as max_pool_nhwc_2x2_backward_row).
DEVRT_CPU_CLONES void max_pool_nhwc_2x2_taps_backward_row(
    const float *__restrict gy, const uint8_t *__restrict taps,
    float *__restrict gx, const Patch &g, int64_t r, int64_t c) {
  const Floats8 zero = {}, one = zero + 1.0f;
  for_each_2x2_window(g, r, c, [&](int64_t o, const int64_t (&at)[4]) {
    for (int64_t k = 0; k < c; k += 8) {
      // Channel i's taps are byte i % 4 of the low (i < 4) or high word.
      uint64_t w;
      std::memcpy(&w, taps + o + k, sizeof w);
      const int32_t lo = static_cast<int32_t>(w & 0xffffffffu),
                    hi = static_cast<int32_t>(w >> 32);
      const Mask8 words = {lo, lo, lo, lo, hi, hi, hi, hi};
      const Mask8 byte0 = {1, 1 << 8, 1 << 16, 1 << 24,
                           1, 1 << 8, 1 << 16, 1 << 24};
      Mask8 hit[4];
      Floats8 count = zero;
      for (int t = 0; t < 4; ++t) {
        hit[t] = (words & (byte0 << t)) != 0;
        count += hit[t] ? one : zero;
      }
      const Floats8 share = load8(gy + o + k) / (count >= one ? count : one);
      for (int t = 0; t < 4; ++t)
        store8(gx + at[t] + k, hit[t] ? share : zero);
    }
  });
}

// The taps' checks: taps_of's, and windows of at most 8 taps (a bit each).
void check_taps(const devrt_view &taps, const devrt_view &y, const Patch &g) {
  taps_of(taps, y);
  if (g.kh * g.kw > 8)
    fail(DEVRT_ERROR_RUNTIME, "taps hold windows of at most 8 taps, got " +
                                  std::to_string(g.kh) + "x" +
                                  std::to_string(g.kw));
}

void max_pool2d_nhwc_taps(const devrt_kernel_call &call) {
  expect_arity(call, 1, 2);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0],
                   &taps = call.outputs[1];
  const Patch g = pool_geometry(call, x, y, true);
  check_taps(taps, y, g);
  const bool relu = attr(call, 4, DEVRT_ATTR_BOOL).i != 0;
  const int64_t c = x.shape[3];
  uint8_t *bits = static_cast<uint8_t *>(taps.data);
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *src = static_cast<const T *>(x.data);
    T *out = static_cast<T *>(y.data);
    parallel_for(
        x.shape[0] * g.oh,
        std::max<int64_t>(1, kGrainCheap / (2 * g.kh * g.kw * g.ow * c + 1)),
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r)
            max_pool_nhwc_taps_rows(src, out, bits, g, r, c, relu);
        });
  });
}

void max_pool2d_nhwc_taps_backward(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &gy = call.inputs[0], &taps = call.inputs[1],
                   &gx = call.outputs[0];
  const Patch g = pool_geometry(call, gx, gy, true);
  check_taps(taps, gy, g);
  const int64_t c = gx.shape[3];
  const uint8_t *bits = static_cast<const uint8_t *>(taps.data);
  Floating::dispatch(gx.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *grad = static_cast<const T *>(gy.data);
    T *out = static_cast<T *>(gx.data);
    nhwc_pool_backward(
        out, g, gx.shape[0], c, [&](int64_t r, bool disjoint, T *share) {
          if constexpr (std::is_same_v<T, float>)
            if (pool_2x2(g) && c % 8 == 0) {
              max_pool_nhwc_2x2_taps_backward_row(grad, bits, out, g, r, c);
              return;
            }
          max_pool_nhwc_taps_backward_row(grad, bits, out, g, r, c, disjoint,
                                          share);
        });
  });
}

void max_pool2d_nhwc(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  const Patch g = pool_geometry(call, x, y, true);
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool_nhwc(static_cast<const T *>(x.data), static_cast<T *>(y.data), g,
                  x.shape[0], x.shape[3]);
  });
}

void max_pool2d_nhwc_backward(const devrt_kernel_call &call) {
  const Patch g = pool_backward_geometry(call, true);
  const devrt_view &gy = call.inputs[0], &x = call.inputs[1],
                   &y = call.inputs[2], &gx = call.outputs[0];
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool_nhwc_backward(
        static_cast<const T *>(gy.data), static_cast<const T *>(x.data),
        static_cast<const T *>(y.data), static_cast<T *>(gx.data), g,
        x.shape[0], x.shape[3]);
  });
}

} // namespace

void max_pool_2x2_relu_taps(const float *x, int64_t rows, int64_t cols,
                            int64_t c, float *y, uint8_t *taps) {
  const Patch g{2, 2, 2, 2, 0, 0, 1, 1, rows, cols, rows / 2, cols / 2};
  for (int64_t r = 0; r < g.oh; ++r)
    max_pool_nhwc_taps_rows(x, y, taps, g, r, c, true);
}

uint8_t *taps_of(const devrt_view &taps, const devrt_view &y) {
  expect_dtype(taps, DEVRT_UINT8, "taps");
  check_contiguous(taps, "taps");
  if (taps.ndim != 4 || y.ndim != 4 ||
      !std::equal(taps.shape, taps.shape + 4, y.shape))
    fail(DEVRT_ERROR_RUNTIME, "taps must be of y's shape");
  return static_cast<uint8_t *>(taps.data);
}

void register_conv_kernels() {
  register_kernel("im2col", Floating::mask, kernel_entry<im2col>);
  register_kernel("col2im", Floating::mask, kernel_entry<col2im>);
  register_kernel("max_pool2d", Floating::mask, kernel_entry<max_pool2d>);
  register_kernel("max_pool2d_backward", Floating::mask,
                  kernel_entry<max_pool2d_backward>);
  register_kernel("max_pool2d_nhwc", Floating::mask,
                  kernel_entry<max_pool2d_nhwc>);
  register_kernel("max_pool2d_nhwc_backward", Floating::mask,
                  kernel_entry<max_pool2d_nhwc_backward>);
  register_kernel("max_pool2d_nhwc_taps", Floating::mask,
                  kernel_entry<max_pool2d_nhwc_taps>);
  register_kernel("max_pool2d_nhwc_taps_backward", Floating::mask,
                  kernel_entry<max_pool2d_nhwc_taps_backward>);
}

} // namespace devrt_cpu
