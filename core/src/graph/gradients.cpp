// tf.gradients as ordinary nodes: one VJP node per node on a path from an x
// to a y, and Add nodes where the gradients of one tensor meet. A VJP node
// computes its node's vector-Jacobian product with the eager derivative
// rules (autograd/rules.cpp) when a plan runs it; see executor.cpp.
#include <unordered_map>
#include <unordered_set>

#include "devrt/error.h"
#include "op_defs.h"

namespace devrt::graph {

namespace {

// TensorFlow's ops without a gradient: their outputs are constants to
// tf.gradients (None, not zeros). Sign is not one of them: its gradient is
// zeros, in TensorFlow as in the eager rule.
const std::unordered_set<std::string> &no_gradient() {
  static const std::unordered_set<std::string> ops = {
      "ArgMax",       "ArgMin",    "Equal",      "NotEqual",
      "Less",         "LessEqual", "Greater",    "GreaterEqual",
      "LogicalAnd",   "LogicalOr", "LogicalNot", "Shape",
      "OneHot",       "ZerosLike", "OnesLike",   "RandomUniformLike",
      "Floor",        "Ceil",      "Round",      "FloorDiv",
      "StopGradient", "Where",     "Range"};
  return ops;
}

// Inputs that carry no derivative: a Select's condition, a gather's
// indices, tf.cond's predicate, a while_loop's sub-graph (its VJP
// differentiates through the iterations it ran).
bool blocked(const Node &n, size_t i) {
  return loop_body_input(n, i) || (i == 0 && n.op == "Select") ||
         (i == 1 && n.op == "GatherV2") ||
         (i == 1 && n.def->kind == OpKind::Switch) ||
         (i == 2 && n.def->kind == OpKind::Merge);
}

// Whether gradients flow through n at all.
bool passes(const Node &n) {
  const OpKind k = n.def->kind;
  if (k != OpKind::Compute && k != OpKind::VJP && k != OpKind::Switch &&
      k != OpKind::Merge)
    return false;
  if (no_gradient().count(n.op))
    return false;
  if (n.op == "Cast")
    return is_floating(n.input_dtype(0)) && is_floating(n.dtypes[0]);
  return true;
}

std::string unique_name(const Graph &g, const std::string &base) {
  if (!g.find(base))
    return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (!g.find(name))
      return name;
  }
}

} // namespace

