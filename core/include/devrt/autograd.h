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
  // How many times in-place writes rebased this tensor's history
  // (autograd/inplace.cpp); a view's history is out of date when its base's
  // count has moved on from `base_rebases`, the count it was recorded at.
  uint64_t rebases = 0;
  uint64_t base_rebases = 0;
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

// --- in-place writes (autograd/inplace.cpp) --------------------------------
//
// An in-place op on a tensor with history computes its result out of place,
// writes it into the tensor and makes the result's node the tensor's history
// ("rebasing" it). A write through a view also rebases the view's base, as
// an index_put of the view's elements, and views of a rebased base renew
// their history when next used.

// Whether an in-place write into `dst` that reads `operands` must be
// recorded: grad mode is on and dst, its base or an operand requires grad.
// Raises for a leaf that requires grad, or a view of one.
bool inplace_records(const char *op, const Tensor &dst,
                     const std::vector<Tensor> &operands = {});
// Whether the derivative rule of `op` reads its input `i` (a rule that reads
// an in-place op's destination needs it copied before the write).
bool saves_input(OpId op, size_t i);
// A copy of dst with dst's history, for an in-place op's rule to read.
Tensor snapshot(const Tensor &dst);
// Writes `value` (dst's new value, computed out of place with its history)
// into dst and rebases dst (and its base, for a view) onto it.
void rebase_history(const char *op, const Tensor &dst, const Tensor &value);
// dst with `values` written (or added) at `indices`, out of place and
// recorded as index_put: the overwritten elements pass no gradient on.
Tensor overwritten(const Tensor &dst,
                   const std::vector<std::optional<Tensor>> &indices,
                   const Tensor &values, bool accumulate, bool wrap = true);
// A view whose base was rebased after the view was recorded gets its
// history anew from the base's (called for each input of a recorded op).
void refresh_view_history(const Tensor &t);

} // namespace autograd
} // namespace devrt
