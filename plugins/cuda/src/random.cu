// Counter-based random ops: element i (in row-major order) draws counter
// offset + i of the stream in devrt/rng.h, compiled here for the device, so
// the numbers equal every other backend's for the same seed.
#include "kernel_util.cuh"
#include "kernels.h"

// The stream's functions, compiled for host and device.
#define DEVRT_RNG_FN __host__ __device__ static inline
#include <devrt/rng.h>

namespace devrt_cuda {
namespace {

enum class Draw { Uniform, Normal, Integer };

// Layout<1>::offsets walks elements in row-major order: the element's
// counter is offset + its index i.
template <typename T, Draw D>
__global__ void random_kernel(T *y, Layout<1> l, uint64_t seed, uint64_t offset,
                              double a, double b, int64_t lo, int64_t hi) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < l.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t o[1];
    l.offsets(i, o);
    const uint64_t c = offset + static_cast<uint64_t>(i);
    if constexpr (D == Draw::Uniform)
      y[o[0]] = static_cast<T>(a + (b - a) * devrt_rng_uniform(seed, c));
    else if constexpr (D == Draw::Normal)
      y[o[0]] = static_cast<T>(a + b * devrt_rng_normal(seed, c));
    else
      y[o[0]] = static_cast<T>(devrt_rng_integer(seed, c, lo, hi));
  }
}

template <Draw D, typename List>
void generate(const devrt_kernel_call &call, double a, double b, int64_t lo,
              int64_t hi) {
  const devrt_view &y = call.outputs[0];
  const uint64_t seed = static_cast<uint64_t>(attr_int(call, 2));
  const uint64_t offset = static_cast<uint64_t>(attr_int(call, 3));
  const devrt_view *views[1] = {&y};
  const Layout<1> l = make_layout(y.shape, y.ndim, views);
  if (l.numel == 0)
    return;
  List::dispatch(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    random_kernel<T, D><<<blocks_for(l.numel), kThreads, 0, stream_of(call)>>>(
        static_cast<T *>(y.data), l, seed, offset, a, b, lo, hi);
    check_launch("launching a random kernel");
  });
}

void random_uniform(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  generate<Draw::Uniform, Floating>(call, attr(call, 0, DEVRT_ATTR_FLOAT).f,
                                    attr(call, 1, DEVRT_ATTR_FLOAT).f, 0, 0);
}

void random_normal(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  generate<Draw::Normal, Floating>(call, attr(call, 0, DEVRT_ATTR_FLOAT).f,
                                   attr(call, 1, DEVRT_ATTR_FLOAT).f, 0, 0);
}

void random_integers(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const int64_t low = attr_int(call, 0), high = attr_int(call, 1);
  if (high <= low)
    fail(DEVRT_ERROR_VALUE, "low (" + std::to_string(low) +
                                ") must be less than high (" +
                                std::to_string(high) + ")");
  generate<Draw::Integer, Types<int32_t, int64_t>>(call, 0, 0, low, high);
}

} // namespace

void register_random_kernels() {
  register_kernel("random_uniform", Floating::mask,
                  kernel_entry<random_uniform>);
  register_kernel("random_normal", Floating::mask, kernel_entry<random_normal>);
  register_kernel("random_integers", Types<int32_t, int64_t>::mask,
                  kernel_entry<random_integers>);
}

} // namespace devrt_cuda
