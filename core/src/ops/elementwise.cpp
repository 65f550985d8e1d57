// Elementwise ops: promotion, broadcasting and the kernel call.
#include <algorithm>
#include <cmath>

#include "../dispatch.h"
#include "devrt/autograd.h"
#include "devrt/shape.h"

namespace devrt {

void check_same_device(OpId op, const Tensor &a, const Tensor &b) {
  if (a->device != b->device) [[unlikely]]
    fail(ErrorKind::Value, "[", op_name(op),
         "] expected all tensors on one device, got ", device_str(a->device),
         " and ", device_str(b->device));
}

namespace {

bool bitwise_ok(DType t) { return t == DType::Bool || is_integral(t); }

// As PyTorch: integers to a negative integer number raise before any
// element is read, an empty tensor's too (a tensor exponent is checked
// element by element by the kernel).
void check_integer_power(OpId op, DType compute, const Scalar &s) {
  if (op == OpId::pow && !is_floating(compute) && s.kind == Scalar::Int &&
      s.i < 0)
    fail(ErrorKind::Value,
         "[pow] integers to negative integer powers are not allowed");
}

} // namespace

Scalar Scalar::from_double(double v) {
  Scalar s;
  s.kind = Float;
  s.f = v;
  // Out-of-range values keep only their double form.
  s.i = (v >= -0x1p63 && v < 0x1p63) ? static_cast<int64_t>(v) : 0;
  return s;
}

DType Scalar::natural_dtype() const {
  return kind == Bool ? DType::Bool
                      : (kind == Int ? DType::Int64 : DType::Float64);
}

PartialShape broadcast_shape(const ShapeErrors &err, ShapeRef a, ShapeRef b) {
  if (!a.known_rank || !b.known_rank)
    return PartialShape::unknown();
  PartialShape out{true, {}};
  if (a.size == b.size && std::equal(a.begin(), a.end(), b.begin())) {
    out.dims.assign(a.begin(), a.end());
    return out;
  }
  const size_t n = std::max(a.size, b.size);
  out.dims.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size ? 1 : a[i - (n - a.size)];
    const int64_t db = i < n - b.size ? 1 : b[i - (n - b.size)];
    if (da == 1 || da == db)
      out.dims[i] = db;
    else if (db == 1)
      out.dims[i] = da;
    else if (da < 0 || db < 0) // an unknown size takes the known one
      out.dims[i] = std::max(da, db);
    else
      err.fail(ErrorKind::Value, "shapes ", a, " and ", b,
               " cannot be broadcast together (dimension ", i, ": ", da, " vs ",
               db, ")");
  }
  return out;
}

PartialShape where_shape(const ShapeErrors &err, ShapeRef cond, ShapeRef a,
                         ShapeRef b) {
  return broadcast_shape(err, broadcast_shape(err, cond, a), b);
}

Dims broadcast_shapes(const char *op, const Dims &a, const Dims &b) {
  if (a == b) // the common case, without building a PartialShape
    return a;
  return broadcast_shape(ShapeErrors(op), a, b).dims;
}

void binary_result_types(OpId op, DType a, DType b, Rank a_rank, Rank b_rank,
                         DType *compute, DType *result) {
  DType t = promote_types(a, b, a_rank, b_rank);
  const OpDef &def = op_def(op);
  if (op == OpId::sub && (a == DType::Bool || b == DType::Bool))
    fail(ErrorKind::Type, "[sub] is not defined for bool operands, got ",
         dtype_name(a), " and ", dtype_name(b),
         " (logical_not inverts a mask), as in PyTorch");
  switch (def.family) {
  case OpFamily::BinaryFloat:
    if (!is_floating(t))
      t = kDefaultFloat;
    *compute = *result = t;
    return;
  case OpFamily::BinaryBitwise:
    if (!bitwise_ok(t))
      fail(ErrorKind::Type, "[", def.name,
           "] needs bool or integer tensors, got ", dtype_name(a), " and ",
           dtype_name(b));
    *compute = *result = t;
    return;
  case OpFamily::Compare:
    *compute = t;
    *result = DType::Bool;
    return;
  default:
    if (t == DType::Bool && op != OpId::maximum && op != OpId::minimum) {
      // Arithmetic on two bools counts in int64, as NumPy's sum of bools;
      // PyTorch's add of bools is logical or, a trap we do not copy.
      t = DType::Int64;
    }
    *compute = *result = t;
  }
}

