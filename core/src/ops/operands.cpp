// Binary ops on operands as the user gave them (a tensor or a number on
// either side), and PyTorch's add and sub with alpha.
#include <charconv>
#include <cstdint>
#include <string>

#include "devrt/error.h"
#include "devrt/ops.h"

namespace devrt {

namespace {

bool arithmetic(OpId op) {
  return op == OpId::add || op == OpId::sub || op == OpId::mul ||
         op == OpId::div || op == OpId::floor_divide;
}

// A number as Python writes it (True, 3, 0.5, 1.0, 1e+300).
std::string scalar_str(const Scalar &s) {
  if (s.kind == Scalar::Bool)
    return s.i ? "True" : "False";
  if (s.kind == Scalar::Int)
    return std::to_string(s.i);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, s.f);
  std::string out(buf, ec == std::errc() ? end : buf);
  if (out.find_first_of(".ein") == std::string::npos)
    out += ".0";
  return out;
}

// alpha as PyTorch takes it: a float one only where the result is floating,
// a bool one only where both operands are bool (in place, where the
// destination is). Checked before alpha scales b, which would hide a bool b
// of sub (True * 2 is 2).
void check_alpha(OpId op, const Operand &a, const Operand &b,
                 const Scalar &alpha, bool in_place) {
  const DType ta = a.dtype(), tb = b.dtype();
  if (op == OpId::sub && (ta == DType::Bool || tb == DType::Bool))
    fail(ErrorKind::Type, "[sub] is not defined for bool operands, got ",
         dtype_name(ta), " and ", dtype_name(tb),
         " (logical_not inverts a mask), as in PyTorch");
  if (alpha.kind == Scalar::Int)
    return;
  // (Of two numbers the first becomes a tensor, as a NumPy number does in
  // PyTorch, so an int one takes no float alpha either.)
  const bool floating = is_floating(ta) || (!in_place && is_floating(tb));
  const bool boolean = ta == DType::Bool && (in_place || tb == DType::Bool);
  const DType got = a.is_tensor() || !b.is_tensor() ? ta : tb;
  if (alpha.kind == Scalar::Float && !floating)
    fail(ErrorKind::Type, "[", op_name(op),
         "] alpha must be an integer for a tensor of dtype ", dtype_name(got),
         ", got ", scalar_str(alpha));
  if (alpha.kind == Scalar::Bool && !boolean)
    fail(ErrorKind::Type, "[", op_name(op),
         "] a bool alpha is taken only where both operands are bool, got ",
         scalar_str(alpha), " for a tensor of dtype ", dtype_name(got));
}

// alpha that scales nothing: the int 1 (or True).
bool is_one(const Scalar &alpha) {
  return alpha.kind != Scalar::Float && alpha.i == 1;
}

// A number times alpha as Python multiplies them: a float if either is
// one, else an int (True * True is 1), exact or refused.
Scalar scale_number(OpId op, const Scalar &s, const Scalar &alpha) {
  if (s.kind == Scalar::Float || alpha.kind == Scalar::Float)
    return Scalar::from_double(s.f * alpha.f);
  int64_t product;
  if (__builtin_mul_overflow(s.i, alpha.i, &product))
    fail(ErrorKind::Value, "[", op_name(op), "] other * alpha, ", scalar_str(s),
         " * ", scalar_str(alpha), ", does not fit in int64");
  return Scalar::from_int(product);
}

// b * alpha: a number scaled as a number, a tensor by a mul.
Operand scaled(OpId op, const Operand &b, const Scalar &alpha) {
  if (is_one(alpha))
    return b;
  if (!b.is_tensor())
    return Operand(scale_number(op, b.number, alpha));
  return Operand(binary_scalar(OpId::mul, b.tensor, alpha, false));
}

} // namespace

DType Operand::dtype() const {
  return tensor ? tensor->dtype : number.natural_dtype();
}

