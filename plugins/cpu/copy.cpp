// copy (also the cast between any two dtypes), fill and arange.
#include "kernels.h"
#include "strided.h"

#include <devrt/half.h>

#include <cstring>
#include <limits>
#include <type_traits>

namespace devrt_cpu {
namespace {

// Float to integer as NumPy's astype on x86: truncate toward zero; NaN and
// out-of-range values give the minimum integer (the hardware's "integer
// indefinite"), and uint8 wraps from that 32-bit conversion.
template <typename I, typename F> I float_to_int(F v) {
  if constexpr (std::is_same_v<I, uint8_t>) {
    return static_cast<uint8_t>(float_to_int<int32_t>(v));
  } else {
    constexpr F lo = static_cast<F>(std::numeric_limits<I>::min()); // -2^k
    return (v >= lo && v < -lo) ? static_cast<I>(v)
                                : std::numeric_limits<I>::min();
  }
}

// One element from dtype marker From to dtype marker To, as NumPy's astype
// (float16 and bfloat16 go through float, except double -> float16, which
// NumPy rounds once).
template <typename To, typename From> storage_t<To> convert(storage_t<From> v) {
  if constexpr (std::is_same_v<From, Float16>) {
    if constexpr (std::is_same_v<To, bool>)
      return (v & 0x7fffu) != 0;
    else
      return convert<To, float>(devrt::half_to_float(v));
  } else if constexpr (std::is_same_v<From, BFloat16>) {
    if constexpr (std::is_same_v<To, bool>)
      return (v & 0x7fffu) != 0;
    else
      return convert<To, float>(devrt::bfloat16_to_float(v));
  } else if constexpr (std::is_same_v<To, Float16>) {
    if constexpr (std::is_same_v<From, double>)
      return devrt::double_to_half(v);
    else
      return devrt::float_to_half(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return devrt::float_to_bfloat16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> &&
                       !std::is_floating_point_v<To>) {
    return float_to_int<To>(v);
  } else {
    return static_cast<To>(v); // integers wrap; int -> float rounds
  }
}

void copy_same_dtype(const devrt_view &src, const devrt_view &dst) {
  const Layout<2> l = make_layout<2>({&dst, &src});
  if (l.numel == 0)
    return;
  const int64_t size = itemsize(dst.dtype);
  if (l.ndim == 1 && l.inner_stride(0) == size && l.inner_stride(1) == size) {
    char *d = static_cast<char *>(dst.data);
    const char *s = static_cast<const char *>(src.data);
    parallel_for(l.numel * size, kGrainCheap * 8, [&](int64_t b, int64_t e) {
      std::memcpy(d + b, s + b, static_cast<size_t>(e - b));
    });
    return;
  }
  dispatch_bytes(dst.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    map<T, T>(kGrainCheap, [](T v) { return v; }, dst, src);
  });
}

void copy(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &src = call.inputs[0], &dst = call.outputs[0];
  if (src.dtype == dst.dtype)
    return copy_same_dtype(src, dst);
  AllTypes::dispatch(src.dtype, [&](auto from) {
    using From = typename decltype(from)::marker;
    AllTypes::dispatch(dst.dtype, [&](auto to) {
      using To = typename decltype(to)::marker;
      map<storage_t<To>, storage_t<From>>(
          kGrainCheap, [](storage_t<From> v) { return convert<To, From>(v); },
          dst, src);
    });
  });
}

// The SCALAR attribute as a T: integers from the exact `i`, the rest from
// `f` (bool: non-zero, as a cast).
template <typename Marker> storage_t<Marker> scalar_as(const devrt_attr &a) {
  if constexpr (std::is_integral_v<Marker> && !std::is_same_v<Marker, bool>)
    return static_cast<Marker>(a.i);
  else
    return convert<Marker, double>(a.f);
}

void fill(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const devrt_view &y = call.outputs[0];
  const devrt_attr &value = attr(call, 0, DEVRT_ATTR_SCALAR);
  AllTypes::dispatch(y.dtype, [&](auto tag) {
    using Marker = typename decltype(tag)::marker;
    using T = storage_t<Marker>;
    const T v = scalar_as<Marker>(value);
    map<T>(kGrainCheap, [v] { return v; }, y);
  });
}

void arange(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const devrt_view &y = call.outputs[0];
  if (y.ndim != 1)
    fail(DEVRT_ERROR_RUNTIME,
         "expected a 1-d output, got rank " + std::to_string(y.ndim));
  const devrt_attr &start = attr(call, 0, DEVRT_ATTR_SCALAR);
  const devrt_attr &step = attr(call, 1, DEVRT_ATTR_SCALAR);
  const int64_t stride = y.strides[0];
  Numeric::dispatch(y.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T *out = static_cast<T *>(y.data);
    parallel_for(y.shape[0], kGrainCheap, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        if constexpr (std::is_floating_point_v<T>)
          out[i * stride] = static_cast<T>(start.f + static_cast<double>(i) * step.f);
        else
          out[i * stride] = static_cast<T>(wrap_add(start.i, wrap_mul(i, step.i)));
      }
    });
  });
}

} // namespace

void register_copy_kernels() {
  register_kernel("copy", AllTypes::mask, kernel_entry<copy>);
  register_kernel("fill", AllTypes::mask, kernel_entry<fill>);
  register_kernel("arange", Numeric::mask, kernel_entry<arange>);
}

} // namespace devrt_cpu
