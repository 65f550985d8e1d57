// In-place writes on tensors with autograd history: the result is computed
// out of place with its own history, written into the tensor, and the
// tensor's history is rebased onto it (docs/design.md, "In-place writes").
#include "op_node.h"

namespace devrt::autograd {

namespace {

bool leaf_requiring_grad(const Tensor &t) {
  return t->autograd && t->autograd->requires_grad && !t->autograd->grad_fn;
}

uint64_t rebases_of(const Tensor &t) {
  return t->autograd ? t->autograd->rebases : 0;
}

// The flat positions of a view's elements in its (contiguous) base, as an
// int64 tensor of the view's shape: the index that reads or writes the view
// through the base's history.
Tensor flat_positions(const char *op, const Tensor &view) {
  const Tensor &base = view->base;
  if (!base->is_contiguous())
    fail(ErrorKind::NotImplemented, "[", op,
         "] in-place write through a view of a non-contiguous tensor of shape ",
         base->shape, " with autograd history; call contiguous() first");
  NoGradGuard no_grad;
  Tensor all = arange(Scalar::from_int(0), Scalar::from_int(base->numel()),
                      Scalar::from_int(1), DType::Int64, base->device);
  return alias(all, view->shape, view->strides, view->offset - base->offset);
}

// Gives dst value's history (none, if value has none), moving a
// retain_grad() along.
void take_history(const Tensor &dst, const Tensor &value) {
  AutogradMeta *m = dst->autograd.get();
  std::shared_ptr<Node> old = m ? m->grad_fn : nullptr;
  const uint32_t old_nr = m ? m->output_nr : 0;
  if (!requires_grad(value)) {
    if (m) {
      m->grad_fn.reset();
      m->requires_grad = false;
    }
  } else {
    set_history(dst, value->autograd->grad_fn, value->autograd->output_nr);
    m = dst->autograd.get();
    if (m->retains_grad) {
      if (old && old_nr < old->retained.size())
        old->retained[old_nr].reset();
      auto &r = m->grad_fn->retained;
      if (r.size() <= m->output_nr)
        r.resize(m->output_nr + 1);
      r[m->output_nr] = dst->autograd;
    }
  }
}

// CopySlices: base's new value is its old one with the view's elements
// replaced by `value`, recorded as reshape -> index_put -> reshape.
void rebase_base(const char *op, const Tensor &view, const Tensor &value) {
  const Tensor &base = view->base;
  if (!requires_grad(base) && !requires_grad(value))
    return;
  Tensor at = flat_positions(op, view);
  Tensor flat_old = reshape(base, Dims{base->numel()});
  Tensor flat_new = detach(flat_old);
  OpAttrs attrs;
  attrs.indices = {at};
  record(OpId::index_put, {flat_old, value}, flat_new, std::move(attrs));
  Tensor rebased = reshape(flat_new, base->shape);
  take_history(base, rebased);
  if (base->autograd)
    base->autograd->rebases++;
}

} // namespace

bool inplace_records(const char *op, const Tensor &dst,
                     const std::vector<Tensor> &operands) {
  if (!grad_enabled())
    return false;
  const Tensor &base = dst->base;
  bool records = requires_grad(dst) || (base && requires_grad(base));
  for (const Tensor &t : operands)
    records = records || (t && requires_grad(t));
  if (!records)
    return false;
  if (leaf_requiring_grad(dst))
    fail(ErrorKind::Runtime, "[", op,
         "] a leaf tensor that requires grad is being used in an in-place "
         "operation; update it under devrt.no_grad(), or use an "
         "out-of-place op");
  if (base && leaf_requiring_grad(base))
    fail(ErrorKind::Runtime, "[", op,
         "] a view of a leaf tensor that requires grad is being used in an "
         "in-place operation; update it under devrt.no_grad(), or use an "
         "out-of-place op");
  return true;
}

bool saves_input(OpId op, size_t i) {
  return (saved_for_backward(op) >> i) & 1u;
}

Tensor snapshot(const Tensor &dst) {
  refresh_view_history(dst);
  Tensor s;
  {
    NoGradGuard no_grad;
    s = clone(dst);
  }
  if (dst->autograd && dst->autograd->grad_fn)
    set_history(s, dst->autograd->grad_fn, dst->autograd->output_nr);
  return s;
}

void rebase_history(const char *op, const Tensor &dst, const Tensor &value) {
  Tensor v = cast(value, dst->dtype);
  {
    NoGradGuard no_grad;
    copy_(dst, v); // checks that v fits dst
  }
  if (v->shape != dst->shape)
    v = expand(v, dst->shape);
  if (requires_grad(v) && !v->autograd->grad_fn)
    v = clone(v); // a leaf: dst gets a node of its own
  if (dst->base)
    rebase_base(op, dst, v);
  else if (dst->autograd)
    dst->autograd->rebases++;
  take_history(dst, v);
}

Tensor overwritten(const Tensor &dst,
                   const std::vector<std::optional<Tensor>> &indices,
                   const Tensor &values, bool accumulate, bool wrap) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = clone(dst);
    index_put_(y, indices, values, accumulate, wrap);
  }
  OpAttrs attrs;
  attrs.indices = indices;
  attrs.flag = accumulate;
  record(OpId::index_put, {dst, values}, y, std::move(attrs));
  return y;
}

void refresh_view_history(const Tensor &t) {
  const Tensor &base = t->base;
  if (!base || !t->autograd || !t->autograd->grad_fn ||
      t->autograd->base_rebases == rebases_of(base))
    return;
  Tensor fresh;
  {
    // Recorded even where the caller runs without grad mode (a custom
    // Function's node collecting its edges).
    struct EnableGrad {
      bool prev = grad_enabled();
      EnableGrad() { set_grad_enabled(true); }
      ~EnableGrad() { set_grad_enabled(prev); }
    } enable_grad;
    Tensor at = flat_positions("view", t);
    fresh = index(reshape(base, Dims{base->numel()}), {at});
  }
  take_history(t, fresh);
}

} // namespace devrt::autograd

namespace devrt {

void apply_inplace(const char *op, const Tensor &dst,
                   const std::vector<Tensor> &operands, bool reads_dst,
                   const std::function<Tensor(const Tensor &)> &f) {
  if (!autograd::inplace_records(op, dst, operands)) {
    copy_(dst, f(dst));
    return;
  }
  autograd::refresh_view_history(dst);
  autograd::rebase_history(op, dst,
                           f(reads_dst ? autograd::snapshot(dst) : dst));
}

} // namespace devrt
