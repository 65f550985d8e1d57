// nonzero, and advanced indexing by k int64 index tensors: index (gather)
// and index_put (scatter, optionally accumulating).
#include "kernels.h"
#include "strided.h"

#include <devrt/half.h>

#include <cstring>
#include <memory>
#include <type_traits>

namespace devrt_cpu {
namespace {

// ---- nonzero ---------------------------------------------------------------

template <typename Marker> bool is_nonzero(storage_t<Marker> v) {
  if constexpr (std::is_same_v<Marker, Float16> ||
                std::is_same_v<Marker, BFloat16>)
    return (v & 0x7fffu) != 0; // +-0 are the only zeros
  else
    return v != storage_t<Marker>(0);
}

// Two passes over fixed chunks: count each chunk's non-zeros, then write
// each chunk's indices from its prefix offset.
void nonzero(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &x = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, DEVRT_INT64, "y");
  check_rank(x.ndim);
  if (y.ndim != 2 || y.shape[1] != x.ndim)
    fail(DEVRT_ERROR_RUNTIME,
         "the output must have shape (n, " + std::to_string(x.ndim) + ")");
  const int64_t expected = y.shape[0];
  // x unmerged (each dimension's index is written), as at least rank 1.
  Layout<1> l;
  l.ndim = std::max(x.ndim, 1);
  l.shape[0] = 1;
  l.stride[0][0] = 0;
  for (int d = 0; d < x.ndim; ++d) {
    l.shape[d] = x.shape[d];
    l.stride[d][0] = x.strides[d] * itemsize(x.dtype);
    l.numel *= x.shape[d];
  }
  const int64_t chunks = (l.numel + kGrainCheap - 1) / kGrainCheap;
  std::unique_ptr<int64_t[]> start(
      new int64_t[static_cast<size_t>(chunks) + 1]);
  char *base[1] = {static_cast<char *>(x.data)};
  int64_t *out = static_cast<int64_t *>(y.data);
  const int64_t ys0 = y.strides[0], ys1 = y.strides[1];
  const int64_t is = l.stride[l.ndim - 1][0];
  AllTypes::dispatch(x.dtype, [&](auto tag) {
    using Marker = typename decltype(tag)::marker;
    using T = storage_t<Marker>;
    auto chunk_range = [&](int64_t c, int64_t *b, int64_t *e) {
      *b = c * kGrainCheap;
      *e = std::min(l.numel, *b + kGrainCheap);
    };
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        int64_t b, e, count = 0;
        chunk_range(c, &b, &e);
        for_each_row(l, base, b, e, [&](char *const *p, int64_t n) {
          for (int64_t j = 0; j < n; ++j)
            count +=
                is_nonzero<Marker>(*reinterpret_cast<const T *>(p[0] + j * is));
        });
        start[c + 1] = count;
      }
    });
    start[0] = 0;
    for (int64_t c = 0; c < chunks; ++c)
      start[c + 1] += start[c];
    if (start[chunks] != expected)
      fail(DEVRT_ERROR_RUNTIME, "found " + std::to_string(start[chunks]) +
                                    " non-zeros, the output has room for " +
                                    std::to_string(expected));
    if (x.ndim == 0)
      return;
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        int64_t b, e, row = start[c];
        chunk_range(c, &b, &e);
        int64_t flat = b;
        for_each_row(l, base, b, e, [&](char *const *p, int64_t n) {
          int64_t idx[kMaxDims];
          int64_t rest = flat;
          for (int d = x.ndim - 1; d >= 0; --d) {
            idx[d] = rest % l.shape[d];
            rest /= l.shape[d];
          }
          for (int64_t j = 0; j < n; ++j) {
            if (!is_nonzero<Marker>(
                    *reinterpret_cast<const T *>(p[0] + j * is)))
              continue;
            int64_t *o = out + row++ * ys0;
            for (int d = 0; d < x.ndim - 1; ++d)
              o[d * ys1] = idx[d];
            o[(x.ndim - 1) * ys1] = idx[x.ndim - 1] + j;
          }
          flat += n;
        });
      }
    });
  });
}

