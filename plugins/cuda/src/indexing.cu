// nonzero, and advanced indexing by k int64 index tensors: index (gather)
// and index_put (scatter, optionally accumulating). Bad indices are found
// on the device and raised after the kernel (a synchronisation).
#include "kernel_util.cuh"
#include "kernels.h"

namespace devrt_cuda {
namespace {

constexpr int kMaxIndices = 8;
enum { kOutOfRange = 1, kCountMismatch = 2 };

// ---- nonzero ---------------------------------------------------------------

struct Dims {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t stride[kMaxDims];
};

// One block walks x in row-major chunks of blockDim.x: each chunk's
// non-zeros get their places by a block-wide prefix count.
template <typename T>
__global__ void nonzero_kernel(const T *x, Dims d, int64_t n, int64_t *y,
                               int64_t ys0, int64_t ys1, int64_t expected,
                               DeviceError *err) {
  __shared__ int warp_count[32];
  __shared__ int64_t base;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (threadIdx.x == 0)
    base = 0;
  for (int64_t start = 0; start < n; start += blockDim.x) {
    const int64_t i = start + threadIdx.x;
    int64_t coord[kMaxDims], off = 0;
    bool hit = false;
    if (i < n) {
      int64_t r = i;
      for (int k = d.ndim - 1; k >= 0; --k) {
        coord[k] = r % d.shape[k];
        r /= d.shape[k];
        off += coord[k] * d.stride[k];
      }
      hit = convert<bool>(x[off]);
    }
    const unsigned ballot = __ballot_sync(0xffffffffu, hit);
    const int before_in_warp = __popc(ballot & ((1u << lane) - 1u));
    __syncthreads(); // base is current; warp_count free
    if (lane == 0)
      warp_count[warp] = __popc(ballot);
    __syncthreads();
    int64_t pos = base + before_in_warp;
    int total = 0;
    for (int w = 0; w < int(blockDim.x >> 5); ++w) {
      if (w < warp)
        pos += warp_count[w];
      total += warp_count[w];
    }
    if (hit && pos < expected)
      for (int k = 0; k < d.ndim; ++k)
        y[pos * ys0 + k * ys1] = coord[k];
    __syncthreads(); // everyone has read base
    if (threadIdx.x == 0)
      base += total;
  }
  __syncthreads();
  if (threadIdx.x == 0 && base != expected)
    report(err, kCountMismatch, base, expected, 0);
}

void nonzero(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, DEVRT_INT64, "y");
  if (y.ndim != 2 || y.shape[1] != x.ndim)
    fail(DEVRT_ERROR_RUNTIME,
         "the output must have shape (n, " + std::to_string(x.ndim) + ")");
  if (x.ndim > kMaxDims)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "more than " + std::to_string(kMaxDims) + " dimensions");
  Dims d{};
  d.ndim = x.ndim;
  for (int k = 0; k < x.ndim; ++k) {
    d.shape[k] = x.shape[k];
    d.stride[k] = x.strides[k];
  }
  const int64_t n = numel(x);
  if (n == 0)
    return;
  const cudaStream_t s = stream_of(call);
  DeviceError *err = error_slot(s);
  AllTypes::dispatch(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    nonzero_kernel<T><<<1, 256, 0, s>>>(
        static_cast<const T *>(x.data), d, n, static_cast<int64_t *>(y.data),
        y.strides[0], y.strides[1], y.shape[0], err);
    check_launch("launching nonzero");
  });
  const DeviceError e = read_error(s);
  if (e.code == kCountMismatch)
    fail(DEVRT_ERROR_RUNTIME, "found " + std::to_string(e.a) +
                                  " non-zeros, the output has room for " +
                                  std::to_string(e.b));
}

// ---- index and index_put
// -----------------------------------------------------

// The indexed tensor `ind` (src of index, dst of index_put) has shape
// (s_0..s_{k-1}, rest...); the dense one (y of index, values of index_put)
// has shape B + rest.
struct IndexArgs {
  int k = 0, bnd = 0, rnd = 0;
  bool wrap = true;
  int64_t bnumel = 1, rnumel = 1;
  int64_t bshape[kMaxDims] = {}, rshape[kMaxDims] = {};
  const int64_t *idx[kMaxIndices] = {};
  int64_t istride[kMaxIndices][kMaxDims] = {};
  int64_t size[kMaxIndices] = {}, stride[kMaxIndices] = {};
  int64_t dim[kMaxIndices] = {};
  int64_t dense_b[kMaxDims] = {}, dense_r[kMaxDims] = {}, ind_r[kMaxDims] = {};

