// Block-wide reductions shared by the reduce, softmax and scan families:
// one block per output, its threads striding over the reduced elements.
#pragma once

#include "kernel_util.cuh"

namespace devrt_cuda {

template <typename A> __device__ inline A shfl_down(A v, int offset) {
  constexpr unsigned kAll = 0xffffffffu;
  if constexpr (std::is_same_v<A, bool>)
    return __shfl_down_sync(kAll, int(v), offset) != 0;
  else if constexpr (std::is_integral_v<A> && sizeof(A) == 8)
    return static_cast<A>(
        __shfl_down_sync(kAll, static_cast<long long>(v), offset));
  else
    return __shfl_down_sync(kAll, v, offset);
}

// Combines every thread's `v` with `combine`; the result is valid in
// thread 0. Every thread of the block must call it (blockDim.x a multiple
// of 32, at most 1024).
template <typename A, typename C>
__device__ A block_reduce(A v, A identity, C combine) {
  for (int o = 16; o > 0; o >>= 1)
    v = combine(v, shfl_down(v, o));
  if (blockDim.x <= 32)
    return v;
  __shared__ __align__(16) unsigned char raw[32 * 16];
  A *partial = reinterpret_cast<A *>(raw);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads(); // a previous call may still read `partial`
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? partial[lane] : identity;
    for (int o = 16; o > 0; o >>= 1)
      v = combine(v, shfl_down(v, o));
  }
  return v;
}

// Thread 0's value, seen by every thread of the block.
template <typename A> __device__ A block_broadcast(A v) {
  __shared__ __align__(16) unsigned char raw[16];
  A *slot = reinterpret_cast<A *>(raw);
  __syncthreads();
  if (threadIdx.x == 0)
    *slot = v;
  __syncthreads();
  return *slot;
}

// Threads per block for a reduction over n elements.
inline int reduce_threads(int64_t n) {
  // At most 256: any kernel fits its registers (255 a thread at most).
  return n >= 1024 ? 256 : n >= 128 ? 64 : 32;
}

inline unsigned reduce_blocks(int64_t outputs) {
  return static_cast<unsigned>(outputs < (int64_t{1} << 30)
                                   ? (outputs > 0 ? outputs : 1)
                                   : (int64_t{1} << 30));
}

// x's dims split into kept ones (an outer layout over y and x) and reduced
// ones (an inner layout over x). `reduced[d]` says which.
struct ReduceLayout {
  Layout<2> outer; // offsets in y, then in x
  Layout<1> inner; // offsets in x
};

inline ReduceLayout make_reduce_layout(const devrt_view &x, const devrt_view &y,
                                       const bool *reduced) {
  int64_t kept_shape[64], kept_x[64], kept_y[64], red_shape[64], red_x[64];
  int nk = 0, nr = 0;
  if (x.ndim > 64)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED, "more than 64 dimensions");
  for (int32_t d = 0; d < x.ndim; ++d) {
    if (reduced[d]) {
      red_shape[nr] = x.shape[d];
      red_x[nr++] = x.strides[d];
    } else {
      kept_shape[nk] = x.shape[d];
      kept_x[nk] = x.strides[d];
      kept_y[nk++] = y.strides[d];
    }
  }
  devrt_view vy{}, vx{}, vr{};
  vy.strides = kept_y;
  vx.strides = kept_x;
  vr.strides = red_x;
  const devrt_view *outer[2] = {&vy, &vx};
  const devrt_view *inner[1] = {&vr};
  return {make_layout(kept_shape, nk, outer),
          make_layout(red_shape, nr, inner)};
}

} // namespace devrt_cuda
