// Splitting a loop across the CPU backend's persistent thread pool.
#pragma once

#include <cstdint>
#include <type_traits>

namespace devrt_cpu {

// Grains (elements per task) for parallel_for: below them work stays on the
// calling thread.
constexpr int64_t kGrainCheap = 32768;  // add, copy, compare
constexpr int64_t kGrainMedium = 4096;  // exp, sin, pow
constexpr int64_t kGrainExpensive = 64; // a row of a reduction, a matrix row

namespace detail {
using RangeFn = void (*)(void *ctx, int64_t begin, int64_t end);
// Runs fn over [0, n) in pieces of at least `grain` on the pool plus the
// calling thread and returns true, or returns false without running anything
// when the pool cannot take it (one thread, nested call, pool busy with
// another caller). Rethrows the first exception a piece threw.
bool run_on_pool(int64_t n, int64_t grain, RangeFn fn, void *ctx);
} // namespace detail

// Calls fn(begin, end) on disjoint ranges covering [0, n). Work of at most
// `grain` items runs inline with no synchronisation; so does a call made
// from inside another parallel_for, or while another thread uses the pool.
template <typename F> void parallel_for(int64_t n, int64_t grain, F &&fn) {
  if (n <= 0)
    return;
  if (n > grain) {
    using Fn = std::remove_reference_t<F>;
    auto call = [](void *ctx, int64_t b, int64_t e) {
      (*static_cast<Fn *>(ctx))(b, e);
    };
    if (detail::run_on_pool(n, grain, call,
                            const_cast<void *>(static_cast<const void *>(&fn))))
      return;
  }
  fn(int64_t{0}, n);
}

} // namespace devrt_cpu