void unary_result_types(OpId op, DType x, DType *compute, DType *result) {
  const OpDef &def = op_def(op);
  DType in = x, out = x;
  switch (def.family) {
  case OpFamily::UnaryFloat:
    if (!is_floating(in))
      in = out = kDefaultFloat;
    break;
  case OpFamily::UnaryRound: // the identity on integers
    break;
  case OpFamily::UnaryLogical:
    out = DType::Bool;
    break;
  case OpFamily::UnaryBitwise:
    if (!bitwise_ok(in))
      fail(ErrorKind::Type, "[", def.name,
           "] needs a bool or integer tensor, got ", dtype_name(in));
    break;
  default:
    if (in == DType::Bool && op == OpId::sign)
      break; // the sign of a bool is itself, as in PyTorch
    if (in == DType::Bool)
      fail(ErrorKind::Type, "[", def.name, "] is not defined for bool tensors");
    break;
  }
  *compute = in;
  *result = out;
}

void check_inplace_result(OpId op, DType result, DType dst) {
  auto category = [](DType t) {
    return is_floating(t) ? 2 : (t == DType::Bool ? 0 : 1);
  };
  if (category(result) > category(dst))
    fail(ErrorKind::Type, "[", op_name(op), "] result type ",
         dtype_name(result), " cannot be stored in-place into a ",
         dtype_name(dst), " tensor");
}

Tensor unary(OpId op, const Tensor &x) {
  // The identity: rounding an integer, the sign of a bool.
  if ((op_def(op).family == OpFamily::UnaryRound && !is_floating(x->dtype)) ||
      (op == OpId::sign && x->dtype == DType::Bool))
    return clone(x);
  DType in, out;
  unary_result_types(op, x->dtype, &in, &out);
  Tensor src = cast(x, in);
  Launch k(op, x->device, in);
  Tensor y = empty(x->shape, out, x->device);
  k.input(src).output(y).run();
  if (autograd::should_record(x))
    autograd::record(op, {x}, y);
  return y;
}

Tensor clamp(const Tensor &x, std::optional<Scalar> lo,
             std::optional<Scalar> hi) {
  if (!lo && !hi)
    fail(ErrorKind::Value, "[clamp] at least one of min and max is required");
  // A float bound on an integer or bool tensor computes in float, an int
  // bound on a bool tensor in int64, as PyTorch; bool bounds on a bool
  // tensor have no kernel there either.
  auto of_kind = [&](Scalar::Kind kind) {
    return (lo && lo->kind == kind) || (hi && hi->kind == kind);
  };
  DType t = x->dtype;
  if (!is_floating(t) && of_kind(Scalar::Float))
    t = kDefaultFloat;
  else if (t == DType::Bool && of_kind(Scalar::Int))
    t = DType::Int64;
  if (t == DType::Bool)
    fail(ErrorKind::NotImplemented,
         "[clamp] is not defined for a bool tensor with bool bounds");
  // A NaN bound makes every element NaN, as in PyTorch (the kernel's
  // comparisons would let every element through instead).
  auto is_nan = [](const std::optional<Scalar> &s) {
    return s && s->kind == Scalar::Float && std::isnan(s->f);
  };
  Tensor y;
  if (is_floating(t) && (is_nan(lo) || is_nan(hi))) {
    y = full(x->shape, *(is_nan(lo) ? lo : hi), t, x->device);
  } else {
    // A bound the computing dtype cannot hold is refused, as PyTorch does
    // (min=-2**40 on an int32 tensor, 1e300 on a float32 one), not wrapped;
    // a NaN bound above decides before any such check, as there.
    for (const std::optional<Scalar> *b : {&lo, &hi})
      if (*b && (*b)->kind != Scalar::Bool)
        check_fill_value("clamp", **b, t);
    Tensor src = cast(x, t);
    Launch k(OpId::clamp, x->device, t);
    y = empty(x->shape, t, x->device);
    k.input(src).output(y);
    lo ? k.attr_scalar(*lo) : k.attr_none();
    hi ? k.attr_scalar(*hi) : k.attr_none();
    k.run();
  }
  if (autograd::should_record(x)) {
    autograd::OpAttrs attrs;
    attrs.s0 = lo;
    attrs.s1 = hi;
    autograd::record(OpId::clamp, {x}, y, std::move(attrs));
  }
  return y;
}

