// Losses the core builds from other ops, with derivative rules of their own.
#include "../dispatch.h"
#include "devrt/autograd.h"
#include "devrt/error.h"
#include "devrt/ops.h"

namespace devrt {

Tensor binary_cross_entropy(const Tensor &x, const Tensor &y) {
  check_same_device(OpId::binary_cross_entropy, x, y);
  if (x->shape != y->shape)
    fail(ErrorKind::Value, "[binary_cross_entropy] input of shape ", x->shape,
         " and target of shape ", y->shape, " must have one shape");
  DType t = promote_types(x->dtype, y->dtype);
  if (!is_floating(t))
    t = kDefaultFloat;
  // Casts are recorded ops: gradients reach each operand in its own dtype.
  const Tensor xt = cast(x, t), yt = cast(y, t);
  Tensor out;
  {
    autograd::NoGradGuard no_grad;
    // Probabilities only, as PyTorch (a NaN fails both comparisons).
    if (x->numel() > 0 &&
        !(item(reduce(OpId::min, xt, std::nullopt, false)).f >= 0.0 &&
          item(reduce(OpId::max, xt, std::nullopt, false)).f <= 1.0))
      fail(ErrorKind::Value, "[binary_cross_entropy] the input's values must "
                             "be probabilities between 0 and 1");
    const Scalar floor = Scalar::from_double(-100.0);
    const Tensor log_x = clamp(unary(OpId::log, xt), floor, std::nullopt);
    const Tensor log_not_x =
        clamp(unary(OpId::log1p, unary(OpId::neg, xt)), floor, std::nullopt);
    out =
        binary(OpId::sub,
               binary(OpId::mul,
                      binary_scalar(OpId::sub, yt, Scalar::from_int(1), false),
                      log_not_x),
               binary(OpId::mul, yt, log_x));
  }
  if (autograd::should_record(xt, yt))
    autograd::record(OpId::binary_cross_entropy, {xt, yt}, out);
  return out;
}

} // namespace devrt
