// The Session: plans once per (fetches, targets, feeds) signature, then
// runs the plan's steps through the core's op functions.
#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_set>

#include "devrt/autograd.h"
#include "devrt/error.h"
#include "devrt/ops.h"
#include "devrt/registry.h"
#include "fusion.h"
#include "op_defs.h"

namespace devrt::graph {

// One node of a plan: where its inputs are, where its outputs go, and
// which values die after it.
struct Session::Step {
  const Node *node;
  OpKind kind;
  std::vector<int> in;      // value slots
  int out = 0;              // slot of output 0; outputs are consecutive
  std::vector<int> release; // slots no later step reads
  std::vector<bool> leaf;   // per output: enters autograd as a leaf
  Device device;
  // VJP steps: inputs [hist_from, hist_to) are their node's outputs, read
  // with their history; create_graph when the VJP is differentiated again;
  // recompute when those outputs were fed instead of computed.
  int hist_from = 0, hist_to = 0;
  bool create_graph = false, recompute = false;
  std::vector<int64_t> outputs{}, inputs{}; // VJP steps: its attributes
  std::vector<int> controls{}; // steps of the control inputs (tf.cond plans)
  // Input 0 is moved to the step rather than copied: it is that slot's
  // last reader, and the op may write into a value only it holds
  // (TensorArrayWrite in a loop body).
  bool donate = false;
};

struct Session::Plan {
  std::vector<Session::Step> steps;
  int slots = 0;
  std::vector<int> fetch_slots;
  std::vector<bool> feed_leaf;
  std::vector<Device> feed_devices;
  bool gradients = false;      // run with autograd recording (VJP steps)
  std::vector<bool> keep_hist; // per slot: a VJP reads it with its history
  bool conditional = false;    // has Switch steps: values may be dead
  std::vector<bool> is_ref;    // per slot: a Variable's output (read late)
  std::vector<bool> fetched;   // per slot
  Fusions fusions;             // the nodes run in place of fused chains
};

namespace {

std::string output_name(const Output &o) {
  return o.node->name + ":" + std::to_string(o.index);
}

// TensorFlow's device specs ("/cpu:0", "/gpu:1", "/device:GPU:0",
// "/job:localhost/replica:0/task:0/device:CPU:0", "/device:mydev:0") and
// devrt's own ("cuda:0") as a devrt device string.
std::string devrt_device_name(const std::string &spec) {
  std::string s = spec;
  size_t at = s.rfind("device:");
  if (at != std::string::npos)
    s = s.substr(at + 7);
  else if ((at = s.rfind('/')) != std::string::npos)
    s = s.substr(at + 1);
  std::string type = s.substr(0, s.find(':'));
  std::string index = s.find(':') == std::string::npos
                          ? std::string("0")
                          : s.substr(s.find(':') + 1);
  std::string lower;
  for (char c : type)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "gpu")
    lower = "cuda";
  if (lower == "cpu" || lower == "cuda")
    type = lower;
  return type + ":" + index;
}

bool available(const std::string &name, Device *out) {
  try {
    Device d = parse_device(name);
    for (const BackendInfo &b : backends())
      if (b.type == d.type)
        if (b.registered && d.index < b.device_count) {
          *out = d;
          return true;
        }
  } catch (const Error &) {
  }
  return false;
}

// Restores the thread's grad mode on scope exit.
struct GradMode {
  bool prev = autograd::grad_enabled();
  explicit GradMode(bool on) { autograd::set_grad_enabled(on); }
  ~GradMode() { autograd::set_grad_enabled(prev); }
  GradMode(const GradMode &) = delete;
  GradMode &operator=(const GradMode &) = delete;
};

// v as a leaf of autograd: detached from the history of the node that made
// it, so that what its readers record is their own ops only.
Tensor as_leaf(const Tensor &v) {
  if (!is_floating(v->dtype))
    return v;
  Tensor a = detach(v);
  autograd::set_requires_grad(a, true);
  return a;
}

// A copy of t on its device, also on a backend without a copy kernel
// (through the host, which every backend can copy to and from).
Tensor snapshot(const Tensor &t) {
  autograd::NoGradGuard no_grad;
  if (t->device.is_cpu() || has_kernel(OpId::copy, t->device.type, t->dtype))
    return clone(t);
  return to_device(to_device(t, kCPU), t->device);
}

// The common VJPs: the node passed an input through, or recorded a chain
// of ops from the leaves, each after the first reading only the one before
// (one op, or a fused MaxPool's pooling and the relu it records after it).
// The ops' rules run directly, without the engine's bookkeeping (and
// without its copy of the seed). False when the recorded history is
// anything else.
bool apply_single_op(const Tensor &root, const Tensor &seed,
                     const std::vector<Tensor> &xs, bool create_graph,
                     std::vector<Tensor> *grads) {
  if (seed->shape != root->shape)
    return false;
  // The node passed an input through (Identity, a variable's read): the
  // gradient is the seed itself.
  for (size_t q = 0; q < xs.size(); ++q)
    if (xs[q].get() == root.get()) {
      grads->assign(xs.size(), nullptr);
      (*grads)[q] = seed;
      return true;
    }
  const AutogradMeta &m = *root->autograd;
  std::shared_ptr<autograd::Node> fn = m.grad_fn;
  if (!fn || m.output_nr != 0 || fn->outputs.size() != 1)
    return false;
  GradMode mode(create_graph);
  Tensor g = seed;
  for (;;) {
    std::vector<int> slot(fn->next_edges.size(), -1);
    std::shared_ptr<autograd::Node> inner; // the op before, in a chain
    for (size_t i = 0; i < fn->next_edges.size(); ++i) {
      const autograd::Edge &e = fn->next_edges[i];
      if (!e.fn)
        continue;
      for (size_t q = 0; q < xs.size() && slot[i] < 0; ++q)
        if (autograd::gradient_edge(xs[q]).fn == e.fn)
          slot[i] = static_cast<int>(q);
      if (slot[i] >= 0)
        continue;
      if (fn->next_edges.size() != 1 || e.input_nr != 0 ||
          e.fn->outputs.size() != 1)
        return false;
      inner = e.fn;
    }
    std::vector<Tensor> out = fn->apply({g});
    if (inner) {
      if (out.empty() || !out[0])
        return false;
      g = out[0];
      fn = inner;
      continue;
    }
    grads->assign(xs.size(), nullptr);
    for (size_t i = 0; i < slot.size() && i < out.size(); ++i) {
      if (slot[i] < 0 || !out[i])
        continue;
      Tensor &gi = (*grads)[slot[i]];
      gi = gi ? binary(OpId::add, gi, out[i]) : out[i];
    }
    return true;
  }
}

// The value of tf.cond's predicate.
bool predicate(const Node &n, const Tensor &p) {
  if (p->numel() != 1)
    fail(ErrorKind::Value, n.where(), " the predicate must be a scalar, got ",
         "shape ", PartialShape::of(p->shape).str());
  return item(p).i != 0;
}

// Whether a step of a tf.cond plan is dead: it reads a dead value (a
// Merge only the input its predicate picks) or follows a dead control
// input.
bool is_dead(const Session::Step &s, const std::vector<Tensor> &vals,
             const std::vector<char> &dead,
             const std::vector<char> &dead_step) {
  for (int c : s.controls)
    if (dead_step[c])
      return true;
  if (s.kind == OpKind::Merge) {
    const int p = s.in[2];
    return dead[p] || dead[s.in[predicate(*s.node, vals[p]) ? 1 : 0]];
  }
  for (int slot : s.in)
    if (slot >= 0 && dead[slot])
      return true;
  return false;
}

// Whether input i of n is read as a value. The leading inputs of a write
// (an Assign's input 0, ApplyAdam's three) name the variables it writes: no
// read, and no dependency on the variables' nodes.
bool reads(const Node &n, size_t i) {
  return !(n.def->kind == OpKind::Assign &&
           i < static_cast<size_t>(n.def->writes)) &&
         !loop_body_input(n, i);
}

} // namespace

