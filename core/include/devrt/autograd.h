// Eager autograd: the graph recorded by ops on tensors that require grad,
// and the engine that walks it backwards.
//
// Recording happens in the core's op functions: when grad mode is on and an
// input requires grad, the op attaches an OpNode to its output. The node's
// derivative is the op's rule from the rule table (autograd/rules.cpp),
// written in terms of other catalogue ops, so a backend that implements the
// forward kernels gets gradients without backward kernels.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devrt/catalogue.h"
#include "devrt/ops.h"
#include "devrt/tensor.h"

namespace devrt {
namespace autograd {

class Node;

// An input slot of a node: gradients flowing along it arrive at
// fn's output number `input_nr`.
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
};

} // namespace autograd

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn; // null for leaves
  uint32_t output_nr = 0;
  std::weak_ptr<autograd::Node> accumulator; // leaves: their AccumulateGrad
};

namespace autograd {

// Per-thread switch, as torch.no_grad / enable_grad.
bool grad_enabled();
void set_grad_enabled(bool on);

// Turns recording off for a scope (composite ops that record themselves
// as one node).
struct NoGradGuard {
  bool prev = grad_enabled();
  NoGradGuard() { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev); }
  NoGradGuard(const NoGradGuard &) = delete;
  NoGradGuard &operator=(const NoGradGuard &) = delete;
};

struct OutputInfo {
  Dims shape;
  DType dtype;
  Device device;
};

class Node {
public:
  Node();
  virtual ~Node();
  Node(const Node &) = delete;
  Node &operator=(const Node &) = delete;

  // Gradients for this node's inputs (one per next edge, null for none) from
  // the gradients of its outputs (null where an output received none; at
  // least one is set).
  virtual std::vector<Tensor> apply(std::vector<Tensor> &&grad_outputs) = 0;
  virtual std::string name() const = 0;
  // Frees what the node saved for backward (after a backward without
  // retain_graph). A later apply() must then raise.
  virtual void release() {}

  std::vector<Edge> next_edges;
  std::vector<OutputInfo> outputs;
  // Non-leaf tensors that asked retain_grad(), by output number.
  std::vector<std::weak_ptr<AutogradMeta>> retained;
  uint64_t sequence_nr;
};

bool requires_grad(const Tensor &t);
// Raises TypeError for non-floating tensors.
void set_requires_grad(const Tensor &t, bool on);
void retain_grad(const Tensor &t);
// The edge along which t's gradient flows: its grad_fn, or for a leaf that
// requires grad its (shared) AccumulateGrad node; an empty edge otherwise.
Edge gradient_edge(const Tensor &t);
// Makes `out` the output `nr` of node `fn`.
void set_history(const Tensor &out, const std::shared_ptr<Node> &fn,
                 uint32_t nr);
// Connects `fn`'s next edges to `inputs` and records output metadata.
void collect_next_edges(Node &fn, const std::vector<Tensor> &inputs);

// Computes gradients of `roots` (seeded with `grads`, or ones for scalar
// roots when a grad is null) and accumulates them into the leaves' .grad.
// With `create_graph` the rules run with recording on, so the gradients
// have histories of their own and can be differentiated again (the graph
// is then retained).
void backward(const std::vector<Tensor> &roots,
              const std::vector<Tensor> &grads, bool retain_graph,
              bool create_graph = false);
// The gradients of `outputs` with respect to `inputs`, without touching any
// .grad; null entries for unconnected inputs when allow_unused.
std::vector<Tensor> grad(const std::vector<Tensor> &outputs,
                         const std::vector<Tensor> &inputs,
                         const std::vector<Tensor> &grad_outputs,
                         bool retain_graph, bool allow_unused,
                         bool create_graph = false);

// --- recording (called by the core's op functions) -----------------------

// Attributes a derivative rule may need besides the op's inputs.
struct OpAttrs {
  Dims axes;  // reductions; permute's dims
  Dims shape; // expand/reshape targets and the like
  int64_t i0 = 0, i1 = 0, i2 = 0, i3 = 0;
  std::optional<Scalar> s0, s1;               // clamp bounds
  bool flag = false;                          // keepdim
  std::vector<std::optional<Tensor>> indices; // index
};

inline bool should_record(const Tensor &a) {
  return a->autograd && a->autograd->requires_grad && grad_enabled();
}
inline bool should_record(const Tensor &a, const Tensor &b) {
  return grad_enabled() && ((a->autograd && a->autograd->requires_grad) ||
                            (b->autograd && b->autograd->requires_grad));
}
// Records `out = op(inputs...)` when an input requires grad.
void record(OpId op, const std::vector<Tensor> &inputs, const Tensor &out,
            OpAttrs attrs = {});
// Runs f() without recording and records its result as one `op` node on
// `x` (composite and view ops). A result that is x itself is not recorded.
template <class F>
Tensor recorded(OpId op, const Tensor &x, OpAttrs attrs, F &&f) {
  if (!should_record(x))
    return f();
  Tensor r;
  {
    NoGradGuard no_grad;
    r = f();
  }
  if (r != x)
    record(op, {x}, r, std::move(attrs));
  return r;
}

// In-place writes are refused on tensors that require grad while grad mode
// is on (their history would be wrong); call before writing.
void check_inplace(const char *op, const Tensor &t);

} // namespace autograd
} // namespace devrt
