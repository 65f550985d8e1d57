// Elementwise binary ops, where and the fused elementwise gradients.
#include "kernel_util.cuh"
#include "kernels.h"

namespace devrt_cuda {
namespace {

// Codes of DeviceError for the integer ops that can fail.
enum { kNegativePower = 1, kDivisionByZero = 2 };

// y[o0] = Op(a[o1], b[o2]) in acc_t<T>, stored as Out. Ops that can fail
// receive the error slot.
template <typename Op, typename T, typename Out> struct BinaryFn {
  Out *y;
  const T *a;
  const T *b;
  DeviceError *err;
  Op op;
  __device__ void operator()(const int64_t *o) const {
    y[o[0]] = convert<Out>(op(load(a[o[1]]), load(b[o[2]]), err));
  }
};

template <typename T> __device__ T wrap(T a, T b, int op) {
  using U = std::make_unsigned_t<T>;
  const U x = static_cast<U>(a), z = static_cast<U>(b);
  return static_cast<T>(op == 0 ? U(x + z) : op == 1 ? U(x - z) : U(x * z));
}

struct Add {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      return wrap(a, b, 0);
    else
      return a + b;
  }
};
struct Sub {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      return wrap(a, b, 1);
    else
      return a - b;
  }
};
struct Mul {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      return wrap(a, b, 2);
    else
      return a * b;
  }
};
struct Div {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    return a / b;
  }
};
// NaN in either operand wins; between equals (+0, -0) b wins, as in NumPy.
struct Maximum {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    return (b >= a || b != b) ? b : a;
  }
};
struct Minimum {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    return (b <= a || b != b) ? b : a;
  }
};

// A float exponent that is one broadcast value of 0.5 is sqrt, as in NumPy
// and the CPU backend (it differs from pow at -inf and -0); float32 goes
// through double, so that the result is rounded once, as a correctly
// rounded powf's.
struct Pow {
  bool one_value = false; // b is a single value broadcast
  __device__ float operator()(float a, float b, DeviceError *) const {
    if (one_value && b == 0.5f)
      return sqrtf(a);
    return b == 2.0f ? a * a
                     : static_cast<float>(
                           pow(static_cast<double>(a), static_cast<double>(b)));
  }
  __device__ double operator()(double a, double b, DeviceError *) const {
    if (one_value && b == 0.5)
      return sqrt(a);
    return b == 2.0 ? a * a : pow(a, b);
  }
  template <typename T>
  __device__ T operator()(T a, T b, DeviceError *e) const {
    if (b < 0) {
      report(e, kNegativePower, a, b, 0);
      return 0;
    }
    using U = std::make_unsigned_t<T>;
    U result = 1, base = static_cast<U>(a);
    for (U p = static_cast<U>(b); p != 0; p >>= 1) {
      if (p & 1)
        result *= base;
      base *= base;
    }
    return static_cast<T>(result);
  }
};

// Whether every element of v is one value (all strides 0 or sizes 1).
bool one_value(const devrt_view &v) {
  for (int32_t d = 0; d < v.ndim; ++d)
    if (v.shape[d] != 1 && v.strides[d] != 0)
      return false;
  return true;
}

// atan2(a, b): the angle of the point (b, a), in (-pi, pi]; hypot(a, b):
// sqrt(a^2 + b^2) without overflow or underflow on the way.
struct Atan2 {
  __device__ float operator()(float a, float b, DeviceError *) const {
    return atan2f(a, b);
  }
  __device__ double operator()(double a, double b, DeviceError *) const {
    return atan2(a, b);
  }
};
struct Hypot {
  __device__ float operator()(float a, float b, DeviceError *) const {
    return hypotf(a, b);
  }
  __device__ double operator()(double a, double b, DeviceError *) const {
    return hypot(a, b);
  }
};

