// Joining and gathering: cat, stack, gather, scatter_add, index_select and
// masked_fill, built from copies, advanced indexing and where.
#include <algorithm>

#include "../dispatch.h"
#include "devrt/autograd.h"
#include "devrt/shape.h"

namespace devrt {

namespace {

// Index tensors that address, for every position of `index`, the element
// of x that torch.gather reads: arange along each other dimension, `index`
// along `dim`.
std::vector<std::optional<Tensor>> gather_indices(const char *op,
                                                  const Tensor &x, int64_t dim,
                                                  const Tensor &index) {
  if (index->ndim() != x->ndim())
    fail(ErrorKind::Value, "[", op, "] index of shape ", index->shape,
         " must have as many dimensions as the input of shape ", x->shape);
  if (!is_integral(index->dtype))
    fail(ErrorKind::Type, "[", op, "] index must be an integer tensor, got ",
         dtype_name(index->dtype));
  // An empty index reads and writes nothing: no size to check (PyTorch).
  for (int64_t d = 0; d < x->ndim() && index->numel() > 0; ++d)
    if (d != dim && index->shape[d] > x->shape[d])
      fail(ErrorKind::Value, "[", op, "] index of shape ", index->shape,
           " is larger than the input of shape ", x->shape,
           " outside dimension ", dim);
  std::vector<std::optional<Tensor>> idx;
  for (int64_t d = 0; d < x->ndim(); ++d) {
    if (d == dim) {
      idx.push_back(index);
      continue;
    }
    Dims shape(x->ndim(), 1);
    shape[d] = index->shape[d];
    Tensor r = arange(Scalar::from_int(0), Scalar::from_int(index->shape[d]),
                      Scalar::from_int(1), DType::Int64, x->device);
    idx.push_back(reshape(r, shape));
  }
  return idx;
}

// Runs f, an index or index_put underneath `op`: an out-of-bounds index
// is reported as op's ("[gather] index 7 is out of bounds ...").
template <typename F> auto reported_as(const char *op, F &&f) {
  try {
    return f();
  } catch (const Error &e) {
    const std::string m = e.what();
    const size_t close = m.find("] ");
    if (e.kind() != ErrorKind::Index || m.rfind("[index", 0) != 0 ||
        close == std::string::npos)
      throw;
    fail(ErrorKind::Index, "[", op, m.substr(close));
  }
}

// The shapes of `tensors`, for the shape functions.
SmallVector<ShapeRef, 8> shapes_of(const std::vector<Tensor> &tensors) {
  SmallVector<ShapeRef, 8> shapes(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i)
    shapes[i] = tensors[i]->shape;
  return shapes;
}

} // namespace

PartialShape cat_shape(const ShapeErrors &err, const ShapeRef *shapes, size_t n,
                       int64_t axis, bool skip_empty) {
  if (n == 0)
    err.fail(ErrorKind::Value, "expects a non-empty list of tensors");
  auto skipped = [skip_empty](ShapeRef s) {
    return skip_empty && s.known_rank && s.size == 1 && s[0] == 0;
  };
  // The shape the others must match: the first of known rank that is not
  // skipped (where every shape is skipped, the result is one of them).
  size_t ref = 0;
  while (ref < n && (!shapes[ref].known_rank || skipped(shapes[ref])))
    ++ref;
  if (ref == n) {
    for (size_t i = 0; i < n; ++i)
      if (!shapes[i].known_rank)
        return PartialShape::unknown();
    return PartialShape{true, {0}};
  }
  const ShapeRef first = shapes[ref];
  const int64_t d =
      normalize_axis(err, axis, std::max<int64_t>(first.rank(), 1));
  PartialShape out = first.partial();
  bool known_total = true;
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const ShapeRef s = shapes[i];
    if (!s.known_rank) {
      known_total = false;
      continue;
    }
    if (skipped(s))
      continue;
    if (s.rank() != first.rank() || s.rank() == 0)
      err.fail(ErrorKind::Value, "tensor ", i, " has shape ", s,
               ", tensor 0 has shape ", first,
               "; all need the same number of dimensions (at least one)");
    for (int64_t k = 0; k < s.rank(); ++k) {
      if (k == d)
        continue;
      if (s[k] >= 0 && out.dims[k] >= 0 && s[k] != out.dims[k])
        err.fail(ErrorKind::Value, "tensor ", i, " has shape ", s,
                 ", tensor 0 has shape ", first,
                 ": sizes must match except in dimension ", d);
      if (out.dims[k] < 0)
        out.dims[k] = s[k];
    }
    known_total = known_total && s[d] >= 0;
    total += s[d];
  }
  out.dims[d] = known_total ? total : -1;
  return out;
}

