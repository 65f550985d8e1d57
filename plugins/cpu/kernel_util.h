// Glue shared by the CPU kernels: errors, the C ABI wrapper, attribute
// access, dtype dispatch, and the few math helpers that must vectorise.
#pragma once

#include <devrt/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

// Hot contiguous loops are compiled for several instruction sets and picked
// at load time, so one binary runs everywhere and still uses AVX2/AVX-512.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DEVRT_CPU_CLONES                                                       \
  __attribute__((target_clones("avx2", "avx512f", "default")))
#else
#define DEVRT_CPU_CLONES
#endif

// The AVX-512 kernels (direct convolutions, short-reduction products): only
// called where the processor has AVX-512, 16 floats to a vector.
#if defined(__x86_64__) && defined(__GNUC__)
#define DEVRT_AVX512 __attribute__((target("avx512f")))
#endif

namespace devrt_cpu {

constexpr int64_t kLanes = 16; // floats per AVX-512 vector

// v rounded up to a multiple of m (> 0).
constexpr int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Thrown by kernel bodies; kernel_entry turns it into a status and
// "[op] message".
struct KernelError {
  devrt_status status;
  std::string message;
};

[[noreturn]] inline void fail(devrt_status status, std::string message) {
  throw KernelError{status, std::move(message)};
}

inline const char *dtype_name(int32_t dtype) {
  static const char *const names[] = {"bool",    "uint8",   "int32",
                                      "int64",   "float16", "bfloat16",
                                      "float32", "float64"};
  return dtype >= 0 && dtype < DEVRT_NUM_DTYPES ? names[dtype] : "unknown";
}

inline int64_t itemsize(int32_t dtype) {
  static const int64_t sizes[] = {1, 1, 4, 8, 2, 2, 4, 8};
  return dtype >= 0 && dtype < DEVRT_NUM_DTYPES ? sizes[dtype] : 0;
}

inline int64_t numel(const devrt_view &v) {
  int64_t n = 1;
  for (int32_t d = 0; d < v.ndim; ++d)
    n *= v.shape[d];
  return n;
}

// Turns a body `void body(const devrt_kernel_call &)` into a devrt_kernel_fn
// that never lets an exception cross the C ABI.
template <void (*Body)(const devrt_kernel_call &)>
int kernel_entry(const devrt_kernel_call *call) noexcept {
  devrt_status status;
  const char *message;
  std::string text;
  try {
    Body(*call);
    return DEVRT_OK;
  } catch (KernelError &e) {
    status = e.status;
    text = std::move(e.message);
    message = text.c_str();
  } catch (const std::bad_alloc &) {
    status = DEVRT_ERROR_OUT_OF_MEMORY;
    message = "out of host memory";
  } catch (const std::exception &e) {
    status = DEVRT_ERROR_RUNTIME;
    message = e.what();
  } catch (...) {
    status = DEVRT_ERROR_RUNTIME;
    message = "unknown error";
  }
  if (call->error && call->error_size > 0)
    std::snprintf(call->error, call->error_size, "[%s] %s",
                  call->op ? call->op : "?", message);
  return status;
}

// Registers `fn` for `op` on the "cpu" backend; throws on failure.
inline void register_kernel(const char *op, uint32_t dtypes,
                            devrt_kernel_fn fn) {
  devrt_kernel_desc desc{};
  desc.struct_size = sizeof desc;
  desc.op = op;
  desc.backend = "cpu";
  desc.dtypes = dtypes;
  desc.fn = fn;
  int status = devrt_register_kernel(&desc);
  if (status != DEVRT_OK) {
    const char *why = devrt_last_error();
    fail(static_cast<devrt_status>(status),
         std::string("registering ") + op + ": " + (why ? why : "failed"));
  }
}

// ---- arguments -------------------------------------------------------------

inline void expect_arity(const devrt_kernel_call &call, int32_t inputs,
                         int32_t outputs) {
  if (call.n_inputs != inputs || call.n_outputs != outputs)
    fail(DEVRT_ERROR_RUNTIME, "expected " + std::to_string(inputs) +
                                  " inputs and " + std::to_string(outputs) +
                                  " outputs, got " +
                                  std::to_string(call.n_inputs) + " and " +
                                  std::to_string(call.n_outputs));
}

// A view whose dtype the contract fixes; a mismatch means a core bug, caught
// here rather than read as the wrong type.
inline void expect_dtype(const devrt_view &v, int32_t dtype, const char *what) {
  if (v.dtype != dtype)
    fail(DEVRT_ERROR_TYPE, std::string(what) + " has dtype " +
                               dtype_name(v.dtype) + ", expected " +
                               dtype_name(dtype));
}

// An axis attribute in [-rank, rank) as an index in [0, rank); a scalar
// counts as rank 1.
inline int64_t normalize_axis(int64_t axis, int32_t ndim) {
  const int64_t rank = ndim > 0 ? ndim : 1;
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    fail(DEVRT_ERROR_RUNTIME, "axis " + std::to_string(axis) +
                                  " is out of range for rank " +
                                  std::to_string(ndim));
  return a;
}

// Attribute i, which must have `kind` (or be NONE when `optional`).
inline const devrt_attr &attr(const devrt_kernel_call &call, int32_t i,
                              int32_t kind, bool optional = false) {
  if (i >= call.n_attrs)
    fail(DEVRT_ERROR_RUNTIME, "missing attribute " + std::to_string(i));
  const devrt_attr &a = call.attrs[i];
  if (a.kind != kind && !(optional && a.kind == DEVRT_ATTR_NONE))
    fail(DEVRT_ERROR_RUNTIME, "attribute " + std::to_string(i) + " has kind " +
                                  std::to_string(a.kind) + ", expected " +
                                  std::to_string(kind));
  return a;
}

inline int64_t attr_int(const devrt_kernel_call &call, int32_t i) {
  return attr(call, i, DEVRT_ATTR_INT).i;
}

// ---- dtype dispatch --------------------------------------------------------

// Markers for the 16-bit float dtypes, stored as uint16_t; only copy-like
// kernels handle them.
struct Float16 {};
struct BFloat16 {};

template <typename T> struct dtype_of;
template <> struct dtype_of<bool> : std::integral_constant<int, DEVRT_BOOL> {};
template <>
struct dtype_of<uint8_t> : std::integral_constant<int, DEVRT_UINT8> {};
template <>
struct dtype_of<int32_t> : std::integral_constant<int, DEVRT_INT32> {};
template <>
struct dtype_of<int64_t> : std::integral_constant<int, DEVRT_INT64> {};
template <>
struct dtype_of<Float16> : std::integral_constant<int, DEVRT_FLOAT16> {};
template <>
struct dtype_of<BFloat16> : std::integral_constant<int, DEVRT_BFLOAT16> {};
template <>
struct dtype_of<float> : std::integral_constant<int, DEVRT_FLOAT32> {};
template <>
struct dtype_of<double> : std::integral_constant<int, DEVRT_FLOAT64> {};

template <typename T> struct storage {
  using type = T;
};
template <> struct storage<Float16> {
  using type = uint16_t;
};
template <> struct storage<BFloat16> {
  using type = uint16_t;
};
template <typename T> using storage_t = typename storage<T>::type;

// What dispatch hands to the body: `typename decltype(tag)::type` is the
// storage type, `decltype(tag)::dtype` the devrt dtype.
template <typename T> struct Tag {
  using type = storage_t<T>;
  using marker = T;
  static constexpr int dtype = dtype_of<T>::value;
};

// Calls f(Tag<T>{}) for the T among Ts whose dtype is `dtype`; any other
// dtype is a TYPE error.
template <typename... Ts, typename F> void dispatch(int32_t dtype, F &&f) {
  bool done =
      ((dtype == dtype_of<Ts>::value ? (f(Tag<Ts>{}), true) : false) || ...);
  if (!done)
    fail(DEVRT_ERROR_TYPE,
         std::string("no CPU kernel for dtype ") + dtype_name(dtype));
}

// A list of dtypes a kernel supports: its registration mask and its dispatch
// come from the same list.
template <typename... Ts> struct Types {
  static constexpr uint32_t mask = (0u | ... | (1u << dtype_of<Ts>::value));
  template <typename F> static void dispatch(int32_t dtype, F &&f) {
    devrt_cpu::dispatch<Ts...>(dtype, f);
  }
};
using Floating = Types<float, double>;
using Numeric = Types<int32_t, int64_t, float, double>;
using Bitwise = Types<bool, int32_t, int64_t>;
using Logical = Types<bool, uint8_t, int32_t, int64_t, float, double>;
using AllTypes =
    Types<bool, uint8_t, int32_t, int64_t, Float16, BFloat16, float, double>;

// Dispatch on the element size only, for kernels that move bytes.
template <typename F> void dispatch_bytes(int32_t dtype, F &&f) {
  switch (itemsize(dtype)) {
  case 1:
    return f(Tag<uint8_t>{});
  case 2:
    return f(Tag<Float16>{}); // uint16_t storage
  case 4:
    return f(Tag<int32_t>{});
  case 8:
    return f(Tag<int64_t>{});
  default:
    fail(DEVRT_ERROR_TYPE,
         std::string("no CPU kernel for dtype ") + dtype_name(dtype));
  }
}

// ---- integer arithmetic that wraps like NumPy instead of overflowing -------

template <typename T> inline T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(
        static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <typename T> inline T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(
        static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <typename T> inline T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    // uint8_t would promote to int: keep the product unsigned and wide.
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(
        static_cast<U>(static_cast<W>(a) * static_cast<W>(b)));
  } else {
    return a * b;
  }
}

// ---- math shared by kernels ------------------------------------------------
// Inline and branch-free, so the loops that call them (in DEVRT_CPU_CLONES
// functions) vectorise.

// max (Greatest) or min of a and b where a NaN in either wins.
template <bool Greatest, typename T> inline T nan_extreme(T a, T b) {
  return ((Greatest ? a >= b : a <= b) | (a != a)) ? a : b;
}

// nan_extreme over init and x[0, n). GCC turns the NaN test of scalar lanes
// back into a branch, so the lanes are explicit GCC vectors, lowered to
// whatever the caller's instruction set has.
template <bool Greatest, typename T>
inline T nan_extreme_of(const T *x, int64_t n, T init) {
  static_assert(std::is_floating_point_v<T>, "for float and double");
  typedef T V __attribute__((vector_size(32)));
  constexpr int64_t W = 32 / sizeof(T), K = 4;
  V acc[K];
  for (int64_t k = 0; k < K; ++k)
    for (int64_t w = 0; w < W; ++w)
      acc[k][w] = init;
  int64_t i = 0;
  for (; i + K * W <= n; i += K * W)
    for (int64_t k = 0; k < K; ++k) {
      V v;
      std::memcpy(&v, x + i + k * W, sizeof v);
      const auto keep =
          (Greatest ? acc[k] >= v : acc[k] <= v) | (acc[k] != acc[k]);
      acc[k] = keep ? acc[k] : v;
    }
  T r = init;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t w = 0; w < W; ++w)
      r = nan_extreme<Greatest>(r, T(acc[k][w]));
  for (; i < n; ++i)
    r = nan_extreme<Greatest>(r, x[i]);
  return r;
}