// ---- index and index_put ---------------------------------------------------

// The k index tensors of one call and the batch shape B they share.
struct Indices {
  int k = 0;
  const devrt_view *idx = nullptr;
  int bnd = 0; // rank of B
  const int64_t *bshape = nullptr;
  int64_t bnumel = 1;
};

Indices gather_indices(const devrt_kernel_call &call,
                       const devrt_view &indexed) {
  Indices ix;
  ix.k = call.n_inputs - 1;
  ix.idx = call.inputs + 1;
  if (ix.k > indexed.ndim)
    fail(DEVRT_ERROR_INDEX, "too many indices (" + std::to_string(ix.k) +
                                ") for a tensor of rank " +
                                std::to_string(indexed.ndim));
  if (ix.k == 0)
    return ix;
  ix.bnd = ix.idx[0].ndim;
  ix.bshape = ix.idx[0].shape;
  check_rank(ix.bnd);
  for (int j = 0; j < ix.k; ++j) {
    expect_dtype(ix.idx[j], DEVRT_INT64, "an index tensor");
    if (ix.idx[j].ndim != ix.bnd)
      fail(DEVRT_ERROR_RUNTIME, "index tensors have different ranks");
    for (int d = 0; d < ix.bnd; ++d)
      if (ix.idx[j].shape[d] != ix.bshape[d])
        fail(DEVRT_ERROR_RUNTIME, "index tensors have different shapes");
  }
  for (int d = 0; d < ix.bnd; ++d)
    ix.bnumel *= ix.bshape[d];
  return ix;
}

// Walks B in row-major order, tracking each index tensor's element and the
// byte offset of the matching block in the dense tensor (y or values).
class BatchWalk {
public:
  BatchWalk(const Indices &ix, const devrt_view &dense)
      : ix_(ix), dense_(dense), size_(itemsize(dense.dtype)) {}

  void seek(int64_t flat) {
    for (int j = 0; j < ix_.k; ++j)
      ptr_[j] = static_cast<const int64_t *>(ix_.idx[j].data);
    offset_ = 0;
    for (int d = ix_.bnd - 1; d >= 0; --d) {
      pos_[d] = flat % ix_.bshape[d];
      flat /= ix_.bshape[d];
      move(d, pos_[d]);
    }
  }
  void next() {
    for (int d = ix_.bnd - 1; d >= 0; --d) {
      move(d, 1);
      if (++pos_[d] < ix_.bshape[d])
        return;
      move(d, -pos_[d]);
      pos_[d] = 0;
    }
  }
  int64_t index(int j) const { return *ptr_[j]; }
  int64_t dense_offset() const { return offset_; }

private:
  void move(int d, int64_t steps) {
    for (int j = 0; j < ix_.k; ++j)
      ptr_[j] += steps * ix_.idx[j].strides[d];
    offset_ += steps * dense_.strides[d] * size_;
  }
  const Indices &ix_;
  const devrt_view &dense_;
  int64_t size_;
  int64_t pos_[kMaxDims];
  const int64_t *ptr_[kMaxDims];
  int64_t offset_ = 0;
};

// The optional attributes after index's own: `dims`, the source dimension
// of each index tensor (for messages), and `wrap`, whether negative indices
// count from the end (the default) or are out of bounds.
struct IndexRules {
  const int64_t *dims = nullptr;
  bool wrap = true;
};

IndexRules index_rules(const devrt_kernel_call &call, int first) {
  IndexRules r;
  if (call.n_attrs > first && call.attrs[first].kind == DEVRT_ATTR_INTS)
    r.dims = call.attrs[first].ints;
  if (call.n_attrs > first + 1 && call.attrs[first + 1].kind == DEVRT_ATTR_BOOL)
    r.wrap = call.attrs[first + 1].i != 0;
  return r;
}

