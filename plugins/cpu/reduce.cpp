// Reductions over a set of axes (sum, prod, mean, max, min, any, all, var)
// and along one axis (argmax, argmin).
#include "kernels.h"
#include "strided.h"

#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

namespace devrt_cpu {
namespace {

// ---- reducers --------------------------------------------------------------
// A reducer R over element type T: an accumulator type Acc, identity(),
// lift(T) -> Acc and an associative combine(Acc, Acc).
//
// Note: float32 sums accumulate in double except inside a contiguous run,
// which is summed pairwise in float (as NumPy does, and twice as fast as
// double); the runs' sums then meet in double. Error stays near NumPy's.

template <typename T> struct Sum {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  static constexpr bool kPairwise = std::is_floating_point_v<T>;
  static Acc identity() { return Acc(0); }
  static Acc lift(T v) { return Acc(v); }
  static Acc combine(Acc a, Acc b) { return wrap_add(a, b); }
};

template <typename T> struct Prod {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  static constexpr bool kPairwise = false;
  static Acc identity() { return Acc(1); }
  static Acc lift(T v) { return Acc(v); }
  static Acc combine(Acc a, Acc b) { return wrap_mul(a, b); }
};

// NaN wins: a NaN accumulator stays, a NaN element takes over.
template <typename T> struct Max {
  using Acc = T;
  static constexpr bool kPairwise = false;
  static Acc identity() {
    return std::numeric_limits<T>::has_infinity
               ? -std::numeric_limits<T>::infinity()
               : std::numeric_limits<T>::lowest();
  }
  static constexpr bool kGreatest = true;
  static Acc lift(T v) { return v; }
  static Acc combine(Acc a, Acc b) { return nan_extreme<true>(a, b); }
};

template <typename T> struct Min {
  using Acc = T;
  static constexpr bool kPairwise = false;
  static Acc identity() {
    return std::numeric_limits<T>::has_infinity
               ? std::numeric_limits<T>::infinity()
               : std::numeric_limits<T>::max();
  }
  static constexpr bool kGreatest = false;
  static Acc lift(T v) { return v; }
  static Acc combine(Acc a, Acc b) { return nan_extreme<false>(a, b); }
};

template <typename R> struct is_extreme : std::false_type {};
template <typename T> struct is_extreme<Max<T>> : std::true_type {};
template <typename T> struct is_extreme<Min<T>> : std::true_type {};

struct Any {
  using Acc = bool;
  static constexpr bool kPairwise = false;
  static Acc identity() { return false; }
  static Acc lift(bool v) { return v; }
  static Acc combine(Acc a, Acc b) { return a | b; }
};

struct All {
  using Acc = bool;
  static constexpr bool kPairwise = false;
  static Acc identity() { return true; }
  static Acc lift(bool v) { return v; }
  static Acc combine(Acc a, Acc b) { return a & b; }
};

// ---- vectorised loops ------------------------------------------------------

// L independent accumulators so the loop vectorises without reassociating
// floating-point math; merged as a tree.
template <typename R, int L, typename Acc, typename T>
inline Acc lanes(const T *x, int64_t n, Acc init) {
  Acc acc[L];
  for (int l = 0; l < L; ++l)
    acc[l] = init;
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int l = 0; l < L; ++l)
      acc[l] = R::combine(acc[l], R::lift(x[i + l]));
  for (; i < n; ++i)
    acc[0] = R::combine(acc[0], R::lift(x[i]));
  for (int w = L / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l)
      acc[l] = R::combine(acc[l], acc[l + w]);
  return acc[0];
}

struct SumInT { // Sum that stays in T, for pairwise blocks
  template <typename T> static T lift(T v) { return v; }
  template <typename T> static T combine(T a, T b) { return a + b; }
};

// Pairwise summation in T: blocks of kBlock summed by lanes, block sums
// merged like a binary counter (a balanced tree, no recursion).
template <typename T> inline T pairwise_sum(const T *x, int64_t n) {
  constexpr int64_t kBlock = 256;
  T stack[64];
  int top = 0;
  for (int64_t b = 0, count = 0; b < n; b += kBlock, ++count) {
    T s = lanes<SumInT, 16>(x + b, std::min(kBlock, n - b), T(0));
    for (int64_t c = count; c & 1; c >>= 1)
      s = stack[--top] + s;
    stack[top++] = s;
  }
  T total = 0;
  while (top > 0)
    total = stack[--top] + total;
  return total;
}

template <typename R, typename T>
DEVRT_CPU_CLONES typename R::Acc reduce_contiguous(const T *x, int64_t n) {
  if constexpr (R::kPairwise)
    return typename R::Acc(pairwise_sum(x, n));
  else if constexpr (is_extreme<R>::value && std::is_floating_point_v<T>)
    return nan_extreme_of<R::kGreatest>(x, n, R::identity());
  else
    return lanes<R, 64 / sizeof(typename R::Acc)>(x, n, R::identity());
}

// acc[j] = combine(acc[j], x[j]) for j < n.
template <typename R, typename T>
DEVRT_CPU_CLONES void accumulate_row(typename R::Acc *acc, const T *x,
                                     int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    acc[j] = R::combine(acc[j], R::lift(x[j]));
}

template <typename R, typename T>
typename R::Acc reduce_run(const char *p, int64_t n, int64_t byte_stride) {
  const T *x = reinterpret_cast<const T *>(p);
  if (byte_stride == int64_t{sizeof(T)})
    return reduce_contiguous<R>(x, n);
  const int64_t s = byte_stride / int64_t{sizeof(T)};
  typename R::Acc acc = R::identity();
  for (int64_t i = 0; i < n; ++i)
    acc = R::combine(acc, R::lift(x[i * s]));
  return acc;
}

// ---- the N-d driver --------------------------------------------------------

constexpr int64_t kChunk = 32768;   // elements of one partial result
constexpr int64_t kFewOutputs = 16; // below: split each reduction itself
constexpr int64_t kColumns = 512;   // accumulators of one row block

// Dimensions [0, upto) of the joint (x, y) layout, split into those kept (y
// stride non-zero) and those reduced.
inline void split_dims(const Layout<2> &l, int upto, Layout<2> &kept,
                       Layout<1> &red) {
  kept.ndim = red.ndim = 0;
  for (int d = 0; d < upto; ++d) {
    if (l.stride[d][1] != 0) {
      kept.shape[kept.ndim] = l.shape[d];
      kept.stride[kept.ndim][0] = l.stride[d][0];
      kept.stride[kept.ndim++][1] = l.stride[d][1];
      kept.numel *= l.shape[d];
    } else {
      red.shape[red.ndim] = l.shape[d];
      red.stride[red.ndim++][0] = l.stride[d][0];
      red.numel *= l.shape[d];
    }
  }
  kept.coalesce();
  red.coalesce();
}

// y = fin(reduction of x over the axes where y has size 1 and x does not,
// number of elements reduced); y has x's rank.
template <typename R, typename T, typename Fin>
void reduce(const devrt_view &x, const devrt_view &y, Fin fin) {
  using Acc = typename R::Acc;
  check_rank(x.ndim);
  if (y.ndim != x.ndim)
    fail(DEVRT_ERROR_RUNTIME, "output rank " + std::to_string(y.ndim) +
                                  " differs from input rank " +
                                  std::to_string(x.ndim));
  Layout<2> l;
  l.ndim = x.ndim;
  int64_t count = 1; // elements per output
  for (int d = 0; d < x.ndim; ++d) {
    const bool kept = y.shape[d] == x.shape[d];
    if (!kept && y.shape[d] != 1)
      fail(DEVRT_ERROR_RUNTIME, "output size " + std::to_string(y.shape[d]) +
                                    " in dimension " + std::to_string(d) +
                                    " is neither 1 nor the input's " +
                                    std::to_string(x.shape[d]));
    l.shape[d] = x.shape[d];
    l.numel *= x.shape[d];
    l.stride[d][0] = x.strides[d] * int64_t{sizeof(T)};
    l.stride[d][1] = kept ? y.strides[d] * int64_t{sizeof(T)} : 0;
    if (kept && x.shape[d] > 1 && y.strides[d] == 0)
      fail(DEVRT_ERROR_RUNTIME,
           "output has stride 0 in dimension " + std::to_string(d));
    if (!kept)
      count *= x.shape[d];
  }
  if (numel(y) == 0)
    return;
  if (count == 0) { // empty reductions: fin(identity) everywhere
    const T v = fin(R::identity(), int64_t{0});
    map<T>(kGrainCheap, [v] { return v; }, y);
    return;
  }
  l.coalesce();
  char *const xdata = static_cast<char *>(x.data);
  char *const ydata = static_cast<char *>(y.data);
  const int inner = l.ndim - 1;
  const int64_t L = l.shape[inner];

  if (l.stride[inner][1] == int64_t{sizeof(T)} &&
      l.stride[inner][0] == int64_t{sizeof(T)} && L >= 8 && count > 1) {
    // The kept innermost run is contiguous: add whole rows of x into a row
    // of accumulators, kColumns at a time.
    Layout<2> outer;
    Layout<1> red;
    split_dims(l, inner, outer, red);
    const int64_t blocks = (L + kColumns - 1) / kColumns;
    const int64_t items = outer.numel * blocks;
    const int64_t rs = red.inner_stride(0);
    auto run = [&](char *xp, int64_t w, int64_t r0, int64_t r1, Acc *acc) {
      for (int64_t j = 0; j < w; ++j)
        acc[j] = R::identity();
      char *base[1] = {xp};
      for_each_row(red, base, r0, r1, [&](char *const *p, int64_t n) {
        for (int64_t r = 0; r < n; ++r)
          accumulate_row<R>(acc, reinterpret_cast<const T *>(p[0] + r * rs), w);
      });
    };
    auto item_ptrs = [&](int64_t item, char **p, int64_t &w) {
      char *base[2] = {xdata, ydata};
      seek(outer, base, item / blocks, p);
      const int64_t col = (item % blocks) * kColumns;
      p[0] += col * int64_t{sizeof(T)};
      p[1] += col * int64_t{sizeof(T)};
      w = std::min(kColumns, L - col);
    };
    if (items < kFewOutputs && red.numel * L >= 2 * kChunk) {
      for (int64_t item = 0; item < items; ++item) {
        char *p[2];
        int64_t w;
        item_ptrs(item, p, w);
        const int64_t rows = std::max<int64_t>(1, kChunk / w);
        const int64_t chunks = (red.numel + rows - 1) / rows;
        std::unique_ptr<Acc[]> part(new Acc[static_cast<size_t>(chunks * w)]);
        parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c)
            run(p[0], w, c * rows, std::min(red.numel, (c + 1) * rows),
                &part[c * w]);
        });
        T *out = reinterpret_cast<T *>(p[1]);
        for (int64_t j = 0; j < w; ++j) {
          Acc a = part[j];
          for (int64_t c = 1; c < chunks; ++c)
            a = R::combine(a, part[c * w + j]);
          out[j] = fin(a, count);
        }
      }
      return;
    }
    const int64_t grain =
        std::max<int64_t>(1, kGrainCheap / (count * kColumns));
    parallel_for(items, grain, [&](int64_t i0, int64_t i1) {
      Acc acc[kColumns];
      for (int64_t item = i0; item < i1; ++item) {
        char *p[2];
        int64_t w;
        item_ptrs(item, p, w);
        run(p[0], w, 0, red.numel, acc);
        T *out = reinterpret_cast<T *>(p[1]);
        for (int64_t j = 0; j < w; ++j)
          out[j] = fin(acc[j], count);
      }
    });
    return;
  }

  // General case: each output reduces its own set of runs of x.
  Layout<2> kept;
  Layout<1> red;
  split_dims(l, l.ndim, kept, red);
  const int64_t rs = red.inner_stride(0);
  auto reduce_range = [&](char *xp, int64_t b, int64_t e) {
    Acc acc = R::identity();
    char *base[1] = {xp};
    for_each_row(red, base, b, e, [&](char *const *p, int64_t n) {
      acc = R::combine(acc, reduce_run<R, T>(p[0], n, rs));
    });
    return acc;
  };
  char *base[2] = {xdata, ydata};
  const int64_t kx = kept.inner_stride(0), ky = kept.inner_stride(1);
  if (kept.numel < kFewOutputs && count >= 2 * kChunk) {
    const int64_t chunks = (count + kChunk - 1) / kChunk;
    std::unique_ptr<Acc[]> part(new Acc[static_cast<size_t>(chunks)]);
    for_each_row(kept, base, 0, kept.numel, [&](char *const *p, int64_t n) {
      for (int64_t j = 0; j < n; ++j) {
        char *xp = p[0] + j * kx;
        parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c)
            part[c] =
                reduce_range(xp, c * kChunk, std::min(count, (c + 1) * kChunk));
        });
        Acc a = part[0];
        for (int64_t c = 1; c < chunks; ++c)
          a = R::combine(a, part[c]);
        *reinterpret_cast<T *>(p[1] + j * ky) = fin(a, count);
      }
    });
    return;
  }
  parallel_rows(kept, base, std::max<int64_t>(1, kGrainCheap / count),
                [&](char *const *p, int64_t n) {
                  for (int64_t j = 0; j < n; ++j)
                    *reinterpret_cast<T *>(p[1] + j * ky) =
                        fin(reduce_range(p[0] + j * kx, 0, count), count);
                });
}