// e^x for float within 1 ulp (checked against every float), exact for
// +-inf, NaN, overflow and subnormal results. glibc's expf is a call per
// element; this is Cephes' reduction and polynomial, scaled by 2^k in two
// steps so subnormal results round once.
inline float exp_float(float x) {
  const float xc = std::min(std::max(x, -104.0f), 89.0f); // keeps NaN
  const float shifter = 12582912.0f; // 1.5 * 2^23: t's low bits hold rint
  const float t = xc * 1.44269504088896341f + shifter;
  const float k = t - shifter;
  uint32_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const int32_t ki = static_cast<int32_t>(tb - 0x4B400000u); // in [-150, 128]
  float r = xc - k * 0.693359375f; // ln 2 in two parts, the first exact
  r = r + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t k1 = ki / 2, k2 = ki - k1;
  const uint32_t b1 = static_cast<uint32_t>(k1 + 127) << 23;
  const uint32_t b2 = static_cast<uint32_t>(k2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, sizeof s1);
  std::memcpy(&s2, &b2, sizeof s2);
  const float y = p * s1 * s2;
  return x != x ? x : y;
}

// e^x: the vectorisable float version, glibc's for double.
inline float exp_any(float x) { return exp_float(x); }
inline double exp_any(double x) { return std::exp(x); }

} // namespace devrt_cpu
