// Reductions, arg-reductions and softmax: axis handling and output shapes
// (on partial shapes too: the graph infers its nodes with them).
#include <algorithm>
#include <cmath>

#include "../dispatch.h"
#include "devrt/autograd.h"
#include "devrt/shape.h"

namespace devrt {

int64_t normalize_axis(const ShapeErrors &err, int64_t axis, int64_t rank,
                       bool scalar_axis) {
  const int64_t r = rank == 0 && scalar_axis ? 1 : rank;
  if (r == 0)
    err.fail(ErrorKind::Index, "axis ", axis,
             " is out of range for a tensor of rank 0 (it has no axes)");
  if (axis < -r || axis >= r)
    err.fail(ErrorKind::Index, "axis ", axis,
             " is out of range for a tensor of rank ", rank, " (valid: ", -r,
             " to ", r - 1, ")");
  return axis < 0 ? axis + r : axis;
}

Dims normalize_axes(const ShapeErrors &err, const Dims &axes, int64_t rank,
                    bool scalar_axis) {
  Dims out;
  for (int64_t a : axes) {
    int64_t n = normalize_axis(err, a, rank, scalar_axis);
    if (std::find(out.begin(), out.end(), n) != out.end())
      err.fail(ErrorKind::Value, "axis ", a, " appears twice in ", axes);
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t normalize_axis(const char *op, int64_t axis, int64_t rank) {
  return normalize_axis(ShapeErrors(op), axis, rank);
}

Dims normalize_axes(const char *op, const Dims &axes, int64_t rank) {
  return normalize_axes(ShapeErrors(op), axes, rank);
}

PartialShape reduce_shape(const ShapeErrors &err, ShapeRef x,
                          const std::optional<Dims> &axes, bool keepdim,
                          bool scalar_axis, Dims *normalized) {
  if (!x.known_rank)
    return PartialShape::unknown();
  const int64_t rank = x.rank();
  Dims ax;
  if (axes)
    ax = normalize_axes(err, *axes, rank, scalar_axis);
  else
    for (int64_t i = 0; i < rank; ++i)
      ax.push_back(i);
  if (rank == 0) // axis 0 of a 0-d shape reduces nothing
    ax.clear();
  PartialShape out{true, {}};
  for (int64_t i = 0; i < rank; ++i)
    if (std::find(ax.begin(), ax.end(), i) == ax.end())
      out.dims.push_back(x[i]);
    else if (keepdim)
      out.dims.push_back(1);
  if (normalized)
    *normalized = std::move(ax);
  return out;
}

PartialShape arg_reduce_shape(const ShapeErrors &err, ShapeRef x,
                              std::optional<int64_t> axis, bool keepdim,
                              bool scalar_axis) {
  if (!axis) // over every element
    return keepdim ? (x.known_rank ? PartialShape{true, Dims(x.size, 1)}
                                   : PartialShape::unknown())
                   : PartialShape{true, {}};
  if (!x.known_rank)
    return PartialShape::unknown();
  const int64_t a = normalize_axis(err, *axis, x.rank(), scalar_axis);
  PartialShape out = x.partial();
  if (x.rank() == 0)
    return out;
  if (keepdim)
    out.dims[a] = 1;
  else
    out.dims.erase(a);
  return out;
}

PartialShape topk_shape(const ShapeErrors &err, ShapeRef x, int64_t k,
                        int64_t axis, bool scalar_axis, int64_t *normalized) {
  if (normalized)
    *normalized = -1;
  if (!x.known_rank) {
    if (k < 0)
      err.fail(ErrorKind::Value, "k (", k, ") must be >= 0");
    return PartialShape::unknown();
  }
  if (!scalar_axis && x.rank() == 0)
    err.fail(ErrorKind::Value, "input must have at least 1 dimension");
  const int64_t a = normalize_axis(err, axis, x.rank(), scalar_axis);
  if (normalized)
    *normalized = a;
  const int64_t size = x.rank() == 0 ? 1 : x[a];
  if (k < 0 || (size >= 0 && k > size))
    err.fail(ErrorKind::Value, "k (", k, ") must lie in [0, ",
             size < 0 ? std::string("?") : std::to_string(size),
             "] for dimension ", axis, " of input of shape ", x);
  PartialShape out = x.partial();
  if (x.rank() > 0)
    out.dims[a] = k;
  return out;
}

int64_t axis_of(const ShapeErrors &err, ShapeRef x, int64_t axis,
                bool scalar_axis) {
  return x.known_rank ? normalize_axis(err, axis, x.rank(), scalar_axis) : -1;
}

namespace {

// The dtype a reduction reads and writes.
DType reduce_dtype(OpId op, DType in) {
  switch (op) {
  case OpId::sum:
  case OpId::prod:
    return is_floating(in) ? in : DType::Int64;
  case OpId::mean:
  case OpId::var:
    return is_floating(in) ? in : kDefaultFloat;
  case OpId::any:
  case OpId::all:
    return DType::Bool;
  default:
    return in;
  }
}

} // namespace

Tensor reduce(OpId op, const Tensor &x, const std::optional<Dims> &axes,
              bool keepdim, int64_t correction) {
  const ShapeErrors err(op_name(op));
  Dims ax;
  const Dims &out_shape =
      reduce_shape(err, x->shape, axes, keepdim, true, &ax).dims;
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.axes = std::move(ax);
    attrs.flag = keepdim;
    attrs.i0 = correction;
    return autograd::recorded(op, x, std::move(attrs), [&] {
      return reduce(op, x, axes, keepdim, correction);
    });
  }
  // The kernel writes an output of x's rank; keepdim=false views it.
  Dims kept_shape = x->shape;
  for (int64_t a : ax) {
    if (x->shape[a] == 0 && (op == OpId::max || op == OpId::min))
      err.fail(ErrorKind::Value, "cannot reduce axis ", a, " of size 0 (shape ",
               x->shape, "): the operation has no identity");
    kept_shape[a] = 1;
  }
  DType t = reduce_dtype(op, x->dtype);
  Launch k(op, x->device, t);
  Tensor src = cast(x, t);
  Tensor y = empty(kept_shape, t, x->device);
  k.input(src).output(y).attr_ints(ax);
  if (op == OpId::var)
    k.attr_int(correction);
  k.run();
  return keepdim ? y
                 : make_view(y->storage, 0, out_shape,
                             contiguous_strides(out_shape), t, x->device);
}

Tensor var(const Tensor &x, const std::optional<Dims> &axes, bool keepdim,
           Scalar correction) {
  const bool integral = correction.kind != Scalar::Float ||
                        (correction.f == std::floor(correction.f) &&
                         std::fabs(correction.f) < 0x1p53);
  if (integral)
    return reduce(OpId::var, x, axes, keepdim,
                  correction.kind == Scalar::Float
                      ? static_cast<int64_t>(correction.f)
                      : correction.i);
  // N <= correction gives inf, or NaN for 0 / 0.
  Tensor v = reduce(OpId::var, x, axes, keepdim, 0);
  double n = 1;
  if (!axes)
    n = static_cast<double>(x->numel());
  else
    for (int64_t a : normalize_axes("var", *axes, x->ndim()))
      n *= x->ndim() ? static_cast<double>(x->shape[a]) : 1.0;
  const double factor = n / std::max(0.0, n - correction.f);
  return binary_scalar(OpId::mul, v, Scalar::from_double(factor), false);
}

Tensor std_dev(const Tensor &x, const std::optional<Dims> &axes, bool keepdim,
               Scalar correction) {
  Tensor v = var(x, axes, keepdim, correction);
  Tensor zero = binary_scalar(OpId::eq, v, Scalar::from_int(0), false);
  Tensor one = scalar_tensor(Scalar::from_int(1), v->dtype, v->device);
  return where(zero, v, unary(OpId::sqrt, where(zero, one, v)));
}

Tensor arg_reduce(OpId op, const Tensor &x, std::optional<int64_t> axis,
                  bool keepdim) {
  const char *name = op_name(op);
  if (x->dtype == DType::Bool)
    fail(ErrorKind::Type, "[", name, "] is not defined for bool tensors");
  const Dims &out =
      arg_reduce_shape(ShapeErrors(name), x->shape, axis, keepdim).dims;
  // The kernel reduces axis a of src (at least 1-D) into size 1.
  Tensor src = x;
  int64_t a = 0;
  if (!axis) {
    src = reshape(x, Dims{x->numel()});
  } else {
    a = normalize_axis(name, *axis, x->ndim());
    if (x->ndim() == 0)
      src = reshape(x, Dims{1});
  }
  if (src->shape[a] == 0)
    fail(ErrorKind::Value, "[", name, "] cannot reduce axis ", a,
         " of size 0 (shape ", x->shape, ")");
  Dims kept = src->shape;
  kept[a] = 1;
  Launch k(op, x->device, x->dtype);
  Tensor y = empty(kept, DType::Int64, x->device);
  k.input(src).output(y).attr_int(a).run();
  return y->shape == out ? y : reshape(y, out);
}

namespace {
// x with at least one dimension, and `axis` of it normalized.
std::pair<Tensor, int64_t> scan_input(OpId op, const Tensor &x, int64_t axis) {
  const int64_t a = normalize_axis(op_name(op), axis, x->ndim());
  return {x->ndim() == 0 ? reshape(x, Dims{1}) : x, a};
}
} // namespace

Tensor argsort(const Tensor &x, int64_t axis, bool descending) {
  auto [src, a] = scan_input(OpId::argsort, x, axis);
  if (src->dtype == DType::Bool || src->dtype == DType::UInt8)
    src = cast(src, DType::Int32);
  Tensor y = empty(src->shape, DType::Int64, x->device);
  if (src->numel() == 0)
    return reshape(y, x->shape);
  Launch k(OpId::argsort, x->device, src->dtype);
  k.input(src).output(y).attr_int(a).attr_bool(descending).run();
  return reshape(y, x->shape);
}

std::pair<Tensor, Tensor> topk(const Tensor &x, int64_t k, int64_t axis,
                               bool largest) {
  int64_t a;
  topk_shape(ShapeErrors("topk"), x->shape, k, axis, true, &a);
  const Tensor flat = x->ndim() == 0 ? reshape(x, Dims{1}) : x;
  Tensor indices = narrow(argsort(flat, a, largest), a, 0, k);
  Tensor values = gather(flat, a, indices);
  if (x->ndim() == 0)
    return {reshape(values, Dims{}), reshape(indices, Dims{})};
  return {values, indices};
}

Tensor cumsum(const Tensor &x, int64_t axis) {
  auto [src, a] = scan_input(OpId::cumsum, x, axis);
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.i0 = a;
    return autograd::recorded(OpId::cumsum, x, std::move(attrs),
                              [&] { return cumsum(x, axis); });
  }
  const DType t = is_floating(x->dtype) ? x->dtype : DType::Int64;
  src = cast(src, t);
  Tensor y = empty(src->shape, t, x->device);
  if (src->numel() > 0) {
    Launch k(OpId::cumsum, x->device, t);
    k.input(src).output(y).attr_int(a).run();
  }
  return reshape(y, x->shape);
}

Tensor softmax(OpId op, const Tensor &x, int64_t axis) {
  int64_t a = normalize_axis(op_name(op), axis, x->ndim());
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.i0 = a;
    return autograd::recorded(op, x, std::move(attrs),
                              [&] { return softmax(op, x, axis); });
  }
  DType t = is_floating(x->dtype) ? x->dtype : kDefaultFloat;
  Launch k(op, x->device, t);
  Tensor src = cast(x, t);
  if (x->ndim() == 0)
    src = reshape(src, Dims{1});
  Tensor y = empty(src->shape, t, x->device);
  if (y->numel() != 0)
    k.input(src).output(y).attr_int(a).run();
  return x->ndim() == 0 ? reshape(y, Dims{}) : y;
}

} // namespace devrt
