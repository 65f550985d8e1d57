// matmul with NumPy's rules: 1-D operands are promoted to matrices and the
// added dimension removed again; batch dimensions broadcast.
#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

namespace {

Tensor matmul_impl(const Tensor &a0, const Tensor &b0) {
  if (a0->device != b0->device)
    fail(ErrorKind::Value, "[matmul] expected both tensors on one device, got ",
         device_str(a0->device), " and ", device_str(b0->device));
  if (a0->ndim() == 0 || b0->ndim() == 0)
    fail(ErrorKind::Value,
         "[matmul] both operands need at least one "
         "dimension, got shapes ",
         a0->shape, " and ", b0->shape);
  DType t = promote_types(a0->dtype, b0->dtype);
  if (t == DType::Bool)
    fail(ErrorKind::Type, "[matmul] is not defined for bool tensors");
  bool a_vec = a0->ndim() == 1, b_vec = b0->ndim() == 1;
  Tensor a = a_vec ? unsqueeze(a0, 0) : a0;
  Tensor b = b_vec ? unsqueeze(b0, 1) : b0;
  int64_t m = a->shape[a->ndim() - 2], ka = a->shape[a->ndim() - 1];
  int64_t kb = b->shape[b->ndim() - 2], n = b->shape[b->ndim() - 1];
  if (ka != kb)
    fail(ErrorKind::Value, "[matmul] inner dimensions differ: shapes ",
         a0->shape, " and ", b0->shape, " (", ka, " vs ", kb, ")");
  Dims batch_a(a->shape.begin(), a->shape.end() - 2);
  Dims batch_b(b->shape.begin(), b->shape.end() - 2);
  Dims batch = broadcast_shapes("matmul", batch_a, batch_b);
  Dims sa = batch, sb = batch, sy = batch;
  sa.push_back(m);
  sa.push_back(ka);
  sb.push_back(kb);
  sb.push_back(n);
  sy.push_back(m);
  sy.push_back(n);
  Launch k(OpId::matmul, a->device, t);
  Tensor ac = cast(a, t), bc = cast(b, t);
  Tensor y = empty(sy, t, a->device);
  k.input(ac, sa).input(bc, sb).output(y).run();
  if (!a_vec && !b_vec)
    return y;
  Dims out = batch;
  if (!a_vec)
    out.push_back(m);
  if (!b_vec)
    out.push_back(n);
  return view(y, out);
}

} // namespace

void matmul_out(const Tensor &a, const Tensor &b, const Tensor &y) {
  if (a->ndim() != 3 || b->ndim() != 3 || y->ndim() != 3 ||
      a->dtype != b->dtype || y->dtype != a->dtype ||
      a->shape[0] != y->shape[0] || b->shape[0] != y->shape[0] ||
      a->shape[1] != y->shape[1] || b->shape[2] != y->shape[2] ||
      a->shape[2] != b->shape[1])
    fail(ErrorKind::Runtime,
         "[matmul] matmul_out needs (B, M, K) @ (B, K, N) "
         "into (B, M, N) of one dtype, got shapes ",
         a->shape, ", ", b->shape, " and ", y->shape);
  Launch k(OpId::matmul, a->device, a->dtype);
  k.input(a, a->shape).input(b, b->shape).output(y).run();
  y->bump_version();
}

Tensor matmul(const Tensor &a, const Tensor &b) {
  if (!autograd::should_record(a, b))
    return matmul_impl(a, b);
  Tensor r;
  {
    autograd::NoGradGuard no_grad; // its views are part of this one op
    r = matmul_impl(a, b);
  }
  autograd::record(OpId::matmul, {a, b}, r);
  return r;
}

Tensor mm(const Tensor &a, const Tensor &b) {
  if (a->ndim() != 2 || b->ndim() != 2)
    fail(ErrorKind::Value, "[mm] expects two 2-D tensors, got shapes ",
         a->shape, " and ", b->shape);
  return matmul(a, b);
}

Tensor bmm(const Tensor &a, const Tensor &b) {
  if (a->ndim() != 3 || b->ndim() != 3 || a->shape[0] != b->shape[0])
    fail(ErrorKind::Value,
         "[bmm] expects two 3-D tensors with equal batch sizes, got shapes ",
         a->shape, " and ", b->shape);
  return matmul(a, b);
}

} // namespace devrt