Session::Session(std::shared_ptr<Graph> graph, bool allow_soft_placement)
    : graph_(std::move(graph)), soft_placement_(allow_soft_placement) {
  if (!graph_)
    fail(ErrorKind::Value, "[Session] needs a graph");
}

Session::~Session() = default;

void Session::close() {
  std::lock_guard<std::mutex> lk(mu_);
  closed_ = true;
  plans_.clear();
  loops_.clear();
  variables_.clear();
  resident_.clear();
}

Tensor Session::variable(const Node *var) const {
  auto it = variables_.find(var);
  if (it == variables_.end() || !it->second)
    return nullptr;
  return snapshot(it->second); // as a fetch
}

void Session::set_variable(const Node *var, const Tensor &value) {
  std::lock_guard<std::mutex> lk(mu_);
  if (closed_)
    fail(ErrorKind::Runtime, "[Session] the session is closed");
  if (!graph_->owns(var) || var->def->kind != OpKind::Variable)
    fail(ErrorKind::Value, "[Session] '", var ? var->name : "?",
         "' is not a variable of this session's graph");
  if (!var->shapes[0].admits(value->shape))
    fail(ErrorKind::Value, "[Session] a value of shape ",
         PartialShape::of(value->shape).str(), " for variable '", var->name,
         "' of shape ", var->shapes[0].str());
  autograd::NoGradGuard no_grad;
  Tensor v = clone(cast(value, var->dtypes[0]));
  Device d = place(*var, {});
  variables_[var] = to_device(v, d);
}

