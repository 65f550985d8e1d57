// The graph IR: node attributes and node creation.
#include <sstream>

#include "devrt/error.h"
#include "op_defs.h"

namespace devrt::graph {

// --- Node attributes --------------------------------------------------------

namespace {

const char *kind_name(AttrValue::Kind k) {
  switch (k) {
  case AttrValue::None:
    return "None";
  case AttrValue::Bool:
    return "bool";
  case AttrValue::Int:
    return "int";
  case AttrValue::Float:
    return "float";
  case AttrValue::String:
    return "str";
  case AttrValue::DTypeV:
    return "dtype";
  case AttrValue::Ints:
  case AttrValue::Shape:
    return "list";
  case AttrValue::TensorV:
    return "Tensor";
  }
  return "?";
}

const AttrValue &get(const Node &n, const char *key) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end())
    fail(ErrorKind::Value, n.where(), " needs the attribute '", key, "'");
  return it->second;
}

[[noreturn]] void mistyped(const Node &n, const char *key, const char *want,
                           const AttrValue &v) {
  fail(ErrorKind::Type, n.where(), " attribute '", key, "' must be ", want,
       ", got ", kind_name(v.kind));
}

} // namespace

bool Node::has_attr(const char *key) const { return attrs.count(key) != 0; }

int64_t Node::attr_int(const char *key) const {
  const AttrValue &v = get(*this, key);
  if (v.kind != AttrValue::Int)
    mistyped(*this, key, "an int", v);
  return v.i;
}

bool Node::attr_bool(const char *key, bool fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end() || it->second.kind == AttrValue::None)
    return fallback;
  if (it->second.kind != AttrValue::Bool && it->second.kind != AttrValue::Int)
    mistyped(*this, key, "a bool", it->second);
  return it->second.kind == AttrValue::Bool ? it->second.b : it->second.i != 0;
}

double Node::attr_float(const char *key) const {
  const AttrValue &v = get(*this, key);
  if (v.kind == AttrValue::Int)
    return static_cast<double>(v.i);
  if (v.kind != AttrValue::Float)
    mistyped(*this, key, "a float", v);
  return v.f;
}

const std::string &Node::attr_string(const char *key) const {
  const AttrValue &v = get(*this, key);
  if (v.kind != AttrValue::String)
    mistyped(*this, key, "a str", v);
  return v.s;
}

DType Node::attr_dtype(const char *key) const {
  const AttrValue &v = get(*this, key);
  if (v.kind != AttrValue::DTypeV)
    mistyped(*this, key, "a dtype", v);
  return v.dtype;
}

std::vector<int64_t> Node::attr_ints(const char *key) const {
  const AttrValue &v = get(*this, key);
  if (v.kind == AttrValue::Int)
    return {v.i};
  if (v.kind != AttrValue::Ints)
    mistyped(*this, key, "a list of ints", v);
  return v.ints;
}

bool Node::attr_is_none(const char *key) const {
  return get(*this, key).kind == AttrValue::None;
}

PartialShape Node::attr_shape(const char *key) const {
  const AttrValue &v = get(*this, key);
  switch (v.kind) {
  case AttrValue::None:
    return PartialShape::unknown();
  case AttrValue::Ints:
    for (int64_t d : v.ints)
      if (d < 0)
        fail(ErrorKind::Value, where(), " negative dimension ", d,
             " in attribute '", key, "'");
    return {true, v.ints};
  case AttrValue::Shape:
    return {true, v.ints};
  default:
    mistyped(*this, key, "a shape", v);
  }
}

const Tensor &Node::attr_tensor(const char *key) const {
  const AttrValue &v = get(*this, key);
  if (v.kind != AttrValue::TensorV || !v.tensor)
    mistyped(*this, key, "a Tensor", v);
  return v.tensor;
}

std::string Node::where() const { return "[" + op + " '" + name + "']"; }

// --- Graph ------------------------------------------------------------------

Node *Graph::add_node(const std::string &op, std::vector<Output> inputs,
                      Attrs attrs, const std::string &name,
                      const std::string &device,
                      std::vector<Node *> control_inputs) {
  const OpDef *def = find_op_def(op);
  if (!def)
    fail(ErrorKind::NotImplemented, "[", op, " '", name,
         "'] is not an op of devrt's graph IR (docs/graph.md lists them)");
  if (name.empty())
    fail(ErrorKind::Value, "[", op, "] a node needs a name");
  if (by_name_.count(name))
    fail(ErrorKind::Value, "[", op, " '", name,
         "'] the graph already has a node of that name");
  const int n_in = static_cast<int>(inputs.size());
  if (n_in < def->min_inputs ||
      (def->max_inputs >= 0 && n_in > def->max_inputs))
    fail(ErrorKind::Value, "[", op, " '", name, "'] takes ", def->min_inputs,
         def->max_inputs == def->min_inputs
             ? std::string()
             : (def->max_inputs < 0 ? std::string(" or more")
                                    : " to " + std::to_string(def->max_inputs)),
         " inputs, got ", n_in);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Output &in = inputs[i];
    if (!in.node || in.index < 0 || in.index >= in.node->num_outputs())
      fail(ErrorKind::Value, "[", op, " '", name, "'] input ", i,
           " is not an output of a node",
           in.node ? " (" + in.node->name + " has " +
                         std::to_string(in.node->num_outputs()) + " outputs)"
                   : std::string());
    if (!owns(in.node))
      fail(ErrorKind::Value, "[", op, " '", name, "'] input ", i, " ('",
           in.node->name, "') belongs to another graph");
  }
  for (Node *c : control_inputs)
    if (!owns(c))
      fail(ErrorKind::Value, "[", op, " '", name,
           "'] a control input belongs to another graph");

  auto node = std::make_unique<Node>();
  node->id = static_cast<int>(nodes_.size());
  node->op = op;
  node->name = name;
  node->device = device;
  node->inputs = std::move(inputs);
  node->control_inputs = std::move(control_inputs);
  node->attrs = std::move(attrs);
  node->def = def;
  def->infer(*node);
  Node *raw = node.get();
  nodes_.push_back(std::move(node));
  by_name_[name] = raw;
  return raw;
}

bool Graph::owns(const Node *n) const {
  return n && n->id >= 0 && n->id < static_cast<int>(nodes_.size()) &&
         nodes_[n->id].get() == n;
}

Node *Graph::find(const std::string &name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

} // namespace devrt::graph