std::vector<Output> add_gradients(Graph &g, const std::vector<Output> &ys,
                                  const std::vector<Output> &xs,
                                  const std::vector<Output> &grad_ys,
                                  const std::string &scope) {
  if (!grad_ys.empty() && grad_ys.size() != ys.size())
    fail(ErrorKind::Value, "[gradients] ", grad_ys.size(), " grad_ys for ",
         ys.size(), " ys");
  const size_t count = g.nodes().size();
  auto node = [&](size_t id) { return g.nodes()[id].get(); };

  // Outputs from which some y can be reached through derivatives.
  std::unordered_set<int64_t> reaches;
  std::vector<char> visited(count, 0), flows(count, 0);
  std::vector<const Node *> stack;
  for (const Output &y : ys)
    if (is_floating(y.node->dtypes[y.index])) {
      reaches.insert(output_key(y));
      stack.push_back(y.node);
    }
  while (!stack.empty()) {
    const Node *n = stack.back();
    stack.pop_back();
    if (visited[n->id])
      continue;
    visited[n->id] = 1;
    if (!passes(*n))
      continue;
    flows[n->id] = 1;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      if (blocked(*n, i) || !is_floating(n->input_dtype(i)))
        continue;
      reaches.insert(output_key(n->inputs[i]));
      stack.push_back(n->inputs[i].node);
    }
  }

  // Nodes that depend on an x.
  std::unordered_set<int64_t> x_keys;
  for (const Output &x : xs)
    x_keys.insert(output_key(x));
  std::vector<char> depends(count, 0);
  auto from_x = [&](const Output &in) {
    return x_keys.count(output_key(in)) || depends[in.node->id];
  };
  for (size_t id = 0; id < count; ++id)
    for (const Output &in : node(id)->inputs)
      if (from_x(in)) {
        depends[id] = 1;
        break;
      }

  std::unordered_map<int64_t, std::vector<Output>> grads;
  auto total = [&](const std::vector<Output> &parts, const std::string &at,
                   const std::string &device) {
    Output sum = parts[0];
    for (size_t i = 1; i < parts.size(); ++i)
      sum = {g.add_node("Add", {sum, parts[i]}, {},
                        unique_name(g, scope + "/" + at + "/AddN"), device, {}),
             0};
    return sum;
  };

  for (size_t i = 0; i < ys.size(); ++i) {
    const Output &y = ys[i];
    if (!reaches.count(output_key(y)))
      continue;
    Output seed = i < grad_ys.size() ? grad_ys[i] : Output{};
    if (!seed.node)
      seed = {
          g.add_node("OnesLike", {y}, {},
                     unique_name(g, scope + "/grad_ys_" + std::to_string(i)),
                     y.node->device, {}),
          0};
    grads[output_key(y)].push_back(seed);
  }

  // Newest first: every consumer of a node comes after it, so its
  // gradients are complete when it is reached.
  for (size_t id = count; id-- > 0;) {
    Node *f = node(id);
    if (!flows[id] || !depends[id])
      continue;
    std::vector<int64_t> outs, ins;
    for (int k = 0; k < f->num_outputs(); ++k)
      if (grads.count(output_key({f, k})))
        outs.push_back(k);
    for (size_t i = 0; i < f->inputs.size(); ++i)
      if (!blocked(*f, i) && is_floating(f->input_dtype(i)) &&
          from_x(f->inputs[i]))
        ins.push_back(static_cast<int64_t>(i));
    if (outs.empty() || ins.empty())
      continue;
    const std::string at = unique_name(g, scope + "/" + f->name + "_grad");
    auto gradient_of = [&](int k) {
      return total(grads[output_key({f, k})], f->name + "_grad", f->device);
    };
    if (f->def->kind == OpKind::Switch) {
      // The gradient of the branch taken: a Merge on the same predicate
      // (the branch not taken has none; zeros stand in where a branch
      // gives data no gradient).
      Output branch[2];
      for (int k = 0; k < 2; ++k)
        branch[k] = grads.count(output_key({f, k}))
                        ? gradient_of(k)
                        : Output{g.add_node("ZerosLike", {f->inputs[0]}, {},
                                            at + "/zeros_" + std::to_string(k),
                                            f->device, {}),
                                 0};
      Node *m = g.add_node("Merge", {branch[0], branch[1], f->inputs[1]}, {},
                           at, f->device, {});
      grads[output_key(f->inputs[0])].push_back({m, 0});
      continue;
    }
    if (f->def->kind == OpKind::Merge) {
      // The gradient goes back into the branch taken: a Switch on the
      // same predicate.
      Node *s = g.add_node("Switch", {gradient_of(0), f->inputs[2]}, {}, at,
                           f->device, {});
      for (int64_t i : ins)
        grads[output_key(f->inputs[i])].push_back({s, static_cast<int>(i)});
      continue;
    }
    std::vector<Output> inputs = f->inputs;
    for (int64_t k : outs)
      inputs.push_back({f, static_cast<int>(k)});
    for (int64_t k : outs)
      inputs.push_back(total(grads[output_key({f, static_cast<int>(k)})],
                             f->name + "_grad", f->device));
    Attrs attrs;
    attrs["n_in"].kind = AttrValue::Int;
    attrs["n_in"].i = static_cast<int64_t>(f->inputs.size());
    attrs["outputs"].kind = AttrValue::Ints;
    attrs["outputs"].ints = outs;
    attrs["inputs"].kind = AttrValue::Ints;
    attrs["inputs"].ints = ins;
    Node *vjp = g.add_node("VJP", std::move(inputs), std::move(attrs), at,
                           f->device, {});
    for (size_t j = 0; j < ins.size(); ++j)
      grads[output_key(f->inputs[ins[j]])].push_back(
          {vjp, static_cast<int>(j)});
  }

  std::vector<Output> result;
  for (const Output &x : xs) {
    auto it = grads.find(output_key(x));
    result.push_back(it == grads.end()
                         ? Output{}
                         : total(it->second, x.node->name, x.node->device));
  }
  return result;
}

} // namespace devrt::graph
