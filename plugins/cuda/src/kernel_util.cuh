// Glue shared by the CUDA kernels: errors, the C ABI wrapper, attributes,
// dtype dispatch (float16 and bfloat16 as CUDA's __half and __nv_bfloat16,
// computed in float), strided layouts and the launch of elementwise loops.
#pragma once

#include <devrt/c_api.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <new>
#include <string>
#include <type_traits>

namespace devrt_cuda {

// Thrown by kernel bodies (host code); kernel_entry turns it into a status
// and "[op] message".
struct KernelError {
  devrt_status status;
  std::string message;
};

[[noreturn]] inline void fail(devrt_status status, std::string message) {
  throw KernelError{status, std::move(message)};
}

// A failed CUDA call: out of memory is its own category, anything else a
// runtime error naming the call. The sticky error state is cleared.
inline void check(cudaError_t err, const char *what) {
  if (err == cudaSuccess)
    return;
  cudaGetLastError();
  fail(err == cudaErrorMemoryAllocation ? DEVRT_ERROR_OUT_OF_MEMORY
                                        : DEVRT_ERROR_RUNTIME,
       std::string(what) + ": " + cudaGetErrorString(err));
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

inline cudaStream_t stream_of(const devrt_kernel_call &call) {
  return static_cast<cudaStream_t>(call.stream);
}

// Turns a body `void body(const devrt_kernel_call &)` into a devrt_kernel_fn
// that never lets an exception cross the C ABI.
template <void (*Body)(const devrt_kernel_call &)>
int kernel_entry(const devrt_kernel_call *call) noexcept {
  devrt_status status;
  std::string text;
  try {
    Body(*call);
    return DEVRT_OK;
  } catch (KernelError &e) {
    status = e.status;
    text = std::move(e.message);
  } catch (const std::bad_alloc &) {
    status = DEVRT_ERROR_OUT_OF_MEMORY;
    text = "out of host memory";
  } catch (const std::exception &e) {
    status = DEVRT_ERROR_RUNTIME;
    text = e.what();
  } catch (...) {
    status = DEVRT_ERROR_RUNTIME;
    text = "unknown error";
  }
  if (call->error && call->error_size > 0)
    std::snprintf(call->error, call->error_size, "[%s] %s",
                  call->op ? call->op : "?", text.c_str());
  return status;
}

// Registers `fn` for `op` on the "cuda" backend; throws on failure.
inline void register_kernel(const char *op, uint32_t dtypes,
                            devrt_kernel_fn fn) {
  devrt_kernel_desc desc{};
  desc.struct_size = sizeof desc;
  desc.op = op;
  desc.backend = "cuda";
  desc.dtypes = dtypes;
  desc.fn = fn;
  if (int status = devrt_register_kernel(&desc)) {
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

// ---- dtypes ----------------------------------------------------------------

using half = __half;
using bf16 = __nv_bfloat16;

template <typename T> struct dtype_of;
template <> struct dtype_of<bool> : std::integral_constant<int, DEVRT_BOOL> {};
template <>
struct dtype_of<uint8_t> : std::integral_constant<int, DEVRT_UINT8> {};
template <>
struct dtype_of<int32_t> : std::integral_constant<int, DEVRT_INT32> {};
template <>
struct dtype_of<int64_t> : std::integral_constant<int, DEVRT_INT64> {};
template <>
struct dtype_of<half> : std::integral_constant<int, DEVRT_FLOAT16> {};
template <>
struct dtype_of<bf16> : std::integral_constant<int, DEVRT_BFLOAT16> {};
template <>
struct dtype_of<float> : std::integral_constant<int, DEVRT_FLOAT32> {};
template <>
struct dtype_of<double> : std::integral_constant<int, DEVRT_FLOAT64> {};

// The type arithmetic runs in: float for the 16-bit floats.
template <typename T> struct acc {
  using type = T;
};
template <> struct acc<half> {
  using type = float;
};
template <> struct acc<bf16> {
  using type = float;
};
template <typename T> using acc_t = typename acc<T>::type;

template <typename T>
constexpr bool is_floating_v =
    std::is_floating_point_v<T> || std::is_same_v<T, half> ||
    std::is_same_v<T, bf16>;

// Any dtype to any other, as NumPy's astype: the 16-bit floats go through
// float (double -> float16 rounds once), anything -> bool is != 0, floats
// -> integers truncate.
template <typename To, typename From>
__host__ __device__ inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, half>) {
    return convert<To>(__half2float(v));
  } else if constexpr (std::is_same_v<From, bf16>) {
    return convert<To>(__bfloat162float(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, half>) {
    if constexpr (std::is_same_v<From, double>)
      return __double2half(v);
    else
      return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bf16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<From> &&
                       std::is_same_v<To, uint8_t>) {
    return static_cast<uint8_t>(convert<int32_t>(v));
  } else if constexpr (std::is_floating_point_v<From> &&
                       std::is_integral_v<To>) {
    // As on x86 (NumPy's astype there): NaN and out-of-range values give
    // the minimum integer.
    constexpr From lo = static_cast<From>(std::numeric_limits<To>::min());
    return (v >= lo && v < -lo) ? static_cast<To>(v)
                                : std::numeric_limits<To>::min();
  } else {
    return static_cast<To>(v); // integers wrap; int -> float rounds
  }
}

template <typename T> __host__ __device__ inline acc_t<T> load(T v) {
  return convert<acc_t<T>>(v);
}

// Calls f(T{}) for the T among Ts whose dtype is `dtype`.
template <typename... Ts, typename F> void dispatch(int32_t dtype, F &&f) {
  bool done = ((dtype == dtype_of<Ts>::value ? (f(Ts{}), true) : false) || ...);
  if (!done)
    fail(DEVRT_ERROR_TYPE,
         std::string("no CUDA kernel for dtype ") + dtype_name(dtype));
}

// A list of dtypes: a kernel's registration mask and its dispatch.
template <typename... Ts> struct Types {
  static constexpr uint32_t mask = (0u | ... | (1u << dtype_of<Ts>::value));
  template <typename F> static void dispatch(int32_t dtype, F &&f) {
    devrt_cuda::dispatch<Ts...>(dtype, f);
  }
};
using Floating = Types<float, double>;
using Numeric = Types<int32_t, int64_t, float, double>;
using Bitwise = Types<bool, int32_t, int64_t>;
using Logical = Types<bool, uint8_t, int32_t, int64_t, float, double>;
// The elementwise arithmetic lists with the 16-bit floats.
using FloatingH = Types<half, bf16, float, double>;
using NumericH = Types<int32_t, int64_t, half, bf16, float, double>;
using LogicalH =
    Types<bool, uint8_t, int32_t, int64_t, half, bf16, float, double>;
using AllTypes = LogicalH;

// ---- strided layouts -------------------------------------------------------

constexpr int kMaxDims = 8;

// N operands of one shape (the output's), with strides in elements. Built
// with dims of size 1 dropped and dims that are contiguous in every operand
// merged, so a contiguous op is one dimension of unit stride.
template <int N> struct Layout {
  int ndim = 0;
  int64_t numel = 1;
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};

  __host__ __device__ void offsets(int64_t i, int64_t *off) const {
    for (int k = 0; k < N; ++k)
      off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t c = i % size[d];
      i /= size[d];
      for (int k = 0; k < N; ++k)
        off[k] += c * stride[k][d];
    }
  }

  bool contiguous() const {
    if (ndim == 0)
      return true;
    if (ndim != 1)
      return false;
    for (int k = 0; k < N; ++k)
      if (stride[k][0] != 1)
        return false;
    return true;
  }
};

// The layout of `views` over `shape` (ndim dims). Operands broadcast along
// the output's shape, so each view's strides apply to `shape`.
template <int N>
Layout<N> make_layout(const int64_t *shape, int32_t ndim,
                      const devrt_view *const (&views)[N]) {
  Layout<N> l;
  int64_t size[64];
  int64_t stride[N][64];
  int n = 0;
  if (ndim > 64)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "more than 64 dimensions (" + std::to_string(ndim) + ")");
  for (int32_t d = 0; d < ndim; ++d) {
    l.numel *= shape[d];
    if (shape[d] == 1)
      continue;
    size[n] = shape[d];
    for (int k = 0; k < N; ++k)
      stride[k][n] = views[k]->strides[d];
    ++n;
  }
  // Merge dim d-1 into d where every operand steps over d-1 as one block.
  int m = 0;
  for (int d = 0; d < n; ++d) {
    bool merge = m > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = l.stride[k][m - 1] == stride[k][d] * size[d];
    if (merge) {
      l.size[m - 1] *= size[d];
      for (int k = 0; k < N; ++k)
        l.stride[k][m - 1] = stride[k][d];
      continue;
    }
    if (m == kMaxDims)
      fail(DEVRT_ERROR_NOT_IMPLEMENTED,
           "more than " + std::to_string(kMaxDims) +
               " dimensions that cannot be merged");
    l.size[m] = size[d];
    for (int k = 0; k < N; ++k)
      l.stride[k][m] = stride[k][d];
    ++m;
  }
  l.ndim = m;
  return l;
}

// ---- launching
// ---------------------------------------------------------------

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < (int64_t{1} << 20) ? (b > 0 ? b : 1)
                                                      : (int64_t{1} << 20));
}

