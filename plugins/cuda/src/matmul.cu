// matmul: floating dtypes on cuBLAS (one strided-batched call where the
// batch strides allow it, transposed operands passed as such), integers and
// layouts cuBLAS cannot take by a tiled kernel of its own.
#include "backend.h"
#include "kernel_util.cuh"
#include "kernels.h"

#include <cublas_v2.h>

#include <mutex>
#include <vector>

namespace devrt_cuda {
namespace {

// One cuBLAS handle per device, made on first use.
cublasHandle_t handle(int device) {
  static std::mutex mu;
  static std::vector<cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mu);
  if (device >= static_cast<int>(handles.size()))
    handles.resize(device + 1, nullptr);
  if (!handles[device]) {
    cublasStatus_t st = cublasCreate(&handles[device]);
    if (st != CUBLAS_STATUS_SUCCESS)
      fail(st == CUBLAS_STATUS_ALLOC_FAILED ? DEVRT_ERROR_OUT_OF_MEMORY
                                            : DEVRT_ERROR_RUNTIME,
           std::string("cublasCreate: ") + cublasGetStatusString(st));
  }
  return handles[device];
}

void check_blas(cublasStatus_t st, const char *what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    fail(DEVRT_ERROR_RUNTIME,
         std::string(what) + ": " + cublasGetStatusString(st));
}

// A row-major matrix (rows x cols, strides rs and cs) as cuBLAS's
// column-major operand of its transpose: op N with leading dimension rs
// when cs == 1, op T with leading dimension cs when rs == 1.
struct Operand {
  bool ok = false;
  cublasOperation_t op = CUBLAS_OP_N;
  int64_t ld = 0;
};

Operand as_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  // A dim of size 1 has no meaningful stride: pick one that suits.
  if (cols == 1)
    cs = 1;
  if (rows == 1)
    rs = cols;
  Operand o;
  if (cs == 1 && rs >= (cols > 1 ? cols : 1)) {
    o = {true, CUBLAS_OP_N, rs};
  } else if (rs == 1 && cs >= (rows > 1 ? rows : 1)) {
    o = {true, CUBLAS_OP_T, cs};
  }
  return o;
}

template <typename T> struct BlasType;
template <> struct BlasType<float> {
  static constexpr cudaDataType_t type = CUDA_R_32F;
};
template <> struct BlasType<double> {
  static constexpr cudaDataType_t type = CUDA_R_64F;
};
template <> struct BlasType<half> {
  static constexpr cudaDataType_t type = CUDA_R_16F;
};
template <> struct BlasType<bf16> {
  static constexpr cudaDataType_t type = CUDA_R_16BF;
};

// The batch dims of a, b and y flattened into one (count, strides) when
// each operand steps through them with one stride; false otherwise.
bool uniform_batch(const devrt_view &a, const devrt_view &b,
                   const devrt_view &y, int64_t *count, int64_t *sa,
                   int64_t *sb, int64_t *sy) {
  const int nb = y.ndim - 2;
  *count = 1;
  *sa = *sb = *sy = 0;
  bool first = true;
  for (int d = nb - 1; d >= 0; --d) {
    const int64_t n = y.shape[d];
    if (n == 1)
      continue;
    if (first) {
      *sa = a.strides[d];
      *sb = b.strides[d];
      *sy = y.strides[d];
      first = false;
    } else if (a.strides[d] != *sa * *count || b.strides[d] != *sb * *count ||
               y.strides[d] != *sy * *count) {
      return false;
    }
    *count *= n;
  }
  return true;
}

