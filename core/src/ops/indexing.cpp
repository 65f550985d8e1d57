// Advanced (integer and boolean) indexing with NumPy's rules.
#include <algorithm>

#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

Tensor nonzero(const Tensor &x) {
  Tensor mask = x;
  if (x->dtype != DType::Bool) {
    // Half types have no comparison kernels: compare in float32.
    Tensor v = x->dtype == DType::Float16 || x->dtype == DType::BFloat16
                   ? cast(x, DType::Float32)
                   : x;
    mask = binary_scalar(OpId::ne, v, Scalar::from_int(0), false);
  }
  int64_t n = item(reduce(OpId::sum, mask, std::nullopt, false)).i;
  Tensor y = empty(Dims{n, x->ndim()}, DType::Int64, x->device);
  if (n == 0 || x->ndim() == 0)
    return y;
  Launch k(OpId::nonzero, x->device, x->dtype);
  k.input(x).output(y).run();
  return y;
}

namespace {

// The common preparation of index() and index_put_(): which dimensions are
// indexed, the index tensors as int64 broadcast to one shape, and the
// permutation that brings the indexed dimensions to the front.
struct IndexPlan {
  Dims indexed;            // source dims that carry an index, in order
  Dims rest;               // the other dims, in order
  std::vector<Tensor> idx; // int64, one per indexed dim
  Dims batch;              // broadcast shape of the index tensors
  bool in_place;           // adjacent indexed dims keep their position
  Dims user_shape;         // shape of the result as the user sees it
  Dims kernel_shape;       // batch + rest: the shape the kernel works in
};

IndexPlan plan_index(const char *op, const Tensor &src,
                     const std::vector<std::optional<Tensor>> &given) {
  // Boolean masks stand for the columns of their nonzero().
  std::vector<std::optional<Tensor>> per_dim;
  for (const auto &g : given) {
    if (g && (*g)->dtype == DType::Bool) {
      const Tensor &m = *g;
      size_t d0 = per_dim.size();
      if (d0 + m->ndim() > static_cast<size_t>(src->ndim()))
        fail(ErrorKind::Index, "[", op, "] boolean mask of shape ", m->shape,
             " has too many dimensions for a tensor of shape ", src->shape);
      for (int64_t i = 0; i < m->ndim(); ++i)
        if (m->shape[i] != src->shape[d0 + i])
          fail(ErrorKind::Index, "[", op, "] boolean mask of shape ", m->shape,
               " does not match the indexed tensor's shape ", src->shape,
               " at dimension ", d0 + i);
      if (m->ndim() == 0)
        fail(ErrorKind::Index, "[", op,
             "] a 0-d boolean mask is not "
             "supported as an index");
      Tensor nz = nonzero(m);
      for (int64_t i = 0; i < m->ndim(); ++i)
        per_dim.push_back(select(nz, 1, i));
    } else {
      per_dim.push_back(g);
    }
  }
  if (per_dim.size() > static_cast<size_t>(src->ndim()))
    fail(ErrorKind::Index, "[", op, "] too many indices (", per_dim.size(),
         ") for a tensor of shape ", src->shape);
  IndexPlan p;
  for (int64_t d = 0; d < src->ndim(); ++d) {
    bool has = d < static_cast<int64_t>(per_dim.size()) && per_dim[d];
    if (!has) {
      p.rest.push_back(d);
      continue;
    }
    const Tensor &t = *per_dim[d];
    if (t->device != src->device)
      fail(ErrorKind::Value, "[", op, "] index on ", device_str(t->device),
           " for a tensor on ", device_str(src->device));
    if (!is_integral(t->dtype))
      fail(ErrorKind::Index, "[", op,
           "] indices must be integer or bool "
           "tensors, got ",
           dtype_name(t->dtype));
    p.indexed.push_back(d);
    p.idx.push_back(cast(t, DType::Int64));
  }
  for (const Tensor &t : p.idx) {
    try {
      p.batch = broadcast_shapes(op, p.batch, t->shape);
    } catch (const Error &) {
      fail(ErrorKind::Index, "[", op, "] index tensors of shapes ", p.batch,
           " and ", t->shape, " cannot be broadcast together");
    }
  }
  p.in_place = p.indexed.empty() || p.indexed.back() - p.indexed[0] + 1 ==
                                        static_cast<int64_t>(p.indexed.size());
  p.kernel_shape = p.batch;
  for (int64_t d : p.rest)
    p.kernel_shape.push_back(src->shape[d]);
  if (p.in_place && !p.indexed.empty()) {
    for (int64_t d = 0; d < p.indexed[0]; ++d)
      p.user_shape.push_back(src->shape[d]);
    for (int64_t b : p.batch)
      p.user_shape.push_back(b);
    for (int64_t d = p.indexed.back() + 1; d < src->ndim(); ++d)
      p.user_shape.push_back(src->shape[d]);
  } else {
    p.user_shape = p.kernel_shape;
  }
  return p;
}

// The permutation from kernel order (batch, rest) to user order.
Dims kernel_to_user(const IndexPlan &p) {
  int64_t nb = static_cast<int64_t>(p.batch.size());
  int64_t lead = p.indexed.empty() || !p.in_place ? 0 : p.indexed[0];
  Dims perm;
  for (int64_t i = 0; i < lead; ++i)
    perm.push_back(nb + i);
  for (int64_t i = 0; i < nb; ++i)
    perm.push_back(i);
  for (int64_t i = nb + lead; i < static_cast<int64_t>(p.kernel_shape.size());
       ++i)
    perm.push_back(i);
  return perm;
}

Tensor source_in_kernel_order(const Tensor &src, const IndexPlan &p) {
  Dims order = p.indexed;
  for (int64_t d : p.rest)
    order.push_back(d);
  return permute(src, order);
}

// Note: a kernel with an empty output never runs, so it checks no index.
// As PyTorch, an index into a dim of size 0 is still refused there
// (x[[0], 1:1] of a tensor whose first dim is 0); PyTorch checks nothing
// else of an empty result.
void check_indices_of_empty_result(const char *op, const Tensor &src,
                                   const IndexPlan &p) {
  if (shape_numel(p.batch) == 0 || shape_numel(p.kernel_shape) != 0)
    return;
  for (int64_t d : p.indexed)
    if (src->shape[d] == 0)
      fail(ErrorKind::Index, "[", op, "] index is out of bounds for dimension ",
           d, " with size 0");
}

} // namespace