// ---- kernels ---------------------------------------------------------------

template <template <typename> class R, typename List>
void simple_reduction(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  List::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduce<R<T>, T>(x, y, [](typename R<T>::Acc a, int64_t) { return T(a); });
  });
}

template <typename> using AnyOf = Any;
template <typename> using AllOf = All;

void mean(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduce<Sum<T>, T>(x, y, [](double a, int64_t n) {
      return T(a / static_cast<double>(n));
    });
  });
}

// Two passes, as NumPy: the mean, then the sum of squared deviations.
void var(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, x.dtype, "y");
  const int64_t correction = attr_int(call, 1);
  check_rank(x.ndim);
  Floating::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduce<Sum<T>, T>(x, y, [](double a, int64_t n) {
      return T(a / static_cast<double>(n));
    });
    // y's means broadcast back over x's shape, and a contiguous scratch.
    int64_t mean_strides[kMaxDims], dev_strides[kMaxDims];
    int64_t step = 1;
    for (int d = x.ndim - 1; d >= 0; --d) {
      mean_strides[d] = y.shape[d] == x.shape[d] ? y.strides[d] : 0;
      dev_strides[d] = step;
      step *= x.shape[d];
    }
    std::vector<T> scratch(static_cast<size_t>(step));
    devrt_view means = y, dev = x;
    means.shape = x.shape;
    means.strides = mean_strides;
    dev.data = scratch.data();
    dev.strides = dev_strides;
    map<T, T, T>(
        kGrainCheap,
        [](T v, T m) {
          const T d = v - m;
          return d * d;
        },
        dev, x, means);
    reduce<Sum<T>, T>(dev, y, [correction](double a, int64_t n) {
      return T(a / static_cast<double>(std::max<int64_t>(n - correction, 0)));
    });
  });
}

