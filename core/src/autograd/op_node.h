// Internal: the node an op records, with what its derivative rule needs.
#pragma once

#include "devrt/autograd.h"
#include "devrt/error.h"

namespace devrt::autograd {

// A tensor kept for backward, detached (no reference back into the graph)
// and stamped with its storage's version to detect in-place changes.
class SavedTensor {
public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor &t);
  Tensor get(const char *op) const;
  explicit operator bool() const { return saved_; }
  void reset() { t_.reset(); }

private:
  Tensor t_;
  uint64_t version_ = 0;
  bool saved_ = false;
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
