// Reductions, arg-reductions and softmax: axis handling and output shapes.
#include <algorithm>
#include <cmath>

#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

int64_t normalize_axis(const char *op, int64_t axis, int64_t rank) {
  int64_t r = rank == 0 ? 1 : rank; // a 0-d tensor accepts axis 0 and -1
  if (axis < -r || axis >= r)
    fail(ErrorKind::Index, "[", op, "] axis ", axis,
         " is out of range for a tensor of rank ", rank, " (valid: ", -r,
         " to ", r - 1, ")");
  return axis < 0 ? axis + r : axis;
}

Dims normalize_axes(const char *op, const Dims &axes, int64_t rank) {
  Dims out;
  for (int64_t a : axes) {
    int64_t n = normalize_axis(op, a, rank);
    if (std::find(out.begin(), out.end(), n) != out.end())
      fail(ErrorKind::Value, "[", op, "] axis ", a, " appears twice in ", axes);
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
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
  const char *name = op_name(op);
  int64_t rank = x->ndim();
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    if (axes)
      attrs.axes = normalize_axes(name, *axes, rank);
    else
      for (int64_t i = 0; i < rank; ++i)
        attrs.axes.push_back(i);
    if (rank == 0)
      attrs.axes.clear();
    attrs.flag = keepdim;
    attrs.i0 = correction;
    return autograd::recorded(op, x, std::move(attrs), [&] {
      return reduce(op, x, axes, keepdim, correction);
    });
  }
  Dims ax;
  if (axes) {
    ax = normalize_axes(name, *axes, rank);
  } else {
    for (int64_t i = 0; i < rank; ++i)
      ax.push_back(i);
  }
  if (rank == 0)
    ax.clear();
  Dims kept_shape = x->shape, out_shape;
  for (int64_t i = 0; i < rank; ++i) {
    bool reduced = std::find(ax.begin(), ax.end(), i) != ax.end();
    if (reduced) {
      if (x->shape[i] == 0 && (op == OpId::max || op == OpId::min))
        fail(ErrorKind::Value, "[", name, "] cannot reduce axis ", i,
             " of size 0 (shape ", x->shape,
             "): the operation has no identity");
      kept_shape[i] = 1;
      if (keepdim)
        out_shape.push_back(1);
    } else {
      out_shape.push_back(x->shape[i]);
    }
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
  if (!axis)
    return keepdim ? reshape(y, Dims(x->ndim(), 1)) : reshape(y, Dims{});
  if (keepdim || x->ndim() == 0)
    return x->ndim() == 0 ? reshape(y, Dims{}) : y;
  Dims out = x->shape;
  out.erase(a);
  return reshape(y, out);
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
