// Elementwise unary ops and clamp.
#include "kernels.h"
#include "strided.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace devrt_cpu {
namespace {

struct Neg {
  template <typename T> T operator()(T x) const { return wrap_sub(T(0), x); }
};
struct Abs {
  template <typename T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>)
      return std::fabs(x);
    else
      return x < 0 ? wrap_sub(T(0), x) : x;
  }
};
struct Sign { // sign(0) = sign(-0) = sign(NaN) = 0, as in PyTorch
  template <typename T> T operator()(T x) const {
    return x > 0 ? T(1) : x < 0 ? T(-1) : T(0);
  }
};
struct Relu { // NaN stays NaN
  template <typename T> T operator()(T x) const { return x < 0 ? T(0) : x; }
};

struct Exp {
  template <typename T> T operator()(T x) const { return exp_any(x); }
};
struct Log {
  template <typename T> T operator()(T x) const { return std::log(x); }
};
struct Sqrt {
  template <typename T> T operator()(T x) const { return std::sqrt(x); }
};
struct Rsqrt {
  template <typename T> T operator()(T x) const { return T(1) / std::sqrt(x); }
};
struct Sin {
  template <typename T> T operator()(T x) const { return std::sin(x); }
};
struct Cos {
  template <typename T> T operator()(T x) const { return std::cos(x); }
};
struct Tan {
  template <typename T> T operator()(T x) const { return std::tan(x); }
};
struct Tanh {
  template <typename T> T operator()(T x) const { return std::tanh(x); }
};
struct Sigmoid {
  template <typename T> T operator()(T x) const {
    return T(1) / (T(1) + exp_any(-x));
  }
};
struct Erf {
  template <typename T> T operator()(T x) const { return std::erf(x); }
};
struct Log1p {
  template <typename T> T operator()(T x) const { return std::log1p(x); }
};
struct Expm1 {
  template <typename T> T operator()(T x) const { return std::expm1(x); }
};
struct Reciprocal {
  template <typename T> T operator()(T x) const { return T(1) / x; }
};
struct Floor {
  template <typename T> T operator()(T x) const { return std::floor(x); }
};
struct Ceil {
  template <typename T> T operator()(T x) const { return std::ceil(x); }
};
struct Round { // half to even, under the default rounding mode
  template <typename T> T operator()(T x) const { return std::nearbyint(x); }
};
struct BitwiseNot {
  template <typename T> T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>)
      return !x;
    else
      return static_cast<T>(~x);
  }
};
struct LogicalNot {
  template <typename T> bool operator()(T x) const { return x == T(0); }
};

template <typename Op, typename List, int64_t Grain, bool Predicate>
void unary(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, Predicate ? int32_t{DEVRT_BOOL} : x.dtype, "y");
  List::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    map<std::conditional_t<Predicate, bool, T>, T>(Grain, Op{}, y, x);
  });
}

template <typename Op, typename List, int64_t Grain = kGrainCheap,
          bool Predicate = false>
void add_kernel(const char *op) {
  register_kernel(op, List::mask,
                  kernel_entry<unary<Op, List, Grain, Predicate>>);
}

// The bound attribute as a T: integers read `i` (saturated to T's range),
// floats read `f`.
template <typename T> T bound(const devrt_attr &a) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(a.f);
  } else {
    using L = std::numeric_limits<T>;
    return static_cast<T>(
        std::min<int64_t>(std::max<int64_t>(a.i, L::min()), L::max()));
  }
}

// Comparisons are false for NaN, so NaN passes through both bounds.
void clamp(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  const devrt_attr &lo = attr(call, 0, DEVRT_ATTR_SCALAR, true);
  const devrt_attr &hi = attr(call, 1, DEVRT_ATTR_SCALAR, true);
  const bool has_lo = lo.kind != DEVRT_ATTR_NONE,
             has_hi = hi.kind != DEVRT_ATTR_NONE;
  Numeric::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T l = has_lo ? bound<T>(lo) : T(0), h = has_hi ? bound<T>(hi) : T(0);
    if (has_lo && has_hi)
      map<T, T>(
          kGrainCheap,
          [l, h](T v) {
            v = v < l ? l : v;
            return v > h ? h : v;
          },
          y, x);
    else if (has_lo)
      map<T, T>(kGrainCheap, [l](T v) { return v < l ? l : v; }, y, x);
    else if (has_hi)
      map<T, T>(kGrainCheap, [h](T v) { return v > h ? h : v; }, y, x);
    else
      map<T, T>(kGrainCheap, [](T v) { return v; }, y, x);
  });
}

} // namespace

void register_unary_kernels() {
  add_kernel<Neg, Numeric>("neg");
  add_kernel<Abs, Numeric>("abs");
  add_kernel<Sign, Numeric>("sign");
  add_kernel<Relu, Numeric>("relu");

  add_kernel<Exp, Floating, kGrainMedium>("exp");
  add_kernel<Log, Floating, kGrainMedium>("log");
  add_kernel<Sqrt, Floating>("sqrt");
  add_kernel<Rsqrt, Floating>("rsqrt");
  add_kernel<Sin, Floating, kGrainMedium>("sin");
  add_kernel<Cos, Floating, kGrainMedium>("cos");
  add_kernel<Tan, Floating, kGrainMedium>("tan");
  add_kernel<Tanh, Floating, kGrainMedium>("tanh");
  add_kernel<Sigmoid, Floating, kGrainMedium>("sigmoid");
  add_kernel<Erf, Floating, kGrainMedium>("erf");
  add_kernel<Log1p, Floating, kGrainMedium>("log1p");
  add_kernel<Expm1, Floating, kGrainMedium>("expm1");
  add_kernel<Reciprocal, Floating>("reciprocal");
  add_kernel<Floor, Floating>("floor");
  add_kernel<Ceil, Floating>("ceil");
  add_kernel<Round, Floating>("round");

  add_kernel<LogicalNot, Logical, kGrainCheap, true>("logical_not");
  add_kernel<BitwiseNot, Bitwise>("bitwise_not");
  register_kernel("clamp", Numeric::mask, kernel_entry<clamp>);
}

} // namespace devrt_cpu
