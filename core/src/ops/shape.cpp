// View ops: new geometry over the same storage, no kernel involved.
#include <algorithm>
#include <limits>

#include "../dispatch.h"
#include "devrt/autograd.h"
#include "devrt/shape.h"

namespace devrt {

namespace {

// The product of the sizes, checked for negative sizes and overflow as
// shape_numel checks a new tensor's.
int64_t checked_numel(const ShapeErrors &err, const Dims &shape) {
  int64_t n = 1, nonzero = 1;
  for (int64_t s : shape) {
    if (s < 0)
      err.fail(ErrorKind::Value, "negative dimension ", s, " in shape ", shape);
    if (s != 0) {
      if (nonzero > std::numeric_limits<int64_t>::max() / s)
        err.fail(ErrorKind::Value, "shape ", shape,
                 " has more elements than fit in int64");
      nonzero *= s;
    }
    n *= s;
  }
  return n;
}

// Strides for viewing x as `shape` without a copy, if they exist. x's
// dimensions split into chunks whose elements are laid out contiguously with
// each other; each chunk must map onto whole dimensions of `shape`, which
// then step through the chunk at its base stride.
bool view_strides(const Tensor &x, const Dims &shape, Dims *strides) {
  int64_t nd = static_cast<int64_t>(shape.size());
  if (x->numel() == 0 || x->is_contiguous()) {
    *strides = contiguous_strides(shape);
    return true;
  }
  strides->assign(shape.size(), 0);
  int64_t vd = nd - 1;
  int64_t base = x->strides.back(), x_numel = 1, v_numel = 1;
  for (int64_t d = x->ndim() - 1; d >= 0; --d) {
    x_numel *= x->shape[d];
    bool chunk_ends =
        d == 0 || (x->shape[d - 1] != 1 && x->strides[d - 1] != x_numel * base);
    if (!chunk_ends)
      continue;
    while (vd >= 0 && (v_numel < x_numel || shape[vd] == 1)) {
      (*strides)[vd] = v_numel * base;
      v_numel *= shape[vd];
      --vd;
    }
    if (v_numel != x_numel)
      return false;
    if (d > 0) {
      base = x->strides[d - 1];
      x_numel = v_numel = 1;
    }
  }
  return vd == -1;
}

} // namespace

PartialShape permute_shape(const ShapeErrors &err, ShapeRef x, const Dims &perm,
                           Dims *normalized) {
  if (!x.known_rank)
    return PartialShape::unknown();
  const int64_t rank = x.rank();
  if (static_cast<int64_t>(perm.size()) != rank)
    err.fail(ErrorKind::Value, "got ", perm.size(),
             " dimensions for a tensor of rank ", rank, " (shape ", x, ")");
  Dims norm(perm.size());
  PartialShape out{true, Dims(perm.size())};
  for (size_t i = 0; i < perm.size(); ++i) {
    norm[i] = normalize_axis(err, perm[i], rank);
    if (std::find(norm.begin(), norm.begin() + i, norm[i]) != norm.begin() + i)
      err.fail(ErrorKind::Value, "dimension ", perm[i], " repeats in ", perm);
    out.dims[i] = x[norm[i]];
  }
  if (normalized)
    *normalized = std::move(norm);
  return out;
}

PartialShape unsqueeze_shape(const ShapeErrors &err, ShapeRef x, int64_t axis) {
  if (!x.known_rank)
    return PartialShape::unknown();
  PartialShape out = x.partial();
  out.dims.insert(normalize_axis(err, axis, x.rank() + 1), 1);
  return out;
}

PartialShape squeeze_shape(const ShapeErrors &err, ShapeRef x,
                           const std::optional<Dims> &axes, bool strict,
                           bool scalar_axis, Dims *kept) {
  if (!x.known_rank)
    return PartialShape::unknown();
  Dims listed;
  if (axes)
    listed = normalize_axes(err, *axes, x.rank(), scalar_axis);
  PartialShape out{true, {}};
  Dims stay;
  for (int64_t i = 0; i < x.rank(); ++i) {
    const bool is_listed =
        !axes || std::find(listed.begin(), listed.end(), i) != listed.end();
    if (is_listed && x[i] == 1)
      continue;
    if (is_listed && x[i] < 0) {
      if (axes && strict) // TensorFlow: a listed axis has size 1
        continue;
      return PartialShape::unknown(); // it goes only if its size is 1
    }
    if (is_listed && axes && strict)
      err.fail(ErrorKind::Value, "cannot squeeze dimension ", i, " of size ",
               x[i], " (shape ", x, ")");
    out.dims.push_back(x[i]); // as PyTorch, a listed size other than 1 stays
    stay.push_back(i);
  }
  if (kept)
    *kept = std::move(stay);
  return out;
}

PartialShape reshape_shape(const ShapeErrors &err, ShapeRef x,
                           const Dims &shape) {
  PartialShape out{true, shape};
  int64_t infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != -1)
      continue;
    if (infer >= 0)
      err.fail(ErrorKind::Value, "only one dimension can be -1, got ", shape);
    infer = static_cast<int64_t>(i);
  }
  Dims known_dims = shape;
  if (infer >= 0)
    known_dims[infer] = 1;
  const int64_t known = checked_numel(err, known_dims);
  if (!x.fully_known())
    return out;
  int64_t n = 1;
  for (int64_t d : x)
    n *= d;
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      err.fail(ErrorKind::Value, "cannot reshape a tensor of ", n,
               " elements (shape ", x, ") into shape ", shape);
    out.dims[infer] = n / known;
  } else if (known != n) {
    err.fail(ErrorKind::Value, "cannot reshape a tensor of ", n,
             " elements (shape ", x, ") into shape ", shape, " (", known,
             " elements)");
  }
  return out;
}

