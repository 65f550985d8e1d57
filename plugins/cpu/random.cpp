// Counter-based random ops: element i (in row-major order) draws counter
// offset + i of the stream in devrt/rng.h, so any split over threads gives
// the same numbers as every other backend.
#include "kernels.h"
#include "strided.h"

#include <devrt/rng.h>

namespace devrt_cpu {
namespace {

// Writes gen(counter) to every element of y, counters from `offset`.
template <typename T, typename Gen>
void generate(const devrt_view &y, uint64_t offset, Gen gen) {
  const Layout<1> l = make_layout<1>({&y});
  if (l.numel == 0)
    return;
  char *base[1] = {static_cast<char *>(y.data)};
  const int64_t step = l.inner_stride(0) / int64_t{sizeof(T)};
  parallel_for(l.numel, kGrainMedium, [&](int64_t b, int64_t e) {
    uint64_t counter = offset + static_cast<uint64_t>(b);
    for_each_row(l, base, b, e, [&](char *const *p, int64_t n) {
      T *out = reinterpret_cast<T *>(p[0]);
      for (int64_t i = 0; i < n; ++i)
        out[i * step] = static_cast<T>(gen(counter++));
    });
  });
}

void random_uniform(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const double low = attr(call, 0, DEVRT_ATTR_FLOAT).f;
  const double high = attr(call, 1, DEVRT_ATTR_FLOAT).f;
  const uint64_t seed = static_cast<uint64_t>(attr_int(call, 2));
  const uint64_t offset = static_cast<uint64_t>(attr_int(call, 3));
  const double span = high - low;
  Floating::dispatch(call.outputs[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate<T>(call.outputs[0], offset, [=](uint64_t c) {
      return low + span * devrt_rng_uniform(seed, c);
    });
  });
}

void random_normal(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const double mean = attr(call, 0, DEVRT_ATTR_FLOAT).f;
  const double std = attr(call, 1, DEVRT_ATTR_FLOAT).f;
  const uint64_t seed = static_cast<uint64_t>(attr_int(call, 2));
  const uint64_t offset = static_cast<uint64_t>(attr_int(call, 3));
  Floating::dispatch(call.outputs[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate<T>(call.outputs[0], offset, [=](uint64_t c) {
      return mean + std * devrt_rng_normal(seed, c);
    });
  });
}

void random_integers(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const int64_t low = attr_int(call, 0), high = attr_int(call, 1);
  const uint64_t seed = static_cast<uint64_t>(attr_int(call, 2));
  const uint64_t offset = static_cast<uint64_t>(attr_int(call, 3));
  if (high <= low)
    fail(DEVRT_ERROR_VALUE, "low (" + std::to_string(low) +
                                ") must be less than high (" +
                                std::to_string(high) + ")");
  Types<int32_t, int64_t>::dispatch(call.outputs[0].dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate<T>(call.outputs[0], offset, [=](uint64_t c) {
      return devrt_rng_integer(seed, c, low, high);
    });
  });
}

} // namespace

void register_random_kernels() {
  register_kernel("random_uniform", Floating::mask,
                  kernel_entry<random_uniform>);
  register_kernel("random_normal", Floating::mask, kernel_entry<random_normal>);
  register_kernel("random_integers", Types<int32_t, int64_t>::mask,
                  kernel_entry<random_integers>);
}

} // namespace devrt_cpu
