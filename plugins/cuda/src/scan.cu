// Along one axis, an output of the input's shape: argsort (the stable sort
// order, by ranks) and cumsum (a block-wide scan per line).
#include "kernels.h"
#include "reduce.cuh"

namespace devrt_cuda {
namespace {

// The lines along `axis`: an outer layout over the other dims (offsets in
// y, then x), n elements each, xs and ys apart.
struct Lines {
  Layout<2> outer;
  int64_t n, xs, ys;
};

Lines lines(const devrt_kernel_call &call, int32_t out_dtype) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, out_dtype, "y");
  if (x.ndim < 1 || y.ndim != x.ndim || x.ndim > 64)
    fail(DEVRT_ERROR_RUNTIME,
         "expected input and output of one rank between 1 and 64");
  for (int d = 0; d < x.ndim; ++d)
    if (x.shape[d] != y.shape[d])
      fail(DEVRT_ERROR_RUNTIME, "the output's shape differs from the input's");
  const int64_t axis = normalize_axis(attr_int(call, 0), x.ndim);
  bool flags[64] = {};
  flags[axis] = true;
  return {make_reduce_layout(x, y, flags).outer, x.shape[axis], x.strides[axis],
          y.strides[axis]};
}

// NaN sorts after every number (before them, descending), as in NumPy; equal
// keys keep their order (the index decides), so every element has a rank.
template <typename T>
__device__ bool before(T a, int64_t ia, T b, int64_t ib, bool descending) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool an = a != a, bn = b != b;
    if (an || bn) {
      if (an && bn)
        return ia < ib;
      return descending ? an : bn;
    }
  }
  if (a == b)
    return ia < ib;
  return descending ? a > b : a < b;
}

constexpr int kTile = 256;

// Block (line, tile of kTile elements): each thread counts the elements that
// sort before its own; that count is where its index goes.
template <typename T>
__global__ void argsort_kernel(const T *x, int64_t *y, Lines l,
                               bool descending) {
  __shared__ T tile[kTile];
  for (int64_t line = blockIdx.y; line < l.outer.numel; line += gridDim.y) {
    int64_t o[2];
    l.outer.offsets(line, o);
    const T *xl = x + o[1];
    const int64_t i = int64_t(blockIdx.x) * kTile + threadIdx.x;
    const T v = i < l.n ? xl[i * l.xs] : T(0);
    int64_t rank = 0;
    for (int64_t start = 0; start < l.n; start += kTile) {
      __syncthreads();
      if (start + threadIdx.x < l.n)
        tile[threadIdx.x] = xl[(start + threadIdx.x) * l.xs];
      __syncthreads();
      const int64_t m = l.n - start < kTile ? l.n - start : kTile;
      if (i < l.n)
        for (int64_t j = 0; j < m; ++j)
          rank += before(tile[j], start + j, v, i, descending);
    }
    if (i < l.n)
      y[o[0] + rank * l.ys] = i;
  }
}

void argsort(const devrt_kernel_call &call) {
  const Lines l = lines(call, DEVRT_INT64);
  const bool descending = attr(call, 1, DEVRT_ATTR_BOOL).i != 0;
  if (l.outer.numel == 0 || l.n == 0)
    return;
  const int64_t tiles = (l.n + kTile - 1) / kTile;
  if (tiles > 2147483647)
    fail(DEVRT_ERROR_VALUE,
         "a line of " + std::to_string(l.n) + " elements is too long to sort");
  const dim3 grid(
      static_cast<unsigned>(tiles),
      static_cast<unsigned>(l.outer.numel < 65535 ? l.outer.numel : 65535));
  Numeric::dispatch(call.inputs[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    argsort_kernel<T><<<grid, kTile, 0, stream_of(call)>>>(
        static_cast<const T *>(call.inputs[0].data),
        static_cast<int64_t *>(call.outputs[0].data), l, descending);
    check_launch("launching argsort");
  });
}

template <typename T> __device__ T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else
    return a + b;
}

template <typename T> __device__ T shfl_up(T v, int offset) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(
        __shfl_up_sync(0xffffffffu, static_cast<long long>(v), offset));
  else
    return __shfl_up_sync(0xffffffffu, v, offset);
}

// One block per line: the line moves through in chunks of blockDim.x, each
// scanned inclusively (warps, then the warps' totals) and offset by the
// running total of the chunks before. float32 sums run in double, as the
// CPU's do, so that a partial sum past float's range comes back when later
// terms cancel it.
template <typename T> __global__ void cumsum_kernel(const T *x, T *y, Lines l) {
  using A = std::conditional_t<std::is_same_v<T, float>, double, T>;
  __shared__ A warp_total[32];
  __shared__ A carry;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  for (int64_t line = blockIdx.x; line < l.outer.numel; line += gridDim.x) {
    int64_t o[2];
    l.outer.offsets(line, o);
    if (threadIdx.x == 0)
      carry = A(0);
    for (int64_t start = 0; start < l.n; start += blockDim.x) {
      const int64_t i = start + threadIdx.x;
      A v = i < l.n ? static_cast<A>(x[o[1] + i * l.xs]) : A(0);
      for (int d = 1; d < 32; d <<= 1) {
        const A u = shfl_up(v, d);
        if (lane >= d)
          v = wrapping_add(v, u);
      }
      __syncthreads(); // carry set; warp_total free
      if (lane == 31)
        warp_total[warp] = v;
      __syncthreads();
      if (warp == 0) {
        A t = lane < warps ? warp_total[lane] : A(0);
        for (int d = 1; d < 32; d <<= 1) {
          const A u = shfl_up(t, d);
          if (lane >= d)
            t = wrapping_add(t, u);
        }
        if (lane < warps)
          warp_total[lane] = t; // inclusive totals of warps 0..lane
      }
      __syncthreads();
      const A before = warp > 0 ? warp_total[warp - 1] : A(0);
      v = wrapping_add(wrapping_add(v, before), carry);
      if (i < l.n)
        y[o[0] + i * l.ys] = static_cast<T>(v);
      __syncthreads(); // everyone has read carry and warp_total
      if (threadIdx.x == blockDim.x - 1)
        carry = v;
    }
    __syncthreads();
  }
}

void cumsum(const devrt_kernel_call &call) {
  const Lines l = lines(call, call.inputs[0].dtype);
  if (l.outer.numel == 0 || l.n == 0)
    return;
  const int threads = l.n >= 256 ? 256 : l.n > 64 ? 128 : 32;
  Types<int64_t, float, double>::dispatch(call.inputs[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    cumsum_kernel<T>
        <<<reduce_blocks(l.outer.numel), threads, 0, stream_of(call)>>>(
            static_cast<const T *>(call.inputs[0].data),
            static_cast<T *>(call.outputs[0].data), l);
    check_launch("launching cumsum");
  });
}

} // namespace

void register_scan_kernels() {
  register_kernel("argsort", Numeric::mask, kernel_entry<argsort>);
  register_kernel("cumsum", Types<int64_t, float, double>::mask,
                  kernel_entry<cumsum>);
}

} // namespace devrt_cuda
