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

// dst row r, columns [0, 8) = src[c * scs + r] for c in [0, 8), r in
// [0, 8): one 8x8 block of 4-byte elements transposed in registers (eight
// loads along the source's unit stride, three rounds of shuffles, eight
// stores along the destination's), for any 4-byte dtype copied unchanged.
typedef uint32_t Lanes8 __attribute__((vector_size(32)));
[[gnu::always_inline]] inline void transpose8x8(char *dst, int64_t drs,
                                                const char *src, int64_t scs) {
  Lanes8 r[8], t[8], u[8];
  for (int c = 0; c < 8; ++c)
    std::memcpy(&r[c], src + c * scs, sizeof(Lanes8));
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] =
        __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)
    for (int k = 0; k < 2; ++k) {
      u[i + 2 * k] = __builtin_shufflevector(t[i + k], t[i + k + 2], 0, 1, 8, 9,
                                             4, 5, 12, 13);
      u[i + 2 * k + 1] = __builtin_shufflevector(t[i + k], t[i + k + 2], 2, 3,
                                                 10, 11, 6, 7, 14, 15);
    }
  for (int j = 0; j < 4; ++j) {
    const Lanes8 lo =
        __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    const Lanes8 hi =
        __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    std::memcpy(dst + j * drs, &lo, sizeof(Lanes8));
    std::memcpy(dst + (j + 4) * drs, &hi, sizeof(Lanes8));
  }
}

// One tile (rows x cols, at most 32 x 32) of a transposing copy of 4-byte
// elements: 8x8 blocks in registers, the edges element by element.
DEVRT_CPU_CLONES void transpose_tile4(char *dst, int64_t drs, const char *src,
                                      int64_t scs, int64_t rows, int64_t cols) {
  const int64_t r8 = rows - rows % 8, c8 = cols - cols % 8;
  for (int64_t r = 0; r < r8; r += 8)
    for (int64_t c = 0; c < c8; c += 8)
      transpose8x8(dst + r * drs + c * 4, drs, src + c * scs + r * 4, scs);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r < r8 ? c8 : 0; c < cols; ++c)
      std::memcpy(dst + r * drs + c * 4, src + c * scs + r * 4, 4);
}

// Copies a source that runs down the destination's columns (a transpose)
// tile by tile, so both sides stay in cache; Plain: 4-byte elements copied
// unchanged, a tile transposed in registers.
template <typename Out, typename In, bool Plain = false, typename F>
void copy_tiles(const Layout<2> &l, char *const *base, F f) {
  constexpr int64_t kTile = 32;
  const int nd = l.ndim;
  const int64_t rows = l.shape[nd - 2], cols = l.shape[nd - 1];
  const int64_t drs = l.stride[nd - 2][0], scs = l.stride[nd - 1][1];
  Layout<2> outer; // the dimensions above the last two
  outer.ndim = nd - 2;
  for (int d = 0; d < nd - 2; ++d) {
    outer.shape[d] = l.shape[d];
    outer.stride[d][0] = l.stride[d][0];
    outer.stride[d][1] = l.stride[d][1];
    outer.numel *= l.shape[d];
  }
  outer.coalesce();
  const int64_t bands = (rows + kTile - 1) / kTile;
  parallel_for(
      outer.numel * bands, std::max<int64_t>(1, kGrainCheap / (kTile * cols)),
      [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
          char *p[2];
          seek(outer, base, item / bands, p);
          const int64_t r0 = (item % bands) * kTile;
          const int64_t r1 = std::min(rows, r0 + kTile);
          for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
            const int64_t c1 = std::min(cols, c0 + kTile);
            if constexpr (Plain) {
              transpose_tile4(p[0] + r0 * drs + c0 * 4, drs,
                              p[1] + r0 * 4 + c0 * scs, scs, r1 - r0, c1 - c0);
              continue;
            }
            for (int64_t r = r0; r < r1; ++r) {
              Out *d = reinterpret_cast<Out *>(p[0] + r * drs);
              const char *s = p[1] + r * int64_t{sizeof(In)};
              for (int64_t c = c0; c < c1; ++c)
                d[c] = f(*reinterpret_cast<const In *>(s + c * scs));
            }
          }
        }
      });
}

// dst = f(src) for storage types Out, In; Plain: f is the identity.
template <typename Out, typename In, bool Plain = false, typename F>
void convert_views(const devrt_view &src, const devrt_view &dst, F f) {
  const Layout<2> l = make_layout<2>({&dst, &src});
  if (l.numel == 0)
    return;
  if (l.ndim >= 2 && l.inner_stride(0) == int64_t{sizeof(Out)} &&
      l.stride[l.ndim - 2][1] == int64_t{sizeof(In)} &&
      l.inner_stride(1) != int64_t{sizeof(In)}) {
    char *base[2] = {static_cast<char *>(dst.data),
                     static_cast<char *>(src.data)};
    copy_tiles<Out, In, Plain && sizeof(Out) == 4 && sizeof(In) == 4>(l, base,
                                                                      f);
    return;
  }
  map<Out, In>(kGrainCheap, f, dst, src);
}

void copy(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &src = call.inputs[0], &dst = call.outputs[0];
  if (src.dtype == dst.dtype) {
    if (is_contiguous(src) && is_contiguous(dst)) {
      char *d = static_cast<char *>(dst.data);
      const char *s = static_cast<const char *>(src.data);
      parallel_for(numel(dst) * itemsize(dst.dtype), kGrainCheap * 8,
                   [&](int64_t b, int64_t e) {
                     std::memcpy(d + b, s + b, static_cast<size_t>(e - b));
                   });
      return;
    }
    dispatch_bytes(dst.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      convert_views<T, T, true>(src, dst, [](T v) { return v; });
    });
    return;
  }
  AllTypes::dispatch(src.dtype, [&](auto from) {
    using From = typename decltype(from)::marker;
    AllTypes::dispatch(dst.dtype, [&](auto to) {
      using To = typename decltype(to)::marker;
      convert_views<storage_t<To>, storage_t<From>>(
          src, dst, [](storage_t<From> v) { return convert<To, From>(v); });
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
          out[i * stride] =
              static_cast<T>(start.f + static_cast<double>(i) * step.f);
        else
          out[i * stride] =
              static_cast<T>(wrap_add(start.i, wrap_mul(i, step.i)));
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
