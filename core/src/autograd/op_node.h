// Internal: the node an op records, with what its derivative rule needs.
#pragma once

#include "devrt/autograd.h"
#include "devrt/error.h"

namespace devrt::autograd {

// A tensor kept for backward, stamped with its storage's version to detect
// in-place changes. An input is kept as it is, history included, so that a
// rule run with recording on (create_graph) differentiates through it. The
// node's own output is kept without its history (a reference back to its
// node would be a cycle); get() re-attaches it to the node when the rule
// records.
class SavedTensor {
public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor &input);
  SavedTensor(const Tensor &output, const std::shared_ptr<Node> &fn,
              uint32_t nr);
  Tensor get(const char *op) const;
  explicit operator bool() const { return saved_; }
  void reset() { t_.reset(); }

private:
  Tensor t_;
  std::weak_ptr<Node> fn_; // outputs: the node that made them
  uint64_t version_ = 0;
  uint32_t nr_ = 0;
  bool saved_ = false;
  bool output_ = false;
};

struct InputInfo {
  Dims shape;
  DType dtype;
  Device device;
  bool requires_grad;
};

class OpNode : public Node {
public:
  OpId op;
  std::vector<SavedTensor> saved_inputs; // only those the rule needs
  SavedTensor saved_output;
  std::vector<InputInfo> inputs;
  OpAttrs attrs;
  bool released_indices = false; // release() dropped attrs.indices

  std::vector<Tensor> apply(std::vector<Tensor> &&grads) override;
  std::string name() const override;
  void release() override;

  Tensor input(size_t i) const { return saved_inputs[i].get(op_name(op)); }
  Tensor output() const { return saved_output.get(op_name(op)); }
  bool wants(size_t i) const { return inputs[i].requires_grad; }
};

// The derivative rule of `n.op`: gradients for n's inputs given the
// gradient of its output.
std::vector<Tensor> derivative(const OpNode &n, const Tensor &g);
// Which inputs (bit i) and whether the output (bit 31) the rule reads.
uint32_t saved_for_backward(OpId op);
// Whether the op has a derivative rule at all.
bool differentiable(OpId op);

} // namespace devrt::autograd
