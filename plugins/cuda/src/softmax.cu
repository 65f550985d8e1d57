// softmax and log_softmax along one axis: one block per row, three passes
// (the max, the sum of exponentials, the output), in double for float64 and
// float otherwise.
#include "kernels.h"
#include "reduce.cuh"

#include <limits>

namespace devrt_cuda {
namespace {

struct MaxNan {
  template <typename A> __device__ A operator()(A a, A b) const {
    return (a >= b || a != a) ? a : b;
  }
};
struct Plus {
  template <typename A> __device__ A operator()(A a, A b) const {
    return a + b;
  }
};

__device__ inline float exp_of(float v) { return expf(v); }
__device__ inline double exp_of(double v) { return exp(v); }
__device__ inline float log_of(float v) { return logf(v); }
__device__ inline double log_of(double v) { return log(v); }

// Rows: the outer layout gives (y, x) offsets of element 0 of a row, whose
// elements lie `ys`, `xs` apart.
template <typename T, bool Log>
__global__ void softmax_kernel(const T *x, T *y, Layout<2> rows, int64_t n,
                               int64_t xs, int64_t ys) {
  for (int64_t j = blockIdx.x; j < rows.numel; j += gridDim.x) {
    int64_t o[2];
    rows.offsets(j, o);
    const T *xr = x + o[1];
    T *yr = y + o[0];
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      m = MaxNan{}(m, xr[i * xs]);
    m = block_broadcast(
        block_reduce(m, -std::numeric_limits<T>::infinity(), MaxNan{}));
    // A row of -inf has no finite max: subtracting it would give NaN.
    const T shift = m == -std::numeric_limits<T>::infinity() ? T(0) : m;
    T s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      s += exp_of(xr[i * xs] - shift);
    s = block_broadcast(block_reduce(s, T(0), Plus{}));
    if (Log) {
      const T lse = log_of(s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        yr[i * ys] = xr[i * xs] - shift - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        yr[i * ys] = exp_of(xr[i * xs] - shift) * inv;
    }
  }
}

template <bool Log> void softmax(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  bool flags[64] = {};
  if (x.ndim > 64)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED, "more than 64 dimensions");
  int64_t n = 1, xs = 1, ys = 1;
  if (x.ndim > 0) {
    const int64_t axis = normalize_axis(attr_int(call, 0), x.ndim);
    flags[axis] = true;
    n = x.shape[axis];
    xs = x.strides[axis];
    ys = y.strides[axis];
  }
  // The outer layout of a reduction over the axis; y has the full shape
  // here, so its strides index the rows as x's do.
  const ReduceLayout l = make_reduce_layout(x, y, flags);
  if (l.outer.numel == 0 || n == 0)
    return;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T, Log><<<reduce_blocks(l.outer.numel), reduce_threads(n), 0,
                             stream_of(call)>>>(static_cast<const T *>(x.data),
                                                static_cast<T *>(y.data),
                                                l.outer, n, xs, ys);
    check_launch("launching softmax");
  });
}

} // namespace

void register_softmax_kernels() {
  register_kernel("softmax", Floating::mask, kernel_entry<softmax<false>>);
  register_kernel("log_softmax", Floating::mask, kernel_entry<softmax<true>>);
}

} // namespace devrt_cuda