uint64_t Session::take_random(const Node *node, uint64_t count) {
  uint64_t &c = random_counters_[node];
  uint64_t first = c;
  c += count;
  return first;
}

// The device a node runs on: its explicit spec, else its first input's
// device, else the CPU.
Device Session::place(const Node &node, const std::vector<Device> &inputs) {
  Device d = inputs.empty() ? kCPU : inputs[0];
  std::string note;
  if (!node.device.empty()) {
    const std::string name = devrt_device_name(node.device);
    if (!available(name, &d)) {
      if (!soft_placement_)
        fail(ErrorKind::Value, "[Session.run] cannot place node '", node.name,
             "' (", node.op, ") on '", node.device, "': device ", name,
             " is not available; pass "
             "config=ConfigProto(allow_soft_placement=True) to run it on the "
             "CPU instead");
      d = kCPU;
      note = " (soft placement: " + node.device + " is not available)";
    }
  }
  log_placement(node, d, note);
  return d;
}

void Session::log_placement(const Node &node, Device d,
                            const std::string &note) {
  if (logged_[&node])
    return;
  logged_[&node] = true;
  log_.push_back(node.name + " (" + node.op + "): " + device_str(d) + note);
}

std::unique_ptr<Session::Plan>
Session::make_plan(const std::vector<Output> &fetches,
                   const std::vector<Node *> &targets,
                   const std::vector<Output> &fed) {
  auto plan = std::make_unique<Plan>();
  std::unordered_map<int64_t, int> slot_of; // output key -> slot
  for (const Output &f : fed) {
    slot_of[output_key(f)] = plan->slots++;
    plan->feed_leaf.push_back(false);
    plan->feed_devices.push_back(kCPU);
  }
  auto is_fed = [&](const Output &o) { return slot_of.count(output_key(o)); };

  // Prune: the nodes the fetches and targets need.
  std::vector<const Node *> stack;
  std::unordered_set<const Node *> needed;
  for (const Output &f : fetches)
    if (!is_fed(f))
      stack.push_back(f.node);
  for (const Node *t : targets)
    stack.push_back(t);
  while (!stack.empty()) {
    const Node *n = stack.back();
    stack.pop_back();
    if (!needed.insert(n).second)
      continue;
    for (size_t i = 0; i < n->inputs.size(); ++i)
      if (reads(*n, i) && !is_fed(n->inputs[i]))
        stack.push_back(n->inputs[i].node);
    for (const Node *c : n->control_inputs)
      stack.push_back(c);
  }

  // Order: Kahn's algorithm by node id, writes to variables as late as
  // their dependencies allow.
  std::unordered_map<const Node *, int> waiting;
  std::unordered_map<const Node *, std::vector<const Node *>> users;
  for (const Node *n : needed) {
    std::unordered_set<const Node *> deps;
    for (size_t i = 0; i < n->inputs.size(); ++i)
      if (reads(*n, i) && !is_fed(n->inputs[i]))
        deps.insert(n->inputs[i].node);
    for (const Node *c : n->control_inputs)
      deps.insert(c);
    waiting[n] = static_cast<int>(deps.size());
    for (const Node *d : deps)
      users[d].push_back(n);
  }
  auto by_id = [](const Node *a, const Node *b) { return a->id < b->id; };
  std::set<const Node *, decltype(by_id)> ready(by_id), writes(by_id);
  for (const auto &[n, count] : waiting)
    if (count == 0)
      (n->def->kind == OpKind::Assign ? writes : ready).insert(n);
  std::vector<const Node *> order;
  while (!ready.empty() || !writes.empty()) {
    auto &from = ready.empty() ? writes : ready;
    const Node *n = *from.begin();
    from.erase(from.begin());
    order.push_back(n);
    for (const Node *u : users[n])
      if (--waiting[u] == 0)
        (u->def->kind == OpKind::Assign ? writes : ready).insert(u);
  }
  if (order.size() != needed.size())
    fail(ErrorKind::Value,
         "[Session.run] the graph has a cycle among the nodes to run");
  fuse_conv_bias_relu(&order, fetches, fed, reads, &plan->fusions);
  stats_.fused += plan->fusions.count;
  stats_.fused_pools += plan->fusions.pools;

  // Steps, slots and devices.
  std::vector<Device> slot_device(plan->slots, kCPU);
  for (size_t i = 0; i < fed.size(); ++i) {
    plan->feed_devices[i] = place(*fed[i].node, {});
    slot_device[i] = plan->feed_devices[i];
  }
  std::vector<int> producer(plan->slots, -1); // slot -> step
  for (const Node *n : order) {
    Step s{n, n->def->kind, {}, plan->slots, {}, {}, kCPU};
    if (n->op == "Arg")
      fail(ErrorKind::Value, "[Session.run] the nodes to run read '", n->name,
           "', a value inside the body of a while_loop: values of a loop's "
           "body exist only inside it; fetch or use the loop's outputs");
    if (n->def->kind == OpKind::Placeholder)
      fail(ErrorKind::Value, "[Session.run] placeholder '", n->name,
           "' (shape ", n->shapes[0].str(), ", ", dtype_name(n->dtypes[0]),
           ") needs a value: feed it in feed_dict");
    std::vector<Device> in_devices;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const int slot = reads(*n, i) ? slot_of.at(output_key(n->inputs[i])) : -1;
      s.in.push_back(slot);
      if (slot >= 0)
        in_devices.push_back(slot_device[slot]);
    }
    auto fused = plan->fusions.originals.find(n);
    if (n->def->kind == OpKind::Assign) {
      // A write runs where its variable lives.
      s.device = place(*n->inputs[0].node, {});
      log_placement(*n, s.device, " (where its variable lives)");
    } else if (fused != plan->fusions.originals.end()) {
      // Where the first node it stands for runs; all of them are logged.
      s.device = place(*fused->second[0], in_devices);
      for (const Node *o : fused->second)
        log_placement(*o, s.device, "");
    } else {
      s.device = place(*n, in_devices);
    }
    s.leaf.assign(n->num_outputs(), false);
    for (int k = 0; k < n->num_outputs(); ++k) {
      slot_of[output_key({const_cast<Node *>(n), k})] = plan->slots++;
      slot_device.push_back(s.device);
      producer.push_back(static_cast<int>(plan->steps.size()));
    }
    if (fused != plan->fusions.originals.end())
      for (const auto &[original, by] : plan->fusions.aliases)
        if (by.node == n)
          slot_of[output_key(original)] = slot_of.at(output_key(by));
    plan->steps.push_back(std::move(s));
  }
  // tf.cond: a node reading a dead value (the output of a Switch its
  // predicate did not pick) or after a dead control input is dead too.
  std::unordered_map<const Node *, int> step_of;
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    step_of[plan->steps[i].node] = static_cast<int>(i);
    plan->conditional =
        plan->conditional || plan->steps[i].kind == OpKind::Switch;
  }
  for (Step &s : plan->steps)
    for (const Node *c : s.node->control_inputs)
      s.controls.push_back(step_of.at(c));
  for (const Output &f : fetches)
    plan->fetch_slots.push_back(slot_of.at(output_key(f)));
  plan->is_ref.assign(plan->slots, false);
  plan->fetched.assign(plan->slots, false);
  for (const Step &s : plan->steps)
    if (s.kind == OpKind::Variable)
      plan->is_ref[s.out] = true;
  for (int slot : plan->fetch_slots)
    plan->fetched[slot] = true;

  // VJP steps: the inputs they differentiate enter autograd as leaves where
  // they are made (so each node's recorded history is its own ops only),
  // and the outputs of the node they differentiate keep their history.
  plan->keep_hist.assign(plan->slots, false);
  auto make_leaf = [&](int slot) {
    if (producer[slot] < 0) {
      plan->feed_leaf[slot] = true;
    } else {
      Step &p = plan->steps[producer[slot]];
      p.leaf[slot - p.out] = true;
    }
  };
  for (Step &s : plan->steps) {
    if (s.kind != OpKind::VJP)
      continue;
    plan->gradients = true;
    const int64_t n_in = s.node->attr_int("n_in");
    s.outputs = s.node->attr_ints("outputs");
    s.inputs = s.node->attr_ints("inputs");
    const int64_t k = static_cast<int64_t>(s.outputs.size());
    for (int64_t i : s.inputs)
      make_leaf(s.in[i]);
    s.hist_from = static_cast<int>(n_in);
    s.hist_to = static_cast<int>(n_in + k);
    for (int j = s.hist_from; j < s.hist_to; ++j) {
      plan->keep_hist[s.in[j]] = true;
      if (producer[s.in[j]] < 0)
        s.recompute = true;
    }
  }
  for (Step &s : plan->steps)
    for (int k = 0; s.kind == OpKind::VJP && k < s.node->num_outputs(); ++k)
      s.create_graph = s.create_graph || plan->keep_hist[s.out + k];

  // Liveness: release each value after its last reader (fetched values
  // stay).
  std::vector<int> last(plan->slots, -1);
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const Step &s = plan->steps[i];
    for (int slot : s.in)
      if (slot >= 0)
        last[slot] = static_cast<int>(i);
    for (int k = 0; k < s.node->num_outputs(); ++k)
      last[s.out + k] = std::max(last[s.out + k], static_cast<int>(i));
  }
  for (int slot : plan->fetch_slots)
    last[slot] = -1;
  for (int slot = 0; slot < plan->slots; ++slot)
    if (last[slot] >= 0)
      plan->steps[last[slot]].release.push_back(slot);
  for (Step &s : plan->steps)
    s.donate = s.node->op == "TensorArrayWrite" && !s.in.empty() &&
               s.in[0] >= 0 &&
               std::count(s.in.begin(), s.in.end(), s.in[0]) == 1 &&
               last[s.in[0]] == static_cast<int>(&s - plan->steps.data());
  stats_.plans++;
  return plan;
}