Tensor view(const Tensor &x, const Dims &shape) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::reshape, x, {},
                              [&] { return view(x, shape); });
  const Dims &s = reshape_shape(ShapeErrors("view"), x->shape, shape).dims;
  Dims strides;
  if (!view_strides(x, s, &strides))
    fail(ErrorKind::Value, "[view] a tensor of shape ", x->shape,
         " with strides ", x->strides, " cannot be viewed as ", s,
         " without a copy; use reshape()");
  return alias(x, s, strides, x->offset);
}

Tensor reshape(const Tensor &x, const Dims &shape) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::reshape, x, {},
                              [&] { return reshape(x, shape); });
  const Dims &s = reshape_shape(ShapeErrors("reshape"), x->shape, shape).dims;
  Dims strides;
  if (view_strides(x, s, &strides))
    return alias(x, s, strides, x->offset);
  Tensor c = contiguous(x);
  return alias(c, s, contiguous_strides(s), c->offset);
}

Tensor transpose(const Tensor &x, int64_t d0, int64_t d1) {
  int64_t r = x->ndim();
  d0 = normalize_axis("transpose", d0, r);
  d1 = normalize_axis("transpose", d1, r);
  if (r == 0)
    return x;
  if (autograd::should_record(x)) {
    Dims dims;
    for (int64_t i = 0; i < r; ++i)
      dims.push_back(i == d0 ? d1 : (i == d1 ? d0 : i));
    return permute(x, dims);
  }
  Dims shape = x->shape, strides = x->strides;
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  return alias(x, shape, strides, x->offset);
}

Tensor t(const Tensor &x) {
  if (x->ndim() > 2)
    fail(ErrorKind::Value,
         "[t] expects a tensor with at most 2 dimensions, "
         "got shape ",
         x->shape, "; use transpose() or permute()");
  return x->ndim() < 2 ? x : transpose(x, 0, 1);
}

Tensor permute(const Tensor &x, const Dims &dims) {
  Dims norm;
  const Dims &shape =
      permute_shape(ShapeErrors("permute"), x->shape, dims, &norm).dims;
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.axes = norm;
    return autograd::recorded(OpId::permute, x, std::move(attrs),
                              [&] { return permute(x, dims); });
  }
  Dims strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    strides[i] = x->strides[norm[i]];
  return alias(x, shape, strides, x->offset);
}

Tensor expand(const Tensor &x, const Dims &shape) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::expand, x, {},
                              [&] { return expand(x, shape); });
  size_t n = shape.size(), k = x->shape.size();
  if (n < k)
    fail(ErrorKind::Value, "[expand] cannot expand shape ", x->shape,
         " to fewer dimensions ", shape);
  Dims out(n), strides(n);
  for (size_t i = 0; i < n; ++i) {
    bool old = i >= n - k;
    int64_t xs = old ? x->shape[i - (n - k)] : 1;
    int64_t want = shape[i] == -1 && old ? xs : shape[i];
    if (want < 0)
      fail(ErrorKind::Value, "[expand] invalid size ", shape[i], " in ", shape);
    if (old && xs == want) {
      strides[i] = x->strides[i - (n - k)];
    } else if (xs == 1) {
      strides[i] = 0;
    } else {
      fail(ErrorKind::Value, "[expand] cannot expand shape ", x->shape, " to ",
           shape, " (dimension ", i, ": ", xs, " vs ", want, ")");
    }
    out[i] = want;
  }
  shape_numel(out, "expand");
  return alias(x, out, strides, x->offset);
}

