// Iterating N-d strided views: a Layout describes N operands over one shape;
// for_each_row walks any range of its row-major element order one innermost
// run at a time; map() applies an elementwise function with fast paths for
// contiguous and broadcast-scalar operands.
#pragma once

#include "kernel_util.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>

namespace devrt_cpu {

constexpr int kMaxDims = 64;

// N operands over one shape, strides in bytes. Dimension ndim-1 is the
// innermost. After coalesce() ndim >= 1, no dimension has size 1 (unless the
// whole shape is one element) and no two neighbours could be merged.
template <int N> struct Layout {
  int ndim = 0;
  int64_t numel = 1;
  int64_t shape[kMaxDims];
  int64_t stride[kMaxDims][N];

  // Merges dimensions that are contiguous with each other in every operand
  // and drops size-1 dimensions; keeps the row-major element order.
  void coalesce() {
    int out = 0; // dimensions kept so far, written from the inner end
    int64_t s[kMaxDims];
    int64_t st[kMaxDims][N];
    for (int d = ndim - 1; d >= 0; --d) {
      if (shape[d] == 1)
        continue;
      if (out > 0) {
        bool merge = true;
        for (int k = 0; k < N; ++k)
          merge &= stride[d][k] == st[out - 1][k] * s[out - 1];
        if (merge) {
          s[out - 1] *= shape[d];
          continue;
        }
      }
      s[out] = shape[d];
      for (int k = 0; k < N; ++k)
        st[out][k] = stride[d][k];
      ++out;
    }
    if (out == 0) { // a single element
      s[0] = 1;
      for (int k = 0; k < N; ++k)
        st[0][k] = 0;
      out = 1;
    }
    ndim = out;
    for (int d = 0; d < out; ++d) { // back to outer-first order
      shape[d] = s[out - 1 - d];
      for (int k = 0; k < N; ++k)
        stride[d][k] = st[out - 1 - d][k];
    }
  }

  int64_t inner() const { return shape[ndim - 1]; }
  int64_t inner_stride(int k) const { return stride[ndim - 1][k]; }
};

inline void check_rank(int ndim) {
  if (ndim > kMaxDims || ndim < 0)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "tensors of rank " + std::to_string(ndim) +
             " are not supported (at most " + std::to_string(kMaxDims) + ")");
}

// Whether v is laid out row-major without gaps (an empty view always is).
inline bool is_contiguous(const devrt_view &v) {
  if (numel(v) == 0)
    return true;
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected)
      return false;
    expected *= v.shape[d];
  }
  return true;
}

// The layout of views that all have views[0]'s shape, coalesced.
template <int N>
Layout<N> make_layout(const std::array<const devrt_view *, N> &views) {
  const devrt_view &ref = *views[0];
  check_rank(ref.ndim);
  Layout<N> l;
  l.ndim = ref.ndim;
  for (int d = 0; d < ref.ndim; ++d) {
    l.shape[d] = ref.shape[d];
    l.numel *= ref.shape[d];
  }
  for (int k = 0; k < N; ++k) {
    const devrt_view &v = *views[k];
    if (v.ndim != ref.ndim)
      fail(DEVRT_ERROR_RUNTIME, "operand " + std::to_string(k) + " has rank " +
                                    std::to_string(v.ndim) + ", expected " +
                                    std::to_string(ref.ndim));
    const int64_t size = itemsize(v.dtype);
    for (int d = 0; d < ref.ndim; ++d) {
      if (v.shape[d] != ref.shape[d])
        fail(DEVRT_ERROR_RUNTIME,
             "operand " + std::to_string(k) + " has size " +
                 std::to_string(v.shape[d]) + " in dimension " +
                 std::to_string(d) + ", expected " +
                 std::to_string(ref.shape[d]));
      l.stride[d][k] = v.strides[d] * size;
    }
  }
  if (l.numel > 0)
    l.coalesce();
  return l;
}

// out[k] = operand k's pointer to element `flat` (row-major) of l.
template <int N>
void seek(const Layout<N> &l, char *const *base, int64_t flat, char **out) {
  for (int k = 0; k < N; ++k)
    out[k] = base[k];
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t i = flat % l.shape[d];
    flat /= l.shape[d];
    for (int k = 0; k < N; ++k)
      out[k] += i * l.stride[d][k];
  }
}

// Calls row(ptrs, count) for the elements [begin, end) of l in row-major
// order, one run along the innermost dimension at a time; ptrs[k] points at
// the run's first element of operand k.
template <int N, typename RowFn>
void for_each_row(const Layout<N> &l, char *const *base, int64_t begin,
                  int64_t end, RowFn &&row) {
  if (begin >= end)
    return;
  const int inner = l.ndim - 1;
  const int64_t n_inner = l.shape[inner];
  int64_t idx[kMaxDims];
  char *start[N]; // the current row's first element
  for (int k = 0; k < N; ++k)
    start[k] = base[k];
  int64_t rest = begin / n_inner;
  int64_t col = begin % n_inner;
  for (int d = inner - 1; d >= 0; --d) {
    idx[d] = rest % l.shape[d];
    rest /= l.shape[d];
    for (int k = 0; k < N; ++k)
      start[k] += idx[d] * l.stride[d][k];
  }
  int64_t left = end - begin;
  for (;;) {
    char *p[N];
    for (int k = 0; k < N; ++k)
      p[k] = start[k] + col * l.stride[inner][k];
    const int64_t count = std::min(n_inner - col, left);
    row(static_cast<char *const *>(p), count);
    left -= count;
    if (left == 0)
      return;
    col = 0;
    for (int d = inner - 1; d >= 0; --d) { // advance the outer counter
      for (int k = 0; k < N; ++k)
        start[k] += l.stride[d][k];
      if (++idx[d] < l.shape[d])
        break;
      for (int k = 0; k < N; ++k)
        start[k] -= idx[d] * l.stride[d][k];
      idx[d] = 0;
    }
  }
}