Session::Plan &
Session::plan_for(const std::vector<Output> &fetches,
                  const std::vector<Node *> &targets,
                  const std::vector<std::pair<Output, Tensor>> &feeds) {
  std::vector<int64_t> key;
  key.push_back(static_cast<int64_t>(fetches.size()));
  for (const Output &f : fetches)
    key.push_back(output_key(f));
  key.push_back(static_cast<int64_t>(targets.size()));
  for (const Node *t : targets)
    key.push_back(t->id);
  std::vector<Output> fed;
  for (const auto &f : feeds) {
    key.push_back(output_key(f.first));
    fed.push_back(f.first);
  }
  auto it = plans_.find(key);
  if (it != plans_.end())
    return *it->second;
  auto plan = make_plan(fetches, targets, fed);
  Plan &p = *plan;
  plans_.emplace(std::move(key), std::move(plan));
  return p;
}

std::vector<Tensor> Session::run_step(const Plan &plan, const Step &s,
                                      const std::vector<Tensor> &in,
                                      std::vector<Tensor> &vals,
                                      std::vector<Tensor> &snapshots) {
  const Node &n = *s.node;
  try {
    std::vector<Tensor> out;
    switch (s.kind) {
    case OpKind::Placeholder: // refused when planning
    case OpKind::NoOp:
      break;
    case OpKind::Variable: {
      auto it = variables_.find(&n);
      Tensor v = it == variables_.end() ? nullptr : it->second;
      if (!v)
        fail(ErrorKind::Runtime, "[Session.run] variable '", n.name,
             "' is uninitialised: run its initializer (for example "
             "global_variables_initializer()) first");
      out.push_back(v);
      break;
    }
    case OpKind::Assign: {
      autograd::NoGradGuard no_grad;
      // Note: a Variable's own output is a reference, read by each consumer
      // when it runs, so consumers ordered after this write see the new
      // value. Every other value of this run computed from a variable it
      // writes keeps what it read, and so does a fetch of the variable
      // itself (a read that depends on no write sees the value from
      // before): they are copied before the variable changes in place.
      const int writes = n.def->writes;
      for (int k = 0; k < writes; ++k) {
        const Tensor &stored = variables_[n.inputs[k].node];
        if (stored)
          for (size_t slot = 0; slot < vals.size(); ++slot) {
            Tensor &v = vals[slot];
            if (!v || v->storage != stored->storage)
              continue;
            if (!plan.is_ref[slot])
              v = snapshot(v);
            else if (plan.fetched[slot] && !snapshots[slot])
              snapshots[slot] = snapshot(v);
          }
      }
      if (n.def->eval) {
        // An update of several variables (ApplyAdam): eval reads and
        // writes their stored values.
        std::vector<Tensor> args = in;
        for (int k = 0; k < writes; ++k) {
          const Node *var = n.inputs[k].node;
          args[k] = variables_[var];
          if (!args[k])
            fail(ErrorKind::Runtime, "[Session.run] variable '", var->name,
                 "' is uninitialised: ", n.op, " '", n.name,
                 "' cannot update it");
        }
        EvalContext ctx{*this, n, s.device};
        out = n.def->eval(n, args, ctx);
        break;
      }
      const Node *var = n.inputs[0].node;
      Tensor value = cast(in[1], var->dtypes[0]);
      const Dims shape = var->shapes[0].concrete();
      if (value->shape != shape)
        fail(ErrorKind::Value, n.where(), " a value of shape ",
             PartialShape::of(value->shape).str(), " for variable '", var->name,
             "' of shape ", var->shapes[0].str());
      Tensor &stored = variables_[var];
      if (n.def->code == static_cast<int>(OpId::copy)) {
        if (!stored)
          stored = snapshot(to_device(value, s.device));
        else
          copy_(stored, value);
      } else {
        if (!stored)
          fail(ErrorKind::Runtime, "[Session.run] variable '", var->name,
               "' is uninitialised: ", n.op, " '", n.name,
               "' cannot update it");
        binary_inplace(static_cast<OpId>(n.def->code), stored, value);
      }
      out.push_back(stored);
      break;
    }
    case OpKind::Switch:
      out = {in[0], in[0]}; // the run loop marks the output not picked dead
      break;
    case OpKind::Merge:
      out = {in[predicate(n, in[2]) ? 1 : 0]};
      break;
    case OpKind::VJP: {
      // The vector-Jacobian product of node F: autograd through the ops F
      // recorded when it ran, from its outputs back to its inputs (leaves).
      const int64_t n_in = s.hist_from;
      const std::vector<int64_t> &outs = s.outputs, &ins = s.inputs;
      const size_t k = outs.size();
      std::vector<Tensor> fin(in.begin(), in.begin() + n_in);
      std::vector<Tensor> ys(in.begin() + n_in, in.begin() + n_in + k);
      if (s.recompute) {
        // F's outputs were fed: run F on its inputs to differentiate it.
        const Node &f = *n.inputs[n_in].node;
        EvalContext fctx{*this, f, s.device};
        std::vector<Tensor> fo = f.def->eval(f, fin, fctx);
        for (size_t j = 0; j < k; ++j)
          ys[j] = fo[outs[j]];
      }
      std::vector<Tensor> roots, seeds, xs;
      for (size_t j = 0; j < k; ++j)
        if (autograd::requires_grad(ys[j])) {
          roots.push_back(ys[j]);
          seeds.push_back(cast(in[n_in + k + j], ys[j]->dtype));
        }
      // An input F reads twice is one leaf: its gradient goes to the first
      // listing only, as the graph sums the listings.
      std::vector<size_t> which;
      for (size_t m = 0; m < ins.size(); ++m) {
        const Tensor &x = fin[ins[m]];
        bool repeated = false;
        for (size_t q : which)
          repeated = repeated || fin[ins[q]].get() == x.get();
        if (autograd::requires_grad(x) && !repeated) {
          which.push_back(m);
          xs.push_back(x);
        }
      }
      out.resize(ins.size());
      if (!roots.empty() && !xs.empty()) {
        std::vector<Tensor> g;
        if (roots.size() != 1 ||
            !apply_single_op(roots[0], seeds[0], xs, s.create_graph, &g))
          g = autograd::grad(roots, xs, seeds, true, true, s.create_graph);
        for (size_t q = 0; q < which.size(); ++q)
          out[which[q]] = g[q];
      }
      for (size_t m = 0; m < ins.size(); ++m)
        if (!out[m]) {
          const Tensor &x = fin[ins[m]];
          out[m] = full(x->shape, Scalar::from_int(0), n.dtypes[m], x->device);
        }
      break;
    }
    case OpKind::Compute: {
      EvalContext ctx{*this, n, s.device};
      out = n.def->eval(n, in, ctx);
      break;
    }
    }
    return out;
  } catch (const Error &e) {
    // Errors of the core's op functions name the op; add the node.
    const std::string what = e.what();
    if (what.rfind(n.where(), 0) == 0 || what.rfind("[Session.run]", 0) == 0)
      throw;
    fail(e.kind(), n.where(), " ", what);
  }
}

