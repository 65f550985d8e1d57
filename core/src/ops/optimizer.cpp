// Fused optimizer updates: one kernel that updates a parameter and its
// state in place, or the same arithmetic as a sequence of core ops on a
// device (or for operands) the kernel does not take.
#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

namespace {

// Whether writing `a` may change what `b` reads, identical views included.
bool shares_memory(const Tensor &a, const Tensor &b) {
  if (a->storage != b->storage || a->numel() == 0 || b->numel() == 0)
    return false;
  return partially_overlaps(*a, *b) ||
         (a->offset == b->offset && a->strides == b->strides);
}

// A step size, root divisor or learning rate of update `op`: a 0-d
// floating tensor on param's device, or a wrapped Python number (on the
// host).
void check_scale(const char *op, const char *what, const Tensor &s,
                 const Tensor &param) {
  if (s->ndim() != 0)
    fail(ErrorKind::Value, "[", op, "] ", what,
         " must be a 0-d tensor, got shape ", s->shape);
  if (!is_floating(s->dtype))
    fail(ErrorKind::Type, "[", op, "] ", what, " must be floating, got ",
         dtype_name(s->dtype));
  if (s->device != param->device && !s->wrapped_number)
    fail(ErrorKind::Value, "[", op, "] expected all tensors on one device, ",
         "got param on ", device_str(param->device), " and ", what, " on ",
         device_str(s->device));
}

// A tensor updated with param, or its gradient: its shape, dtype and
// device.
void check_state(const char *op, const char *what, const Tensor &t,
                 const Tensor &param) {
  if (t->device != param->device)
    fail(ErrorKind::Value, "[", op, "] expected all tensors on one device, ",
         "got param on ", device_str(param->device), " and ", what, " on ",
         device_str(t->device));
  if (t->dtype != param->dtype)
    fail(ErrorKind::Type, "[", op, "] ", what, " has dtype ",
         dtype_name(t->dtype), ", param ", dtype_name(param->dtype),
         ": they must match");
  if (t->shape != param->shape)
    fail(ErrorKind::Value, "[", op, "] ", what, " has shape ", t->shape,
         ", param ", param->shape, ": they must match");
}

void check_param(const char *op, const Tensor &param) {
  if (!is_floating(param->dtype))
    fail(ErrorKind::Type, "[", op, "] param must be floating, got ",
         dtype_name(param->dtype));
}

// A step size given as a Python number takes param's dtype and device, as
// in param's arithmetic (written without a kernel where the memory is the
// host's).
Tensor placed(const Tensor &s, const Tensor &param) {
  return s && s->wrapped_number ? scalar_tensor(Scalar::from_double(item(s).f),
                                                param->dtype, param->device)
                                : s;
}

// Whether `param` may take the fused kernel of `op` (its operands still
// have to be contiguous).
bool fusable(OpId op, const Tensor &param) {
  const DType t = param->dtype;
  return (t == DType::Float32 || t == DType::Float64) &&
         has_kernel(op, param->device.type, t);
}

// The update as core ops, in the order (and so with the roundings) of the
// kernel: each product, sum and quotient rounded to param's dtype.
void adam_composite(const Tensor &param, const Tensor &grad, const Tensor &m,
                    const Tensor &v, const Tensor &v_max,
                    const Tensor &step_size, const Tensor &root_divisor,
                    double beta1, double beta2, double eps) {
  auto number = [](double x) { return Scalar::from_double(x); };
  binary_inplace(OpId::mul, m, number(beta1));
  binary_inplace(OpId::add, m,
                 binary_scalar(OpId::mul, grad, number(1.0 - beta1), false));
  Tensor g2 = binary(OpId::mul, grad, grad);
  binary_inplace(OpId::mul, g2, number(1.0 - beta2));
  binary_inplace(OpId::mul, v, number(beta2));
  binary_inplace(OpId::add, v, g2);
  Tensor second = v;
  if (v_max) {
    copy_(v_max, binary(OpId::maximum, v_max, v));
    second = v_max;
  }
  Tensor denom = unary(OpId::sqrt, second);
  if (root_divisor)
    binary_inplace(OpId::div, denom, root_divisor);
  binary_inplace(OpId::add, denom, number(eps));
  Tensor step = binary(OpId::mul, m, step_size);
  binary_inplace(OpId::div, step, denom);
  binary_inplace(OpId::sub, param, step);
}

} // namespace