// ---- argmax / argmin -------------------------------------------------------

// Index of the first extremum of n elements (stride s); a NaN is the
// extremum. Returns the value found through *best.
template <bool Greatest, typename T>
int64_t arg_scan(const T *x, int64_t n, int64_t s, T *best) {
  T b = x[0];
  int64_t bi = 0;
  if (b == b) {
    for (int64_t i = 1; i < n; ++i) {
      const T v = x[i * s];
      if (v != v) {
        b = v;
        bi = i;
        break;
      }
      if (Greatest ? v > b : v < b) {
        b = v;
        bi = i;
      }
    }
  }
  *best = b;
  return bi;
}

template <bool Greatest> void arg_reduction(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, DEVRT_INT64, "y");
  check_rank(x.ndim);
  const int64_t axis = normalize_axis(attr_int(call, 0), x.ndim);
  if (y.ndim != x.ndim)
    fail(DEVRT_ERROR_RUNTIME, "output rank " + std::to_string(y.ndim) +
                                  " differs from input rank " +
                                  std::to_string(x.ndim));
  const int64_t n = x.ndim == 0 ? 1 : x.shape[axis];
  const int64_t s = x.ndim == 0 ? 0 : x.strides[axis];
  if (numel(y) == 0)
    return;
  if (n == 0)
    fail(DEVRT_ERROR_VALUE, "attempt to get the extremum of an empty sequence");
  Numeric::dispatch(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    devrt_view xk = x; // x without the reduced axis (size 1 there)
    int64_t shape[kMaxDims];
    for (int d = 0; d < x.ndim; ++d)
      shape[d] = d == axis ? 1 : x.shape[d];
    xk.shape = shape;
    const Layout<2> l = make_layout<2>({&xk, &y});
    char *base[2] = {static_cast<char *>(x.data), static_cast<char *>(y.data)};
    const int64_t xs = l.inner_stride(0), ys = l.inner_stride(1);
    if (l.numel < kFewOutputs && n >= 2 * kChunk) {
      const int64_t chunks = (n + kChunk - 1) / kChunk;
      std::vector<T> vals(static_cast<size_t>(chunks));
      std::vector<int64_t> idx(static_cast<size_t>(chunks));
      for_each_row(l, base, 0, l.numel, [&](char *const *p, int64_t m) {
        for (int64_t j = 0; j < m; ++j) {
          const T *xp = reinterpret_cast<const T *>(p[0] + j * xs);
          parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
            for (int64_t c = c0; c < c1; ++c)
              idx[c] = c * kChunk +
                       arg_scan<Greatest>(xp + c * kChunk * s,
                                          std::min(kChunk, n - c * kChunk), s,
                                          &vals[c]);
          });
          T b = vals[0];
          int64_t bi = idx[0];
          for (int64_t c = 1; c < chunks && b == b; ++c)
            if (vals[c] != vals[c] || (Greatest ? vals[c] > b : vals[c] < b)) {
              b = vals[c];
              bi = idx[c];
            }
          *reinterpret_cast<int64_t *>(p[1] + j * ys) = bi;
        }
      });
      return;
    }
    parallel_rows(
        l, base, std::max<int64_t>(1, kGrainCheap / n),
        [&](char *const *p, int64_t m) {
          T b;
          for (int64_t j = 0; j < m; ++j)
            *reinterpret_cast<int64_t *>(p[1] + j * ys) = arg_scan<Greatest>(
                reinterpret_cast<const T *>(p[0] + j * xs), n, s, &b);
        });
  });
}

} // namespace