PartialShape stack_shape(const ShapeErrors &err, const ShapeRef *shapes,
                         size_t n, int64_t axis) {
  if (n == 0)
    err.fail(ErrorKind::Value, "expects a non-empty list of tensors");
  size_t ref = 0;
  while (ref < n && !shapes[ref].known_rank)
    ++ref;
  if (ref == n)
    return PartialShape::unknown();
  const int64_t d = normalize_axis(err, axis, shapes[ref].rank() + 1);
  PartialShape out = shapes[ref].partial();
  for (size_t i = ref + 1; i < n; ++i) {
    const ShapeRef s = shapes[i];
    if (!s.known_rank)
      continue;
    bool equal = s.rank() == out.rank();
    for (int64_t k = 0; equal && k < s.rank(); ++k)
      equal = s[k] < 0 || out.dims[k] < 0 || s[k] == out.dims[k];
    if (!equal)
      err.fail(ErrorKind::Value, "tensor ", i, " has shape ", s, ", tensor ",
               ref, " has shape ", shapes[ref], "; all must be equal");
    for (int64_t k = 0; k < s.rank(); ++k)
      if (out.dims[k] < 0)
        out.dims[k] = s[k];
  }
  out.dims.insert(static_cast<size_t>(d), static_cast<int64_t>(n));
  return out;
}

Tensor cat(const std::vector<Tensor> &tensors, int64_t dim) {
  const SmallVector<ShapeRef, 8> shapes = shapes_of(tensors);
  const Dims &shape =
      cat_shape(ShapeErrors("cat"), shapes.data(), shapes.size(), dim).dims;
  // Note: as PyTorch, 1-d tensors of size 0 join any tensors: they are
  // skipped in the checks of ranks, sizes and dim (not in the dtype), and
  // where every tensor is one, the result is one.
  auto skipped = [](const Tensor &x) {
    return x->ndim() == 1 && x->shape[0] == 0;
  };
  size_t ref = 0;
  while (ref + 1 < tensors.size() && skipped(tensors[ref]))
    ++ref;
  const Tensor &first = tensors[ref];
  const int64_t d =
      skipped(first) ? 0 : normalize_axis("cat", dim, first->ndim());
  DType t = first->dtype;
  bool grad = false;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor &x = tensors[i];
    if (x->device != first->device)
      fail(ErrorKind::Value, "[cat] tensor ", i, " is on ",
           device_str(x->device), ", tensor 0 on ", device_str(first->device));
    t = promote_types(t, x->dtype);
    grad = grad || autograd::should_record(x);
  }
  Tensor out = empty(shape, t, first->device);
  {
    autograd::NoGradGuard no_grad;
    int64_t offset = 0;
    for (const Tensor &x : tensors) {
      if (skipped(x) && !skipped(first))
        continue;
      if (x->shape[d])
        copy_(slice(out, d, offset, offset + x->shape[d], 1), x);
      offset += x->shape[d];
    }
  }
  if (grad) {
    autograd::OpAttrs attrs;
    attrs.i0 = d;
    autograd::record(OpId::cat, tensors, out, std::move(attrs));
  }
  return out;
}

Tensor stack(const std::vector<Tensor> &tensors, int64_t dim) {
  const SmallVector<ShapeRef, 8> shapes = shapes_of(tensors);
  stack_shape(ShapeErrors("stack"), shapes.data(), shapes.size(), dim);
  const int64_t d = normalize_axis("stack", dim, tensors[0]->ndim() + 1);
  std::vector<Tensor> parts;
  for (const Tensor &x : tensors)
    parts.push_back(unsqueeze(x, d));
  return cat(parts, d);
}

Tensor gather(const Tensor &x, int64_t dim, const Tensor &index) {
  int64_t d = normalize_axis("gather", dim, x->ndim());
  if (index->numel() == 0 && index->ndim() != x->ndim()) {
    if (!is_integral(index->dtype))
      fail(ErrorKind::Type, "[gather] index must be an integer tensor, got ",
           dtype_name(index->dtype));
    // As PyTorch: an empty index of any rank reads nothing. The empty result
    // is taken from x, so that it has a (zero) gradient.
    return reshape(slice(reshape(x, Dims{x->numel()}), 0, 0, 0, 1),
                   index->shape);
  }
  if (x->ndim() == 0 && index->ndim() == 0) // as a tensor of one element
    return reshape(gather(reshape(x, Dims{1}), 0, reshape(index, Dims{1})),
                   Dims{});
  std::vector<std::optional<Tensor>> idx =
      gather_indices("gather", x, d, index);
  return reported_as("gather", [&] { return devrt::index(x, idx, false); });
}

