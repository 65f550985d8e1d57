// Batched matrix product: float32/float64 through OpenBLAS, integers by a
// plain i-k-j loop.
#include "kernels.h"
#include "strided.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace devrt_cpu {
namespace {

void gemm(bool ta, bool tb, int m, int n, int k, const float *a, int lda,
          const float *b, int ldb, float *c, int ldc) {
  scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b,
                    ldb, 0.0f, c, ldc);
}
void gemm(bool ta, bool tb, int m, int n, int k, const double *a, int lda,
          const double *b, int ldb, double *c, int ldc) {
  scipy_cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda, b,
                    ldb, 0.0, c, ldc);
}

// How BLAS can read a rows x cols matrix with element strides (rs, cs) in
// place: row-major (trans = false, ld = rs) or column-major (trans = true,
// ld = cs). False when neither fits; rows, cols >= 1.
bool blas_view(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans,
               int64_t *ld) {
  if (rows == 1 && (cs == 1 || cols == 1)) { // the row stride is never used
    *trans = false;
    *ld = cols;
  } else if (rows == 1 || (rs == 1 && cs >= rows)) {
    *trans = true;
    *ld = cs;
  } else if (cols == 1 || (cs == 1 && rs >= cols)) {
    *trans = false;
    *ld = rs;
  } else {
    return false;
  }
  return *ld >= 1 && *ld <= INT_MAX;
}

// One operand, ready for BLAS: in place, or gathered into `scratch`.
template <typename T> struct BlasOperand {
  const T *data;
  bool trans;
  int ld;
};

template <typename T>
BlasOperand<T> blas_operand(const T *p, int64_t rows, int64_t cols, int64_t rs,
                            int64_t cs, std::vector<T> &scratch) {
  bool trans;
  int64_t ld;
  if (blas_view(rows, cols, rs, cs, &trans, &ld))
    return {p, trans, static_cast<int>(ld)};
  scratch.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      scratch[i * cols + j] = p[i * rs + j * cs];
  return {scratch.data(), false, static_cast<int>(cols)};
}

// y[j] += a * b[j], wrapping.
template <typename T>
DEVRT_CPU_CLONES void axpy_row(T *y, T a, const T *b, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    y[j] = wrap_add(y[j], wrap_mul(a, b[j]));
}

struct Dims {
  int64_t m, n, k;
  int64_t ars, acs, brs, bcs, yrs; // element strides
};

void check_int(int64_t v, const char *what) {
  if (v > INT_MAX)
    fail(DEVRT_ERROR_VALUE, std::string(what) + " = " + std::to_string(v) +
                                " exceeds the 32-bit BLAS limit");
}

// Note: OpenBLAS runs single-threaded (register_matmul_kernels) and devrt's
// pool splits the work instead. Two pools on the same cores fight: OpenBLAS's
// workers spin for a long while after each call and starve the pool's
// im2col, elementwise and reduction pieces that come between GEMMs (and the
// pool's spinning starves them back). With one pool, a GEMM is cut into
// independent blocks: whole batch elements when there are enough of them,
// else bands of rows or columns of each product.
constexpr int64_t kGemmInlineMacs = int64_t{1} << 18; // below: one thread
constexpr int64_t kGemmBandMacs = int64_t{1} << 22;   // least work per band
constexpr int64_t kGemmMinBand = 32;                  // rows or columns

// y (m x n, row stride ldy) = a (m x k) @ b (k x n), the operands with d's
// element strides, read in place where BLAS can.
template <typename T>
void gemm_block(const T *a, const T *b, T *y, int64_t m, int64_t n, int64_t k,
                int64_t ldy, const Dims &d, std::vector<T> &sa,
                std::vector<T> &sb) {
  const BlasOperand<T> oa = blas_operand(a, m, k, d.ars, d.acs, sa);
  const BlasOperand<T> ob = blas_operand(b, k, n, d.brs, d.bcs, sb);
  gemm(oa.trans, ob.trans, static_cast<int>(m), static_cast<int>(n),
       static_cast<int>(k), oa.data, oa.ld, ob.data, ob.ld, y,
       static_cast<int>(ldy));
}

