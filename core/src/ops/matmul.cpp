// matmul with NumPy's rules: 1-D operands are promoted to matrices and the
// added dimension removed again; batch dimensions broadcast.
#include "../dispatch.h"
#include "devrt/autograd.h"
#include "devrt/shape.h"

namespace devrt {

PartialShape matmul_shape(const ShapeErrors &err, ShapeRef a, ShapeRef b,
                          bool transpose_a, bool transpose_b) {
  if ((a.known_rank && a.size == 0) || (b.known_rank && b.size == 0))
    err.fail(ErrorKind::Value,
             "both operands need at least one dimension, got shapes ", a,
             " and ", b);
  if (!a.known_rank || !b.known_rank)
    return PartialShape::unknown();
  // Rows and columns of each operand as a matrix.
  const bool a_vec = a.size == 1, b_vec = b.size == 1;
  const size_t ra = a_vec ? 0 : a.size - (transpose_a ? 1 : 2),
               ca = a_vec ? 0 : a.size - (transpose_a ? 2 : 1);
  const size_t rb = b_vec ? 0 : b.size - (transpose_b ? 1 : 2),
               cb = b_vec ? 0 : b.size - (transpose_b ? 2 : 1);
  const int64_t ka = a[ca], kb = b[rb];
  if (ka >= 0 && kb >= 0 && ka != kb)
    err.fail(ErrorKind::Value, "inner dimensions differ: shapes ", a, " and ",
             b, " (", ka, " vs ", kb, ")");
  PartialShape out =
      broadcast_shape(err, ShapeRef(a.data, a_vec ? 0 : a.size - 2),
                      ShapeRef(b.data, b_vec ? 0 : b.size - 2));
  if (!a_vec)
    out.dims.push_back(a[ra]);
  if (!b_vec)
    out.dims.push_back(b[cb]);
  return out;
}

namespace {

Tensor matmul_impl(const Tensor &a0, const Tensor &b0) {
  if (a0->device != b0->device)
    fail(ErrorKind::Value, "[matmul] expected both tensors on one device, got ",
         device_str(a0->device), " and ", device_str(b0->device));
  const Dims &out =
      matmul_shape(ShapeErrors("matmul"), a0->shape, b0->shape).dims;
  DType t = promote_types(a0->dtype, b0->dtype);
  if (t == DType::Bool)
    fail(ErrorKind::Type, "[matmul] is not defined for bool tensors");
  // The kernel multiplies (batch, m, k) by (batch, k, n): a vector operand
  // is a matrix of one row or column.
  const bool a_vec = a0->ndim() == 1, b_vec = b0->ndim() == 1;
  Tensor a = a_vec ? unsqueeze(a0, 0) : a0;
  Tensor b = b_vec ? unsqueeze(b0, 1) : b0;
  const int64_t m = a->shape[a->ndim() - 2], inner = a->shape[a->ndim() - 1];
  const int64_t n = b->shape[b->ndim() - 1];
  Dims sa(out.begin(), out.end() - (a_vec ? 0 : 1) - (b_vec ? 0 : 1));
  Dims sb = sa, sy = sa;
  sa.push_back(m);
  sa.push_back(inner);
  sb.push_back(inner);
  sb.push_back(n);
  sy.push_back(m);
  sy.push_back(n);
  Launch k(OpId::matmul, a->device, t);
  Tensor ac = cast(a, t), bc = cast(b, t);
  Tensor y = empty(sy, t, a->device);
  k.input(ac, sa).input(bc, sb).output(y).run();
  return a_vec || b_vec ? view(y, out) : y;
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