Tensor binary(OpId op, const Operand &a, const Operand &b) {
  if (a.is_tensor() && b.is_tensor())
    return binary(op, a.tensor, b.tensor);
  if (a.is_tensor())
    return binary_scalar(op, a.tensor, b.number, false);
  if (b.is_tensor())
    return binary_scalar(op, b.tensor, a.number, true);
  // As PyTorch, the arithmetic functions also take two numbers: the first
  // becomes a 0-d tensor (a float one of float32), the second stays a number.
  if (!arithmetic(op))
    fail(ErrorKind::Type, "[", op_name(op),
         "] expected a tensor operand, got the numbers ", scalar_str(a.number),
         " and ", scalar_str(b.number));
  const DType t = a.number.kind == Scalar::Float ? DType::Float32
                                                 : a.number.natural_dtype();
  Tensor at = scalar_tensor(a.number, t, kCPU);
  at->wrapped_number = false;
  return binary_scalar(op, at, b.number, false);
}

Tensor add_sub(OpId op, const Operand &a, const Operand &b, Scalar alpha) {
  check_alpha(op, a, b, alpha, false);
  if (is_one(alpha))
    return binary(op, a, b);
  if (!a.is_tensor() || !b.is_tensor())
    return binary(op, a, scaled(op, b, alpha));
  const Tensor &at = a.tensor;
  Tensor bt = b.tensor;
  DType compute, result;
  binary_result_types(op, at->dtype, bt->dtype, promotion_rank(at),
                      promotion_rank(bt), &compute, &result);
  if (result == DType::Float32 && alpha.kind != Scalar::Bool &&
      alpha.f != 1.0) {
    // PyTorch rounds alpha to float32 and a + alpha * b once. The product of
    // two float32 numbers is exact in float64, so computing there and
    // rounding at the end gives that result.
    const double al = static_cast<float>(alpha.f);
    Tensor wide = binary_scalar(OpId::mul, cast(bt, DType::Float64),
                                Scalar::from_double(al), false);
    return cast(binary(op, cast(at, DType::Float64), wide), DType::Float32);
  }
  // As PyTorch: b * alpha is computed in the dtype a op b computes in
  // (float32 * 1.5 added to float64 is a float64 product), and the result
  // has a op b's dtype (a 0-d int32 times 0.5 is float32, which would win
  // over a 0-d float16 a).
  if ((compute == DType::Float64 || compute == DType::Float32) &&
      bt->dtype != compute) // (16-bit floats have no product kernel)
    bt = cast(bt, compute);
  Tensor y = binary(op, at, binary_scalar(OpId::mul, bt, alpha, false));
  return y->dtype == result ? y : cast(y, result);
}

void add_sub_(OpId op, const Tensor &a, const Operand &b, Scalar alpha) {
  check_alpha(op, Operand(a), b, alpha, true);
  Operand s = scaled(op, b, alpha);
  if (s.is_tensor())
    binary_inplace(op, a, s.tensor);
  else
    binary_inplace(op, a, s.number);
}

Tensor where(const Tensor &cond, const Operand &a, const Operand &b) {
  // As PyTorch: a mask, bool (or uint8, which PyTorch still takes).
  if (cond->dtype != DType::Bool && cond->dtype != DType::UInt8)
    fail(ErrorKind::Type,
         "[where] condition must be a bool tensor, got a tensor of dtype ",
         dtype_name(cond->dtype));
  if (a.is_tensor() && b.is_tensor())
    return where(cond, a.tensor, b.tensor);
  auto rank = [](const Operand &o) {
    return o.is_tensor() ? promotion_rank(o.tensor) : Rank::Number;
  };
  DType t = promote_types(a.dtype(), b.dtype(), rank(a), rank(b));
  // Two numbers give their category's default dtype, as in PyTorch: a
  // float among them makes float32, not float64.
  if (!a.is_tensor() && !b.is_tensor() && is_floating(t))
    t = kDefaultFloat;
  // A number is made in the result's dtype at once (the device needs no
  // cast from its natural dtype), and must fit it as a fill's value must
  // (uint8 takes -1 as 255), but for the 16-bit floats, which round it to
  // an infinity, as PyTorch's.
  auto made = [&](const Operand &o) {
    if (o.is_tensor())
      return o.tensor;
    if (t != DType::Float16 && t != DType::BFloat16)
      check_fill_value("where", o.number, t);
    return scalar_tensor(o.number, t, cond->device);
  };
  return where(cond, made(a), made(b));
}

} // namespace devrt
