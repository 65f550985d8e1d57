// softmax and log_softmax along one axis, stabilised by the axis maximum.
#include "kernels.h"
#include "strided.h"

#include <cmath>
#include <limits>
#include <memory>

namespace devrt_cpu {
namespace {

constexpr int64_t kColumns = 256; // elements handled together

// Sum of x[0, n) for n <= kColumns, in lanes so it vectorises.
template <typename T> inline double block_sum(const T *x, int64_t n) {
  T acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l)
      acc[l] += x[i + l];
  double s = 0;
  for (; i < n; ++i)
    s += x[i];
  for (int l = 0; l < 16; ++l)
    s += acc[l];
  return s;
}

// One softmax over n contiguous elements (src may equal dst).
template <bool Log, typename T>
DEVRT_CPU_CLONES void softmax_row(const T *src, T *dst, int64_t n) {
  const T m = nan_extreme_of<true>(src, n, -std::numeric_limits<T>::infinity());
  T buf[kColumns];
  double sum = 0;
  for (int64_t b = 0; b < n; b += kColumns) {
    const int64_t w = std::min(kColumns, n - b);
    T *e = Log ? buf : dst + b; // log_softmax only needs the sum
    for (int64_t j = 0; j < w; ++j)
      e[j] = exp_any(src[b + j] - m);
    sum += block_sum(e, w);
  }
  // (x - max) - log(sum): x - (max + log(sum)) would round at max's scale.
  if (Log) {
    const T lse = static_cast<T>(std::log(sum));
    for (int64_t i = 0; i < n; ++i)
      dst[i] = (src[i] - m) - lse;
  } else {
    const T scale = static_cast<T>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i)
      dst[i] *= scale;
  }
}

// Softmax down the columns of an n x w block whose rows are `ld` apart: the
// per-column passes run along rows, so they stay contiguous.
template <bool Log, typename T>
DEVRT_CPU_CLONES void softmax_columns(const T *src, T *dst, int64_t n,
                                      int64_t w, int64_t ld) {
  T m[kColumns];
  double sum[kColumns];
  for (int64_t j = 0; j < w; ++j) {
    m[j] = -std::numeric_limits<T>::infinity();
    sum[j] = 0;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j)
      m[j] = nan_extreme<true>(m[j], src[i * ld + j]);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j) {
      const T e = exp_any(src[i * ld + j] - m[j]);
      if (!Log)
        dst[i * ld + j] = e;
      sum[j] += e;
    }
  T f[kColumns];
  for (int64_t j = 0; j < w; ++j)
    f[j] =
        Log ? static_cast<T>(std::log(sum[j])) : static_cast<T>(1.0 / sum[j]);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j)
      dst[i * ld + j] =
          Log ? (src[i * ld + j] - m[j]) - f[j] : dst[i * ld + j] * f[j];
}

template <bool Log> void softmax(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  const int64_t axis = normalize_axis(attr_int(call, 0), x.ndim);
  if (!is_contiguous(y))
    fail(DEVRT_ERROR_RUNTIME, "the output must be contiguous");
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    int64_t outer = 1, n = x.ndim == 0 ? 1 : x.shape[axis], inner = 1;
    for (int d = 0; d < x.ndim; ++d) {
      if (d < axis)
        outer *= x.shape[d];
      else if (d > axis)
        inner *= x.shape[d];
    }
    if (outer * n * inner == 0)
      return;
    T *dst = static_cast<T *>(y.data);
    const T *src = static_cast<const T *>(x.data);
    if (!is_contiguous(x)) { // gather x into y, then work in place
      map<T, T>(kGrainCheap, [](T v) { return v; }, y, x);
      src = dst;
    }
    if (inner == 1) {
      parallel_for(outer, std::max<int64_t>(1, kGrainMedium / n),
                   [&](int64_t b, int64_t e) {
                     for (int64_t r = b; r < e; ++r)
                       softmax_row<Log>(src + r * n, dst + r * n, n);
                   });
      return;
    }
    const int64_t blocks = (inner + kColumns - 1) / kColumns;
    parallel_for(outer * blocks,
                 std::max<int64_t>(1, kGrainMedium / (n * kColumns)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t item = b; item < e; ++item) {
                     const int64_t o = item / blocks;
                     const int64_t c = (item % blocks) * kColumns;
                     const int64_t off = o * n * inner + c;
                     softmax_columns<Log>(src + off, dst + off, n,
                                          std::min(kColumns, inner - c), inner);
                   }
                 });
  });
}

} // namespace

void register_softmax_kernels() {
  register_kernel("softmax", Floating::mask, kernel_entry<softmax<false>>);
  register_kernel("log_softmax", Floating::mask, kernel_entry<softmax<true>>);
}

} // namespace devrt_cpu
