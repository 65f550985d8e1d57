// Elementwise binary ops, where and the fused elementwise gradients.
#include "kernels.h"
#include "strided.h"

#include <cmath>
#include <type_traits>

namespace devrt_cpu {
namespace {

template <typename T> constexpr bool is_float = std::is_floating_point_v<T>;

struct Add {
  template <typename T> T operator()(T a, T b) const { return wrap_add(a, b); }
};
struct Sub {
  template <typename T> T operator()(T a, T b) const { return wrap_sub(a, b); }
};
struct Mul {
  template <typename T> T operator()(T a, T b) const { return wrap_mul(a, b); }
};
struct Div {
  template <typename T> T operator()(T a, T b) const { return a / b; }
};
// NaN in either operand wins; between equals (+0, -0) b wins, as in NumPy.
struct Maximum {
  template <typename T> T operator()(T a, T b) const {
    return nan_extreme<true>(b, a);
  }
};
struct Minimum {
  template <typename T> T operator()(T a, T b) const {
    return nan_extreme<false>(b, a);
  }
};

struct Pow {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (is_float<T>) {
      return std::pow(a, b);
    } else {
      if (b < 0)
        fail(DEVRT_ERROR_VALUE,
             "integers to negative integer powers are not allowed");
      using U = std::make_unsigned_t<T>;
      U result = 1, base = static_cast<U>(a);
      for (U e = static_cast<U>(b); e != 0; e >>= 1) {
        if (e & 1)
          result *= base;
        base *= base;
      }
      return static_cast<T>(result);
    }
  }
};

// atan2(a, b): the angle of the point (b, a), in (-pi, pi].
struct Atan2 {
  template <typename T> T operator()(T a, T b) const {
    return std::atan2(a, b);
  }
};
// sqrt(a^2 + b^2) without overflow or underflow on the way.
struct Hypot {
  template <typename T> T operator()(T a, T b) const {
    return std::hypot(a, b);
  }
};

// Float floor division and remainder follow NumPy's npy_divmod exactly.
template <typename T> T float_divmod(T a, T b, T *modulus) {
  T mod = std::fmod(a, b);
  if (b == 0) {
    *modulus = mod;
    return a / b;
  }
  T div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= T(1);
    }
  } else {
    mod = std::copysign(T(0), b);
  }
  T floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > T(0.5))
      floordiv += T(1);
  } else {
    floordiv = std::copysign(T(0), a / b);
  }
  *modulus = mod;
  return floordiv;
}

template <typename T> void check_divisor(T b) {
  if (b == 0)
    fail(DEVRT_ERROR_VALUE, "integer division by zero");
}

struct FloorDivide {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (is_float<T>) {
      if (b == 0)
        return a / b;
      T mod;
      return float_divmod(a, b, &mod);
    } else {
      check_divisor(b);
      if (b == -1) // the one quotient that can overflow: wrap, as NumPy
        return wrap_sub(T(0), a);
      const T q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
  }
};
struct Remainder {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (is_float<T>) {
      if (b == 0)
        return std::fmod(a, b);
      T mod;
      float_divmod(a, b, &mod);
      return mod;
    } else {
      check_divisor(b);
      if (b == -1)
        return 0;
      const T r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
  }
};

struct Eq {
  template <typename T> bool operator()(T a, T b) const { return a == b; }
};
struct Ne {
  template <typename T> bool operator()(T a, T b) const { return a != b; }
};
struct Lt {
  template <typename T> bool operator()(T a, T b) const { return a < b; }
};
struct Le {
  template <typename T> bool operator()(T a, T b) const { return a <= b; }
};
struct Gt {
  template <typename T> bool operator()(T a, T b) const { return a > b; }
};
struct Ge {
  template <typename T> bool operator()(T a, T b) const { return a >= b; }
};
struct LogicalAnd {
  template <typename T> bool operator()(T a, T b) const {
    return (a != T(0)) & (b != T(0));
  }
};
struct LogicalOr {
  template <typename T> bool operator()(T a, T b) const {
    return (a != T(0)) | (b != T(0));
  }
};
struct LogicalXor {
  template <typename T> bool operator()(T a, T b) const {
    return (a != T(0)) != (b != T(0));
  }
};
struct BitAnd {
  template <typename T> T operator()(T a, T b) const { return a & b; }
};
struct BitOr {
  template <typename T> T operator()(T a, T b) const { return a | b; }
};
struct BitXor {
  template <typename T> T operator()(T a, T b) const { return a ^ b; }
};
// relu_backward(g, y): only y <= 0 stops g (a NaN y passes it).
struct ReluBackward {
  template <typename T> T operator()(T g, T y) const {
    return y <= T(0) ? T(0) : g;
  }
};

