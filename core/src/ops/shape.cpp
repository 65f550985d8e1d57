// View ops: new geometry over the same storage, no kernel involved.
#include <algorithm>

#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

namespace {

// Resolves one -1 entry and checks the element count.
Dims infer_shape(const char *op, const Tensor &x, const Dims &shape) {
  Dims out = shape;
  int64_t infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != -1)
      continue;
    if (infer >= 0)
      fail(ErrorKind::Value, "[", op, "] only one dimension can be -1, got ",
           shape);
    infer = static_cast<int64_t>(i);
  }
  Dims known_dims = out;
  if (infer >= 0)
    known_dims[infer] = 1;
  int64_t known = shape_numel(known_dims, op); // sizes and overflow
  int64_t n = x->numel();
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      fail(ErrorKind::Value, "[", op, "] cannot reshape tensor of shape ",
           x->shape, " (", n, " elements) into shape ", shape);
    out[infer] = n / known;
  } else if (known != n) {
    fail(ErrorKind::Value, "[", op, "] cannot reshape tensor of shape ",
         x->shape, " (", n, " elements) into shape ", shape, " (", known,
         " elements)");
  }
  return out;
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

Tensor view(const Tensor &x, const Dims &shape) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::reshape, x, {},
                              [&] { return view(x, shape); });
  Dims s = infer_shape("view", x, shape);
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
  Dims s = infer_shape("reshape", x, shape);
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
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.axes = normalize_axes("permute", dims, x->ndim());
    for (size_t i = 0; i < dims.size(); ++i)
      attrs.axes[i] = normalize_axis("permute", dims[i], x->ndim());
    return autograd::recorded(OpId::permute, x, std::move(attrs),
                              [&] { return permute(x, dims); });
  }
  if (static_cast<int64_t>(dims.size()) != x->ndim())
    fail(ErrorKind::Value, "[permute] got ", dims.size(),
         " dimensions for a tensor of shape ", x->shape);
  Dims norm(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    norm[i] = normalize_axis("permute", dims[i], x->ndim());
    if (seen[norm[i]])
      fail(ErrorKind::Value, "[permute] dimension ", dims[i], " repeats in ",
           dims);
    seen[norm[i]] = true;
  }
  Dims shape(dims.size()), strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    shape[i] = x->shape[norm[i]];
    strides[i] = x->strides[norm[i]];
  }
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
  Dims which;
  if (dims)
    which = normalize_axes("squeeze", *dims, x->ndim());
  Dims shape, strides;
  for (int64_t i = 0; i < x->ndim(); ++i) {
    bool listed =
        !dims || std::find(which.begin(), which.end(), i) != which.end();
    if (listed && x->shape[i] == 1)
      continue; // as PyTorch: a listed dim of size != 1 is kept silently
    shape.push_back(x->shape[i]);
    strides.push_back(x->strides[i]);
  }
  return alias(x, shape, strides, x->offset);
}

Tensor unsqueeze(const Tensor &x, int64_t dim) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::reshape, x, {},
                              [&] { return unsqueeze(x, dim); });
  int64_t d = normalize_axis("unsqueeze", dim, x->ndim() + 1);
  Dims shape = x->shape, strides = x->strides;
  int64_t st = d < x->ndim() ? x->shape[d] * x->strides[d] : 1;
  shape.insert(d, 1);
  strides.insert(d, st);
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
// The size split cuts: a 0-d tensor counts as empty (the narrow of any piece
// then refuses it).
int64_t split_extent(const Tensor &x, int64_t d) {
  return x->ndim() ? x->shape[d] : 0;
}
} // namespace

std::vector<Tensor> split(const Tensor &x, const Dims &sizes, int64_t dim) {
  const int64_t d = normalize_axis("split", dim, x->ndim());
  const int64_t n = split_extent(x, d);
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
  const int64_t d = normalize_axis("split", dim, x->ndim());
  const int64_t n = split_extent(x, d);
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