  // The offset in `ind` of batch element b, or -1 after reporting a bad index.
  __device__ int64_t indexed_offset(int64_t b, DeviceError *err) const {
    int64_t coord[kMaxDims];
    for (int d = bnd - 1; d >= 0; --d) {
      coord[d] = b % bshape[d];
      b /= bshape[d];
    }
    int64_t off = 0;
    for (int j = 0; j < k; ++j) {
      int64_t io = 0;
      for (int d = 0; d < bnd; ++d)
        io += coord[d] * istride[j][d];
      int64_t i = idx[j][io];
      const int64_t orig = i;
      if (wrap && i < 0)
        i += size[j];
      if (i < 0 || i >= size[j]) {
        report(err, kOutOfRange, orig, dim[j], size[j]);
        return -1;
      }
      off += i * stride[j];
    }
    return off;
  }

  __device__ int64_t dense_offset(int64_t b, int64_t r) const {
    int64_t off = 0;
    for (int d = bnd - 1; d >= 0; --d) {
      off += (b % bshape[d]) * dense_b[d];
      b /= bshape[d];
    }
    return off + rest_offset(r, dense_r);
  }

  __device__ int64_t rest_offset(int64_t r, const int64_t *st) const {
    int64_t off = 0;
    for (int d = rnd - 1; d >= 0; --d) {
      off += (r % rshape[d]) * st[d];
      r /= rshape[d];
    }
    return off;
  }
};

IndexArgs index_args(const devrt_kernel_call &call, const devrt_view &ind,
                     const devrt_view &dense, int dims_attr, int wrap_attr) {
  IndexArgs a;
  a.k = call.n_inputs - 1;
  if (a.k > ind.ndim)
    fail(DEVRT_ERROR_INDEX, "too many indices (" + std::to_string(a.k) +
                                ") for a tensor of rank " +
                                std::to_string(ind.ndim));
  if (a.k > kMaxIndices)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "more than " + std::to_string(kMaxIndices) + " index tensors");
  a.bnd = a.k > 0 ? call.inputs[1].ndim : 0;
  a.rnd = ind.ndim - a.k;
  if (a.bnd > kMaxDims || a.rnd > kMaxDims)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "more than " + std::to_string(kMaxDims) + " dimensions");
  if (dense.ndim != a.bnd + a.rnd)
    fail(DEVRT_ERROR_RUNTIME, "rank " + std::to_string(dense.ndim) +
                                  " does not match the index shape and the " +
                                  std::to_string(a.rnd) +
                                  " trailing dimensions");
  const devrt_attr &dims = attr(call, dims_attr, DEVRT_ATTR_INTS);
  a.wrap = attr(call, wrap_attr, DEVRT_ATTR_BOOL).i != 0;
  for (int d = 0; d < a.bnd; ++d) {
    a.bshape[d] = call.inputs[1].shape[d];
    a.bnumel *= a.bshape[d];
    if (dense.shape[d] != a.bshape[d])
      fail(DEVRT_ERROR_RUNTIME, "shape does not start with the index shape");
    a.dense_b[d] = dense.strides[d];
  }
  for (int j = 0; j < a.k; ++j) {
    const devrt_view &v = call.inputs[1 + j];
    expect_dtype(v, DEVRT_INT64, "an index tensor");
    if (v.ndim != a.bnd)
      fail(DEVRT_ERROR_RUNTIME, "index tensors have different ranks");
    for (int d = 0; d < a.bnd; ++d) {
      if (v.shape[d] != a.bshape[d])
        fail(DEVRT_ERROR_RUNTIME, "index tensors have different shapes");
      a.istride[j][d] = v.strides[d];
    }
    a.idx[j] = static_cast<const int64_t *>(v.data);
    a.size[j] = ind.shape[j];
    a.stride[j] = ind.strides[j];
    a.dim[j] = j < dims.count ? dims.ints[j] : j;
  }
  for (int d = 0; d < a.rnd; ++d) {
    a.rshape[d] = ind.shape[a.k + d];
    if (dense.shape[a.bnd + d] != a.rshape[d])
      fail(DEVRT_ERROR_RUNTIME, "trailing dimensions differ");
    a.rnumel *= a.rshape[d];
    a.dense_r[d] = dense.strides[a.bnd + d];
    a.ind_r[d] = ind.strides[a.k + d];
  }
  return a;
}

void raise_index_error(const DeviceError &e) {
  if (e.code == kOutOfRange)
    fail(DEVRT_ERROR_INDEX,
         "index " + std::to_string(e.a) + " is out of bounds for dimension " +
             std::to_string(e.b) + " with size " + std::to_string(e.c));
}

template <typename T>
__global__ void gather_kernel(const T *src, T *y, IndexArgs a,
                              DeviceError *err) {
  const int64_t n = a.bnumel * a.rnumel;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / a.rnumel, r = i % a.rnumel;
    const int64_t off = a.indexed_offset(b, err);
    y[a.dense_offset(b, r)] =
        off < 0 ? T() : src[off + a.rest_offset(r, a.ind_r)];
  }
}