// y = a @ b for row-major views: cuBLAS computes y^T = b^T a^T in column-major.
template <typename T> bool blas_matmul(const devrt_kernel_call &call) {
  const devrt_view &a = call.inputs[0], &b = call.inputs[1],
                   &y = call.outputs[0];
  const int r = y.ndim;
  const int64_t M = y.shape[r - 2], N = y.shape[r - 1], K = a.shape[r - 1];
  const Operand oa = as_operand(M, K, a.strides[r - 2], a.strides[r - 1]);
  const Operand ob = as_operand(K, N, b.strides[r - 2], b.strides[r - 1]);
  const Operand oy = as_operand(M, N, y.strides[r - 2], y.strides[r - 1]);
  if (!oa.ok || !ob.ok || !oy.ok || oy.op != CUBLAS_OP_N)
    return false;
  const int64_t limit = 2147483647;
  if (M > limit || N > limit || K > limit || oa.ld > limit || ob.ld > limit ||
      oy.ld > limit)
    return false;
  int64_t count, sa, sb, sy;
  const bool uniform = uniform_batch(a, b, y, &count, &sa, &sb, &sy);
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cublasHandle_t h = handle(device);
  check_blas(cublasSetStream(h, stream_of(call)), "cublasSetStream");
  constexpr bool is_double = std::is_same_v<T, double>;
  const cublasComputeType_t compute =
      is_double ? CUBLAS_COMPUTE_64F
      : (std::is_same_v<T, float> && allow_tf32())
          ? CUBLAS_COMPUTE_32F_FAST_TF32
          : CUBLAS_COMPUTE_32F;
  const double one_d = 1, zero_d = 0;
  const float one_f = 1, zero_f = 0;
  const void *alpha = is_double ? static_cast<const void *>(&one_d) : &one_f;
  const void *beta = is_double ? static_cast<const void *>(&zero_d) : &zero_f;
  const cudaDataType_t t = BlasType<T>::type;
  auto gemm = [&](const T *pa, const T *pb, T *py, int64_t batches,
                  int64_t stride_a, int64_t stride_b, int64_t stride_y) {
    check_blas(cublasGemmStridedBatchedEx(
                   h, ob.op, oa.op, static_cast<int>(N), static_cast<int>(M),
                   static_cast<int>(K), alpha, pb, t, static_cast<int>(ob.ld),
                   stride_b, pa, t, static_cast<int>(oa.ld), stride_a, beta, py,
                   t, static_cast<int>(oy.ld), stride_y,
                   static_cast<int>(batches), compute, CUBLAS_GEMM_DEFAULT),
               "cublasGemmStridedBatchedEx");
  };
  const T *pa = static_cast<const T *>(a.data);
  const T *pb = static_cast<const T *>(b.data);
  T *py = static_cast<T *>(y.data);
  if (uniform && count <= 65535) {
    gemm(pa, pb, py, count, sa, sb, sy);
    return true;
  }
  // Batch dims that do not flatten: one call per matrix of y.
  const int nb = r - 2;
  int64_t total = 1;
  for (int d = 0; d < nb; ++d)
    total *= y.shape[d];
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, oa_ = 0, ob_ = 0, oy_ = 0;
    for (int d = nb - 1; d >= 0; --d) {
      const int64_t c = rem % y.shape[d];
      rem /= y.shape[d];
      oa_ += c * a.strides[d];
      ob_ += c * b.strides[d];
      oy_ += c * y.strides[d];
    }
    gemm(pa + oa_, pb + ob_, py + oy_, 1, 0, 0, 0);
  }
  return true;
}

// The fallback: a 16x16 tile of y per block, K in steps of 16 through
// shared memory, any strides; accumulates in acc_t<T> (wrapping for ints).
constexpr int kTileMM = 16;

struct MatmulArgs {
  int64_t M, N, K;
  int64_t a_rs, a_cs, b_rs, b_cs, y_rs, y_cs;
  Layout<3> batch; // offsets of y, a, b
};

// Integers accumulate unsigned, so that overflow wraps as NumPy's does.
template <typename T, bool = std::is_integral_v<T>> struct MatmulAcc {
  using type = acc_t<T>;
};
template <typename T> struct MatmulAcc<T, true> {
  using type = std::make_unsigned_t<T>;
};