// Splits l's elements over the pool and walks each piece with for_each_row.
template <int N, typename RowFn>
void parallel_rows(const Layout<N> &l, char *const *base, int64_t grain,
                   RowFn &&row) {
  parallel_for(l.numel, grain,
               [&](int64_t b, int64_t e) { for_each_row(l, base, b, e, row); });
}

// ---- elementwise map -------------------------------------------------------

namespace map_detail {

// The contiguous loop: input k is read at [0] when bit k of Mask is set (a
// broadcast scalar), else at [i].
template <unsigned Mask, std::size_t... Is, typename F, typename Out,
          typename... In>
DEVRT_CPU_CLONES void contiguous(std::index_sequence<Is...>, int64_t n, F f,
                                 Out *out, const In *...in) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = f(in[((Mask >> Is) & 1u) ? 0 : i]...);
}

template <std::size_t... Is, typename F, typename Out, typename... In>
void strided(std::index_sequence<Is...>, int64_t n, F f, Out *out,
             int64_t out_stride, const std::array<int64_t, sizeof...(In)> &st,
             const In *...in) {
  for (int64_t i = 0; i < n; ++i)
    out[i * out_stride] = f(in[i * st[Is]]...);
}

// Calls f(integral_constant<Ms>) for mask == Ms; returns false if none is.
template <typename F, unsigned... Ms>
bool with_mask(unsigned mask, F &&f, std::integer_sequence<unsigned, Ms...>) {
  return ((mask == Ms ? (f(std::integral_constant<unsigned, Ms>{}), true)
                      : false) ||
          ...);
}

// The broadcast masks with a contiguous loop of their own: none or one
// broadcast input (more is rare, and each mask is three compiled clones).
template <std::size_t Inputs> struct FastMasks;
template <> struct FastMasks<0> {
  using type = std::integer_sequence<unsigned, 0>;
};
template <> struct FastMasks<1> {
  using type = std::integer_sequence<unsigned, 0, 1>;
};
template <> struct FastMasks<2> {
  using type = std::integer_sequence<unsigned, 0, 1, 2>;
};
template <> struct FastMasks<3> {
  using type = std::integer_sequence<unsigned, 0, 1, 2, 4>;
};

template <typename Out, typename... In, typename F, std::size_t... Is>
void map_impl(std::index_sequence<Is...> seq, int64_t grain, F f,
              const devrt_view &out,
              const std::array<const devrt_view *, sizeof...(In)> &in) {
  constexpr int N = 1 + sizeof...(In);
  const Layout<N> l = make_layout<N>({&out, in[Is]...});
  if (l.numel == 0)
    return;
  char *base[N] = {static_cast<char *>(out.data),
                   static_cast<char *>(in[Is]->data)...};
  unsigned mask = 0;
  bool fast = l.inner_stride(0) == sizeof(Out);
  const int64_t sizes[] = {int64_t{sizeof(In)}..., 0};
  for (std::size_t k = 0; k < sizeof...(In); ++k) {
    const int64_t s = l.inner_stride(static_cast<int>(k + 1));
    if (s == 0)
      mask |= 1u << k;
    else
      fast &= s == sizes[k];
  }
  if (fast &&
      with_mask(
          mask,
          [&](auto m) {
            parallel_rows(l, base, grain, [&](char *const *p, int64_t n) {
              contiguous<decltype(m)::value>(
                  seq, n, f, reinterpret_cast<Out *>(p[0]),
                  reinterpret_cast<const In *>(p[Is + 1])...);
            });
          },
          typename FastMasks<sizeof...(In)>::type{}))
    return;
  const int64_t os = l.inner_stride(0) / int64_t{sizeof(Out)};
  const std::array<int64_t, sizeof...(In)> st = {
      (l.inner_stride(Is + 1) / int64_t{sizeof(In)})...};
  parallel_rows(l, base, grain, [&](char *const *p, int64_t n) {
    strided(seq, n, f, reinterpret_cast<Out *>(p[0]), os, st,
            reinterpret_cast<const In *>(p[Is + 1])...);
  });
}

} // namespace map_detail

// out[i] = f(in_0[i], in_1[i], ...) over views of one shape; Out and In are
// the storage types of the views.
template <typename Out, typename... In, typename F, typename... Views>
void map(int64_t grain, F f, const devrt_view &out, const Views &...in) {
  static_assert(sizeof...(In) == sizeof...(Views), "one type per input view");
  map_detail::map_impl<Out, In...>(std::index_sequence_for<In...>{}, grain, f,
                                   out, {&in...});
}

} // namespace devrt_cpu
