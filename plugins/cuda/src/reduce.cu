// Reductions over a set of axes (sum, prod, mean, max, min, any, all, var)
// and along one axis (argmax, argmin): one block per output element.
#include "kernels.h"
#include "reduce.cuh"

#include <limits>
#include <vector>

namespace devrt_cuda {
namespace {

// A reducer over element type T: an accumulator type A, identity(), lift
// and an associative combine. float32 accumulates in double, as the CPU's
// sums do between their pairwise runs.
template <typename T> struct Sum {
  using A = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  __device__ static A identity() { return A(0); }
  __device__ static A lift(T v) { return A(v); }
  __device__ static A combine(A a, A b) {
    if constexpr (std::is_integral_v<A>)
      return static_cast<A>(static_cast<uint64_t>(a) +
                            static_cast<uint64_t>(b));
    else
      return a + b;
  }
};
template <typename T> struct Prod {
  using A = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  __device__ static A identity() { return A(1); }
  __device__ static A lift(T v) { return A(v); }
  __device__ static A combine(A a, A b) {
    if constexpr (std::is_integral_v<A>)
      return static_cast<A>(static_cast<uint64_t>(a) *
                            static_cast<uint64_t>(b));
    else
      return a * b;
  }
};
// NaN wins.
template <typename T, bool Greatest> struct Extreme {
  using A = T;
  __device__ static A identity() {
    if constexpr (std::is_floating_point_v<T>)
      return Greatest ? -std::numeric_limits<T>::infinity()
                      : std::numeric_limits<T>::infinity();
    else
      return Greatest ? std::numeric_limits<T>::lowest()
                      : std::numeric_limits<T>::max();
  }
  __device__ static A lift(T v) { return v; }
  __device__ static A combine(A a, A b) {
    return ((Greatest ? a >= b : a <= b) || a != a) ? a : b;
  }
};
template <bool Or> struct AnyAll {
  using A = bool;
  __device__ static A identity() { return !Or; }
  __device__ static A lift(bool v) { return v; }
  __device__ static A combine(A a, A b) { return Or ? (a || b) : (a && b); }
};

// What the output receives: the accumulator, or it divided by the count.
enum class Finish { Value, Mean };

template <typename R> struct Combine {
  template <typename A> __device__ A operator()(A a, A b) const {
    return R::combine(a, b);
  }
};

template <typename R, typename T, Finish F>
__global__ void reduce_kernel(const T *x, T *y, ReduceLayout l) {
  using A = typename R::A;
  for (int64_t j = blockIdx.x; j < l.outer.numel; j += gridDim.x) {
    int64_t o[2], r[1];
    l.outer.offsets(j, o);
    A acc = R::identity();
    for (int64_t i = threadIdx.x; i < l.inner.numel; i += blockDim.x) {
      l.inner.offsets(i, r);
      acc = R::combine(acc, R::lift(x[o[1] + r[0]]));
    }
    acc = block_reduce(acc, R::identity(), Combine<R>{});
    if (threadIdx.x == 0) {
      if constexpr (F == Finish::Mean)
        y[o[0]] = static_cast<T>(acc / static_cast<double>(l.inner.numel));
      else
        y[o[0]] = static_cast<T>(acc);
    }
  }
}

// Which of x's dims the `axes` attribute reduces (y has size 1 there).
std::vector<bool> reduced_dims(const devrt_kernel_call &call,
                               const devrt_view &x) {
  const devrt_attr &axes = attr(call, 0, DEVRT_ATTR_INTS);
  std::vector<bool> reduced(x.ndim, false);
  for (int32_t k = 0; k < axes.count; ++k)
    if (x.ndim > 0)
      reduced[normalize_axis(axes.ints[k], x.ndim)] = true;
  return reduced;
}

template <typename R, typename T, Finish F>
void run_reduce(const devrt_kernel_call &call) {
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  const std::vector<bool> reduced = reduced_dims(call, x);
  bool flags[64] = {};
  for (size_t d = 0; d < reduced.size() && d < 64; ++d)
    flags[d] = reduced[d];
  const ReduceLayout l = make_reduce_layout(x, y, flags);
  if (l.outer.numel == 0)
    return;
  reduce_kernel<R, T, F><<<reduce_blocks(l.outer.numel),
                           reduce_threads(l.inner.numel), 0, stream_of(call)>>>(
      static_cast<const T *>(x.data), static_cast<T *>(y.data), l);
  check_launch("launching a reduction");
}

template <template <typename> class R, typename List, Finish F = Finish::Value>
void reduction(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  expect_dtype(call.outputs[0], call.inputs[0].dtype, "y");
  List::dispatch(call.inputs[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    run_reduce<R<T>, T, F>(call);
  });
}

template <typename T> using Max = Extreme<T, true>;
template <typename T> using Min = Extreme<T, false>;
template <typename T> using Any = AnyAll<true>;
template <typename T> using All = AnyAll<false>;

// Two passes in one block: the mean, then the squared deviations from it.
template <typename T>
__global__ void var_kernel(const T *x, T *y, ReduceLayout l,
                           int64_t correction) {
  const int64_t n = l.inner.numel;
  const Combine<Sum<double>> add;
  for (int64_t j = blockIdx.x; j < l.outer.numel; j += gridDim.x) {
    int64_t o[2], r[1];
    l.outer.offsets(j, o);
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      l.inner.offsets(i, r);
      s += double(x[o[1] + r[0]]);
    }
    const double mean =
        block_broadcast(block_reduce(s, 0.0, add)) / static_cast<double>(n);
    double d2 = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      l.inner.offsets(i, r);
      const double d = double(x[o[1] + r[0]]) - mean;
      d2 += d * d;
    }
    d2 = block_reduce(d2, 0.0, add);
    if (threadIdx.x == 0) {
      const int64_t dof = n - correction > 0 ? n - correction : 0;
      y[o[0]] = static_cast<T>(d2 / static_cast<double>(dof));
    }
  }
}