Tensor index(const Tensor &src, const std::vector<std::optional<Tensor>> &idx,
             bool wrap) {
  if (autograd::should_record(src)) {
    autograd::OpAttrs attrs;
    attrs.indices = idx;
    return autograd::recorded(OpId::index, src, std::move(attrs),
                              [&] { return index(src, idx, wrap); });
  }
  IndexPlan p = plan_index("index", src, idx);
  if (p.indexed.empty())
    return src;
  check_indices_of_empty_result("index", src, p);
  Launch k(OpId::index, src->device, src->dtype);
  k.input(source_in_kernel_order(src, p));
  for (const Tensor &t : p.idx)
    k.input(t, p.batch);
  Tensor y = empty(p.kernel_shape, src->dtype, src->device);
  k.output(y).attr_ints(p.indexed).attr_bool(wrap).run();
  return permute(y, kernel_to_user(p));
}

void index_put_(const Tensor &dst,
                const std::vector<std::optional<Tensor>> &idx,
                const Tensor &values, bool accumulate, bool wrap) {
  if (autograd::inplace_records("index_put_", dst, {values})) {
    autograd::rebase_history(
        "index_put_", dst,
        autograd::overwritten(dst, idx, values, accumulate, wrap));
    return;
  }
  IndexPlan p = plan_index("index_put", dst, idx);
  if (values->device != dst->device)
    fail(ErrorKind::Value, "[index_put] values on ", device_str(values->device),
         " for a tensor on ", device_str(dst->device));
  if (p.indexed.empty()) {
    copy_(dst, values);
    return;
  }
  check_indices_of_empty_result("index_put", dst, p);
  Tensor v = cast(values, dst->dtype);
  Dims shape = broadcast_shapes("index_put", p.user_shape, v->shape);
  if (shape != p.user_shape)
    fail(ErrorKind::Value, "[index_put] values of shape ", values->shape,
         " cannot be broadcast to the indexed shape ", p.user_shape);
  // Values in user order -> kernel order: the inverse permutation.
  Dims to_user = kernel_to_user(p), to_kernel(to_user.size());
  for (size_t i = 0; i < to_user.size(); ++i)
    to_kernel[to_user[i]] = static_cast<int64_t>(i);
  Tensor vk = permute(expand(v, p.user_shape), to_kernel);
  Launch k(OpId::index_put, dst->device, dst->dtype);
  k.input(vk);
  for (const Tensor &t : p.idx)
    k.input(t, p.batch);
  k.output(source_in_kernel_order(dst, p))
      .attr_bool(accumulate)
      .attr_ints(p.indexed)
      .attr_bool(wrap)
      .run();
  dst->bump_version();
}

} // namespace devrt