Tensor clamp(const Tensor &x, const std::optional<Tensor> &lo,
             const std::optional<Tensor> &hi) {
  if (!lo && !hi)
    fail(ErrorKind::Value, "[clamp] at least one of min and max is required");
  // Note: the value is min(max(x, lo), hi) (hi where lo > hi; NaN from any
  // operand). Each element takes its gradient from the one operand PyTorch
  // gives it to: x where lo <= x <= hi, lo where x < lo < hi, hi where
  // x > hi or hi < lo, none elsewhere (ties of lo and hi below x, NaNs);
  // there the value is the detached one, as where it is NaN.
  Tensor value = x;
  if (lo)
    value = binary(OpId::maximum, value, *lo);
  if (hi)
    value = binary(OpId::minimum, value, *hi);
  Tensor y = detach(value);
  auto both = [](const Tensor &a, const Tensor &b) {
    return binary(OpId::logical_and, a, b);
  };
  if (hi) {
    Tensor above = binary(OpId::gt, x, *hi);
    if (lo)
      above = binary(OpId::logical_or, above, binary(OpId::lt, *hi, *lo));
    y = where(above, *hi, y);
  }
  if (lo) {
    Tensor below = binary(OpId::lt, x, *lo);
    if (hi)
      below = both(below, binary(OpId::lt, *lo, *hi));
    y = where(below, *lo, y);
  }
  Tensor inside = lo ? binary(OpId::ge, x, *lo) : binary(OpId::le, x, *hi);
  if (lo && hi)
    inside = both(inside, binary(OpId::le, x, *hi));
  y = where(inside, x, y);
  if (!is_floating(y->dtype))
    return y;
  // A NaN bound makes the value NaN whatever the comparisons said.
  return where(binary(OpId::ne, value, value), detach(value), y);
}

Tensor binary(OpId op, const Tensor &a, const Tensor &b) {
  check_same_device(op, a, b);
  DType compute, result;
  binary_result_types(op, a->dtype, b->dtype, promotion_rank(a),
                      promotion_rank(b), &compute, &result);
  Dims shape = broadcast_shapes(op_name(op), a->shape, b->shape);
  Launch k(op, a->device, compute);
  Tensor ac = cast(a, compute), bc = cast(b, compute);
  Tensor y = empty(shape, result, a->device);
  k.input(ac, shape).input(bc, shape).output(y).run();
  if (autograd::should_record(a, b))
    autograd::record(op, {a, b}, y);
  return y;
}

Tensor binary_scalar(OpId op, const Tensor &a, Scalar s, bool scalar_first) {
  DType compute, result;
  DType st = s.natural_dtype();
  if (scalar_first)
    binary_result_types(op, st, a->dtype, Rank::Number, promotion_rank(a),
                        &compute, &result);
  else
    binary_result_types(op, a->dtype, st, promotion_rank(a), Rank::Number,
                        &compute, &result);
  if (!scalar_first)
    check_integer_power(op, compute, s);
  // The number is materialised directly in the compute type: no cast.
  Tensor b = scalar_tensor(s, compute, a->device);
  Launch k(op, a->device, compute);
  Tensor ac = cast(a, compute);
  Tensor y = empty(a->shape, result, a->device);
  if (scalar_first)
    k.input(b, a->shape).input(ac);
  else
    k.input(ac).input(b, a->shape);
  k.output(y).run();
  if (autograd::should_record(a))
    autograd::record(op,
                     scalar_first ? std::vector<Tensor>{b, a}
                                  : std::vector<Tensor>{a, b},
                     y);
  return y;
}