// One product whose K dwarfs M and N (64 x 1000 times 1000 x 100): each
// thread multiplies a slice of K, so that no operand is packed twice, and
// the partial products are summed. False when the shape does not call for
// it.
template <typename T>
bool split_k_matmul(const T *a, const T *b, T *y, const Dims &d,
                    int64_t threads) {
  const int64_t parts =
      std::min<int64_t>(threads, d.k / std::max<int64_t>(d.m, d.n) / 2);
  if (parts < 2 || d.m * d.n * d.k < kGemmInlineMacs * threads)
    return false;
  const int64_t slice = (d.k + parts - 1) / parts;
  const int64_t mn = d.m * d.n;
  // Every element is written by its slice's GEMM: no zeroing here.
  std::unique_ptr<T[]> partial(new T[static_cast<size_t>((parts - 1) * mn)]);
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    std::vector<T> sa, sb;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t k0 = p * slice, k = std::min(slice, d.k - k0);
      T *out = p == 0 ? y : partial.get() + (p - 1) * mn;
      gemm_block(a + k0 * d.acs, b + k0 * d.brs, out, d.m, d.n, k,
                 p == 0 ? d.yrs : d.n, d, sa, sb);
    }
  });
  for (int64_t p = 1; p < parts; ++p) {
    const T *src = partial.get() + (p - 1) * mn;
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j)
        y[i * d.yrs + j] += src[i * d.n + j];
  }
  return true;
}

template <typename T>
void float_matmul(const Layout<3> &batch, char *const *base, const Dims &d) {
  check_int(d.m, "M");
  check_int(d.n, "N");
  check_int(d.k, "K");
  check_int(d.yrs, "the output's row stride");
  if constexpr (std::is_same_v<T, float>)
    if (batch.numel == 1 &&
        small_k_matmul(reinterpret_cast<const float *>(base[0]), d.ars, d.acs,
                       reinterpret_cast<const float *>(base[1]), d.brs, d.bcs,
                       reinterpret_cast<float *>(base[2]), d.yrs, d.m, d.n,
                       d.k))
      return;
  const int64_t threads = devrt_num_threads();
  const int64_t macs = batch.numel * d.m * d.n * d.k;
  if (batch.numel == 1 && threads > 1 &&
      split_k_matmul(reinterpret_cast<const T *>(base[0]),
                     reinterpret_cast<const T *>(base[1]),
                     reinterpret_cast<T *>(base[2]), d, threads))
    return;
  // Bands of each product along its longer side (each thread packs its
  // slice of that side's operand and all of the smaller one): one per
  // thread, since every band packs the smaller operand again (four per
  // thread ran n = 1024 at 0.8x of OpenBLAS's own threading on AVX-512
  // kernels), and none so thin that BLAS loses its efficiency.
  const bool split_rows = d.m >= d.n;
  const int64_t extent = split_rows ? d.m : d.n;
  int64_t bands = 1;
  if (macs >= kGemmInlineMacs && batch.numel < threads) {
    const int64_t wanted = (threads + batch.numel - 1) / batch.numel;
    const int64_t thinnest = std::max<int64_t>(
        kGemmMinBand,
        kGemmBandMacs / std::max<int64_t>(1, macs / batch.numel / extent));
    bands = std::max<int64_t>(std::min<int64_t>(threads, extent / kGemmMinBand),
                              std::min(wanted, extent / thinnest));
    bands = std::max<int64_t>(bands, 1);
  }
  const int64_t band = (extent + bands - 1) / bands;
  bands = (extent + band - 1) / band;

  auto run = [&](int64_t t0, int64_t t1) {
    std::vector<T> sa, sb;
    for (int64_t t = t0; t < t1; ++t) {
      char *p[3];
      seek(batch, base, t / bands, p);
      const int64_t lo = (t % bands) * band;
      const int64_t len = std::min(band, extent - lo);
      const T *a = reinterpret_cast<const T *>(p[0]);
      const T *b = reinterpret_cast<const T *>(p[1]);
      T *y = reinterpret_cast<T *>(p[2]);
      int64_t m = d.m, n = d.n;
      if (split_rows) {
        a += lo * d.ars;
        y += lo * d.yrs;
        m = len;
      } else {
        b += lo * d.bcs;
        y += lo;
        n = len;
      }
      gemm_block(a, b, y, m, n, d.k, d.yrs, d, sa, sb);
    }
  };
  const int64_t tasks = batch.numel * bands;
  if (macs < kGemmInlineMacs)
    run(0, tasks);
  else
    parallel_for(tasks, 1, run);
}

