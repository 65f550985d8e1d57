// The patch ops convolutions are built from (im2col, col2im) and max
// pooling both ways: one thread per output element, each gathering what it
// needs, so no two threads write one element.
#include "kernel_util.cuh"
#include "kernels.h"

#include <limits>

namespace devrt_cuda {
namespace {

// kernel, stride, padding, dilation (INTS of two each) and the grid sizes.
struct Patch {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t h, w, oh, ow;
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
  if (g.sh <= 0 || g.sw <= 0 || g.dh <= 0 || g.dw <= 0 || g.kh <= 0 ||
      g.kw <= 0)
    fail(DEVRT_ERROR_RUNTIME, "kernel, stride and dilation must be positive");
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

void check_image(const devrt_view &x, const char *what) {
  if (x.ndim != 4)
    fail(DEVRT_ERROR_RUNTIME, std::string(what) + " must be (N, C, H, W)");
  check_contiguous(x, what);
}

// The columns (N, C*kh*kw, L): unit stride along L, any other strides.
struct Cols {
  int64_t sn, sk;
};

Cols column_layout(const devrt_view &cols, const devrt_view &x,
                   const Patch &g) {
  if (cols.ndim != 3 || (cols.shape[2] > 1 && cols.strides[2] != 1))
    fail(DEVRT_ERROR_RUNTIME, "columns must be (N, K, L) with unit L stride");
  if (cols.shape[0] != x.shape[0] ||
      cols.shape[1] != x.shape[1] * g.kh * g.kw || cols.shape[2] != g.oh * g.ow)
    fail(DEVRT_ERROR_RUNTIME, "the columns' shape does not match the image");
  return {cols.strides[0], cols.strides[1]};
}

template <typename T>
__global__ void im2col_kernel(const T *x, T *cols, Patch g, Cols c,
                              int64_t channels, int64_t total, T pad) {
  const int64_t L = g.oh * g.ow, taps = g.kh * g.kw;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    // e runs over (n, c, tap, l)
    const int64_t l = e % L, tap = (e / L) % taps;
    const int64_t plane = e / (L * taps); // n * channels + c
    const int64_t i = tap / g.kw, j = tap % g.kw;
    const int64_t oy = l / g.ow, ox = l % g.ow;
    const int64_t iy = oy * g.sh - g.ph + i * g.dh;
    const int64_t ix = ox * g.sw - g.pw + j * g.dw;
    const bool in = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
    const int64_t n = plane / channels, ch = plane % channels;
    cols[n * c.sn + (ch * taps + tap) * c.sk + l] =
        in ? x[plane * g.h * g.w + iy * g.w + ix] : pad;
  }
}

void im2col(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &cols = call.outputs[0];
  expect_dtype(cols, x.dtype, "cols");
  check_image(x, "x");
  const Patch g = read_patch(call, 0, x.shape[2], x.shape[3]);
  const Cols c = column_layout(cols, x, g);
  const double pad = attr(call, 4, DEVRT_ATTR_FLOAT).f;
  const int64_t total = numel(cols);
  if (total == 0)
    return;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<T><<<blocks_for(total), kThreads, 0, stream_of(call)>>>(
        static_cast<const T *>(x.data), static_cast<T *>(cols.data), g, c,
        x.shape[1], total, static_cast<T>(pad));
    check_launch("launching im2col");
  });
}

// The output positions o in [0, count) whose tap o*stride + offset lands on
// coordinate v: those with (v - offset) divisible by stride.
__device__ inline bool tap_position(int64_t v, int64_t offset, int64_t stride,
                                    int64_t count, int64_t *o) {
  const int64_t t = v - offset;
  if (t < 0 || t % stride != 0)
    return false;
  *o = t / stride;
  return *o < count;
}

template <typename T>
__global__ void col2im_kernel(const T *cols, T *x, Patch g, Cols c,
                              int64_t channels, int64_t total) {
  const int64_t taps = g.kh * g.kw;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t xw = e % g.w, xh = (e / g.w) % g.h, plane = e / (g.h * g.w);
    const int64_t n = plane / channels, ch = plane % channels;
    acc_t<T> sum = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      int64_t oy;
      if (!tap_position(xh, i * g.dh - g.ph, g.sh, g.oh, &oy))
        continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t ox;
        if (!tap_position(xw, j * g.dw - g.pw, g.sw, g.ow, &ox))
          continue;
        sum +=
            cols[n * c.sn + (ch * taps + i * g.kw + j) * c.sk + oy * g.ow + ox];
      }
    }
    x[e] = sum;
  }
}

void col2im(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &cols = call.inputs[0], &x = call.outputs[0];
  expect_dtype(x, cols.dtype, "x");
  check_image(x, "x");
  const Patch g = read_patch(call, 0, x.shape[2], x.shape[3]);
  const Cols c = column_layout(cols, x, g);
  const int64_t total = numel(x);
  if (total == 0)
    return;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<T><<<blocks_for(total), kThreads, 0, stream_of(call)>>>(
        static_cast<const T *>(cols.data), static_cast<T *>(x.data), g, c,
        x.shape[1], total);
    check_launch("launching col2im");
  });
}