Tensor squeeze(const Tensor &x, const std::optional<Dims> &dims) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::reshape, x, {},
                              [&] { return squeeze(x, dims); });
  Dims kept; // x's axes that stay
  const Dims &shape =
      squeeze_shape(ShapeErrors("squeeze"), x->shape, dims, false, true, &kept)
          .dims;
  Dims strides(kept.size());
  for (size_t i = 0; i < kept.size(); ++i)
    strides[i] = x->strides[kept[i]];
  return alias(x, shape, strides, x->offset);
}

Tensor unsqueeze(const Tensor &x, int64_t dim) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::reshape, x, {},
                              [&] { return unsqueeze(x, dim); });
  const ShapeErrors err("unsqueeze");
  const Dims &shape = unsqueeze_shape(err, x->shape, dim).dims;
  const int64_t d = normalize_axis(err, dim, x->ndim() + 1);
  Dims strides = x->strides;
  strides.insert(d, d < x->ndim() ? x->shape[d] * x->strides[d] : 1);
  return alias(x, shape, strides, x->offset);
}

Tensor slice(const Tensor &x, int64_t dim, std::optional<int64_t> start,
             std::optional<int64_t> stop, int64_t step) {
  if (x->ndim() == 0)
    fail(ErrorKind::Index, "[slice] cannot slice a 0-d tensor");
  int64_t d = normalize_axis("slice", dim, x->ndim());
  if (step <= 0)
    fail(ErrorKind::Value, "[slice] step must be positive, got ", step);
  int64_t n = x->shape[d];
  auto clip = [n](int64_t v) {
    if (v < 0)
      v += n;
    return std::min(std::max<int64_t>(v, 0), n);
  };
  int64_t b = start ? clip(*start) : 0;
  int64_t e = stop ? clip(*stop) : n;
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.i0 = d;
    attrs.i1 = b;
    attrs.i2 = e;
    attrs.i3 = step;
    return autograd::recorded(OpId::slice, x, std::move(attrs),
                              [&] { return slice(x, d, b, e, step); });
  }
  int64_t len = e > b ? (e - b + step - 1) / step : 0;
  Dims shape = x->shape, strides = x->strides;
  shape[d] = len;
  strides[d] = x->strides[d] * step;
  return alias(x, shape, strides, x->offset + (len ? b * x->strides[d] : 0));
}

Tensor select(const Tensor &x, int64_t dim, int64_t index) {
  if (x->ndim() == 0)
    fail(ErrorKind::Index, "[select] cannot index a 0-d tensor");
  int64_t d = normalize_axis("select", dim, x->ndim());
  int64_t n = x->shape[d];
  if (index < -n || index >= n)
    fail(ErrorKind::Index, "[select] index ", index,
         " is out of range for dimension ", d, " with size ", n);
  if (index < 0)
    index += n;
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.i0 = d;
    attrs.i1 = index;
    return autograd::recorded(OpId::select, x, std::move(attrs),
                              [&] { return select(x, d, index); });
  }
  Dims shape = x->shape, strides = x->strides;
  shape.erase(d);
  strides.erase(d);
  return alias(x, shape, strides, x->offset + index * x->strides[d]);
}

Tensor flatten(const Tensor &x, int64_t start, int64_t end) {
  int64_t s = normalize_axis("flatten", start, x->ndim());
  int64_t e = normalize_axis("flatten", end, x->ndim());
  if (x->ndim() == 0)
    return reshape(x, Dims{1});
  if (s > e)
    fail(ErrorKind::Value, "[flatten] start dim ", start,
         " comes after end dim ", end);
  Dims shape;
  int64_t merged = 1;
  for (int64_t i = 0; i < x->ndim(); ++i) {
    if (i < s || i > e) {
      shape.push_back(x->shape[i]);
    } else {
      merged *= x->shape[i];
      if (i == e)
        shape.push_back(merged);
    }
  }
  return reshape(x, shape);
}