void index(const devrt_kernel_call &call) {
  if (call.n_inputs < 1 || call.n_outputs != 1)
    fail(DEVRT_ERROR_RUNTIME,
         "expected a source, index tensors and one output");
  const devrt_view &src = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, src.dtype, "y");
  const IndexArgs a = index_args(call, src, y, 0, 1);
  const int64_t n = a.bnumel * a.rnumel;
  if (n == 0)
    return;
  const cudaStream_t s = stream_of(call);
  DeviceError *err = error_slot(s);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const T *>(src.data), static_cast<T *>(y.data), a, err);
    check_launch("launching index");
  };
  switch (itemsize(src.dtype)) {
  case 1:
    run(uint8_t{});
    break;
  case 2:
    run(uint16_t{});
    break;
  case 4:
    run(uint32_t{});
    break;
  default:
    run(uint64_t{});
  }
  raise_index_error(read_error(s));
}

template <typename T>
__global__ void check_kernel(IndexArgs a, DeviceError *err) {
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < a.bnumel;
       b += int64_t(gridDim.x) * blockDim.x)
    a.indexed_offset(b, err);
}

// Note: without accumulation, each thread owns one trailing element r and
// walks all of B in order, so repeated indices resolve as a serial loop
// would (the last write wins) and no two threads touch one element. The
// dtypes without an atomic add (bool, uint8) accumulate the same way.
template <typename T, bool Add>
__global__ void scatter_serial_kernel(const T *values, T *dst, IndexArgs a) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < a.rnumel;
       r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t rest = a.rest_offset(r, a.ind_r);
    for (int64_t b = 0; b < a.bnumel; ++b) {
      T *d = dst + a.indexed_offset(b, nullptr) + rest;
      const T v = values[a.dense_offset(b, r)];
      if constexpr (Add)
        *d = convert<T>(load(*d) + load(v));
      else
        *d = v;
    }
  }
}

__device__ inline void atomic_add(int64_t *p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long *>(p),
            static_cast<unsigned long long>(v));
}
__device__ inline void atomic_add(int32_t *p, int32_t v) { atomicAdd(p, v); }
__device__ inline void atomic_add(float *p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double *p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(half *p, half v) { atomicAdd(p, v); }
__device__ inline void atomic_add(bf16 *p, bf16 v) { atomicAdd(p, v); }

template <typename T>
__global__ void scatter_add_kernel(const T *values, T *dst, IndexArgs a) {
  const int64_t n = a.bnumel * a.rnumel;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / a.rnumel, r = i % a.rnumel;
    atomic_add(dst + a.indexed_offset(b, nullptr) + a.rest_offset(r, a.ind_r),
               values[a.dense_offset(b, r)]);
  }
}

void index_put(const devrt_kernel_call &call) {
  if (call.n_inputs < 1 || call.n_outputs != 1)
    fail(DEVRT_ERROR_RUNTIME, "expected values, index tensors and one output");
  const devrt_view &values = call.inputs[0], &dst = call.outputs[0];
  expect_dtype(values, dst.dtype, "values");
  const bool accumulate = attr(call, 0, DEVRT_ATTR_BOOL).i != 0;
  const IndexArgs a = index_args(call, dst, values, 1, 2);
  if (a.bnumel == 0 || a.rnumel == 0)
    return;
  const cudaStream_t s = stream_of(call);
  // Every index is checked first, so a bad one leaves dst untouched.
  DeviceError *err = error_slot(s);
  check_kernel<char><<<blocks_for(a.bnumel), kThreads, 0, s>>>(a, err);
  check_launch("launching index_put's index check");
  raise_index_error(read_error(s));
  AllTypes::dispatch(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *v = static_cast<const T *>(values.data);
    T *d = static_cast<T *>(dst.data);
    constexpr bool atomic =
        !std::is_same_v<T, bool> && !std::is_same_v<T, uint8_t>;
    if constexpr (atomic) {
      if (accumulate) {
        scatter_add_kernel<T>
            <<<blocks_for(a.bnumel * a.rnumel), kThreads, 0, s>>>(v, d, a);
        check_launch("launching index_put");
        return;
      }
    }
    if (accumulate) {
      scatter_serial_kernel<T, true>
          <<<blocks_for(a.rnumel), kThreads, 0, s>>>(v, d, a);
    } else {
      scatter_serial_kernel<T, false>
          <<<blocks_for(a.rnumel), kThreads, 0, s>>>(v, d, a);
    }
    check_launch("launching index_put");
  });
}

} // namespace

void register_indexing_kernels() {
  register_kernel("nonzero", AllTypes::mask, kernel_entry<nonzero>);
  register_kernel("index", AllTypes::mask, kernel_entry<index>);
  register_kernel("index_put", AllTypes::mask, kernel_entry<index_put>);
}

} // namespace devrt_cuda