void adam_step(const Tensor &param, const Tensor &grad, const Tensor &m,
               const Tensor &v, const Tensor &v_max, const Tensor &step_size,
               const Tensor &root_divisor, double beta1, double beta2,
               double eps) {
  const char *op = "adam_step";
  check_param(op, param);
  check_state(op, "grad", grad, param);
  check_state(op, "m", m, param);
  check_state(op, "v", v, param);
  if (v_max)
    check_state(op, "v_max", v_max, param);
  check_scale(op, "step_size", step_size, param);
  if (root_divisor)
    check_scale(op, "root_divisor", root_divisor, param);
  std::vector<Tensor> written = {param, m, v};
  if (v_max)
    written.push_back(v_max);
  for (size_t i = 0; i < written.size(); ++i)
    for (size_t j = i + 1; j < written.size(); ++j)
      if (shares_memory(written[i], written[j]))
        fail(ErrorKind::Value, "[adam_step] the tensors it writes (param, m, ",
             "v", v_max ? ", v_max" : "", ") must not share memory");
  // An optimizer step: nothing here is recorded (as under no_grad).
  autograd::NoGradGuard no_grad;
  // An operand that shares memory with a written tensor is read from a
  // copy.
  auto unshared = [&](const Tensor &x) {
    for (const Tensor &w : written)
      if (x && shares_memory(w, x))
        return clone(x);
    return x;
  };
  const Tensor g = unshared(grad);

  const DType t = param->dtype;
  const Tensor ss = unshared(placed(step_size, param)),
               rd = unshared(placed(root_divisor, param));
  bool fused = fusable(OpId::adam_step, param) && g->is_contiguous();
  for (const Tensor &w : written)
    fused = fused && w->is_contiguous();
  if (!fused) {
    adam_composite(param, g, m, v, v_max, ss, rd, beta1, beta2, eps);
    return;
  }
  if (param->numel() == 0)
    return;
  Tensor divisor =
      rd ? cast(rd, t) : scalar_tensor(Scalar::from_int(1), t, param->device);
  Launch k(OpId::adam_step, param->device, t);
  k.input(g).input(cast(ss, t)).input(divisor);
  for (const Tensor &w : written)
    k.output(w);
  k.attr_float(beta1).attr_float(beta2).attr_float(eps).run();
  for (const Tensor &w : written)
    w->bump_version();
}

void sgd_step(const Tensor &param, const Tensor &grad, const Tensor &lr) {
  const char *op = "sgd_step";
  check_param(op, param);
  check_state(op, "grad", grad, param);
  check_scale(op, "lr", lr, param);
  autograd::NoGradGuard no_grad; // an optimizer step, never recorded
  const Tensor rate = placed(lr, param);
  // The kernel reads each grad element before it writes param's: an
  // identical view is read in step, any other overlap from a copy.
  const Tensor g =
      shares_memory(param, grad) && !(param->offset == grad->offset &&
                                      param->strides == grad->strides)
          ? clone(grad)
          : grad;
  if (!fusable(OpId::sgd_step, param) || !param->is_contiguous() ||
      !g->is_contiguous()) {
    // The same update as core ops: the product rounded to param's dtype,
    // then the difference.
    binary_inplace(OpId::sub, param, binary(OpId::mul, g, rate));
    return;
  }
  if (param->numel() == 0)
    return;
  Launch k(OpId::sgd_step, param->device, param->dtype);
  k.input(g).input(cast(rate, param->dtype)).output(param).run();
  param->bump_version();
}

} // namespace devrt