Tensor narrow(const Tensor &x, int64_t dim, int64_t start, int64_t length) {
  if (x->ndim() == 0)
    fail(ErrorKind::Index, "[narrow] cannot narrow a 0-d tensor");
  int64_t d = normalize_axis("narrow", dim, x->ndim());
  int64_t n = x->shape[d];
  if (start < -n || start > n)
    fail(ErrorKind::Index, "[narrow] start ", start,
         " is out of range for dimension ", d, " with size ", n);
  if (start < 0)
    start += n;
  if (length < 0 || start + length > n)
    fail(ErrorKind::Value, "[narrow] start (", start, ") + length (", length,
         ") exceeds dimension ", d, " of size ", n);
  return slice(x, d, start, start + length, 1);
}

namespace {
// As PyTorch, a 0-d tensor has nothing to split, whatever the sizes and dim.
void check_splittable(const Tensor &x) {
  if (x->ndim() == 0)
    fail(ErrorKind::Value, "[split] needs a tensor of at least one "
                           "dimension, got a 0-d tensor");
}
} // namespace

std::vector<Tensor> split(const Tensor &x, const Dims &sizes, int64_t dim) {
  check_splittable(x);
  const int64_t d = normalize_axis("split", dim, x->ndim());
  const int64_t n = x->shape[d];
  int64_t total = 0;
  for (int64_t s : sizes)
    total += s;
  if (total != n)
    fail(ErrorKind::Value, "[split] sizes ", sizes, " sum to ", total,
         ", not to the size ", n, " of dimension ", d);
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, d, at, s));
    at += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor &x, int64_t size, int64_t dim) {
  check_splittable(x);
  const int64_t d = normalize_axis("split", dim, x->ndim());
  const int64_t n = x->shape[d];
  // As PyTorch: a dim of size 0 splits by 0 into one empty piece.
  if (size < 0 || (size == 0 && n != 0))
    fail(ErrorKind::Value,
         "[split] split size must be positive (or 0 for a dimension of "
         "size 0), got ",
         size, " for a dimension of size ", n);
  Dims sizes;
  for (int64_t at = 0; at < n; at += size)
    sizes.push_back(std::min(size, n - at));
  if (n == 0)
    sizes.push_back(0);
  return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor &x, int64_t chunks, int64_t dim) {
  if (chunks <= 0)
    fail(ErrorKind::Value, "[chunk] chunks must be positive, got ", chunks);
  if (x->ndim() == 0)
    fail(ErrorKind::Value, "[chunk] needs a tensor of at least one "
                           "dimension, got a 0-d tensor");
  const int64_t d = normalize_axis("chunk", dim, x->ndim());
  const int64_t n = x->shape[d];
  std::vector<Tensor> out;
  if (n == 0) { // as PyTorch: `chunks` empty pieces
    for (int64_t i = 0; i < chunks; ++i)
      out.push_back(narrow(x, d, 0, 0));
    return out;
  }
  return split(x, (n + chunks - 1) / chunks, d);
}

Tensor view_dtype(const Tensor &x, DType dtype) {
  int64_t from = static_cast<int64_t>(itemsize(x->dtype));
  int64_t to = static_cast<int64_t>(itemsize(dtype));
  if (from == to)
    return make_view(x->storage, x->offset, x->shape, x->strides, dtype,
                     x->device);
  // A different item size rescales the last dimension, which must then be
  // contiguous; every other stride and the offset must stay whole.
  int64_t last = x->ndim() - 1;
  bool ok = last >= 0 && x->strides[last] == 1 &&
            (x->shape[last] * from) % to == 0 && (x->offset * from) % to == 0;
  for (int64_t i = 0; ok && i < last; ++i)
    ok = (x->strides[i] * from) % to == 0;
  if (!ok)
    fail(ErrorKind::Value, "[view] cannot view a ", dtype_name(x->dtype),
         " tensor of shape ", x->shape, " and strides ", x->strides, " as ",
         dtype_name(dtype),
         ": the last dimension must be contiguous and its byte size "
         "divisible by the new item size");
  Dims shape = x->shape, strides = x->strides;
  shape[last] = x->shape[last] * from / to;
  for (int64_t i = 0; i < last; ++i)
    strides[i] = x->strides[i] * from / to;
  return make_view(x->storage, x->offset * from / to, shape, strides, dtype,
                   x->device);
}

} // namespace devrt
