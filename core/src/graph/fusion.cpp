// The executor's fusions: chains of nodes a plan runs as one step.
#include "fusion.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "op_defs.h"

namespace devrt::graph {

namespace {

bool is_vjp(const Node &n) { return n.def->kind == OpKind::VJP; }

// The node a VJP node differentiates (its first output input).
const Node *differentiated(const Node &vjp) {
  return vjp.inputs[static_cast<size_t>(vjp.attr_int("n_in"))].node;
}

// Who reads each output among the nodes to run, which outputs are fetched
// or fed, and which VJP nodes differentiate each node.
struct Uses {
  std::unordered_map<int64_t, std::vector<const Node *>> readers;
  std::unordered_map<const Node *, std::vector<const Node *>> vjps;
  std::unordered_map<int64_t, bool> pinned;        // fetched or fed
  std::unordered_map<const Node *, bool> controls; // a control input of some

  bool read_only_by(const Output &o,
                    std::initializer_list<const Node *> allowed) const {
    if (pinned.count(output_key(o)))
      return false;
    auto it = readers.find(output_key(o));
    if (it == readers.end())
      return true;
    for (const Node *r : it->second)
      if (std::find(allowed.begin(), allowed.end(), r) == allowed.end())
        return false;
    return true;
  }
  // The single VJP node of n, null when none; false when there are several.
  bool single_vjp(const Node *n, const Node **out) const {
    auto it = vjps.find(n);
    *out = it == vjps.end() ? nullptr : it->second.front();
    return it == vjps.end() || it->second.size() == 1;
  }
};

Uses uses_of(const std::vector<const Node *> &order,
             const std::vector<Output> &fetches, const std::vector<Output> &fed,
             const std::function<bool(const Node &, size_t)> &reads) {
  Uses u;
  for (const Output &f : fetches)
    u.pinned[output_key(f)] = true;
  for (const Output &f : fed)
    u.pinned[output_key(f)] = true;
  for (const Node *n : order) {
    for (size_t i = 0; i < n->inputs.size(); ++i)
      if (reads(*n, i))
        u.readers[output_key(n->inputs[i])].push_back(n);
    for (const Node *c : n->control_inputs)
      u.controls[c] = true;
    if (is_vjp(*n))
      u.vjps[differentiated(*n)].push_back(n);
  }
  return u;
}

AttrValue ints(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Ints;
  a.ints = std::move(v);
  return a;
}

// A chain Conv2D -> Add of a bias -> Relu, and the VJP nodes of its three
// nodes (all null when the plan differentiates none of them).
struct Chain {
  const Node *conv, *add, *relu;
  size_t ci; // the convolution's input of the Add (the bias is 1 - ci)
  const Node *vconv = nullptr, *vadd = nullptr, *vrelu = nullptr;
};

// Whether the chain's VJP nodes are the plain chain of gradients the
// fusion replaces: each reads only its own node's output gradient, and the
// gradients between them have no other reader.
bool plain_gradients(const Chain &c, const Uses &u) {
  auto outputs = [](const Node *v) { return v->attr_ints("outputs"); };
  auto inputs = [](const Node *v) { return v->attr_ints("inputs"); };
  if (outputs(c.vconv) != std::vector<int64_t>{0} ||
      outputs(c.vadd) != std::vector<int64_t>{0} ||
      outputs(c.vrelu) != std::vector<int64_t>{0} ||
      inputs(c.vrelu) != std::vector<int64_t>{0})
    return false;
  const std::vector<int64_t> add_in = inputs(c.vadd);
  auto at = std::find(add_in.begin(), add_in.end(), static_cast<int64_t>(c.ci));
  if (at == add_in.end())
    return false;
  const Output g_add{const_cast<Node *>(c.vrelu), 0};
  const Output g_conv{const_cast<Node *>(c.vadd),
                      static_cast<int>(at - add_in.begin())};
  // Nothing differentiates these VJPs again (second derivatives keep the
  // separate nodes).
  for (const Node *v : {c.vconv, c.vadd, c.vrelu})
    if (u.vjps.count(v) || u.controls.count(v) || !v->control_inputs.empty())
      return false;
  return u.read_only_by(g_add, {c.vadd}) && u.read_only_by(g_conv, {c.vconv});
}

bool fusable(Chain *c, const Uses &u) {
  const Node &conv = *c->conv, &add = *c->add;
  const Output conv_out{const_cast<Node *>(c->conv), 0};
  const Output add_out{const_cast<Node *>(c->add), 0};
  if (!is_floating(conv.dtypes[0]) || !conv2d_runs_nhwc(conv) ||
      !conv.shapes[0].known_rank || conv.shapes[0].dims[3] < 0)
    return false;
  const Output &bias = add.inputs[1 - c->ci];
  const PartialShape &b = add.input_shape(1 - c->ci);
  if (bias == conv_out || !b.known_rank || b.rank() != 1 ||
      b.dims[0] != conv.shapes[0].dims[3] ||
      add.input_dtype(1 - c->ci) != conv.dtypes[0] ||
      add.dtypes[0] != conv.dtypes[0] || add.shapes[0].rank() != 4)
    return false;
  for (const Node *n : {c->conv, c->add, c->relu})
    if (!n->control_inputs.empty() || u.controls.count(n) ||
        n->device != conv.device)
      return false;
  if (!u.single_vjp(c->conv, &c->vconv) || !u.single_vjp(c->add, &c->vadd) ||
      !u.single_vjp(c->relu, &c->vrelu))
    return false;
  const int with =
      (c->vconv != nullptr) + (c->vadd != nullptr) + (c->vrelu != nullptr);
  if (with != 0 && (with != 3 || !plain_gradients(*c, u)))
    return false;
  return u.read_only_by(conv_out, {c->add, c->vconv, c->vadd}) &&
         u.read_only_by(add_out, {c->relu, c->vadd, c->vrelu});
}

// Whether MaxPool node pool takes 2x2 windows at stride 2 over an input
// whose height and width (of `in`) are known and even: no padding either
// way, the windows of conv2d_nhwc_relu_pool.
bool pools_pairs(const Node &pool, const PartialShape &in) {
  const std::string &padding = pool.attr_string("padding");
  return pair_attr(pool, "ksize") == std::vector<int64_t>{2, 2} &&
         pair_attr(pool, "strides") == std::vector<int64_t>{2, 2} &&
         (padding == "SAME" || padding == "VALID") && in.known_rank &&
         in.rank() == 4 && in.dims[1] > 0 && in.dims[1] % 2 == 0 &&
         in.dims[2] > 0 && in.dims[2] % 2 == 0;
}

// Whether MaxPool `pool` of the chain's Relu joins the fused step: 2x2
// windows at stride 2 over an even grid (pools_pairs), on the chain's
// device, no control edges, and the Relu's output read by none but
// `readers` (the pooling, and in a differentiated plan the Relu's and the
// pooling's VJPs, which the fusion replaces).
bool joins(const Node &pool, const Node &relu, const Node &conv, const Uses &u,
           std::initializer_list<const Node *> readers) {
  return pools_pairs(pool, relu.shapes[0]) && pool.control_inputs.empty() &&
         !u.controls.count(&pool) && pool.device == conv.device &&
         u.read_only_by({const_cast<Node *>(&relu), 0}, readers);
}

// The fused forward node `fwd` takes the pooling in (conv2d_nhwc_relu_pool,
// which never writes the chain's output whole): it stands for the pool's
// output instead of the Relu's (alias `relu_alias`).
void pool_into(Node *fwd, const Node *pool, size_t relu_alias, Fusions *out) {
  fwd->attrs["pool"].kind = AttrValue::Bool;
  fwd->attrs["pool"].b = true;
  fwd->shapes = pool->shapes;
  fwd->dtypes = pool->dtypes;
  out->aliases[relu_alias] = {{const_cast<Node *>(pool), 0}, {fwd, 0}};
  out->originals[fwd].push_back(pool);
  out->pools++;
}

} // namespace

void fuse_conv_bias_relu(std::vector<const Node *> *order,
                         const std::vector<Output> &fetches,
                         const std::vector<Output> &fed,
                         const std::function<bool(const Node &, size_t)> &reads,
                         Fusions *out) {
  for (const Node *n : *order)
    if (n->def->kind == OpKind::Switch || n->def->kind == OpKind::Merge)
      return; // tf.cond plans keep their nodes
  const Uses u = uses_of(*order, fetches, fed, reads);
  auto single_reader = [&](const Node *n, const char *op) -> const Node * {
    auto it = u.readers.find(output_key({const_cast<Node *>(n), 0}));
    const Node *r = nullptr;
    if (it == u.readers.end())
      return nullptr;
    for (const Node *q : it->second)
      if (!is_vjp(*q)) {
        if (r && r != q)
          return nullptr;
        r = q;
      }
    return r && r->op == op ? r : nullptr;
  };
  std::unordered_map<const Node *, const Node *> replace; // old -> new
  std::unordered_map<const Node *, bool> drop;
  int next_id = std::numeric_limits<int32_t>::max() / 2 -
                static_cast<int>(out->nodes.size());
  for (const Node *conv : *order) {
    if (conv->op != "Conv2D")
      continue;
    const Node *add = single_reader(conv, "Add");
    const Node *relu = add ? single_reader(add, "Relu") : nullptr;
    if (!relu)
      continue;
    Chain c{conv, add, relu, add->inputs[0].node == conv ? 0u : 1u};
    if (!fusable(&c, u))
      continue;

    // The fused forward node takes the Relu's place and output.
    auto f = std::make_unique<Node>();
    f->id = next_id--;
    f->op = conv->op;
    f->name = conv->name;
    f->device = conv->device;
    f->inputs = {conv->inputs[0], conv->inputs[1], add->inputs[1 - c.ci]};
    f->attrs = conv->attrs;
    f->shapes = relu->shapes;
    f->dtypes = relu->dtypes;
    f->def = &conv2d_bias_relu_def();
    Node *fwd = f.get();
    const size_t relu_alias = out->aliases.size();
    out->aliases.push_back({{const_cast<Node *>(relu), 0}, {fwd, 0}});
    out->originals[fwd] = {conv, add, relu};
    out->nodes.push_back(std::move(f));
    replace[relu] = fwd;
    drop[conv] = drop[add] = true;
    out->count++;
    const Node *pool = single_reader(relu, "MaxPool");
    if (!c.vconv) {
      // A forward-only plan: a 2x2 MaxPool at stride 2 of the chain's
      // output, read by nothing else, joins the step.
      const Node *vpool = nullptr;
      if (pool && u.single_vjp(pool, &vpool) && !vpool &&
          joins(*pool, *relu, *conv, u, {pool})) {
        pool_into(fwd, pool, relu_alias, out);
        drop[pool] = true;
      }
      continue;
    }

    // The fused VJP takes the Relu's VJP's place; its outputs stand for
    // the convolution's VJP's and the bias's output of the Add's.
    const std::vector<int64_t> conv_in = c.vconv->attr_ints("inputs"),
                               add_in = c.vadd->attr_ints("inputs");
    std::vector<int64_t> ins;
    std::vector<Output> stands_for;
    auto v = std::make_unique<Node>();
    for (size_t q = 0; q < conv_in.size(); ++q) {
      ins.push_back(conv_in[q]);
      stands_for.push_back({const_cast<Node *>(c.vconv), static_cast<int>(q)});
    }
    for (size_t q = 0; q < add_in.size(); ++q)
      if (add_in[q] == static_cast<int64_t>(1 - c.ci)) {
        ins.push_back(2);
        stands_for.push_back({const_cast<Node *>(c.vadd), static_cast<int>(q)});
      }
    v->id = next_id--;
    v->op = c.vconv->op;
    v->name = c.vconv->name;
    v->device = c.vconv->device;
    const size_t n_in = static_cast<size_t>(c.vrelu->attr_int("n_in"));
    v->inputs = {fwd->inputs[0], fwd->inputs[1], fwd->inputs[2], Output{fwd, 0},
                 c.vrelu->inputs[n_in + 1]};
    v->attrs["n_in"].kind = AttrValue::Int;
    v->attrs["n_in"].i = 3;
    v->attrs["outputs"] = ints({0});
    v->attrs["inputs"] = ints(ins);
    for (size_t q = 0; q < ins.size(); ++q) {
      const Output &o = stands_for[q];
      v->shapes.push_back(o.node->shapes[o.index]);
      v->dtypes.push_back(o.node->dtypes[o.index]);
      out->aliases.push_back({o, {v.get(), static_cast<int>(q)}});
    }
    v->def = c.vconv->def;
    Node *vjp = v.get();
    out->originals[vjp] = {c.vconv, c.vadd, c.vrelu};
    replace[c.vrelu] = vjp;
    drop[c.vconv] = drop[c.vadd] = true;
    out->nodes.push_back(std::move(v));

    // A MaxPool of the output, whose gradient is the only one arriving:
    // masked by relu at the pooled size, the gradient it spreads is 0
    // wherever the chain's output is at most 0 (a window whose greatest
    // value is 0 passes nothing), so the chain skips relu's mask over the
    // full-size gradient. The values are bit for bit the same.
    const Node *vpool = nullptr;
    if (!pool || !u.single_vjp(pool, &vpool) || !vpool ||
        !pool->control_inputs.empty() || u.controls.count(pool) ||
        pool->device != conv->device || u.vjps.count(vpool) ||
        !(c.vrelu->inputs[n_in + 1] == Output{const_cast<Node *>(vpool), 0}) ||
        vpool->attr_ints("inputs") != std::vector<int64_t>{0} ||
        !u.read_only_by({const_cast<Node *>(vpool), 0}, {c.vrelu}))
      continue;
    if (joins(*pool, *relu, *conv, u, {pool, c.vrelu, vpool})) {
      // The pooling's VJP (which reads the chain's output too) joins the
      // chain's, seeded with the pooling's gradient.
      pool_into(fwd, pool, relu_alias, out);
      const size_t pool_in = static_cast<size_t>(vpool->attr_int("n_in"));
      vjp->inputs[4] = vpool->inputs[pool_in + 1];
      out->originals[vjp].push_back(vpool);
      drop[pool] = drop[vpool] = true;
      continue;
    }
    auto p = std::make_unique<Node>(*pool);
    p->id = next_id--;
    p->def = &max_pool_relu_def();
    out->aliases.push_back({{const_cast<Node *>(pool), 0}, {p.get(), 0}});
    out->originals[p.get()] = {pool};
    replace[pool] = p.get();
    fwd->attrs["seed_masked"].kind = AttrValue::Bool;
    fwd->attrs["seed_masked"].b = true;
    out->nodes.push_back(std::move(p));
  }
  if (replace.empty())
    return;
  std::vector<const Node *> fused;
  fused.reserve(order->size());
  for (const Node *n : *order) {
    auto it = replace.find(n);
    if (it != replace.end())
      fused.push_back(it->second);
    else if (!drop.count(n))
      fused.push_back(n);
  }
  *order = std::move(fused);
}

} // namespace devrt::graph