// Float floor division and remainder follow NumPy's npy_divmod.
template <typename T> __device__ T float_divmod(T a, T b, T *modulus) {
  T mod = fmod(a, b);
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
    mod = copysign(T(0), b);
  }
  T floordiv;
  if (div != 0) {
    floordiv = floor(div);
    if (div - floordiv > T(0.5))
      floordiv += T(1);
  } else {
    floordiv = copysign(T(0), a / b);
  }
  *modulus = mod;
  return floordiv;
}

struct FloorDivide {
  template <typename T>
  __device__ T operator()(T a, T b, DeviceError *e) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (b == 0)
        return a / b;
      T mod;
      return float_divmod(a, b, &mod);
    } else {
      if (b == 0) {
        report(e, kDivisionByZero, a, 0, 0);
        return 0;
      }
      if (b == -1) // the one quotient that can overflow: wrap, as NumPy
        return wrap(T(0), a, 1);
      const T q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
  }
};
struct Remainder {
  template <typename T>
  __device__ T operator()(T a, T b, DeviceError *e) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (b == 0)
        return fmod(a, b);
      T mod;
      float_divmod(a, b, &mod);
      return mod;
    } else {
      if (b == 0) {
        report(e, kDivisionByZero, a, 0, 0);
        return 0;
      }
      if (b == -1)
        return 0;
      const T r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
  }
};

#define DEVRT_CUDA_PREDICATE(Name, expr)                                       \
  struct Name {                                                                \
    template <typename T>                                                      \
    __device__ bool operator()(T a, T b, DeviceError *) const {                \
      return expr;                                                             \
    }                                                                          \
  };
DEVRT_CUDA_PREDICATE(Eq, a == b)
DEVRT_CUDA_PREDICATE(Ne, a != b)
DEVRT_CUDA_PREDICATE(Lt, a < b)
DEVRT_CUDA_PREDICATE(Le, a <= b)
DEVRT_CUDA_PREDICATE(Gt, a > b)
DEVRT_CUDA_PREDICATE(Ge, a >= b)
DEVRT_CUDA_PREDICATE(LogicalAnd, (a != T(0)) && (b != T(0)))
DEVRT_CUDA_PREDICATE(LogicalOr, (a != T(0)) || (b != T(0)))
DEVRT_CUDA_PREDICATE(LogicalXor, (a != T(0)) != (b != T(0)))
#undef DEVRT_CUDA_PREDICATE

struct BitAnd {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    return a & b;
  }
};
struct BitOr {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    return a | b;
  }
};
struct BitXor {
  template <typename T> __device__ T operator()(T a, T b, DeviceError *) const {
    return a ^ b;
  }
};
// relu_backward(g, y): only y <= 0 stops g (a NaN y passes it).
struct ReluBackward {
  template <typename T> __device__ T operator()(T g, T y, DeviceError *) const {
    return y <= T(0) ? T(0) : g;
  }
};

// `Predicate` ops write bool, the others the input dtype. `Checked` ops on
// integers read the error slot back after the kernel (a synchronisation).
template <typename Op, typename List, bool Predicate, bool Checked>
void binary(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &a = call.inputs[0], &b = call.inputs[1];
  const devrt_view &y = call.outputs[0];
  expect_dtype(b, a.dtype, "b");
  expect_dtype(y, Predicate ? int32_t{DEVRT_BOOL} : a.dtype, "y");
  const devrt_view *views[3] = {&y, &a, &b};
  const Layout<3> l = make_layout(y.shape, y.ndim, views);
  const cudaStream_t s = stream_of(call);
  List::dispatch(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Out = std::conditional_t<Predicate, bool, T>;
    constexpr bool check_ints = Checked && std::is_integral_v<T>;
    DeviceError *err = check_ints && l.numel > 0 ? error_slot(s) : nullptr;
    Op op{};
    if constexpr (std::is_same_v<Op, Pow>)
      op.one_value = one_value(b);
    for_each(s, l,
             BinaryFn<Op, T, Out>{static_cast<Out *>(y.data),
                                  static_cast<const T *>(a.data),
                                  static_cast<const T *>(b.data), err, op});
    if (!err)
      return;
    const DeviceError e = read_error(s);
    if (e.code == kNegativePower)
      fail(DEVRT_ERROR_VALUE,
           "integers to negative integer powers are not allowed (" +
               std::to_string(e.a) + " ** " + std::to_string(e.b) + ")");
    if (e.code == kDivisionByZero)
      fail(DEVRT_ERROR_VALUE,
           "integer division by zero (" + std::to_string(e.a) + " / 0)");
  });
}

