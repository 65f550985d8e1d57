// The static graph: an IR of nodes whose values the core's op functions
// compute, and the Session that plans and runs it. docs/graph.md lists the
// ops and describes the executor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "devrt/shape.h"
#include "devrt/tensor.h"

namespace devrt::graph {

using devrt::PartialShape;

struct AttrValue {
  enum Kind { None, Bool, Int, Float, String, DTypeV, Ints, Shape, TensorV };
  Kind kind = None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  DType dtype = DType::Float32;
  std::vector<int64_t> ints; // Ints; Shape: -1 for unknown dims
  Tensor tensor;
};
using Attrs = std::map<std::string, AttrValue>;

struct Node;
struct OpDef;

// Output `index` of `node`.
struct Output {
  Node *node = nullptr;
  int index = 0;
  bool operator==(const Output &o) const {
    return node == o.node && index == o.index;
  }
};

struct Node {
  int id = 0; // position in the graph
  std::string op, name, device;
  std::vector<Output> inputs;
  std::vector<Node *> control_inputs;
  Attrs attrs;
  // Per output, inferred when the node is created.
  std::vector<PartialShape> shapes;
  std::vector<DType> dtypes;
  const OpDef *def = nullptr;

  int num_outputs() const { return static_cast<int>(shapes.size()); }
  const PartialShape &input_shape(size_t i) const {
    return inputs[i].node->shapes[inputs[i].index];
  }
  DType input_dtype(size_t i) const {
    return inputs[i].node->dtypes[inputs[i].index];
  }
  bool has_attr(const char *key) const;
  // Typed attribute reads; a missing or mistyped attribute raises an error
  // naming the node.
  int64_t attr_int(const char *key) const;
  bool attr_bool(const char *key, bool fallback) const;
  double attr_float(const char *key) const;
  const std::string &attr_string(const char *key) const;
  DType attr_dtype(const char *key) const;
  std::vector<int64_t> attr_ints(const char *key) const;
  bool attr_is_none(const char *key) const;
  PartialShape attr_shape(const char *key) const; // None: unknown rank
  const Tensor &attr_tensor(const char *key) const;
  // "[MatMul 'dense/MatMul']": the prefix of this node's error messages.
  std::string where() const;
};

class Graph {
public:
  // Checks the inputs, infers the outputs' shapes and dtypes and appends
  // the node. Raises ValueError for shape errors or a taken name, TypeError
  // for dtype errors, NotImplementedError for an unknown op.
  Node *add_node(const std::string &op, std::vector<Output> inputs, Attrs attrs,
                 const std::string &name, const std::string &device,
                 std::vector<Node *> control_inputs);
  const std::vector<std::unique_ptr<Node>> &nodes() const { return nodes_; }
  Node *find(const std::string &name) const; // null when absent
  bool owns(const Node *n) const;

private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unordered_map<std::string, Node *> by_name_;
};

// tf.gradients: emits the derivative of sum_i <grad_ys[i], ys[i]> with
// respect to each x as ordinary nodes (one VJP node per node on a path from
// an x to a y, Add nodes where gradients meet) named under `scope`. An
// empty grad_ys (or a null entry) stands for ones. Returns, per x, its
// gradient, or a null Output where no y depends on x through derivatives.
std::vector<Output> add_gradients(Graph &g, const std::vector<Output> &ys,
                                  const std::vector<Output> &xs,
                                  const std::vector<Output> &grad_ys,
                                  const std::string &scope);

struct SessionStats {
  int64_t runs = 0, plans = 0, fetched_bytes = 0;
  int64_t fused = 0; // chains the plans run as one step (Conv2D+bias+Relu)
  int64_t fused_pools = 0; // of those, with their 2x2 MaxPool
};

// Runs a graph. Holds the values of its variables, resident on their
// devices between runs, and one plan per (fetches, targets, feeds)
// signature.
class Session {
public:
  Session(std::shared_ptr<Graph> graph, bool allow_soft_placement);
  ~Session();

  std::vector<Tensor> run(const std::vector<Output> &fetches,
                          const std::vector<Node *> &targets,
                          const std::vector<std::pair<Output, Tensor>> &feeds);
  void close();
  bool closed() const { return closed_; }

  Tensor variable(const Node *var) const; // null when uninitialised
  void set_variable(const Node *var, const Tensor &value);
  const std::vector<std::string> &placement_log() const { return log_; }
  const SessionStats &stats() const { return stats_; }
  const std::shared_ptr<Graph> &graph() const { return graph_; }

  struct Plan;
  struct Step;
  // Counter of random numbers drawn by a random node in this session.
  uint64_t take_random(const Node *node, uint64_t count);
  // A value a node keeps across runs (a constant copied to its device).
  Tensor &resident(const Node *node) { return resident_[node]; }
  // Runs While node `loop` on the values of its loop variables and
  // captures: its body while its cond holds. Returns the final loop
  // variables, with the autograd history of every iteration when grad mode
  // is on (which is how its VJP differentiates it).
  std::vector<Tensor> run_loop(const Node &loop, const std::vector<Tensor> &in);

private:
  Plan &plan_for(const std::vector<Output> &fetches,
                 const std::vector<Node *> &targets,
                 const std::vector<std::pair<Output, Tensor>> &feeds);
  std::unique_ptr<Plan> make_plan(const std::vector<Output> &fetches,
                                  const std::vector<Node *> &targets,
                                  const std::vector<Output> &fed);
  Device place(const Node &node, const std::vector<Device> &input_devices);
  // One placement_log line per node and session.
  void log_placement(const Node &node, Device d, const std::string &note);
  struct Loop;
  Loop &loop_for(const Node &loop);
  std::vector<Tensor> run_subplan(const Plan &plan, std::vector<Tensor> args);
  std::vector<Tensor> run_step(const Plan &plan, const Step &step,
                               const std::vector<Tensor> &in,
                               std::vector<Tensor> &vals,
                               std::vector<Tensor> &snapshots);

  std::shared_ptr<Graph> graph_;
  bool soft_placement_;
  bool closed_ = false;
  std::mutex mu_;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  std::unordered_map<const Node *, std::unique_ptr<Loop>> loops_;
  std::unordered_map<const Node *, Tensor> variables_;
  std::unordered_map<const Node *, uint64_t> random_counters_;
  std::unordered_map<const Node *, Tensor> resident_;
  std::vector<std::string> log_;
  std::unordered_map<const Node *, bool> logged_;
  SessionStats stats_;
};

} // namespace devrt::graph
