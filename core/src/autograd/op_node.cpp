#include "op_node.h"

namespace devrt::autograd {

namespace {

// A saved input that views another tensor is kept without its base: the
// base's history may come to run through this very node (an in-place write
// through the view), and the reference would close a cycle.
Tensor without_base(const Tensor &t) {
  if (!t->base)
    return t;
  Tensor v = make_view(t->storage, t->offset, t->shape, t->strides, t->dtype,
                       t->device);
  v->autograd = t->autograd;
  return v;
}

[[noreturn]] void fail_freed(const char *op) {
  fail(ErrorKind::Runtime,
       "[backward] trying to backward through the "
       "graph a second time (through ",
       op,
       "), but its saved tensors were already freed; pass "
       "retain_graph=True to the first backward");
}

} // namespace

SavedTensor::SavedTensor(const Tensor &input)
    : t_(without_base(input)), version_(input->storage->version.load()),
      saved_(true) {}

SavedTensor::SavedTensor(const Tensor &output, const std::shared_ptr<Node> &fn,
                         uint32_t nr)
    : t_(detach(output)), fn_(fn), version_(output->storage->version.load()),
      nr_(nr), saved_(true), output_(true) {}

Tensor SavedTensor::get(const char *op) const {
  if (saved_ && !t_)
    fail_freed(op);
  uint64_t now = t_->storage->version.load();
  if (now != version_)
    fail(ErrorKind::Runtime, "[", op,
         "] one of the tensors needed for gradient computation has been "
         "modified by an in-place operation: the ",
         output_ ? "output" : "input", " of shape ", t_->shape, " saved by ",
         op, " is at version ", now, ", it was at version ", version_,
         " when saved. Avoid the in-place operation, or clone() the tensor "
         "first");
  if (output_ && grad_enabled()) {
    // A rule that records (create_graph) sees the output with its history.
    if (std::shared_ptr<Node> fn = fn_.lock()) {
      Tensor t = detach(t_);
      set_history(t, fn, nr_);
      return t;
    }
  }
  return t_;
}

std::vector<Tensor> OpNode::apply(std::vector<Tensor> &&grads) {
  // A second backward after release() fails in SavedTensor::get, and only
  // for nodes that saved something (as PyTorch).
  Tensor g = grads[0];
  if (!g)
    return {};
  if (released_indices) // the rule needs the indices release() dropped
    fail_freed(op_name(op));
  std::vector<Tensor> out = derivative(*this, g);
  // Gradients match their input's dtype (a float64 op fed by a float32
  // tensor sends float32 gradients back).
  for (size_t i = 0; i < out.size() && i < inputs.size(); ++i)
    if (out[i] && out[i]->dtype != inputs[i].dtype &&
        is_floating(inputs[i].dtype))
      out[i] = cast(out[i], inputs[i].dtype);
  return out;
}

std::string OpNode::name() const {
  std::string n = op_name(op);
  bool up = true;
  std::string out;
  for (char c : n) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(c)) : c;
    up = false;
  }
  return out + "Backward";
}

void OpNode::release() {
  for (SavedTensor &s : saved_inputs)
    s.reset();
  saved_output.reset();
  released_indices = released_indices || !attrs.indices.empty();
  attrs.indices.clear();
}

void record(OpId op, const std::vector<Tensor> &ins, const Tensor &out,
            OpAttrs attrs) {
  if (!differentiable(op) || !is_floating(out->dtype))
    return;
  auto node = std::make_shared<OpNode>();
  node->op = op;
  uint32_t saved = saved_for_backward(op);
  node->saved_inputs.resize(ins.size());
  for (size_t i = 0; i < ins.size(); ++i) {
    node->inputs.push_back(InputInfo{ins[i]->shape, ins[i]->dtype,
                                     ins[i]->device, requires_grad(ins[i])});
    if (saved & (1u << i))
      node->saved_inputs[i] = SavedTensor(ins[i]);
  }
  if (saved & (1u << 31))
    node->saved_output = SavedTensor(out, node, 0);
  node->attrs = std::move(attrs);
  collect_next_edges(*node, ins);
  set_history(out, node, 0);
}

} // namespace devrt::autograd