std::vector<Tensor>
Session::run(const std::vector<Output> &fetches,
             const std::vector<Node *> &targets,
             const std::vector<std::pair<Output, Tensor>> &unsorted_feeds) {
  std::lock_guard<std::mutex> lk(mu_);
  if (closed_)
    fail(ErrorKind::Runtime, "[Session.run] attempted to use a closed session");
  for (const Output &f : fetches)
    if (!graph_->owns(f.node) || f.index < 0 ||
        f.index >= f.node->num_outputs())
      fail(ErrorKind::Value,
           "[Session.run] a fetch is not an output of this session's graph");
  for (const Node *t : targets)
    if (!graph_->owns(t))
      fail(ErrorKind::Value,
           "[Session.run] a target is not a node of this session's graph");

  // Feeds in a canonical order, checked against their outputs.
  std::vector<std::pair<Output, Tensor>> feeds = unsorted_feeds;
  std::sort(feeds.begin(), feeds.end(), [](const auto &a, const auto &b) {
    return output_key(a.first) < output_key(b.first);
  });
  for (size_t i = 0; i < feeds.size(); ++i) {
    const Output &o = feeds[i].first;
    if (!graph_->owns(o.node) || o.index < 0 ||
        o.index >= o.node->num_outputs())
      fail(ErrorKind::Value,
           "[Session.run] a feed key is not an output of this session's graph");
    if (i && feeds[i - 1].first == o)
      fail(ErrorKind::Value, "[Session.run] '", output_name(o),
           "' is fed twice");
    const Tensor &v = feeds[i].second;
    if (!o.node->shapes[o.index].admits(v->shape))
      fail(ErrorKind::Value, "[Session.run] cannot feed a value of shape ",
           PartialShape::of(v->shape).str(), " for '", output_name(o),
           "', which has shape ", o.node->shapes[o.index].str());
  }

  Plan &plan = plan_for(fetches, targets, feeds);
  stats_.runs++;
  GradMode grad_mode(plan.gradients);
  std::vector<Tensor> vals(plan.slots), snapshots(plan.slots);
  // Values read by VJP steps with their autograd history (vals holds them
  // as leaves for their other readers).
  std::vector<Tensor> hist(plan.gradients ? plan.slots : 0);
  for (size_t i = 0; i < feeds.size(); ++i) {
    const Output &o = feeds[i].first;
    Tensor v = to_device(cast(feeds[i].second, o.node->dtypes[o.index]),
                         plan.feed_devices[i]);
    if (plan.gradients && plan.keep_hist[i])
      hist[i] = v;
    vals[i] = plan.feed_leaf[i] ? as_leaf(v) : v; // feed i has slot i
  }

  std::vector<Tensor> in;
  // Frees the values no later step reads (and their autograd views).
  auto release = [&](const Step &s) {
    for (int slot : s.release) {
      vals[slot].reset();
      if (plan.gradients)
        hist[slot].reset();
    }
  };
  std::vector<char> dead(plan.conditional ? plan.slots : 0),
      dead_step(plan.conditional ? plan.steps.size() : 0);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step &s = plan.steps[i];
    const Node &n = *s.node;
    if (plan.conditional && is_dead(s, vals, dead, dead_step)) {
      dead_step[i] = 1;
      for (int k = 0; k < n.num_outputs(); ++k)
        dead[s.out + k] = 1;
      release(s);
      continue;
    }
    in.clear();
    for (int j = 0; j < static_cast<int>(s.in.size()); ++j) {
      const int slot = s.in[j];
      if (slot < 0 || (plan.conditional && dead[slot])) {
        in.emplace_back(); // a Merge's input not picked
        continue;
      }
      const Tensor &v =
          j >= s.hist_from && j < s.hist_to ? hist[slot] : vals[slot];
      in.push_back(v->device == s.device ? v : to_device(v, s.device));
    }
    std::vector<Tensor> out = run_step(plan, s, in, vals, snapshots);
    for (size_t k = 0; k < out.size(); ++k) {
      Tensor v = out[k];
      if (v->dtype != n.dtypes[k])
        v = cast(v, n.dtypes[k]);
      if (!n.shapes[k].admits(v->shape))
        fail(ErrorKind::Runtime, n.where(), " computed a value of shape ",
             PartialShape::of(v->shape).str(), " where ", n.shapes[k].str(),
             " was inferred");
      if (plan.gradients && plan.keep_hist[s.out + k])
        hist[s.out + k] = v;
      vals[s.out + k] = s.leaf[k] ? as_leaf(v) : v;
    }
    if (s.kind == OpKind::Switch) // the branch not taken
      dead[s.out + (predicate(n, in[1]) ? 0 : 1)] = 1;
    release(s);
  }

  std::vector<Tensor> result;
  result.reserve(plan.fetch_slots.size());
  for (size_t i = 0; i < plan.fetch_slots.size(); ++i) {
    const int slot = plan.fetch_slots[i];
    if (plan.conditional && dead[slot])
      fail(ErrorKind::Value, "[Session.run] fetch ", output_name(fetches[i]),
           " was not computed: it is in a branch of tf.cond that was not "
           "taken");
    // Handed back without its autograd history.
    Tensor v = snapshots[slot] ? snapshots[slot] : vals[slot];
    if (v->autograd)
      v = detach(v);
    // A fetch is a snapshot: later runs must not change it.
    for (const auto &[var, stored] : variables_)
      if (stored && v->storage == stored->storage) {
        v = snapshot(v);
        break;
      }
    stats_.fetched_bytes +=
        v->numel() * static_cast<int64_t>(itemsize(v->dtype));
    result.push_back(std::move(v));
  }
  return result;
}

} // namespace devrt::graph