void register_reduce_kernels() {
  using SumTypes = Types<int64_t, float, double>;
  using MaxTypes = Types<bool, int32_t, int64_t, float, double>;
  register_kernel("sum", SumTypes::mask,
                  kernel_entry<simple_reduction<Sum, SumTypes>>);
  register_kernel("prod", SumTypes::mask,
                  kernel_entry<simple_reduction<Prod, SumTypes>>);
  register_kernel("mean", Floating::mask, kernel_entry<mean>);
  register_kernel("max", MaxTypes::mask,
                  kernel_entry<simple_reduction<Max, MaxTypes>>);
  register_kernel("min", MaxTypes::mask,
                  kernel_entry<simple_reduction<Min, MaxTypes>>);
  register_kernel("any", Types<bool>::mask,
                  kernel_entry<simple_reduction<AnyOf, Types<bool>>>);
  register_kernel("all", Types<bool>::mask,
                  kernel_entry<simple_reduction<AllOf, Types<bool>>>);
  register_kernel("var", Floating::mask, kernel_entry<var>);
  register_kernel("argmax", Numeric::mask, kernel_entry<arg_reduction<true>>);
  register_kernel("argmin", Numeric::mask, kernel_entry<arg_reduction<false>>);
}

} // namespace devrt_cpu
