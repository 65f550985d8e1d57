// The backward engine: counts dependencies, then runs each node once all
// the gradients for its outputs have arrived, summing them per output.
#include <atomic>
#include <queue>
#include <unordered_map>

#include "devrt/autograd.h"
#include "devrt/error.h"

namespace devrt::autograd {

namespace {

thread_local bool tl_grad_enabled = true;
std::atomic<uint64_t> g_next_sequence{0};

// A gradient to keep in a .grad: taken as it is when nothing else can see
// its memory, else copied, so that a .grad never aliases another tensor
// (another .grad, or a view the rules produced).
Tensor owned(Tensor &g) {
  if (g.use_count() == 1 && g->storage.use_count() == 1 && g->is_contiguous())
    return std::move(g);
  return clone(g);
}

// The sink of a leaf's gradients: sums them into its .grad.
class AccumulateGrad : public Node {
public:
  explicit AccumulateGrad(const std::shared_ptr<AutogradMeta> &meta)
      : meta_(meta) {}
  std::vector<Tensor> apply(std::vector<Tensor> &&grads) override {
    std::shared_ptr<AutogradMeta> meta = meta_.lock();
    if (!meta || !grads[0])
      return {};
    // Out of place: a .grad the user holds is never modified behind them.
    meta->grad =
        meta->grad ? binary(OpId::add, meta->grad, grads[0]) : owned(grads[0]);
    return {};
  }
  std::string name() const override { return "AccumulateGrad"; }

private:
  std::weak_ptr<AutogradMeta> meta_;
};

AutogradMeta &meta_of(const Tensor &t) {
  if (!t->autograd)
    t->autograd = std::make_shared<AutogradMeta>();
  return *t->autograd;
}

Tensor ones_for(const Tensor &t) {
  return full(t->shape, Scalar::from_int(1), t->dtype, t->device);
}

void add_to(std::vector<Tensor> &buffer, uint32_t slot, const Tensor &g) {
  if (buffer.size() <= slot)
    buffer.resize(slot + 1);
  buffer[slot] = buffer[slot] ? binary(OpId::add, buffer[slot], g) : g;
}

struct ByOrder {
  bool operator()(const Node *a, const Node *b) const {
    return a->sequence_nr < b->sequence_nr; // newest first
  }
};

// Runs the graph below `roots`. With `captured`, gradients arriving at those
// edges are stored there instead of flowing on into AccumulateGrad nodes.
void run(const std::vector<Edge> &roots, const std::vector<Tensor> &grads,
         bool retain_graph, std::vector<Edge> *capture_edges,
         std::vector<Tensor> *captured) {
  std::unordered_map<Node *, int> deps;
  std::vector<Node *> stack;
  std::unordered_map<Node *, bool> seen;
  for (const Edge &e : roots) {
    if (e.fn && !seen[e.fn.get()]) {
      seen[e.fn.get()] = true;
      stack.push_back(e.fn.get());
    }
  }
  while (!stack.empty()) {
    Node *n = stack.back();
    stack.pop_back();
    for (const Edge &e : n->next_edges) {
      if (!e.fn)
        continue;
      deps[e.fn.get()]++;
      if (!seen[e.fn.get()]) {
        seen[e.fn.get()] = true;
        stack.push_back(e.fn.get());
      }
    }
  }

  std::unordered_map<Node *, std::vector<Tensor>> buffers;
  std::priority_queue<Node *, std::vector<Node *>, ByOrder> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (!roots[i].fn)
      continue;
    add_to(buffers[roots[i].fn.get()], roots[i].input_nr, grads[i]);
  }
  for (const Edge &e : roots)
    if (e.fn && deps[e.fn.get()] == 0 && seen[e.fn.get()]) {
      seen[e.fn.get()] = false; // queued once
      ready.push(e.fn.get());
    }

  auto capture_index = [&](Node *n, uint32_t nr) -> int {
    if (!capture_edges)
      return -1;
    for (size_t i = 0; i < capture_edges->size(); ++i)
      if ((*capture_edges)[i].fn.get() == n &&
          (*capture_edges)[i].input_nr == nr)
        return static_cast<int>(i);
    return -1;
  };