// --- while_loop
// ---------------------------------------------------------------

namespace devrt::graph {

// A While node's cond and body: plans of the nodes between its Arg nodes
// (fed, one slot each) and the cond's result or the body's results.
struct Session::Loop {
  std::unique_ptr<Plan> cond, body;
};

Session::Loop &Session::loop_for(const Node &n) {
  std::unique_ptr<Loop> &loop = loops_[&n];
  if (loop)
    return *loop;
  const int64_t na = n.attr_int("n_vars") + n.attr_int("n_captured");
  const std::vector<Output> args(n.inputs.begin() + na,
                                 n.inputs.begin() + 2 * na);
  const std::vector<Output> results(n.inputs.begin() + 2 * na + 1,
                                    n.inputs.end());
  auto made = std::make_unique<Loop>();
  made->cond = make_plan({n.inputs[2 * na]}, {}, args);
  made->body = make_plan(results, {}, args);
  for (const Plan *p : {made->cond.get(), made->body.get()})
    for (const Step &s : p->steps)
      if (s.kind == OpKind::Assign || s.kind == OpKind::VJP)
        fail(ErrorKind::NotImplemented, n.where(), " the loop contains ",
             s.node->op, " '", s.node->name, "': ",
             s.kind == OpKind::Assign
                 ? "a while_loop cannot write variables"
                 : "gradients cannot be taken inside a while_loop");
  loop = std::move(made);
  return *loop;
}

std::vector<Tensor> Session::run_loop(const Node &n,
                                      const std::vector<Tensor> &in) {
  const Loop &loop = loop_for(n);
  const int64_t nv = n.attr_int("n_vars");
  const int64_t na = nv + n.attr_int("n_captured");
  std::vector<Tensor> vars(in.begin(), in.begin() + na);
  for (int64_t iteration = 0;; ++iteration) {
    for (int64_t k = 0; k < nv; ++k) {
      const PartialShape &invariant = n.inputs[na + k].node->shapes[0];
      if (!invariant.admits(vars[k]->shape))
        fail(ErrorKind::Value, n.where(), " loop variable ", k, " has shape ",
             PartialShape::of(vars[k]->shape).str(),
             iteration ? " after iteration " + std::to_string(iteration)
                       : std::string(" on entry"),
             ", which its shape invariant ", invariant.str(),
             " does not admit (pass shape_invariants to while_loop to let "
             "it change)");
    }
    if (!predicate(n, run_subplan(*loop.cond, vars)[0]))
      break;
    // The loop variables move into the body (a TensorArray it writes is
    // then held by the body alone); the captures are copied.
    std::vector<Tensor> args(std::make_move_iterator(vars.begin()),
                             std::make_move_iterator(vars.begin() + nv));
    args.insert(args.end(), vars.begin() + nv, vars.end());
    std::vector<Tensor> next = run_subplan(*loop.body, std::move(args));
    std::move(next.begin(), next.end(), vars.begin());
  }
  vars.resize(nv);
  return vars;
}

// Session::run's step loop for a loop's cond or body: the values of the
// Args come from the While, the fetches keep their autograd history, and
// there are no VJP steps (loop_for refuses them).
std::vector<Tensor> Session::run_subplan(const Plan &plan,
                                         std::vector<Tensor> args) {
  std::vector<Tensor> vals(plan.slots), snapshots(plan.slots), in;
  for (size_t i = 0; i < args.size(); ++i)
    vals[i] = args[i]->device == plan.feed_devices[i]
                  ? std::move(args[i])
                  : to_device(args[i], plan.feed_devices[i]);
  std::vector<char> dead(plan.conditional ? plan.slots : 0),
      dead_step(plan.conditional ? plan.steps.size() : 0);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step &s = plan.steps[i];
    const Node &n = *s.node;
    const bool is_dead_step =
        plan.conditional && is_dead(s, vals, dead, dead_step);
    if (is_dead_step) {
      dead_step[i] = 1;
      for (int k = 0; k < n.num_outputs(); ++k)
        dead[s.out + k] = 1;
    } else {
      in.clear();
      for (int slot : s.in) {
        if (slot < 0 || (plan.conditional && dead[slot])) {
          in.emplace_back();
          continue;
        }
        Tensor &v = vals[slot];
        if (v->device != s.device)
          in.push_back(to_device(v, s.device));
        else if (s.donate && in.empty())
          in.push_back(std::move(v));
        else
          in.push_back(v);
      }
      std::vector<Tensor> out = run_step(plan, s, in, vals, snapshots);
      for (size_t k = 0; k < out.size(); ++k) {
        Tensor v =
            out[k]->dtype == n.dtypes[k] ? out[k] : cast(out[k], n.dtypes[k]);
        if (!n.shapes[k].admits(v->shape))
          fail(ErrorKind::Runtime, n.where(), " computed a value of shape ",
               PartialShape::of(v->shape).str(), " where ", n.shapes[k].str(),
               " was inferred");
        vals[s.out + k] = std::move(v);
      }
      if (s.kind == OpKind::Switch)
        dead[s.out + (predicate(n, in[1]) ? 0 : 1)] = 1;
      in.clear(); // a donated input must not outlive its step
    }
    for (int slot : s.release)
      vals[slot].reset();
  }
  std::vector<Tensor> result;
  for (int slot : plan.fetch_slots) {
    if (plan.conditional && dead[slot])
      fail(ErrorKind::Value, "a result of the loop body was not computed: it "
                             "is in a branch of tf.cond that was not taken");
    result.push_back(vals[slot]);
  }
  return result;
}

} // namespace devrt::graph