Patch pool_geometry(const devrt_kernel_call &call, const devrt_view &x,
                    const devrt_view &y) {
  check_image(x, "x");
  check_image(y, "y");
  expect_dtype(y, x.dtype, "y");
  const Patch g = read_patch(call, 0, x.shape[2], x.shape[3]);
  if (y.shape[0] != x.shape[0] || y.shape[1] != x.shape[1] ||
      y.shape[2] != g.oh || y.shape[3] != g.ow)
    fail(DEVRT_ERROR_RUNTIME, "the output's shape does not match the window");
  return g;
}

// The greatest in-image tap of window (oy, ox) of plane p; a NaN wins.
template <typename T>
__device__ T window_max(const T *plane, const Patch &g, int64_t oy,
                        int64_t ox) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t iy = oy * g.sh - g.ph + i * g.dh;
    if (iy < 0 || iy >= g.h)
      continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t ix = ox * g.sw - g.pw + j * g.dw;
      if (ix < 0 || ix >= g.w)
        continue;
      const T v = plane[iy * g.w + ix];
      if (m == m && (v != v || v > m))
        m = v;
    }
  }
  return m;
}

template <typename T>
__global__ void max_pool_kernel(const T *x, T *y, Patch g, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = e % g.ow, oy = (e / g.ow) % g.oh, p = e / (g.oh * g.ow);
    y[e] = window_max(x + p * g.h * g.w, g, oy, ox);
  }
}

void max_pool2d(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  const Patch g = pool_geometry(call, x, y);
  const int64_t total = numel(y);
  if (total == 0)
    return;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    max_pool_kernel<T><<<blocks_for(total), kThreads, 0, stream_of(call)>>>(
        static_cast<const T *>(x.data), static_cast<T *>(y.data), g, total);
    check_launch("launching max_pool2d");
  });
}

// A tap is maximal in its window when it equals the window's maximum m or
// is NaN; each window's gradient is shared evenly among its maximal taps.
template <typename T>
__global__ void max_pool_backward_kernel(const T *gy, const T *x, const T *y,
                                         T *gx, Patch g, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t xw = e % g.w, xh = (e / g.w) % g.h, p = e / (g.h * g.w);
    const T *plane = x + p * g.h * g.w;
    const T *yp = y + p * g.oh * g.ow, *gp = gy + p * g.oh * g.ow;
    const T v = x[e];
    T sum = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      int64_t oy;
      if (!tap_position(xh, i * g.dh - g.ph, g.sh, g.oh, &oy))
        continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t ox;
        if (!tap_position(xw, j * g.dw - g.pw, g.sw, g.ow, &ox))
          continue;
        const T m = yp[oy * g.ow + ox];
        if (!(v == m || v != v))
          continue;
        int64_t count = 0; // the window's maximal in-image taps
        for (int64_t a = 0; a < g.kh; ++a) {
          const int64_t iy = oy * g.sh - g.ph + a * g.dh;
          if (iy < 0 || iy >= g.h)
            continue;
          for (int64_t b = 0; b < g.kw; ++b) {
            const int64_t ix = ox * g.sw - g.pw + b * g.dw;
            if (ix < 0 || ix >= g.w)
              continue;
            const T u = plane[iy * g.w + ix];
            count += (u == m || u != u);
          }
        }
        sum += gp[oy * g.ow + ox] / static_cast<T>(count > 0 ? count : 1);
      }
    }
    gx[e] = sum;
  }
}

void max_pool2d_backward(const devrt_kernel_call &call) {
  expect_arity(call, 3, 1);
  const devrt_view &gy = call.inputs[0], &x = call.inputs[1],
                   &y = call.inputs[2], &gx = call.outputs[0];
  const Patch g = pool_geometry(call, x, y);
  expect_dtype(gy, x.dtype, "g");
  expect_dtype(gx, x.dtype, "gx");
  check_contiguous(gy, "g");
  check_contiguous(gx, "gx");
  for (int d = 0; d < 4; ++d)
    if (gy.shape[d] != y.shape[d] || gx.shape[d] != x.shape[d])
      fail(DEVRT_ERROR_RUNTIME, "g must match y and gx must match x");
  const int64_t total = numel(x);
  if (total == 0)
    return;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    max_pool_backward_kernel<T>
        <<<blocks_for(total), kThreads, 0, stream_of(call)>>>(
            static_cast<const T *>(gy.data), static_cast<const T *>(x.data),
            static_cast<const T *>(y.data), static_cast<T *>(gx.data), g,
            total);
    check_launch("launching max_pool2d_backward");
  });
}

} // namespace

void register_conv_kernels() {
  register_kernel("im2col", Floating::mask, kernel_entry<im2col>);
  register_kernel("col2im", Floating::mask, kernel_entry<col2im>);
  register_kernel("max_pool2d", Floating::mask, kernel_entry<max_pool2d>);
  register_kernel("max_pool2d_backward", Floating::mask,
                  kernel_entry<max_pool2d_backward>);
}

} // namespace devrt_cuda