template <typename Op, typename List, bool Predicate = false,
          bool Checked = false>
void add_kernel(const char *op) {
  register_kernel(op, List::mask,
                  kernel_entry<binary<Op, List, Predicate, Checked>>);
}

template <typename T> struct WhereFn {
  T *y;
  const bool *cond;
  const T *a;
  const T *b;
  __device__ void operator()(const int64_t *o) const {
    y[o[0]] = cond[o[1]] ? a[o[2]] : b[o[3]];
  }
};

// where moves bytes: dispatched on the element size.
void where(const devrt_kernel_call &call) {
  expect_arity(call, 3, 1);
  const devrt_view &cond = call.inputs[0], &a = call.inputs[1],
                   &b = call.inputs[2], &y = call.outputs[0];
  expect_dtype(cond, DEVRT_BOOL, "cond");
  expect_dtype(b, a.dtype, "b");
  expect_dtype(y, a.dtype, "y");
  const devrt_view *views[4] = {&y, &cond, &a, &b};
  const Layout<4> l = make_layout(y.shape, y.ndim, views);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    for_each(stream_of(call), l,
             WhereFn<T>{static_cast<T *>(y.data),
                        static_cast<const bool *>(cond.data),
                        static_cast<const T *>(a.data),
                        static_cast<const T *>(b.data)});
  };
  switch (itemsize(a.dtype)) {
  case 1:
    return run(uint8_t{});
  case 2:
    return run(uint16_t{});
  case 4:
    return run(uint32_t{});
  case 8:
    return run(uint64_t{});
  default:
    fail(DEVRT_ERROR_TYPE,
         std::string("no CUDA kernel for dtype ") + dtype_name(a.dtype));
  }
}

} // namespace

void register_binary_kernels() {
  using WithBoolH = Types<bool, int32_t, int64_t, half, bf16, float, double>;
  add_kernel<Add, NumericH>("add");
  add_kernel<Sub, NumericH>("sub");
  add_kernel<Mul, NumericH>("mul");
  add_kernel<Div, FloatingH>("div");
  add_kernel<Atan2, FloatingH>("atan2");
  add_kernel<Hypot, FloatingH>("hypot");
  add_kernel<Maximum, WithBoolH>("maximum");
  add_kernel<Minimum, WithBoolH>("minimum");
  add_kernel<Pow, NumericH, false, true>("pow");
  add_kernel<FloorDivide, Numeric, false, true>("floor_divide");
  add_kernel<Remainder, Numeric, false, true>("remainder");

  add_kernel<Eq, LogicalH, true>("eq");
  add_kernel<Ne, LogicalH, true>("ne");
  add_kernel<Lt, LogicalH, true>("lt");
  add_kernel<Le, LogicalH, true>("le");
  add_kernel<Gt, LogicalH, true>("gt");
  add_kernel<Ge, LogicalH, true>("ge");
  add_kernel<LogicalAnd, LogicalH, true>("logical_and");
  add_kernel<LogicalOr, LogicalH, true>("logical_or");
  add_kernel<LogicalXor, LogicalH, true>("logical_xor");

  add_kernel<BitAnd, Bitwise>("bitwise_and");
  add_kernel<BitOr, Bitwise>("bitwise_or");
  add_kernel<BitXor, Bitwise>("bitwise_xor");

  register_kernel("where", AllTypes::mask, kernel_entry<where>);

  add_kernel<ReluBackward, FloatingH>("relu_backward");
}

} // namespace devrt_cuda
