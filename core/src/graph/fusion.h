// The executor's fusions: chains of graph nodes a plan runs as one step.
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "devrt/graph.h"

namespace devrt::graph {

// Nodes a plan runs in place of graph nodes. Each alias maps an output of
// a replaced node to the output of a fused node that now computes it (the
// plan gives both one slot); `originals` lists the graph nodes each fused
// node stands for, the first giving its device.
struct Fusions {
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::pair<Output, Output>> aliases;
  std::unordered_map<const Node *, std::vector<const Node *>> originals;
  int count = 0; // chains fused
  int pools = 0; // of which with their MaxPool (conv2d_nhwc_relu_pool)
};

// Rewrites `order` (the nodes to run, in order) so that each chain
// Conv2D -> Add of a per-channel bias -> Relu whose intermediate values
// nothing else reads runs as one conv2d_nhwc_relu step (TensorFlow's
// _FusedConv2D), in the Relu's place. Where the plan differentiates the
// chain, its three VJP nodes become one, in the place of the Relu's VJP:
// the gradient of the fused op, from the Relu's output gradient to the
// input, filter and bias. A MaxPool whose gradient is the only one arriving
// masks it with relu at the pooled size; a 2x2 one at stride 2 over an even
// grid, the Relu's value read by nothing else (its VJP and the pooling's
// aside), joins the step (conv2d_nhwc_relu_pool) and its VJP the chain's;
// in a plan without gradients, the pooling joins alone. `reads(n, i)`:
// whether n reads input i as a value.
void fuse_conv_bias_relu(std::vector<const Node *> *order,
                         const std::vector<Output> &fetches,
                         const std::vector<Output> &fed,
                         const std::function<bool(const Node &, size_t)> &reads,
                         Fusions *out);

} // namespace devrt::graph
