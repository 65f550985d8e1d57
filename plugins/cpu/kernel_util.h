// Glue shared by the CPU kernels: errors, the C ABI wrapper, attribute
// access and dtype dispatch.
#pragma once

#include <devrt/c_api.h>

#include <cstdint>
#include <cstdio>
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

namespace devrt_cpu {

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

} // namespace devrt_cpu