// Byte offset into `indexed` of the current batch element's block, after
// checking every index against its dimension.
int64_t indexed_offset(const BatchWalk &w, int k, const devrt_view &indexed,
                       const IndexRules &rules) {
  int64_t off = 0;
  for (int j = 0; j < k; ++j) {
    const int64_t size = indexed.shape[j];
    int64_t i = w.index(j);
    if (i < (rules.wrap ? -size : 0) || i >= size)
      fail(DEVRT_ERROR_INDEX,
           "index " + std::to_string(i) + " is out of bounds for dimension " +
               std::to_string(rules.dims ? rules.dims[j] : j) + " with size " +
               std::to_string(size));
    if (i < 0)
      i += size;
    off += i * indexed.strides[j];
  }
  return off * itemsize(indexed.dtype);
}

// The block dimensions (those after the k indexed ones) of `indexed` and
// the matching trailing dimensions of `dense`, as a 2-operand layout
// {dense, indexed}.
Layout<2> block_layout(const devrt_view &dense, const devrt_view &indexed,
                       const Indices &ix) {
  const int rest = indexed.ndim - ix.k;
  if (dense.ndim != ix.bnd + rest)
    fail(DEVRT_ERROR_RUNTIME, "rank " + std::to_string(dense.ndim) +
                                  " does not match the index shape and the " +
                                  std::to_string(rest) +
                                  " trailing dimensions");
  for (int d = 0; d < ix.bnd; ++d)
    if (dense.shape[d] != ix.bshape[d])
      fail(DEVRT_ERROR_RUNTIME, "shape does not start with the index shape");
  Layout<2> l;
  l.ndim = rest;
  const int64_t size = itemsize(dense.dtype);
  for (int d = 0; d < rest; ++d) {
    const int64_t n = indexed.shape[ix.k + d];
    if (dense.shape[ix.bnd + d] != n)
      fail(DEVRT_ERROR_RUNTIME, "trailing dimensions differ");
    l.shape[d] = n;
    l.numel *= n;
    l.stride[d][0] = dense.strides[ix.bnd + d] * size;
    l.stride[d][1] = indexed.strides[ix.k + d] * size;
  }
  if (l.numel > 0)
    l.coalesce();
  return l;
}