// Rows of all batch elements are independent: split them over the pool.
template <typename T>
void int_matmul(const Layout<3> &batch, char *const *base, const Dims &d) {
  const int64_t grain = std::max<int64_t>(1, kGrainCheap / (d.k * d.n));
  parallel_for(batch.numel * d.m, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      char *p[3];
      seek(batch, base, r / d.m, p);
      const int64_t i = r % d.m;
      const T *a = reinterpret_cast<const T *>(p[0]) + i * d.ars;
      const T *b = reinterpret_cast<const T *>(p[1]);
      T *y = reinterpret_cast<T *>(p[2]) + i * d.yrs;
      std::memset(static_cast<void *>(y), 0,
                  static_cast<size_t>(d.n) * sizeof(T));
      for (int64_t k = 0; k < d.k; ++k) {
        const T aik = a[k * d.acs];
        const T *bk = b + k * d.brs;
        if (d.bcs == 1) {
          axpy_row(y, aik, bk, d.n);
        } else {
          for (int64_t j = 0; j < d.n; ++j)
            y[j] = wrap_add(y[j], wrap_mul(aik, bk[j * d.bcs]));
        }
      }
    }
  });
}

void matmul(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &a = call.inputs[0], &b = call.inputs[1],
                   &y = call.outputs[0];
  expect_dtype(b, a.dtype, "b");
  expect_dtype(y, a.dtype, "y");
  const int r = y.ndim;
  check_rank(r);
  if (r < 2 || a.ndim != r || b.ndim != r)
    fail(DEVRT_ERROR_RUNTIME,
         "expected operands of one rank >= 2, got " + std::to_string(a.ndim) +
             ", " + std::to_string(b.ndim) + " and " + std::to_string(r));
  Dims d{a.shape[r - 2],   b.shape[r - 1],   a.shape[r - 1],
         a.strides[r - 2], a.strides[r - 1], b.strides[r - 2],
         b.strides[r - 1], y.strides[r - 2]};
  if (b.shape[r - 2] != d.k || y.shape[r - 2] != d.m || y.shape[r - 1] != d.n)
    fail(DEVRT_ERROR_RUNTIME, "shapes do not chain");
  if (numel(y) == 0)
    return;
  if (d.n > 1 && y.strides[r - 1] != 1)
    fail(DEVRT_ERROR_RUNTIME, "the output's rows must be contiguous");
  if (d.m > 1 && d.yrs < d.n)
    fail(DEVRT_ERROR_RUNTIME, "the output's rows overlap");
  if (d.m == 1)
    d.yrs = std::max<int64_t>(d.n, 1);

  Layout<3> batch;
  batch.ndim = r - 2;
  for (int i = 0; i < r - 2; ++i) {
    if (a.shape[i] != y.shape[i] || b.shape[i] != y.shape[i])
      fail(DEVRT_ERROR_RUNTIME, "batch dimensions are not broadcast");
    batch.shape[i] = y.shape[i];
    batch.numel *= y.shape[i];
    const int64_t size = itemsize(y.dtype);
    batch.stride[i][0] = a.strides[i] * size;
    batch.stride[i][1] = b.strides[i] * size;
    batch.stride[i][2] = y.strides[i] * size;
  }
  batch.coalesce();
  char *base[3] = {static_cast<char *>(a.data), static_cast<char *>(b.data),
                   static_cast<char *>(y.data)};
  Numeric::dispatch(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (d.k == 0) {
      map<T>(kGrainCheap, [] { return T(0); }, y);
      return;
    }
    if constexpr (std::is_floating_point_v<T>)
      float_matmul<T>(batch, base, d);
    else
      int_matmul<T>(batch, base, d);
  });
}

} // namespace

void register_matmul_kernels() {
  scipy_openblas_set_num_threads(1);
  register_kernel("matmul", Numeric::mask, kernel_entry<matmul>);
}

} // namespace devrt_cpu