  while (!ready.empty()) {
    Node *n = ready.top();
    ready.pop();
    std::vector<Tensor> in = std::move(buffers[n]);
    buffers.erase(n);
    in.resize(std::max(in.size(), n->outputs.size()));
    for (size_t i = 0; i < n->retained.size() && i < in.size(); ++i)
      if (auto m = n->retained[i].lock(); m && in[i])
        m->grad = m->grad ? binary(OpId::add, m->grad, in[i]) : clone(in[i]);
    bool sink = dynamic_cast<AccumulateGrad *>(n) != nullptr;
    if (capture_edges) {
      for (size_t i = 0; i < in.size(); ++i) {
        int c = capture_index(n, static_cast<uint32_t>(i));
        if (c >= 0 && in[i])
          (*captured)[c] =
              (*captured)[c] ? binary(OpId::add, (*captured)[c], in[i]) : in[i];
      }
      if (sink)
        continue; // autograd.grad leaves .grad alone
    }
    bool any = false;
    for (const Tensor &g : in)
      any = any || g != nullptr;
    std::vector<Tensor> out;
    if (any)
      out = n->apply(std::move(in));
    if (!retain_graph)
      n->release();
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge &e = n->next_edges[i];
      if (!e.fn)
        continue;
      if (i < out.size() && out[i])
        add_to(buffers[e.fn.get()], e.input_nr, out[i]);
      if (--deps[e.fn.get()] == 0)
        ready.push(e.fn.get());
    }
  }
}

std::vector<Tensor> seed_grads(const std::vector<Tensor> &roots,
                               const std::vector<Tensor> &grads) {
  std::vector<Tensor> seeds(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor &r = roots[i];
    if (!requires_grad(r))
      fail(ErrorKind::Runtime, "[backward] element ", i,
           " of the tensors does not require grad and has no grad_fn");
    if (i < grads.size() && grads[i]) {
      const Tensor &g = grads[i];
      if (g->shape != r->shape)
        fail(ErrorKind::Value, "[backward] gradient of shape ", g->shape,
             " for a tensor of shape ", r->shape);
      seeds[i] = clone(cast(to_device(g, r->device), r->dtype));
    } else {
      if (r->numel() != 1)
        fail(ErrorKind::Runtime,
             "[backward] grad can be implicitly created only for tensors "
             "with one element; got shape ",
             r->shape, ": pass a gradient");
      seeds[i] = ones_for(r);
    }
  }
  return seeds;
}

// The engine's grad mode: rules record only when building a graph of the
// derivative itself (create_graph).
struct EngineMode {
  bool prev = tl_grad_enabled;
  explicit EngineMode(bool create_graph) { tl_grad_enabled = create_graph; }
  ~EngineMode() { tl_grad_enabled = prev; }
  EngineMode(const EngineMode &) = delete;
  EngineMode &operator=(const EngineMode &) = delete;
};

} // namespace

bool grad_enabled() { return tl_grad_enabled; }
void set_grad_enabled(bool on) { tl_grad_enabled = on; }

Node::Node() : sequence_nr(g_next_sequence.fetch_add(1)) {}

// Note: destroying a long chain of nodes recursively (each releasing the
// next through next_edges) overflows the stack for deep graphs. The chain is
// unlinked here instead: a node about to die hands its edges to this loop.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> stack;
  for (Edge &e : next_edges)
    if (e.fn)
      stack.push_back(std::move(e.fn));
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n.use_count() == 1)
      for (Edge &e : n->next_edges)
        if (e.fn)
          stack.push_back(std::move(e.fn));
  }
}

bool requires_grad(const Tensor &t) {
  return t->autograd && t->autograd->requires_grad;
}

void set_requires_grad(const Tensor &t, bool on) {
  if (on && !is_floating(t->dtype))
    fail(ErrorKind::Type,
         "[requires_grad] only floating point tensors can "
         "require gradients, got ",
         dtype_name(t->dtype));
  AutogradMeta &m = meta_of(t);
  if (!on && m.grad_fn)
    fail(ErrorKind::Runtime,
         "[requires_grad] a non-leaf tensor's requires_grad cannot be turned "
         "off; use detach()");
  m.requires_grad = on;
}