void var(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  const int64_t correction = attr_int(call, 1);
  const std::vector<bool> reduced = reduced_dims(call, x);
  bool flags[64] = {};
  for (size_t d = 0; d < reduced.size() && d < 64; ++d)
    flags[d] = reduced[d];
  const ReduceLayout l = make_reduce_layout(x, y, flags);
  if (l.outer.numel == 0)
    return;
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    var_kernel<T><<<reduce_blocks(l.outer.numel), reduce_threads(l.inner.numel),
                    0, stream_of(call)>>>(static_cast<const T *>(x.data),
                                          static_cast<T *>(y.data), l,
                                          correction);
    check_launch("launching var");
  });
}

// ---- argmax / argmin -------------------------------------------------------

// The first extremum; a NaN is the extremum. index -1: no element yet.
template <typename T> struct Arg {
  T v;
  int64_t i;
};

template <typename T, bool Greatest> struct ArgCombine {
  __device__ Arg<T> operator()(Arg<T> p, Arg<T> q) const {
    if (p.i < 0)
      return q;
    if (q.i < 0)
      return p;
    const bool pn = p.v != p.v, qn = q.v != q.v;
    if (pn || qn) {
      if (pn && qn)
        return p.i < q.i ? p : q;
      return pn ? p : q;
    }
    if (p.v == q.v)
      return p.i < q.i ? p : q;
    return (Greatest ? p.v > q.v : p.v < q.v) ? p : q;
  }
};

template <typename T> __device__ inline Arg<T> shfl_down(Arg<T> a, int offset) {
  return {devrt_cuda::shfl_down<T>(a.v, offset),
          devrt_cuda::shfl_down<int64_t>(a.i, offset)};
}

template <typename T, bool Greatest>
__global__ void arg_kernel(const T *x, int64_t *y, ReduceLayout l) {
  const ArgCombine<T, Greatest> combine;
  for (int64_t j = blockIdx.x; j < l.outer.numel; j += gridDim.x) {
    int64_t o[2], r[1];
    l.outer.offsets(j, o);
    Arg<T> best{T(0), -1};
    for (int64_t i = threadIdx.x; i < l.inner.numel; i += blockDim.x) {
      l.inner.offsets(i, r);
      best = combine(best, Arg<T>{x[o[1] + r[0]], i});
    }
    best = block_reduce(best, Arg<T>{T(0), -1}, combine);
    if (threadIdx.x == 0)
      y[o[0]] = best.i < 0 ? 0 : best.i;
  }
}

template <bool Greatest> void arg_reduction(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, DEVRT_INT64, "y");
  bool flags[64] = {};
  if (x.ndim > 64)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED, "more than 64 dimensions");
  if (x.ndim > 0)
    flags[normalize_axis(attr_int(call, 0), x.ndim)] = true;
  const ReduceLayout l = make_reduce_layout(x, y, flags);
  if (l.outer.numel == 0)
    return;
  Numeric::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    arg_kernel<T, Greatest>
        <<<reduce_blocks(l.outer.numel), reduce_threads(l.inner.numel), 0,
           stream_of(call)>>>(static_cast<const T *>(x.data),
                              static_cast<int64_t *>(y.data), l);
    check_launch("launching an arg reduction");
  });
}

} // namespace

void register_reduce_kernels() {
  using SumTypes = Types<int64_t, float, double>;
  using MaxTypes = Types<bool, int32_t, int64_t, float, double>;
  register_kernel("sum", SumTypes::mask,
                  kernel_entry<reduction<Sum, SumTypes>>);
  register_kernel("prod", SumTypes::mask,
                  kernel_entry<reduction<Prod, SumTypes>>);
  register_kernel("mean", Floating::mask,
                  kernel_entry<reduction<Sum, Floating, Finish::Mean>>);
  register_kernel("max", MaxTypes::mask,
                  kernel_entry<reduction<Max, MaxTypes>>);
  register_kernel("min", MaxTypes::mask,
                  kernel_entry<reduction<Min, MaxTypes>>);
  register_kernel("any", Types<bool>::mask,
                  kernel_entry<reduction<Any, Types<bool>>>);
  register_kernel("all", Types<bool>::mask,
                  kernel_entry<reduction<All, Types<bool>>>);
  register_kernel("var", Floating::mask, kernel_entry<var>);
  register_kernel("argmax", Numeric::mask, kernel_entry<arg_reduction<true>>);
  register_kernel("argmin", Numeric::mask, kernel_entry<arg_reduction<false>>);
}

} // namespace devrt_cuda