template <typename T>
__global__ void matmul_kernel(const T *a, const T *b, T *y, MatmulArgs p) {
  using A = typename MatmulAcc<T>::type;
  __shared__ A ta[kTileMM][kTileMM + 1];
  __shared__ A tb[kTileMM][kTileMM + 1];
  const int64_t row = int64_t(blockIdx.y) * kTileMM + threadIdx.y;
  const int64_t col = int64_t(blockIdx.x) * kTileMM + threadIdx.x;
  for (int64_t z = blockIdx.z; z < p.batch.numel; z += gridDim.z) {
    int64_t o[3];
    p.batch.offsets(z, o);
    A acc = 0;
    for (int64_t k0 = 0; k0 < p.K; k0 += kTileMM) {
      const int64_t ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
      ta[threadIdx.y][threadIdx.x] =
          row < p.M && ka < p.K
              ? static_cast<A>(load(a[o[1] + row * p.a_rs + ka * p.a_cs]))
              : A(0);
      tb[threadIdx.y][threadIdx.x] =
          kb < p.K && col < p.N
              ? static_cast<A>(load(b[o[2] + kb * p.b_rs + col * p.b_cs]))
              : A(0);
      __syncthreads();
      for (int k = 0; k < kTileMM; ++k)
        acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
      __syncthreads();
    }
    if (row < p.M && col < p.N)
      y[o[0] + row * p.y_rs + col * p.y_cs] = convert<T>(acc_t<T>(acc));
  }
}

template <typename T> void tiled_matmul(const devrt_kernel_call &call) {
  const devrt_view &a = call.inputs[0], &b = call.inputs[1],
                   &y = call.outputs[0];
  const int r = y.ndim;
  MatmulArgs p;
  p.M = y.shape[r - 2];
  p.N = y.shape[r - 1];
  p.K = a.shape[r - 1];
  p.a_rs = a.strides[r - 2];
  p.a_cs = a.strides[r - 1];
  p.b_rs = b.strides[r - 2];
  p.b_cs = b.strides[r - 1];
  p.y_rs = y.strides[r - 2];
  p.y_cs = y.strides[r - 1];
  const devrt_view *views[3] = {&y, &a, &b};
  p.batch = make_layout(y.shape, r - 2, views);
  if ((p.M + kTileMM - 1) / kTileMM > 65535)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "more than " + std::to_string(65535 * kTileMM) + " rows (" +
             std::to_string(p.M) + ") for the " + dtype_name(y.dtype) +
             " matmul kernel");
  const dim3 grid(
      static_cast<unsigned>((p.N + kTileMM - 1) / kTileMM),
      static_cast<unsigned>((p.M + kTileMM - 1) / kTileMM),
      static_cast<unsigned>(p.batch.numel < 65535 ? p.batch.numel : 65535));
  matmul_kernel<T><<<grid, dim3(kTileMM, kTileMM), 0, stream_of(call)>>>(
      static_cast<const T *>(a.data), static_cast<const T *>(b.data),
      static_cast<T *>(y.data), p);
  check_launch("launching matmul");
}

void matmul(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &a = call.inputs[0], &b = call.inputs[1],
                   &y = call.outputs[0];
  expect_dtype(b, a.dtype, "b");
  expect_dtype(y, a.dtype, "y");
  if (y.ndim < 2 || a.ndim != y.ndim || b.ndim != y.ndim)
    fail(DEVRT_ERROR_RUNTIME, "expected operands of one rank >= 2");
  const int r = y.ndim;
  if (numel(y) == 0)
    return;
  if (a.shape[r - 1] == 0) { // an empty sum: zeros
    NumericH::dispatch(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      check(cudaMemsetAsync(y.data, 0, numel(y) * sizeof(T), stream_of(call)),
            "cudaMemsetAsync");
    });
    return;
  }
  NumericH::dispatch(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_floating_v<T>)
      if (blas_matmul<T>(call))
        return;
    tiled_matmul<T>(call);
  });
}

} // namespace

void register_matmul_kernels() {
  register_kernel("matmul", NumericH::mask, kernel_entry<matmul>);
}

} // namespace devrt_cuda