Tensor scatter_add(const Tensor &x, int64_t dim, const Tensor &index,
                   const Tensor &src) {
  int64_t d = normalize_axis("scatter_add", dim, x->ndim());
  if (x->ndim() == 0 && index->ndim() == 0 && src->ndim() == 0)
    return reshape(scatter_add(reshape(x, Dims{1}), 0, reshape(index, Dims{1}),
                               reshape(src, Dims{1})),
                   Dims{});
  if (src->dtype != x->dtype)
    fail(ErrorKind::Type, "[scatter_add] src of dtype ", dtype_name(src->dtype),
         " must have the input's dtype ", dtype_name(x->dtype));
  // As PyTorch: an empty index adds nothing, and checks no sizes of src.
  if (index->numel() == 0) { // of any rank, as PyTorch
    if (!is_integral(index->dtype))
      fail(ErrorKind::Type,
           "[scatter_add] index must be an integer tensor, got ",
           dtype_name(index->dtype));
    return clone(x);
  }
  // As PyTorch: src may be larger than the index; only the index's extent of
  // it is added.
  bool fits = src->ndim() == index->ndim();
  for (int64_t i = 0; fits && i < index->ndim(); ++i)
    fits = index->shape[i] <= src->shape[i];
  if (!fits)
    fail(ErrorKind::Value, "[scatter_add] index of shape ", index->shape,
         " is larger than src of shape ", src->shape,
         " or has another number of dimensions");
  Tensor part = src;
  for (int64_t i = 0; i < index->ndim(); ++i)
    if (part->shape[i] != index->shape[i])
      part = narrow(part, i, 0, index->shape[i]);
  std::vector<std::optional<Tensor>> idx =
      gather_indices("scatter_add", x, d, index);
  Tensor out;
  {
    autograd::NoGradGuard no_grad;
    out = clone(x);
    reported_as("scatter_add",
                [&] { index_put_(out, idx, part, true, false); });
  }
  if (autograd::should_record(x, part)) {
    autograd::OpAttrs attrs;
    attrs.i0 = d;
    attrs.indices = {index};
    autograd::record(OpId::scatter_add, {x, part}, out, std::move(attrs));
  }
  return out;
}

PartialShape take_shape(const ShapeErrors &err, ShapeRef x, ShapeRef indices,
                        int64_t axis, bool scalar_axis, int64_t *normalized) {
  if (normalized)
    *normalized = -1;
  if (!x.known_rank)
    return PartialShape::unknown();
  const int64_t a = normalize_axis(err, axis, x.rank(), scalar_axis);
  if (normalized)
    *normalized = a;
  if (!indices.known_rank)
    return PartialShape::unknown();
  PartialShape out{true,
                   Dims(x.begin(), x.begin() + std::min<int64_t>(a, x.rank()))};
  for (int64_t d : indices)
    out.dims.push_back(d);
  for (int64_t d = a + 1; d < x.rank(); ++d)
    out.dims.push_back(x[d]);
  return out;
}

Tensor index_select(const Tensor &x, int64_t dim, const Tensor &index) {
  if (index->ndim() > 1)
    fail(ErrorKind::Value, "[index_select] index must be 1-D, got shape ",
         index->shape);
  int64_t d = normalize_axis("index_select", dim, x->ndim());
  std::vector<std::optional<Tensor>> idx(d + 1);
  idx[d] = reshape(index, Dims{index->numel()});
  return reported_as("index_select",
                     [&] { return devrt::index(x, idx, false); });
}

Tensor take(const Tensor &x, int64_t axis, const Tensor &indices) {
  int64_t a;
  const Dims shape =
      take_shape(ShapeErrors("take"), x->shape, indices->shape, axis, true, &a)
          .dims;
  Tensor flat = reshape(cast(indices, DType::Int64), Dims{indices->numel()});
  return reshape(index_select(x, a, flat), shape);
}

Tensor flip(const Tensor &x, int64_t dim) {
  const int64_t d = normalize_axis("flip", dim, x->ndim());
  if (x->ndim() == 0) // dim 0 of a 0-d tensor: nothing to reverse
    return x;
  const int64_t len = x->shape[d];
  return index_select(x, d,
                      arange(Scalar::from_int(len - 1), Scalar::from_int(-1),
                             Scalar::from_int(-1), DType::Int64, x->device));
}

namespace {

void check_mask(const Tensor &x, const Tensor &mask) {
  if (mask->dtype != DType::Bool)
    fail(ErrorKind::Type, "[masked_fill] mask must be a bool tensor, got ",
         dtype_name(mask->dtype));
  Dims shape = broadcast_shapes("masked_fill", x->shape, mask->shape);
  if (shape != x->shape)
    fail(ErrorKind::Value, "[masked_fill] mask of shape ", mask->shape,
         " does not broadcast to the input's shape ", x->shape);
}

} // namespace

Tensor masked_fill(const Tensor &x, const Tensor &mask, Scalar value) {
  check_mask(x, mask);
  return where(mask, scalar_tensor(value, x->dtype, x->device), x);
}

// A 0-d tensor value stays a tensor, so that its gradient (the sum of the
// result's gradient over the filled places) reaches it, as in PyTorch.
Tensor masked_fill(const Tensor &x, const Tensor &mask, const Tensor &value) {
  check_mask(x, mask);
  if (value->ndim() != 0)
    fail(ErrorKind::Value,
         "[masked_fill] value must be a number or a 0-d tensor, got a tensor "
         "of shape ",
         value->shape);
  // As PyTorch, a 0-d value on the CPU fills a tensor on any device.
  if (value->device != x->device && !value->device.is_cpu())
    fail(ErrorKind::Value, "[masked_fill] value is on ",
         device_str(value->device), ", the input on ", device_str(x->device));
  return where(mask, to_device(cast(value, x->dtype), x->device), x);
}

} // namespace devrt