void retain_grad(const Tensor &t) {
  if (!requires_grad(t))
    fail(ErrorKind::Runtime,
         "[retain_grad] called on a tensor that does not require grad");
  AutogradMeta &m = *t->autograd;
  if (!m.grad_fn)
    return; // leaves keep their grad anyway
  m.retains_grad = true;
  auto &r = m.grad_fn->retained;
  if (r.size() <= m.output_nr)
    r.resize(m.output_nr + 1);
  r[m.output_nr] = t->autograd;
}

Edge gradient_edge(const Tensor &t) {
  if (!t->autograd)
    return {};
  AutogradMeta &m = *t->autograd;
  if (m.grad_fn)
    return Edge{m.grad_fn, m.output_nr};
  if (!m.requires_grad)
    return {};
  std::shared_ptr<Node> acc = m.accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t->autograd);
    acc->outputs.push_back(OutputInfo{t->shape, t->dtype, t->device});
    m.accumulator = acc;
  }
  return Edge{acc, 0};
}

void set_history(const Tensor &out, const std::shared_ptr<Node> &fn,
                 uint32_t nr) {
  AutogradMeta &m = meta_of(out);
  m.requires_grad = true;
  m.grad_fn = fn;
  m.output_nr = nr;
  if (out->base)
    m.base_rebases = out->base->autograd ? out->base->autograd->rebases : 0;
  if (fn->outputs.size() <= nr)
    fn->outputs.resize(nr + 1);
  fn->outputs[nr] = OutputInfo{out->shape, out->dtype, out->device};
}

void collect_next_edges(Node &fn, const std::vector<Tensor> &inputs) {
  fn.next_edges.clear();
  for (const Tensor &t : inputs) {
    if (t)
      refresh_view_history(t);
    fn.next_edges.push_back(t ? gradient_edge(t) : Edge{});
  }
}

void backward(const std::vector<Tensor> &roots,
              const std::vector<Tensor> &grads, bool retain_graph,
              bool create_graph) {
  EngineMode mode(create_graph);
  std::vector<Tensor> seeds = seed_grads(roots, grads);
  std::vector<Edge> edges;
  for (const Tensor &r : roots)
    edges.push_back(gradient_edge(r));
  run(edges, seeds, retain_graph || create_graph, nullptr, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor> &outputs,
                         const std::vector<Tensor> &inputs,
                         const std::vector<Tensor> &grad_outputs,
                         bool retain_graph, bool allow_unused,
                         bool create_graph) {
  EngineMode mode(create_graph);
  std::vector<Tensor> seeds = seed_grads(outputs, grad_outputs);
  std::vector<Edge> roots, targets;
  for (const Tensor &o : outputs)
    roots.push_back(gradient_edge(o));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!requires_grad(inputs[i]))
      fail(ErrorKind::Runtime, "[grad] input ", i, " does not require grad");
    targets.push_back(gradient_edge(inputs[i]));
  }
  // The engine captures each edge once; an input listed twice gets the
  // gradient of its first listing.
  std::vector<Edge> unique;
  std::vector<size_t> first(inputs.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    size_t j = 0;
    while (j < unique.size() && !(unique[j].fn == targets[i].fn &&
                                  unique[j].input_nr == targets[i].input_nr))
      ++j;
    if (j == unique.size())
      unique.push_back(targets[i]);
    first[i] = j;
  }
  std::vector<Tensor> captured(unique.size()), result(inputs.size());
  run(roots, seeds, retain_graph || create_graph, &unique, &captured);
  for (size_t i = 0; i < inputs.size(); ++i)
    result[i] = captured[first[i]];
  for (size_t i = 0; i < result.size(); ++i)
    if (!result[i] && !allow_unused)
      fail(ErrorKind::Runtime, "[grad] input ", i,
           " was not used in the graph; pass allow_unused=True to get None");
  return result;
}

} // namespace devrt::autograd