// Copies n elements from s (byte stride ss) to d (byte stride ds).
template <typename T>
void copy_run(char *d, int64_t ds, const char *s, int64_t ss, int64_t n) {
  if (ds == int64_t{sizeof(T)} && ss == int64_t{sizeof(T)}) {
    std::memcpy(d, s, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    *reinterpret_cast<T *>(d + i * ds) =
        *reinterpret_cast<const T *>(s + i * ss);
}

void index(const devrt_kernel_call &call) {
  if (call.n_inputs < 1 || call.n_outputs != 1)
    fail(DEVRT_ERROR_RUNTIME,
         "expected a source, index tensors and one output");
  const devrt_view &src = call.inputs[0], &y = call.outputs[0];
  expect_dtype(y, src.dtype, "y");
  check_rank(src.ndim);
  const Indices ix = gather_indices(call, src);
  const IndexRules rules = index_rules(call, 0);
  const Layout<2> block = block_layout(y, src, ix);
  if (ix.bnumel == 0 || block.numel == 0)
    return;
  const int64_t ys = block.inner_stride(0), ss = block.inner_stride(1);
  dispatch_bytes(src.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(ix.bnumel, std::max<int64_t>(1, kGrainCheap / block.numel),
                 [&](int64_t b0, int64_t b1) {
                   BatchWalk w(ix, y);
                   w.seek(b0);
                   for (int64_t b = b0; b < b1; ++b, w.next()) {
                     char *base[2] = {static_cast<char *>(y.data) +
                                          w.dense_offset(),
                                      static_cast<char *>(src.data) +
                                          indexed_offset(w, ix.k, src, rules)};
                     for_each_row(block, base, 0, block.numel,
                                  [&](char *const *p, int64_t n) {
                                    copy_run<T>(p[0], ys, p[1], ss, n);
                                  });
                   }
                 });
  });
}

// a + b for the accumulating index_put, in the dtype's own arithmetic.
template <typename Marker>
storage_t<Marker> add_values(storage_t<Marker> a, storage_t<Marker> b) {
  if constexpr (std::is_same_v<Marker, Float16>)
    return devrt::float_to_half(devrt::half_to_float(a) +
                                devrt::half_to_float(b));
  else if constexpr (std::is_same_v<Marker, BFloat16>)
    return devrt::float_to_bfloat16(devrt::bfloat16_to_float(a) +
                                    devrt::bfloat16_to_float(b));
  else if constexpr (std::is_same_v<Marker, bool>)
    return a || b;
  else
    return wrap_add(a, b);
}

// Note: every thread walks all of B in order over its own slice of the
// block, so repeated indices resolve exactly as a serial loop would (the last
// write wins; sums add in order) without any two threads touching one
// element.
void index_put(const devrt_kernel_call &call) {
  if (call.n_inputs < 1 || call.n_outputs != 1)
    fail(DEVRT_ERROR_RUNTIME, "expected values, index tensors and one output");
  const devrt_view &values = call.inputs[0], &dst = call.outputs[0];
  expect_dtype(values, dst.dtype, "values");
  check_rank(dst.ndim);
  const bool accumulate = attr(call, 0, DEVRT_ATTR_BOOL).i != 0;
  const Indices ix = gather_indices(call, dst);
  const IndexRules rules = index_rules(call, 1);
  const Layout<2> block = block_layout(values, dst, ix);
  if (ix.bnumel == 0 || block.numel == 0)
    return;
  { // validate every index first, so a bad one leaves dst untouched
    BatchWalk w(ix, values);
    w.seek(0);
    for (int64_t b = 0; b < ix.bnumel; ++b, w.next())
      indexed_offset(w, ix.k, dst, rules);
  }
  const int64_t vs = block.inner_stride(0), ds = block.inner_stride(1);
  auto scatter = [&](auto op) {
    parallel_for(block.numel, std::max<int64_t>(1, kGrainCheap / ix.bnumel),
                 [&](int64_t r0, int64_t r1) {
                   BatchWalk w(ix, values);
                   w.seek(0);
                   for (int64_t b = 0; b < ix.bnumel; ++b, w.next()) {
                     char *base[2] = {static_cast<char *>(values.data) +
                                          w.dense_offset(),
                                      static_cast<char *>(dst.data) +
                                          indexed_offset(w, ix.k, dst, rules)};
                     for_each_row(block, base, r0, r1,
                                  [&](char *const *p, int64_t n) { op(p, n); });
                   }
                 });
  };
  if (!accumulate) {
    dispatch_bytes(dst.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      scatter([&](char *const *p, int64_t n) {
        copy_run<T>(p[1], ds, p[0], vs, n);
      });
    });
    return;
  }
  AllTypes::dispatch(dst.dtype, [&](auto tag) {
    using Marker = typename decltype(tag)::marker;
    using T = storage_t<Marker>;
    scatter([&](char *const *p, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        T *d = reinterpret_cast<T *>(p[1] + i * ds);
        *d =
            add_values<Marker>(*d, *reinterpret_cast<const T *>(p[0] + i * vs));
      }
    });
  });
}

} // namespace

void register_indexing_kernels() {
  register_kernel("nonzero", AllTypes::mask, kernel_entry<nonzero>);
  register_kernel("index", AllTypes::mask, kernel_entry<index>);
  register_kernel("index_put", AllTypes::mask, kernel_entry<index_put>);
}

} // namespace devrt_cpu
