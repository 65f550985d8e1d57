// Elementwise unary ops and clamp.
#include "kernel_util.cuh"
#include "kernels.h"

#include <limits>

namespace devrt_cuda {
namespace {

// y[o0] = Op(x[o1]), computed in acc_t<T> and stored as Out.
template <typename Op, typename T, typename Out> struct UnaryFn {
  Out *y;
  const T *x;
  Op op;
  __device__ void operator()(const int64_t *o) const {
    y[o[0]] = convert<Out>(op(load(x[o[1]])));
  }
};

struct Neg {
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(std::make_unsigned_t<T>(0) -
                            static_cast<std::make_unsigned_t<T>>(x));
    else
      return -x;
  }
};
struct Abs {
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>)
      return fabs(x);
    else
      return x < 0 ? Neg{}(x) : x;
  }
};
struct Sign { // sign(0) = sign(-0) = sign(NaN) = 0, as in PyTorch
  template <typename T> __device__ T operator()(T x) const {
    return x > 0 ? T(1) : x < 0 ? T(-1) : T(0);
  }
};
struct Relu { // NaN stays NaN
  template <typename T> __device__ T operator()(T x) const {
    return x < 0 ? T(0) : x;
  }
};

// The float functions of CUDA's math library, by overload.
#define DEVRT_CUDA_MATH(Name, expr)                                            \
  struct Name {                                                                \
    __device__ float operator()(float x) const { return expr##f(x); }          \
    __device__ double operator()(double x) const { return expr(x); }           \
  };
DEVRT_CUDA_MATH(Exp, exp)
DEVRT_CUDA_MATH(Log, log)
DEVRT_CUDA_MATH(Sqrt, sqrt)
DEVRT_CUDA_MATH(Rsqrt, rsqrt)
DEVRT_CUDA_MATH(Sin, sin)
DEVRT_CUDA_MATH(Cos, cos)
DEVRT_CUDA_MATH(Tan, tan)
DEVRT_CUDA_MATH(Tanh, tanh)
DEVRT_CUDA_MATH(Erf, erf)
DEVRT_CUDA_MATH(Log1p, log1p)
DEVRT_CUDA_MATH(Expm1, expm1)
DEVRT_CUDA_MATH(Floor, floor)
DEVRT_CUDA_MATH(Ceil, ceil)
DEVRT_CUDA_MATH(Round, rint) // half to even
#undef DEVRT_CUDA_MATH

struct Sigmoid {
  template <typename T> __device__ T operator()(T x) const {
    return T(1) / (T(1) + Exp{}(-x));
  }
};
struct Reciprocal {
  template <typename T> __device__ T operator()(T x) const { return T(1) / x; }
};
struct BitwiseNot {
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>)
      return !x;
    else
      return static_cast<T>(~x);
  }
};
struct LogicalNot {
  template <typename T> __device__ bool operator()(T x) const {
    return x == T(0);
  }
};

template <typename Op, typename List, bool Predicate>
void unary(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, Predicate ? int32_t{DEVRT_BOOL} : x.dtype, "y");
  const devrt_view *views[2] = {&y, &x};
  const Layout<2> l = make_layout(y.shape, y.ndim, views);
  List::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Out = std::conditional_t<Predicate, bool, T>;
    for_each(stream_of(call), l,
             UnaryFn<Op, T, Out>{static_cast<Out *>(y.data),
                                 static_cast<const T *>(x.data), Op{}});
  });
}

template <typename Op, typename List, bool Predicate = false>
void add_kernel(const char *op) {
  register_kernel(op, List::mask, kernel_entry<unary<Op, List, Predicate>>);
}

// Comparisons are false for NaN, so NaN passes through both bounds.
template <typename T> struct Clamp {
  T lo, hi;
  bool has_lo, has_hi;
  __device__ T operator()(T v) const {
    if (has_lo)
      v = v < lo ? lo : v;
    if (has_hi)
      v = v > hi ? hi : v;
    return v;
  }
};

// The bound as a T: integers read `i` (saturated to T's range), floats `f`.
template <typename T> T bound(const devrt_attr &a) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(a.f);
  } else {
    using L = std::numeric_limits<T>;
    const int64_t lo = L::min(), hi = L::max();
    return static_cast<T>(a.i < lo ? lo : a.i > hi ? hi : a.i);
  }
}

void clamp(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  const devrt_attr &lo = attr(call, 0, DEVRT_ATTR_SCALAR, true);
  const devrt_attr &hi = attr(call, 1, DEVRT_ATTR_SCALAR, true);
  const devrt_view *views[2] = {&y, &x};
  const Layout<2> l = make_layout(y.shape, y.ndim, views);
  NumericH::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    const Clamp<A> c{bound<A>(lo), bound<A>(hi), lo.kind != DEVRT_ATTR_NONE,
                     hi.kind != DEVRT_ATTR_NONE};
    for_each(stream_of(call), l,
             UnaryFn<Clamp<A>, T, T>{static_cast<T *>(y.data),
                                     static_cast<const T *>(x.data), c});
  });
}

} // namespace

void register_unary_kernels() {
  using SignedH = NumericH;
  add_kernel<Neg, SignedH>("neg");
  add_kernel<Abs, SignedH>("abs");
  add_kernel<Sign, SignedH>("sign");
  add_kernel<Relu, SignedH>("relu");
  add_kernel<Exp, FloatingH>("exp");
  add_kernel<Log, FloatingH>("log");
  add_kernel<Sqrt, FloatingH>("sqrt");
  add_kernel<Rsqrt, FloatingH>("rsqrt");
  add_kernel<Sin, FloatingH>("sin");
  add_kernel<Cos, FloatingH>("cos");
  add_kernel<Tan, FloatingH>("tan");
  add_kernel<Tanh, FloatingH>("tanh");
  add_kernel<Sigmoid, FloatingH>("sigmoid");
  add_kernel<Erf, FloatingH>("erf");
  add_kernel<Log1p, FloatingH>("log1p");
  add_kernel<Expm1, FloatingH>("expm1");
  add_kernel<Reciprocal, FloatingH>("reciprocal");
  add_kernel<Floor, FloatingH>("floor");
  add_kernel<Ceil, FloatingH>("ceil");
  add_kernel<Round, FloatingH>("round");
  add_kernel<LogicalNot, LogicalH, true>("logical_not");
  add_kernel<BitwiseNot, Bitwise>("bitwise_not");
  register_kernel("clamp", NumericH::mask, kernel_entry<clamp>);
}

} // namespace devrt_cuda