namespace {

// The destination of an in-place op is a tensor, even one made from a number.
Rank inplace_rank(const Tensor &a) {
  return a->ndim() == 0 ? Rank::ZeroDim : Rank::Dimensioned;
}

void inplace(OpId op, const Tensor &a, const Tensor &b, DType compute,
             DType result) {
  check_inplace_result(op, result, a->dtype);
  Dims shape = broadcast_shapes(op_name(op), a->shape, b->shape);
  if (shape != a->shape)
    fail(ErrorKind::Value, "[", op_name(op), "] in-place result of shape ",
         shape, " does not fit the destination of shape ", a->shape);
  if (autograd::inplace_records(op_name(op), a, {b})) {
    autograd::rebase_history(
        op_name(op), a,
        binary(op, autograd::saves_input(op, 0) ? autograd::snapshot(a) : a,
               b));
    return;
  }
  if (compute == a->dtype && result == a->dtype && a->is_contiguous() &&
      !partially_overlaps(*a, *b)) {
    // Elementwise kernels read each element before writing it, so the
    // output may alias the first input.
    Launch k(op, a->device, compute);
    Tensor bc = cast(b, compute);
    k.input(a).input(bc, shape).output(a).run();
    a->bump_version();
    return;
  }
  copy_(a, binary(op, a, b));
}

} // namespace

void binary_inplace(OpId op, const Tensor &a, const Tensor &b) {
  check_same_device(op, a, b);
  DType compute, result;
  binary_result_types(op, a->dtype, b->dtype, inplace_rank(a),
                      promotion_rank(b), &compute, &result);
  inplace(op, a, b, compute, result);
}

void binary_inplace(OpId op, const Tensor &a, Scalar s) {
  DType compute, result;
  binary_result_types(op, a->dtype, s.natural_dtype(), inplace_rank(a),
                      Rank::Number, &compute, &result);
  check_integer_power(op, compute, s);
  inplace(op, a, scalar_tensor(s, compute, a->device), compute, result);
}

Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b) {
  check_same_device(OpId::where, cond, a);
  check_same_device(OpId::where, a, b);
  DType t =
      promote_types(a->dtype, b->dtype, promotion_rank(a), promotion_rank(b));
  const Dims &shape =
      where_shape(ShapeErrors("where"), cond->shape, a->shape, b->shape).dims;
  Launch k(OpId::where, a->device, t);
  Tensor c = cast(cond, DType::Bool), ac = cast(a, t), bc = cast(b, t);
  Tensor y = empty(shape, t, a->device);
  k.input(c, shape).input(ac, shape).input(bc, shape).output(y).run();
  if (autograd::should_record(a, b))
    autograd::record(OpId::where, {cond, a, b}, y);
  return y;
}

Tensor relu_backward(const Tensor &g, const Tensor &y) {
  check_same_device(OpId::relu_backward, g, y);
  if (!is_floating(g->dtype))
    fail(ErrorKind::Type, "[relu_backward] g must be floating, got ",
         dtype_name(g->dtype));
  if (g->shape != y->shape)
    fail(ErrorKind::Value, "[relu_backward] g has shape ", g->shape, ", y ",
         y->shape, ": they must match");
  const DType t = g->dtype;
  if (y->dtype != t || !has_kernel(OpId::relu_backward, g->device.type, t) ||
      autograd::should_record(g, y))
    return where(binary_scalar(OpId::le, y, Scalar::from_int(0), false),
                 Operand(Scalar::from_int(0)), Operand(g));
  Tensor out = empty(g->shape, t, g->device);
  Launch k(OpId::relu_backward, g->device, t);
  k.input(g).input(y).output(out).run();
  return out;
}

} // namespace devrt