// `Predicate` ops write bool; the others write the input dtype.
template <typename Op, typename List, bool Predicate, int64_t Grain>
void binary(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &a = call.inputs[0], &b = call.inputs[1];
  const devrt_view &y = call.outputs[0];
  expect_dtype(b, a.dtype, "b");
  expect_dtype(y, Predicate ? int32_t{DEVRT_BOOL} : a.dtype, "y");
  List::dispatch(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Out = std::conditional_t<Predicate, bool, T>;
    map<Out, T, T>(Grain, Op{}, y, a, b);
  });
}

template <typename Op, typename List, bool Predicate = false,
          int64_t Grain = kGrainCheap>
void add_kernel(const char *op) {
  register_kernel(op, List::mask,
                  kernel_entry<binary<Op, List, Predicate, Grain>>);
}

// pow with a float exponent that is one broadcast value of 2, 1 or 0.5 is
// x * x, x and sqrt(x), as in NumPy and PyTorch (sqrt differs from std::pow
// at -inf and -0), and far cheaper (x ** 2 in a loss, pow(x, 1) in its
// gradient).
bool broadcast_value(const devrt_view &v, double *value) {
  for (int32_t d = 0; d < v.ndim; ++d)
    if (v.shape[d] != 1 && v.strides[d] != 0)
      return false;
  *value = v.dtype == DEVRT_FLOAT32 ? *static_cast<const float *>(v.data)
                                    : *static_cast<const double *>(v.data);
  return true;
}

void pow_kernel(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &a = call.inputs[0], &b = call.inputs[1];
  const devrt_view &y = call.outputs[0];
  double e;
  if ((a.dtype == DEVRT_FLOAT32 || a.dtype == DEVRT_FLOAT64) &&
      b.dtype == a.dtype && y.dtype == a.dtype && broadcast_value(b, &e) &&
      (e == 2 || e == 1 || e == 0.5)) {
    Floating::dispatch(a.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (e == 2)
        map<T, T>(kGrainCheap, [](T x) { return x * x; }, y, a);
      else if (e == 1)
        map<T, T>(kGrainCheap, [](T x) { return x; }, y, a);
      else
        map<T, T>(kGrainCheap, [](T x) { return std::sqrt(x); }, y, a);
    });
    return;
  }
  binary<Pow, Numeric, false, kGrainMedium>(call);
}

void where(const devrt_kernel_call &call) {
  expect_arity(call, 3, 1);
  const devrt_view &cond = call.inputs[0], &a = call.inputs[1],
                   &b = call.inputs[2], &y = call.outputs[0];
  expect_dtype(cond, DEVRT_BOOL, "cond");
  expect_dtype(b, a.dtype, "b");
  expect_dtype(y, a.dtype, "y");
  dispatch_bytes(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // The condition is read as bytes (0 or 1): GCC does not vectorise a
    // widening of bool.
    map<T, uint8_t, T, T>(
        kGrainCheap,
        [](uint8_t c, T x, T z) {
          // Branch-free on the bits: a mask of random booleans would
          // mispredict a branch on every other element.
          if constexpr (std::is_integral_v<T>) {
            const T m = static_cast<T>(T(0) - static_cast<T>(c != 0));
            return static_cast<T>((x & m) | (z & static_cast<T>(~m)));
          } else {
            return c ? x : z;
          }
        },
        y, cond, a, b);
  });
}

} // namespace

void register_binary_kernels() {
  using WithBool = Types<bool, int32_t, int64_t, float, double>;
  add_kernel<Add, Numeric>("add");
  add_kernel<Sub, Numeric>("sub");
  add_kernel<Mul, Numeric>("mul");
  add_kernel<Div, Floating>("div");
  add_kernel<Atan2, Floating, false, kGrainMedium>("atan2");
  add_kernel<Hypot, Floating, false, kGrainMedium>("hypot");
  add_kernel<Maximum, WithBool>("maximum");
  add_kernel<Minimum, WithBool>("minimum");
  register_kernel("pow", Numeric::mask, kernel_entry<pow_kernel>);
  add_kernel<FloorDivide, Numeric, false, kGrainMedium>("floor_divide");
  add_kernel<Remainder, Numeric, false, kGrainMedium>("remainder");

  add_kernel<Eq, Logical, true>("eq");
  add_kernel<Ne, Logical, true>("ne");
  add_kernel<Lt, Logical, true>("lt");
  add_kernel<Le, Logical, true>("le");
  add_kernel<Gt, Logical, true>("gt");
  add_kernel<Ge, Logical, true>("ge");
  add_kernel<LogicalAnd, Logical, true>("logical_and");
  add_kernel<LogicalOr, Logical, true>("logical_or");
  add_kernel<LogicalXor, Logical, true>("logical_xor");

  add_kernel<BitAnd, Bitwise>("bitwise_and");
  add_kernel<BitOr, Bitwise>("bitwise_or");
  add_kernel<BitXor, Bitwise>("bitwise_xor");

  register_kernel("where", AllTypes::mask, kernel_entry<where>);

  add_kernel<ReluBackward, Floating>("relu_backward");
}

} // namespace devrt_cpu
