// Internal: the graph ops' table. Each entry infers a node's outputs when
// it is created and computes them, through the core's op functions, when a
// plan runs it.
#pragma once

#include <string>
#include <vector>

#include "devrt/graph.h"

namespace devrt::graph {

// Ops the executor runs itself; the rest are Compute.
enum class OpKind {
  Compute,
  Placeholder,
  Variable,
  Assign,
  NoOp,
  VJP,
  Switch, // tf.cond: passes data to the output its predicate picks
  Merge,  // tf.cond: the input its predicate picks
};

struct EvalContext {
  Session &session;
  const Node &node;
  Device device;
};

using InferFn = void (*)(Node &n);
using EvalFn = std::vector<Tensor> (*)(const Node &n,
                                       const std::vector<Tensor> &in,
                                       EvalContext &ctx);

struct OpDef {
  const char *name;
  int min_inputs, max_inputs; // max -1: variadic
  InferFn infer;
  EvalFn eval; // null for the executor's own kinds
  OpKind kind = OpKind::Compute;
  int code = 0; // the catalogue OpId (or variant) the op runs
  // Assign kinds: the leading inputs that are variables the node writes.
  // One, with no eval: the executor stores input 1 (Assign) or applies
  // `code` to the variable and input 1. More, or with eval: eval gets the
  // variables' stored values as those inputs and updates them in place.
  int writes = 1;
};

// Null for an unknown op.
const OpDef *find_op_def(const std::string &name);

// A key for output o in maps over one graph's outputs (node id, index).
inline int64_t output_key(const Output &o) {
  return (static_cast<int64_t>(o.node->id) << 16) | o.index;
}

// The executor's fused Conv2D + bias Add + Relu: inputs x, filter and bias,
// the Conv2D's attributes; one conv2d_nhwc_relu.
const OpDef &conv2d_bias_relu_def();
// The executor's MaxPool of a fused chain's output: relu of the pooling
// (the values unchanged), so that the chain's gradient may skip its own
// relu mask (its attribute seed_masked).
const OpDef &max_pool_relu_def();
// Whether Conv2D node n runs channels-last throughout (dilation 1 along the
// width), as its fused form does.
bool conv2d_runs_nhwc(const Node &n);
// A window attribute of n (ksize, strides, dilations) as its (height,
// width): two values, or TensorFlow's [1, h, w, 1]; refused otherwise.
std::vector<int64_t> pair_attr(const Node &n, const char *key);

// Whether input i of n names a while_loop's sub-graph (its Arg nodes and
// results, which the loop runs itself) rather than a value n reads: the
// inputs of a While past its loop variables and captures, and the same
// inputs of a VJP of such a node.
bool loop_body_input(const Node &n, size_t i);

} // namespace devrt::graph
