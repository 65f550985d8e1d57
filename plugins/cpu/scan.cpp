// Along one axis, an output of the input's shape: argsort (the stable sort
// order) and cumsum (the running sum).
#include "kernels.h"
#include "parallel.h"
#include "strided.h"

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

namespace devrt_cpu {
namespace {

// Calls row(x_row, y_row) for every line of x and y along `axis` (n
// elements, element strides xs and ys there), the lines split over the
// pool.
template <typename T, typename Out, typename Row>
void for_each_line(const devrt_view &x, const devrt_view &y, int64_t axis,
                   int64_t grain, Row row) {
  devrt_view xk = x, yk = y; // x and y with the axis cut to size 1
  int64_t xshape[kMaxDims], yshape[kMaxDims];
  for (int d = 0; d < x.ndim; ++d)
    xshape[d] = yshape[d] = d == axis ? 1 : x.shape[d];
  xk.shape = xshape;
  yk.shape = yshape;
  const Layout<2> l = make_layout<2>({&yk, &xk});
  char *base[2] = {static_cast<char *>(y.data), static_cast<char *>(x.data)};
  const int64_t ys = l.inner_stride(0), xs = l.inner_stride(1);
  parallel_rows(l, base, grain, [&](char *const *p, int64_t m) {
    for (int64_t j = 0; j < m; ++j)
      row(reinterpret_cast<const T *>(p[1] + j * xs),
          reinterpret_cast<Out *>(p[0] + j * ys));
  });
}

void check_scan(const devrt_kernel_call &call, int32_t out_dtype,
                int64_t *axis) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, out_dtype, "y");
  check_rank(x.ndim);
  if (x.ndim < 1 || y.ndim != x.ndim)
    fail(DEVRT_ERROR_RUNTIME, "expected input and output of one rank >= 1");
  for (int d = 0; d < x.ndim; ++d)
    if (x.shape[d] != y.shape[d])
      fail(DEVRT_ERROR_RUNTIME, "the output's shape differs from the input's");
  *axis = normalize_axis(attr_int(call, 0), x.ndim);
}

// NaN sorts after every number (before them, descending), as in NumPy.
template <typename T> bool before(T a, T b, bool descending) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a || b != b)
      return descending ? (a != a && b == b) : (a == a && b != b);
  }
  return descending ? a > b : a < b;
}

void argsort(const devrt_kernel_call &call) {
  int64_t axis;
  check_scan(call, DEVRT_INT64, &axis);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  const bool descending = attr(call, 1, DEVRT_ATTR_BOOL).i != 0;
  const int64_t n = x.shape[axis], xs = x.strides[axis], ys = y.strides[axis];
  Numeric::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each_line<T, int64_t>(
        x, y, axis, std::max<int64_t>(1, kGrainExpensive / (n + 1)),
        [&](const T *line, int64_t *out) {
          std::vector<int64_t> order(static_cast<size_t>(n));
          std::iota(order.begin(), order.end(), int64_t{0});
          std::stable_sort(
              order.begin(), order.end(), [&](int64_t a, int64_t b) {
                return before(line[a * xs], line[b * xs], descending);
              });
          for (int64_t i = 0; i < n; ++i)
            out[i * ys] = order[static_cast<size_t>(i)];
        });
  });
}

void cumsum(const devrt_kernel_call &call) {
  int64_t axis;
  const devrt_view &x = call.inputs[0];
  check_scan(call, x.dtype, &axis);
  const devrt_view &y = call.outputs[0];
  const int64_t n = x.shape[axis], xs = x.strides[axis], ys = y.strides[axis];
  Types<int64_t, float, double>::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each_line<T, T>(
        x, y, axis, std::max<int64_t>(1, kGrainCheap / (n + 1)),
        [&](const T *line, T *out) {
          // float sums run in double, so that a partial
          // sum past float's range comes back when later
          // terms cancel it, as in PyTorch
          using Acc =
              std::conditional_t<std::is_floating_point_v<T>, double, T>;
          Acc acc = Acc(0);
          for (int64_t i = 0; i < n; ++i) {
            acc = wrap_add(acc, static_cast<Acc>(line[i * xs]));
            out[i * ys] = static_cast<T>(acc);
          }
        });
  });
}

} // namespace

void register_scan_kernels() {
  register_kernel("argsort", Numeric::mask, kernel_entry<argsort>);
  register_kernel("cumsum", Types<int64_t, float, double>::mask,
                  kernel_entry<cumsum>);
}

} // namespace devrt_cpu