inline void check_launch(const char *what) { check(cudaGetLastError(), what); }

template <int N, typename F> __global__ void contiguous_loop(int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[N];
    for (int k = 0; k < N; ++k)
      off[k] = i;
    f(off);
  }
}

template <int N, typename F> __global__ void strided_loop(Layout<N> l, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < l.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[N];
    l.offsets(i, off);
    f(off);
  }
}

// Runs f(off) for every element, off[k] being operand k's element offset.
template <int N, typename F>
void for_each(cudaStream_t s, const Layout<N> &l, F f) {
  if (l.numel == 0)
    return;
  if (l.contiguous())
    contiguous_loop<N><<<blocks_for(l.numel), kThreads, 0, s>>>(l.numel, f);
  else
    strided_loop<N><<<blocks_for(l.numel), kThreads, 0, s>>>(l, f);
  check_launch("launching an elementwise kernel");
}

// ---- errors found on the device
// ----------------------------------------------

// Kernels that can meet bad data (an index out of range, an integer
// division by zero) record the first such event here; the host reads it
// back after the kernel and raises it.
struct DeviceError {
  int code; // 0: none; else kernel-specific
  int64_t a, b, c;
};

__device__ inline void report(DeviceError *e, int code, int64_t a, int64_t b,
                              int64_t c) {
  if (atomicCAS(&e->code, 0, -1) == 0) {
    e->a = a;
    e->b = b;
    e->c = c;
    __threadfence();
    atomicExch(&e->code, code);
  }
}

// This device's error slot, cleared (stream-ordered) before a kernel uses it.
DeviceError *error_slot(cudaStream_t s);
// Waits for `s` and returns what the kernels since error_slot() reported.
DeviceError read_error(cudaStream_t s);

} // namespace devrt_cuda
