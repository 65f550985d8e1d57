// The graph ops: shape and dtype inference on partial shapes at build time,
// and evaluation through the core's op functions at run time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "devrt/autograd.h"
#include "devrt/error.h"
#include "devrt/ops.h"
#include "op_defs.h"

namespace devrt::graph {

namespace {

using Vals = std::vector<Tensor>;

[[noreturn]] void bad(const Node &n, ErrorKind kind, const std::string &msg) {
  fail(kind, n.where(), " ", msg);
}

// The shape inference of the core's op families, reporting as node n.
ShapeErrors errors(const Node &n) {
  return ShapeErrors(
      [](const void *node) { return static_cast<const Node *>(node)->where(); },
      &n);
}

void set_output(Node &n, PartialShape s, DType t) {
  n.shapes = {std::move(s)};
  n.dtypes = {t};
}

// --- sources -----------------------------------------------------------------

void infer_placeholder(Node &n) {
  set_output(n, n.attr_shape("shape"), n.attr_dtype("dtype"));
}

void infer_variable(Node &n) {
  PartialShape s = n.attr_shape("shape");
  if (!s.fully_known())
    bad(n, ErrorKind::Value,
        "a variable needs a fully known shape, got " + s.str());
  set_output(n, s, n.attr_dtype("dtype"));
}

void infer_const(Node &n) {
  const Tensor &v = n.attr_tensor("value");
  set_output(n, PartialShape::of(v->shape), v->dtype);
}
Vals eval_const(const Node &n, const Vals &, EvalContext &ctx) {
  Tensor &v = ctx.session.resident(&n); // copied to its device once
  if (!v || v->device != ctx.device)
    v = to_device(n.attr_tensor("value"), ctx.device);
  return {v};
}

void infer_noop(Node &n) {
  n.shapes.clear();
  n.dtypes.clear();
}

void infer_identity(Node &n) {
  set_output(n, n.input_shape(0), n.input_dtype(0));
}
Vals eval_identity(const Node &, const Vals &in, EvalContext &) {
  return {in[0]};
}

// A value without its autograd history: gradients stop here.
Vals eval_stop_gradient(const Node &, const Vals &in, EvalContext &) {
  return {detach(in[0])};
}

// Its input unless fed; the shape may be less specific than the input's,
// so that feeds of other sizes fit.
void infer_placeholder_with_default(Node &n) {
  PartialShape s = n.attr_shape("shape");
  const PartialShape &in = n.input_shape(0);
  if (!s.compatible(in))
    bad(n, ErrorKind::Value,
        "the default of shape " + in.str() + " does not fit the shape " +
            s.str());
  set_output(n, s, n.input_dtype(0));
}

void infer_assign(Node &n) {
  const Node *var = n.inputs[0].node;
  if (var->def->kind != OpKind::Variable)
    bad(n, ErrorKind::Type,
        "input 0 must be a variable, got the output of '" + var->name + "' (" +
            var->op + ")");
  const PartialShape &vs = n.input_shape(0), &xs = n.input_shape(1);
  if (!xs.compatible(vs))
    bad(n, ErrorKind::Value,
        "value of shape " + xs.str() + " for variable '" + var->name +
            "' of shape " + vs.str());
  if (n.input_dtype(1) != n.input_dtype(0))
    bad(n, ErrorKind::Type,
        std::string("value of dtype ") + dtype_name(n.input_dtype(1)) +
            " for variable '" + var->name + "' of dtype " +
            dtype_name(n.input_dtype(0)));
  set_output(n, vs, n.input_dtype(0));
}

// ApplyAdam(var, m, v, step_size, beta1, beta2, epsilon, grad): one Adam
// step written into the three variables in place (TensorFlow's ApplyAdam
// with its bias corrections folded into step_size); its outputs are their
// new values.
void infer_apply_adam(Node &n) {
  const DType t = n.input_dtype(0);
  if (t != DType::Float32 && t != DType::Float64)
    bad(n, ErrorKind::Type,
        std::string("variable of dtype ") + dtype_name(t) +
            ": float32 or float64 expected");
  static const char *const names[] = {"var",   "m",     "v",       "step_size",
                                      "beta1", "beta2", "epsilon", "grad"};
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Node *in = n.inputs[i].node;
    if (i < 3 && in->def->kind != OpKind::Variable)
      bad(n, ErrorKind::Type,
          std::string("input ") + std::to_string(i) + " (" + names[i] +
              ") must be a variable, got the output of '" + in->name + "' (" +
              in->op + ")");
    if (n.input_dtype(i) != t)
      bad(n, ErrorKind::Type,
          std::string(names[i]) + " of dtype " + dtype_name(n.input_dtype(i)) +
              " for a variable of dtype " + dtype_name(t));
    const PartialShape &s = n.input_shape(i);
    const bool scalar = i >= 3 && i < 7;
    if (scalar ? (s.known_rank && s.rank() != 0)
               : !s.compatible(n.input_shape(0)))
      bad(n, ErrorKind::Value,
          std::string(names[i]) + " of shape " + s.str() +
              (scalar ? ": a scalar expected"
                      : " for a variable of shape " + n.input_shape(0).str()));
  }
  n.shapes = {n.input_shape(0), n.input_shape(1), n.input_shape(2)};
  n.dtypes = {t, t, t};
}
// in[0..2] are the variables' stored values (the executor's doing).
Vals eval_apply_adam(const Node &, const Vals &in, EvalContext &) {
  // beta1, beta2 and epsilon are the kernel's attributes: a host read.
  auto number = [&](size_t i) { return item(in[i]).f; };
  adam_step(in[0], in[7], in[1], in[2], nullptr, reshape(in[3], Dims{}),
            nullptr, number(4), number(5), number(6));
  return {in[0], in[1], in[2]};
}

// ApplyGradientDescent(var, alpha, delta): var -= alpha * delta in place
// (TensorFlow's op of that name); its output is the variable's new value.
void infer_apply_gradient_descent(Node &n) {
  const Node *var = n.inputs[0].node;
  const DType t = n.input_dtype(0);
  if (var->def->kind != OpKind::Variable)
    bad(n, ErrorKind::Type,
        "input 0 (var) must be a variable, got the output of '" + var->name +
            "' (" + var->op + ")");
  if (t != DType::Float32 && t != DType::Float64)
    bad(n, ErrorKind::Type,
        std::string("variable of dtype ") + dtype_name(t) +
            ": float32 or float64 expected");
  static const char *const names[] = {"var", "alpha", "delta"};
  for (size_t i = 1; i < 3; ++i) {
    if (n.input_dtype(i) != t)
      bad(n, ErrorKind::Type,
          std::string(names[i]) + " of dtype " + dtype_name(n.input_dtype(i)) +
              " for a variable of dtype " + dtype_name(t));
    const PartialShape &s = n.input_shape(i);
    if (i == 1 ? (s.known_rank && s.rank() != 0)
               : !s.compatible(n.input_shape(0)))
      bad(n, ErrorKind::Value,
          std::string(names[i]) + " of shape " + s.str() +
              (i == 1 ? ": a scalar expected"
                      : " for a variable of shape " + n.input_shape(0).str()));
  }
  set_output(n, n.input_shape(0), t);
}
// in[0] is the variable's stored value (the executor's doing).
Vals eval_apply_gradient_descent(const Node &, const Vals &in, EvalContext &) {
  sgd_step(in[0], in[2], reshape(in[1], Dims{}));
  return {in[0]};
}

// tf.cond's predicate: a bool scalar (or of unknown shape, checked when it
// runs).
void check_predicate(const Node &n, size_t i) {
  if (n.input_dtype(i) != DType::Bool)
    bad(n, ErrorKind::Type,
        std::string("the predicate must be bool, got ") +
            dtype_name(n.input_dtype(i)));
  const PartialShape &s = n.input_shape(i);
  if (s.known_rank && s.rank() != 0)
    bad(n, ErrorKind::Value,
        "the predicate must be a scalar, got shape " + s.str());
}

// Switch(data, pred): outputs (if false, if true), each data; the one the
// predicate does not pick is dead, and so is every node that reads it.
void infer_switch(Node &n) {
  check_predicate(n, 1);
  n.shapes = {n.input_shape(0), n.input_shape(0)};
  n.dtypes = {n.input_dtype(0), n.input_dtype(0)};
}

// Merge(if_false, if_true, pred): the input the predicate picks (the other
// may be dead).
void infer_merge(Node &n) {
  check_predicate(n, 2);
  if (n.input_dtype(0) != n.input_dtype(1))
    bad(n, ErrorKind::Type,
        std::string("the branches give ") + dtype_name(n.input_dtype(0)) +
            " and " + dtype_name(n.input_dtype(1)));
  const PartialShape &a = n.input_shape(0), &b = n.input_shape(1);
  PartialShape s;
  if (a.known_rank && b.known_rank && a.rank() == b.rank()) {
    s = a;
    for (size_t i = 0; i < s.dims.size(); ++i)
      if (a.dims[i] != b.dims[i])
        s.dims[i] = -1;
  }
  set_output(n, s, n.input_dtype(0));
}

// A VJP node: inputs are its node F's n_in inputs, the F outputs listed in
// `outputs` and one gradient for each of those; one output per input of F
// listed in `inputs`, of that input's shape and dtype.
void infer_vjp(Node &n) {
  const int64_t n_in = n.attr_int("n_in");
  const std::vector<int64_t> outs = n.attr_ints("outputs");
  const std::vector<int64_t> ins = n.attr_ints("inputs");
  const int64_t k = static_cast<int64_t>(outs.size());
  if (n_in < 0 || k < 1 || ins.empty() ||
      static_cast<int64_t>(n.inputs.size()) != n_in + 2 * k)
    bad(n, ErrorKind::Value,
        "expected n_in inputs, then the listed outputs and one gradient each, "
        "got " +
            std::to_string(n.inputs.size()) + " inputs for n_in=" +
            std::to_string(n_in) + " and " + std::to_string(k) + " outputs");
  const Node *f = n.inputs[n_in].node;
  bool fits = static_cast<int64_t>(f->inputs.size()) == n_in;
  for (int64_t i = 0; fits && i < n_in; ++i)
    fits = f->inputs[i] == n.inputs[i];
  for (int64_t j = 0; fits && j < k; ++j)
    fits = n.inputs[n_in + j] ==
               Output{const_cast<Node *>(f), static_cast<int>(outs[j])} &&
           n.input_shape(n_in + k + j).compatible(n.input_shape(n_in + j));
  if (!fits)
    bad(n, ErrorKind::Value,
        "inputs must be the inputs of '" + f->name +
            "', then its listed outputs and gradients of their shapes");
  n.shapes.clear();
  n.dtypes.clear();
  for (int64_t i : ins) {
    if (i < 0 || i >= n_in || !is_floating(n.input_dtype(i)))
      bad(n, ErrorKind::Value,
          "input " + std::to_string(i) + " of '" + f->name +
              "' is not a floating input to differentiate");
    n.shapes.push_back(n.input_shape(i));
    n.dtypes.push_back(n.input_dtype(i));
  }
}

// --- while_loop --------------------------------------------------------------

// While(inits..., captures..., args..., cond, results...): a functional
// loop. Its first n_vars inputs are the loop variables' initial values and
// the next n_captured the tensors the cond and body read from outside the
// loop; those are the values it reads. The rest name its sub-graph: one Arg
// node per variable and capture (the body's view of them; an Arg's shape is
// the variable's shape invariant), the cond's bool scalar and one body
// result per variable. Session::run_loop runs it.
void infer_while(Node &n) {
  const int64_t nv = n.attr_int("n_vars"), nc = n.attr_int("n_captured");
  const int64_t na = nv + nc;
  if (nv < 1 || nc < 0 ||
      static_cast<int64_t>(n.inputs.size()) != 3 * nv + 2 * nc + 1)
    bad(n, ErrorKind::Value,
        "expected n_vars initial values, n_captured captures, an Arg for "
        "each, the cond's result and n_vars body results, got " +
            std::to_string(n.inputs.size()) + " inputs for n_vars=" +
            std::to_string(nv) + " and n_captured=" + std::to_string(nc));
  std::unordered_set<const Node *> args;
  for (int64_t k = 0; k < na; ++k) {
    const Node *arg = n.inputs[na + k].node;
    if (arg->op != "Arg" || !args.insert(arg).second)
      bad(n, ErrorKind::Value,
          "input " + std::to_string(na + k) +
              " must be an Arg node of its own, got '" + arg->name + "' (" +
              arg->op + ")");
    if (n.input_dtype(k) != n.input_dtype(na + k))
      bad(n, ErrorKind::Type,
          "loop input " + std::to_string(k) + " is " +
              dtype_name(n.input_dtype(k)) + " but its Arg '" + arg->name +
              "' is " + dtype_name(n.input_dtype(na + k)));
    if (!n.input_shape(k).compatible(n.input_shape(na + k)))
      bad(n, ErrorKind::Value,
          "loop input " + std::to_string(k) + " of shape " +
              n.input_shape(k).str() + " does not fit the shape " +
              n.input_shape(na + k).str() + " of its Arg '" + arg->name + "'");
  }
  check_predicate(n, static_cast<size_t>(2 * na));
  n.shapes.clear();
  n.dtypes.clear();
  for (int64_t k = 0; k < nv; ++k) {
    const size_t r = static_cast<size_t>(2 * na + 1 + k),
                 a = static_cast<size_t>(na + k);
    if (n.input_dtype(r) != n.input_dtype(a))
      bad(n, ErrorKind::Type,
          "the body returns " + std::string(dtype_name(n.input_dtype(r))) +
              " for loop variable " + std::to_string(k) + " of dtype " +
              dtype_name(n.input_dtype(a)));
    if (!n.input_shape(r).compatible(n.input_shape(a)))
      bad(n, ErrorKind::Value,
          "the body returns shape " + n.input_shape(r).str() +
              " for loop variable " + std::to_string(k) + " of shape " +
              n.input_shape(a).str());
    n.shapes.push_back(n.input_shape(a));
    n.dtypes.push_back(n.input_dtype(a));
  }
}
Vals eval_while(const Node &n, const Vals &in, EvalContext &ctx) {
  return ctx.session.run_loop(n, in);
}

// --- tf.TensorArray ---------------------------------------------------------

// A TensorArray is the tensor of its elements stacked on a first axis.

// An integer scalar input: a TensorArray's size or index.
int64_t index_input(const Node &n, const Tensor &t, const char *what) {
  if (t->numel() != 1)
    bad(n, ErrorKind::Value,
        std::string("the ") + what + " must be a scalar, got shape " +
            PartialShape::of(t->shape).str());
  return item(t).i;
}

void check_index_input(const Node &n, size_t i, const char *what) {
  if (!is_integral(n.input_dtype(i)))
    bad(n, ErrorKind::Type,
        std::string("the ") + what + " must be an integer, got " +
            dtype_name(n.input_dtype(i)));
  const PartialShape &s = n.input_shape(i);
  if (s.known_rank && s.rank() != 0)
    bad(n, ErrorKind::Value,
        std::string("the ") + what + " must be a scalar, got shape " + s.str());
}

// TensorArrayZeros(size) [dtype, element_shape]: `size` zero elements of
// element_shape; with element_shape None, a vector of `size` zeros that the
// first write widens to the element's shape.
void infer_tensor_array_zeros(Node &n) {
  check_index_input(n, 0, "size");
  if (n.attr_is_none("element_shape")) {
    set_output(n, PartialShape::unknown(), n.attr_dtype("dtype"));
    return;
  }
  PartialShape s = n.attr_shape("element_shape");
  if (!s.fully_known())
    bad(n, ErrorKind::Value,
        "the element shape must be fully known, got " + s.str());
  // A constant size is known when the graph is built.
  const Node &size = *n.inputs[0].node;
  const int64_t known =
      size.op == "Const" ? item(size.attr_tensor("value")).i : -1;
  if (size.op == "Const" && known < 0)
    bad(n, ErrorKind::Value,
        "the size must not be negative, got " + std::to_string(known));
  s.dims.insert(0, known);
  set_output(n, s, n.attr_dtype("dtype"));
}
Vals eval_tensor_array_zeros(const Node &n, const Vals &in, EvalContext &ctx) {
  const int64_t size = index_input(n, in[0], "size");
  if (size < 0)
    bad(n, ErrorKind::Value,
        "the size must not be negative, got " + std::to_string(size));
  Dims shape{size};
  if (!n.attr_is_none("element_shape"))
    for (int64_t d : n.attr_shape("element_shape").dims)
      shape.push_back(d);
  return {full(shape, Scalar::from_int(0), n.dtypes[0], ctx.device)};
}

// TensorArrayWrite(array, index, value) [dynamic_size]: the array with
// element `index` replaced by value; a dynamic array grows (with zeros)
// to hold it. Written in place when the array is dead after the write
// (see eval_tensor_array_write), else built of slices and a concatenation.
void infer_tensor_array_write(Node &n) {
  check_index_input(n, 1, "index");
  if (n.input_dtype(2) != n.input_dtype(0))
    bad(n, ErrorKind::Type,
        std::string("a value of dtype ") + dtype_name(n.input_dtype(2)) +
            " for a TensorArray of dtype " + dtype_name(n.input_dtype(0)));
  const PartialShape &a = n.input_shape(0), &v = n.input_shape(2);
  const bool dynamic = n.attr_bool("dynamic_size", false);
  PartialShape out = PartialShape::unknown();
  if (a.known_rank && v.known_rank) {
    const PartialShape elem{true, {a.dims.begin() + 1, a.dims.end()}};
    if (a.rank() != v.rank() + 1 || !elem.compatible(v))
      bad(n, ErrorKind::Value,
          "a value of shape " + v.str() + " for a TensorArray of shape " +
              a.str());
    out = a;
    for (int64_t d = 0; d < v.rank(); ++d)
      out.dims[d + 1] = v.dims[d] >= 0 ? v.dims[d] : a.dims[d + 1];
  } else if (v.known_rank) {
    out = v;
    out.dims.insert(0, -1);
  }
  if (dynamic && out.known_rank)
    out.dims[0] = -1;
  set_output(n, out, n.input_dtype(0));
}
// `a` with element i (< its size) set to `v`, in new memory: slices and a
// concatenation, which autograd records.
Tensor written(const Tensor &a, int64_t i, const Tensor &v) {
  const int64_t size = a->shape[0];
  std::vector<Tensor> parts{slice(a, 0, 0, i, 1), unsqueeze(v, 0)};
  if (i + 1 < size)
    parts.push_back(slice(a, 0, i + 1, size, 1));
  return cat(parts, 0);
}

// Whether t is the only reference to its memory, laid out contiguously:
// it may then be written in place.
bool sole_owner(const Tensor &t) {
  return t.use_count() == 1 && t->storage.use_count() == 1 &&
         t->is_contiguous();
}

// The derivative of a write done in place: the array's gradient with row
// `index` zeroed, and that row for the value. The row is zeroed in the
// incoming gradient itself when nothing else holds it (after the first
// write of a chain, each one's gradient is the next one's output), so a
// chain of writes costs one copy of the array, not one per write.
class TensorArrayWriteNode : public autograd::Node {
public:
  explicit TensorArrayWriteNode(int64_t index) : index_(index) {}
  std::vector<Tensor> apply(std::vector<Tensor> &&grads) override {
    Tensor g = std::move(grads[0]);
    Tensor row = select(g, 0, index_);
    if (autograd::grad_enabled()) // create_graph: recorded ops
      return {
          written(g, index_,
                  full(row->shape, Scalar::from_int(0), g->dtype, g->device)),
          row};
    Tensor value_grad = clone(row);
    row.reset();
    if (!sole_owner(g) || autograd::requires_grad(g))
      g = clone(g);
    fill_(select(g, 0, index_), Scalar::from_int(0));
    return {g, value_grad};
  }
  std::string name() const override { return "TensorArrayWrite"; }

private:
  int64_t index_;
};

Vals eval_tensor_array_write(const Node &n, const Vals &in, EvalContext &) {
  const Tensor &v = in[2];
  const int64_t i = index_input(n, in[1], "index");
  // Note: the executor moves a loop body's array into this step when no
  // later step reads it; it is then the only reference, and the element is
  // written in place (an alias of the array, with a node of its own for
  // autograd). Anything else holding the array (a fetch, another reader,
  // a value saved for backward) keeps a reference and gets a copy.
  const bool in_place =
      sole_owner(in[0]) && in[0]->ndim() == v->ndim() + 1 && i >= 0 &&
      i < in[0]->shape[0] &&
      std::equal(v->shape.begin(), v->shape.end(), in[0]->shape.begin() + 1) &&
      in[0]->device == v->device;
  Tensor a = in[0];
  if (in_place) {
    const bool record =
        autograd::grad_enabled() &&
        (autograd::requires_grad(a) || autograd::requires_grad(v));
    Tensor out = detach(a);
    {
      autograd::NoGradGuard no_grad;
      copy_(select(out, 0, i), v);
    }
    if (record) {
      auto node = std::make_shared<TensorArrayWriteNode>(i);
      autograd::collect_next_edges(*node, {a, v});
      autograd::set_history(out, node, 0);
    }
    return {out};
  }
  if (a->ndim() == 1 && v->ndim() > 0) { // the first write sets the shape
    Dims shape{a->shape[0]};
    for (int64_t d : v->shape)
      shape.push_back(d);
    a = full(shape, Scalar::from_int(0), a->dtype, a->device);
  }
  if (a->ndim() != v->ndim() + 1 ||
      !std::equal(v->shape.begin(), v->shape.end(), a->shape.begin() + 1))
    bad(n, ErrorKind::Value,
        "a value of shape " + PartialShape::of(v->shape).str() +
            " for a TensorArray of shape " + PartialShape::of(a->shape).str());
  const int64_t size = a->shape[0];
  if (i < 0 || (i >= size && !n.attr_bool("dynamic_size", false)))
    bad(n, ErrorKind::Index,
        "index " + std::to_string(i) + " is out of range for a TensorArray " +
            "of size " + std::to_string(size));
  if (i < size)
    return {written(a, i, v)};
  Dims pad = a->shape;
  pad[0] = i - size;
  std::vector<Tensor> parts{a};
  if (i > size)
    parts.push_back(full(pad, Scalar::from_int(0), a->dtype, a->device));
  parts.push_back(unsqueeze(v, 0));
  return {cat(parts, 0)};
}

// --- elementwise ------------------------------------------------------------

constexpr int kSquare = -1; // x * x, no catalogue op of its own

DType unary_dtype(const Node &n, DType x) {
  if (n.def->code == kSquare)
    return x;
  DType compute, result;
  unary_result_types(static_cast<OpId>(n.def->code), x, &compute, &result);
  return result;
}

void infer_unary(Node &n) {
  set_output(n, n.input_shape(0), unary_dtype(n, n.input_dtype(0)));
}
Vals eval_unary(const Node &n, const Vals &in, EvalContext &) {
  if (n.def->code == kSquare)
    return {binary(OpId::mul, in[0], in[0])};
  return {unary(static_cast<OpId>(n.def->code), in[0])};
}

void infer_binary(Node &n) {
  DType compute, result;
  binary_result_types(static_cast<OpId>(n.def->code), n.input_dtype(0),
                      n.input_dtype(1), Rank::Dimensioned, Rank::Dimensioned,
                      &compute, &result);
  set_output(n, broadcast_shape(errors(n), n.input_shape(0), n.input_shape(1)),
             result);
}
Vals eval_binary(const Node &n, const Vals &in, EvalContext &) {
  return {binary(static_cast<OpId>(n.def->code), in[0], in[1])};
}

void infer_select(Node &n) {
  if (n.input_dtype(0) != DType::Bool)
    bad(n, ErrorKind::Type,
        std::string("the condition must be bool, got ") +
            dtype_name(n.input_dtype(0)));
  PartialShape s = where_shape(errors(n), n.input_shape(0), n.input_shape(1),
                               n.input_shape(2));
  set_output(n, s, promote_types(n.input_dtype(1), n.input_dtype(2)));
}
Vals eval_select(const Node &, const Vals &in, EvalContext &) {
  return {where(in[0], in[1], in[2])};
}

void infer_like(Node &n) { set_output(n, n.input_shape(0), n.input_dtype(0)); }
Vals eval_like(const Node &n, const Vals &in, EvalContext &) {
  return {full(in[0]->shape, Scalar::from_int(n.def->code), in[0]->dtype,
               in[0]->device)};
}

// --- linear algebra ---------------------------------------------------------

void infer_matmul(Node &n) {
  const PartialShape &a = n.input_shape(0), &b = n.input_shape(1);
  if (n.input_dtype(0) != n.input_dtype(1))
    bad(n, ErrorKind::Type,
        std::string("operands of dtypes ") + dtype_name(n.input_dtype(0)) +
            " and " + dtype_name(n.input_dtype(1)) + " (cast one first)");
  if (a.known_rank && b.known_rank && (a.rank() < 2 || b.rank() < 2))
    bad(n, ErrorKind::Value,
        "operands must have rank >= 2, got shapes " + a.str() + " and " +
            b.str());
  set_output(n,
             matmul_shape(errors(n), a, b, n.attr_bool("transpose_a", false),
                          n.attr_bool("transpose_b", false)),
             n.input_dtype(0));
}
Vals eval_matmul(const Node &n, const Vals &in, EvalContext &) {
  Tensor a = in[0], b = in[1];
  if (n.attr_bool("transpose_a", false))
    a = transpose(a, -1, -2);
  if (n.attr_bool("transpose_b", false))
    b = transpose(b, -1, -2);
  return {matmul(a, b)};
}

// --- reductions -------------------------------------------------------------

std::optional<Dims> reduce_axes(const Node &n) {
  if (!n.has_attr("axes") || n.attr_is_none("axes"))
    return std::nullopt;
  std::vector<int64_t> v = n.attr_ints("axes");
  return Dims(v.begin(), v.end());
}

DType reduce_dtype(const Node &n, DType x) {
  if (x == DType::Bool && static_cast<OpId>(n.def->code) != OpId::max &&
      static_cast<OpId>(n.def->code) != OpId::min)
    return DType::Int64;
  return x;
}

void infer_reduce(Node &n) {
  set_output(n,
             reduce_shape(errors(n), n.input_shape(0), reduce_axes(n),
                          n.attr_bool("keepdims", false), false),
             reduce_dtype(n, n.input_dtype(0)));
}
Vals eval_reduce(const Node &n, const Vals &in, EvalContext &) {
  std::optional<Dims> axes = reduce_axes(n);
  // The rank may be known only now.
  reduce_shape(errors(n), in[0]->shape, axes, false, false);
  if (axes && axes->empty())
    return {in[0]};
  return {reduce(static_cast<OpId>(n.def->code), in[0], axes,
                 n.attr_bool("keepdims", false))};
}

void infer_arg_reduce(Node &n) {
  set_output(n,
             arg_reduce_shape(errors(n), n.input_shape(0), n.attr_int("axis"),
                              false, false),
             DType::Int64);
}
Vals eval_arg_reduce(const Node &n, const Vals &in, EvalContext &) {
  const int64_t axis = n.attr_int("axis");
  arg_reduce_shape(errors(n), in[0]->shape, axis, false, false);
  return {arg_reduce(static_cast<OpId>(n.def->code), in[0], axis, false)};
}

void infer_softmax(Node &n) {
  const PartialShape &x = n.input_shape(0);
  axis_of(errors(n), x, n.attr_int("axis"), false);
  set_output(n, x,
             is_floating(n.input_dtype(0)) ? n.input_dtype(0) : kDefaultFloat);
}
Vals eval_softmax(const Node &n, const Vals &in, EvalContext &) {
  axis_of(errors(n), in[0]->shape, n.attr_int("axis"), false);
  return {softmax(static_cast<OpId>(n.def->code), in[0], n.attr_int("axis"))};
}

// Cumsum along `axis`, optionally exclusive (each sum leaves its own element
// out) and reversed (summing from the end), as TensorFlow's.
void infer_cumsum(Node &n) {
  const PartialShape &x = n.input_shape(0);
  axis_of(errors(n), x, n.attr_int("axis"), false);
  // The input's dtype, as TensorFlow (integers wrap in it); bool in int64.
  const DType t = n.input_dtype(0);
  set_output(n, x, t == DType::Bool ? DType::Int64 : t);
}
Vals eval_cumsum(const Node &n, const Vals &in, EvalContext &) {
  Tensor x = in[0];
  const DType t = x->dtype == DType::Bool ? DType::Int64 : x->dtype;
  const int64_t axis = axis_of(errors(n), x->shape, n.attr_int("axis"), false);
  const bool reverse = n.attr_int("reverse") != 0;
  if (reverse)
    x = flip(x, axis);
  const int64_t len = x->shape[axis];
  if (n.attr_int("exclusive") && len > 0) {
    // Each sum leaves its own element out: the input shifted by one.
    Dims first = x->shape;
    first[axis] = 1;
    x = cat({full(first, Scalar::from_int(0), x->dtype, x->device),
             narrow(x, axis, 0, len - 1)},
            axis);
  }
  Tensor y = cast(cumsum(x, axis), t);
  if (reverse)
    y = flip(y, axis);
  return {reshape(y, in[0]->shape)};
}

// TopKV2: the k largest entries along the last axis, in descending order
// (ties in index order), and their int32 indices.
void infer_top_k(Node &n) {
  PartialShape out =
      topk_shape(errors(n), n.input_shape(0), n.attr_int("k"), -1, false);
  n.shapes = {out, out};
  n.dtypes = {n.input_dtype(0), DType::Int32};
}
Vals eval_top_k(const Node &n, const Vals &in, EvalContext &) {
  const Tensor &x = in[0];
  const int64_t k = n.attr_int("k");
  topk_shape(errors(n), x->shape, k, -1, false); // (sizes known only now)
  auto [values, indices] = topk(x, k, -1, true);
  return {values, cast(indices, DType::Int32)};
}

// --- shapes -----------------------------------------------------------------

void infer_reshape(Node &n) {
  const std::vector<int64_t> target = n.attr_ints("shape");
  set_output(n, reshape_shape(errors(n), n.input_shape(0), Dims(target)),
             n.input_dtype(0));
}
Vals eval_reshape(const Node &n, const Vals &in, EvalContext &) {
  std::vector<int64_t> t = n.attr_ints("shape");
  return {reshape(in[0], Dims(t.begin(), t.end()))};
}

// The perm attribute, by default the axes reversed (as TensorFlow).
Dims perm_of(const Node &n, int64_t rank) {
  if (n.has_attr("perm") && !n.attr_is_none("perm"))
    return Dims(n.attr_ints("perm"));
  Dims perm;
  for (int64_t i = rank - 1; i >= 0; --i)
    perm.push_back(i);
  return perm;
}

void infer_transpose(Node &n) {
  const PartialShape &x = n.input_shape(0);
  set_output(n, permute_shape(errors(n), x, perm_of(n, x.rank())),
             n.input_dtype(0));
}
Vals eval_transpose(const Node &n, const Vals &in, EvalContext &) {
  const Dims perm = perm_of(n, in[0]->ndim());
  permute_shape(errors(n), in[0]->shape,
                perm); // the rank may be known only now
  return {permute(in[0], perm)};
}

void infer_expand_dims(Node &n) {
  set_output(n,
             unsqueeze_shape(errors(n), n.input_shape(0), n.attr_int("axis")),
             n.input_dtype(0));
}
Vals eval_expand_dims(const Node &n, const Vals &in, EvalContext &) {
  return {unsqueeze(in[0], n.attr_int("axis"))};
}

// Squeeze, as TensorFlow: a listed axis must have size 1.
void infer_squeeze(Node &n) {
  set_output(
      n,
      squeeze_shape(errors(n), n.input_shape(0), reduce_axes(n), true, false),
      n.input_dtype(0));
}
Vals eval_squeeze(const Node &n, const Vals &in, EvalContext &) {
  std::optional<Dims> axes = reduce_axes(n);
  squeeze_shape(errors(n), in[0]->shape, axes, true, false);
  return {squeeze(in[0], axes)};
}

// Concat and stack: inputs of one dtype (TensorFlow does not promote), and
// the shapes of the core's cat and stack.
SmallVector<ShapeRef, 8> joined_shapes(const Node &n) {
  SmallVector<ShapeRef, 8> shapes(n.inputs.size());
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.input_dtype(i) != n.input_dtype(0))
      bad(n, ErrorKind::Type,
          std::string("inputs of dtypes ") + dtype_name(n.input_dtype(0)) +
              " and " + dtype_name(n.input_dtype(i)) + " (input " +
              std::to_string(i) + ")");
    shapes[i] = n.input_shape(i);
  }
  return shapes;
}

// ConcatV2 takes TensorFlow's rule: 1-D inputs of size 0 are not skipped
// (the eager cat that runs the node skips them, as PyTorch's), so their
// rank and the axis are checked, here and again when the node runs where
// a rank was unknown when it was built.
void infer_concat(Node &n) {
  const SmallVector<ShapeRef, 8> shapes = joined_shapes(n);
  set_output(n,
             cat_shape(errors(n), shapes.data(), shapes.size(),
                       n.attr_int("axis"), false),
             n.input_dtype(0));
}
Vals eval_concat(const Node &n, const Vals &in, EvalContext &) {
  SmallVector<ShapeRef, 8> shapes(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    shapes[i] = in[i]->shape;
  cat_shape(errors(n), shapes.data(), shapes.size(), n.attr_int("axis"), false);
  return {cat(in, n.attr_int("axis"))};
}

void infer_pack(Node &n) {
  const SmallVector<ShapeRef, 8> shapes = joined_shapes(n);
  set_output(
      n,
      stack_shape(errors(n), shapes.data(), shapes.size(), n.attr_int("axis")),
      n.input_dtype(0));
}
Vals eval_pack(const Node &n, const Vals &in, EvalContext &) {
  return {stack(in, n.attr_int("axis"))};
}

void infer_cast(Node &n) {
  set_output(n, n.input_shape(0), n.attr_dtype("dtype"));
}
Vals eval_cast(const Node &n, const Vals &in, EvalContext &) {
  return {cast(in[0], n.attr_dtype("dtype"))};
}

// StridedSlice over the leading dimensions, with TensorFlow's masks: bit d
// of begin_mask/end_mask ignores begin[d]/end[d]; of shrink_axis_mask takes
// the single index begin[d] and drops the dimension. Strides may be
// negative, as in Python's slicing (x[::-1]).
struct SliceSpec {
  std::vector<int64_t> begin, end, strides;
  int64_t begin_mask, end_mask, shrink;
};

SliceSpec slice_spec(const Node &n) {
  SliceSpec s{n.attr_ints("begin"),   n.attr_ints("end"),
              n.attr_ints("strides"), n.attr_int("begin_mask"),
              n.attr_int("end_mask"), n.attr_int("shrink_axis_mask")};
  if (s.begin.size() != s.end.size() || s.begin.size() != s.strides.size())
    bad(n, ErrorKind::Value, "begin, end and strides differ in length");
  for (size_t d = 0; d < s.strides.size(); ++d)
    if (s.strides[d] == 0 ||
        s.strides[d] == std::numeric_limits<int64_t>::min())
      bad(n, ErrorKind::Value,
          "strides must be non-zero and above -2**63, got " +
              std::to_string(s.strides[d]));
  return s;
}

// Dimension d of length len after the slice: the first index taken and how
// many, as Python's slice.indices gives them (a negative stride counts down
// from len - 1 to just before 0).
struct SliceRun {
  int64_t first, count;
};

SliceRun slice_run(const SliceSpec &s, size_t d, int64_t len) {
  const int64_t step = s.strides[d];
  const int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? len : len - 1;
  auto clampi = [&](int64_t v) {
    if (v < 0)
      v += len;
    return std::min(std::max(v, lo), hi);
  };
  const int64_t b =
      (s.begin_mask >> d & 1) ? (step > 0 ? lo : hi) : clampi(s.begin[d]);
  const int64_t e =
      (s.end_mask >> d & 1) ? (step > 0 ? hi : lo) : clampi(s.end[d]);
  const int64_t span = step > 0 ? e - b : b - e, by = step > 0 ? step : -step;
  return {b, span > 0 ? (span - 1) / by + 1 : 0}; // no overflow for huge by
}

// The size of dimension d of length `len` after the slice, or -1 if len is
// unknown; a shrunk index out of range raises.
int64_t sliced_length(const Node &n, const SliceSpec &s, size_t d,
                      int64_t len) {
  if (s.shrink >> d & 1) {
    if (len >= 0 && (s.begin[d] < -len || s.begin[d] >= len))
      bad(n, ErrorKind::Index,
          "index " + std::to_string(s.begin[d]) + " is out of range for " +
              "dimension " + std::to_string(d) + " of size " +
              std::to_string(len));
    return 0;
  }
  return len < 0 ? -1 : slice_run(s, d, len).count;
}

void infer_strided_slice(Node &n) {
  SliceSpec s = slice_spec(n);
  const PartialShape &x = n.input_shape(0);
  if (!x.known_rank) {
    set_output(n, x, n.input_dtype(0));
    return;
  }
  if (static_cast<int64_t>(s.begin.size()) > x.rank())
    bad(n, ErrorKind::Index,
        "too many indices (" + std::to_string(s.begin.size()) +
            ") for a tensor of shape " + x.str());
  PartialShape out{true, {}};
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (d >= static_cast<int64_t>(s.begin.size())) {
      out.dims.push_back(x.dims[d]);
      continue;
    }
    int64_t len = sliced_length(n, s, d, x.dims[d]);
    if (!(s.shrink >> d & 1))
      out.dims.push_back(len);
  }
  set_output(n, out, n.input_dtype(0));
}
Vals eval_strided_slice(const Node &n, const Vals &in, EvalContext &) {
  SliceSpec s = slice_spec(n);
  Tensor y = in[0];
  int64_t dim = 0; // position in y, which loses shrunk dimensions
  for (size_t d = 0; d < s.begin.size(); ++d) {
    if (s.shrink >> d & 1) {
      sliced_length(n, s, d, y->shape[dim]);
      y = select(y, dim, s.begin[d]);
      continue;
    }
    const SliceRun run = slice_run(s, d, y->shape[dim]);
    if (s.strides[d] > 0) { // a view
      y = slice(y, dim, run.first,
                run.count ? run.first + (run.count - 1) * s.strides[d] + 1
                          : run.first,
                s.strides[d]);
    } else { // devrt has no negative strides: a gather of the indices
      // Stops just past the last index taken: first + count * step could
      // overflow for a huge step.
      const int64_t last = run.first + (run.count - 1) * s.strides[d];
      Tensor taken =
          run.count == 0
              ? empty(Dims{0}, DType::Int64, y->device)
              : arange(Scalar::from_int(run.first), Scalar::from_int(last - 1),
                       Scalar::from_int(s.strides[d]), DType::Int64, y->device);
      y = index_select(y, dim, taken);
    }
    ++dim;
  }
  return {y};
}

void infer_one_hot(Node &n) {
  if (!is_integral(n.input_dtype(0)))
    bad(n, ErrorKind::Type,
        std::string("indices must be integers, got ") +
            dtype_name(n.input_dtype(0)));
  if (n.attr_int("depth") < 0)
    bad(n, ErrorKind::Value,
        "depth must be >= 0, got " + std::to_string(n.attr_int("depth")));
  PartialShape s = n.input_shape(0);
  if (s.known_rank)
    s.dims.push_back(n.attr_int("depth"));
  set_output(n, s, n.attr_dtype("dtype"));
}
Vals eval_one_hot(const Node &n, const Vals &in, EvalContext &) {
  return {one_hot(in[0], n.attr_int("depth"), n.attr_dtype("dtype"))};
}

void infer_gather(Node &n) {
  if (!is_integral(n.input_dtype(1)))
    bad(n, ErrorKind::Type,
        std::string("indices must be integers, got ") +
            dtype_name(n.input_dtype(1)));
  set_output(n,
             take_shape(errors(n), n.input_shape(0), n.input_shape(1),
                        n.attr_int("axis"), false),
             n.input_dtype(0));
}
Vals eval_gather(const Node &n, const Vals &in, EvalContext &) {
  // (the axis checked as at build time, for a rank known only now)
  take_shape(errors(n), in[0]->shape, in[1]->shape, n.attr_int("axis"), false);
  return {take(in[0], n.attr_int("axis"), in[1])};
}

void infer_shape(Node &n) {
  const PartialShape &x = n.input_shape(0);
  set_output(n,
             x.known_rank ? PartialShape{true, {x.rank()}}
                          : PartialShape::of_rank(1),
             DType::Int64);
}
Vals eval_shape(const Node &, const Vals &in, EvalContext &ctx) {
  Tensor y = empty(Dims{in[0]->ndim()}, DType::Int64, kCPU);
  if (in[0]->ndim())
    std::memcpy(y->data_ptr(), in[0]->shape.data(),
                sizeof(int64_t) * in[0]->shape.size());
  return {to_device(y, ctx.device)};
}

// tf.where(condition) with one argument: the coordinates of the true
// (nonzero) entries, one row each, in row-major order.
void infer_where(Node &n) {
  const PartialShape &x = n.input_shape(0);
  set_output(n, PartialShape{true, {-1, x.known_rank ? x.rank() : -1}},
             DType::Int64);
}
Vals eval_where(const Node &, const Vals &in, EvalContext &) {
  return {nonzero(in[0])};
}

// tf.range with bounds known only at run time: start, limit and delta are
// scalars of one dtype.
void infer_range(Node &n) {
  for (int i = 0; i < 3; ++i) {
    const PartialShape &s = n.input_shape(i);
    if (s.known_rank && s.rank() != 0)
      bad(n, ErrorKind::Value,
          "start, limit and delta must be scalars, got shape " + s.str());
    if (n.input_dtype(i) != n.input_dtype(0))
      bad(n, ErrorKind::Type,
          std::string("start, limit and delta must have one dtype, got ") +
              dtype_name(n.input_dtype(0)) + " and " +
              dtype_name(n.input_dtype(i)));
  }
  set_output(n, PartialShape{true, {-1}}, n.input_dtype(0));
}
Vals eval_range(const Node &, const Vals &in, EvalContext &ctx) {
  return {
      arange(item(in[0]), item(in[1]), item(in[2]), in[0]->dtype, ctx.device)};
}

// --- convolution and pooling (NHWC) -----------------------------------------

struct Window {
  int64_t kh, kw, sh, sw, dh = 1, dw = 1;
  bool same;
};

} // namespace

std::vector<int64_t> pair_attr(const Node &n, const char *key) {
  std::vector<int64_t> v = n.attr_ints(key);
  if (v.size() == 4) // TensorFlow's [1, h, w, 1]
    v = {v[1], v[2]};
  if (v.size() != 2 || v[0] < 1 || v[1] < 1)
    bad(n, ErrorKind::Value,
        std::string(key) + " must be two positive numbers (or [1, h, w, 1])");
  return v;
}

namespace {

Window window_of(const Node &n, int64_t kh, int64_t kw) {
  std::vector<int64_t> s = pair_attr(n, "strides");
  Window w{kh, kw, s[0], s[1], 1, 1, false};
  if (n.has_attr("dilations")) {
    std::vector<int64_t> d = pair_attr(n, "dilations");
    w.dh = d[0];
    w.dw = d[1];
  }
  const std::string &p = n.attr_string("padding");
  if (p != "SAME" && p != "VALID")
    bad(n, ErrorKind::Value,
        "padding must be 'SAME' or 'VALID', got '" + p + "'");
  w.same = p == "SAME";
  return w;
}

// Output length and the padding before/after of one spatial dimension.
struct Span {
  int64_t out = -1, before = 0, after = 0;
};
Span span(const Node &n, int64_t len, int64_t k, int64_t s, int64_t d,
          bool same) {
  const int64_t reach = (k - 1) * d + 1;
  if (len < 0)
    return {};
  if (same) {
    const int64_t out = (len + s - 1) / s;
    const int64_t total = std::max<int64_t>((out - 1) * s + reach - len, 0);
    return {out, total / 2, total - total / 2};
  }
  if (len < reach)
    bad(n, ErrorKind::Value,
        "a window of " + std::to_string(reach) + " does not fit an input of " +
            std::to_string(len) + " with VALID padding");
  return {(len - reach) / s + 1, 0, 0};
}

void infer_window(Node &n, int64_t kh, int64_t kw, int64_t out_c) {
  const PartialShape &x = n.input_shape(0);
  if (!x.known_rank) {
    set_output(n, PartialShape::of_rank(4), n.input_dtype(0));
    return;
  }
  if (x.rank() != 4)
    bad(n, ErrorKind::Value,
        "input must be NHWC (rank 4), got shape " + x.str());
  Window w = window_of(n, kh, kw);
  PartialShape out{true,
                   {x.dims[0], span(n, x.dims[1], kh, w.sh, w.dh, w.same).out,
                    span(n, x.dims[2], kw, w.sw, w.dw, w.same).out, out_c}};
  set_output(n, out, n.input_dtype(0));
}

void infer_conv2d(Node &n) {
  const PartialShape &f = n.input_shape(1);
  if (!f.known_rank || f.rank() != 4 || !f.fully_known())
    bad(n, ErrorKind::Value,
        "filter must have a known HWIO shape, got " + f.str());
  const PartialShape &x = n.input_shape(0);
  if (x.known_rank && x.rank() == 4 && x.dims[3] >= 0 && x.dims[3] != f.dims[2])
    bad(n, ErrorKind::Value,
        "input of shape " + x.str() + " has " + std::to_string(x.dims[3]) +
            " channels, the filter of shape " + f.str() + " expects " +
            std::to_string(f.dims[2]));
  if (n.input_dtype(0) != n.input_dtype(1))
    bad(n, ErrorKind::Type,
        std::string("input and filter of dtypes ") +
            dtype_name(n.input_dtype(0)) + " and " +
            dtype_name(n.input_dtype(1)));
  infer_window(n, f.dims[0], f.dims[1], f.dims[3]);
}

// x padded by cat with `value` along dims h and h + 1: pads are (top,
// bottom, left, right).
Tensor pad_hw(const Tensor &x, int64_t h, int64_t top, int64_t bottom,
              int64_t left, int64_t right, double value) {
  Tensor y = x;
  const int64_t pads[2][3] = {{h, top, bottom}, {h + 1, left, right}};
  for (const auto &[dim, before, after] : pads) {
    if (!before && !after)
      continue;
    auto block = [&, dim = dim](int64_t size) {
      Dims s = y->shape;
      s[dim] = size;
      return full(s, Scalar::from_double(value), y->dtype, y->device);
    };
    std::vector<Tensor> parts;
    if (before)
      parts.push_back(block(before));
    parts.push_back(y);
    if (after)
      parts.push_back(block(after));
    y = cat(parts, dim);
  }
  return y;
}

// x (NHWC) with its padding: the core's symmetric padding where
// TensorFlow's is symmetric, explicit rows and columns otherwise. `h` is
// the dimension of the rows in the result (1 for NHWC, 2 for NCHW).
Tensor with_padding(const Node &n, const Tensor &x, Tensor y, int64_t h,
                    const Window &w, double value, Conv2dGeometry *g) {
  Span sh = span(n, x->shape[1], w.kh, w.sh, w.dh, w.same);
  Span sv = span(n, x->shape[2], w.kw, w.sw, w.dw, w.same);
  g->stride[0] = w.sh;
  g->stride[1] = w.sw;
  g->dilation[0] = w.dh;
  g->dilation[1] = w.dw;
  if (sh.before == sh.after && sv.before == sv.after) {
    g->padding[0] = sh.before;
    g->padding[1] = sv.before;
    return y;
  }
  return pad_hw(y, h, sh.before, sh.after, sv.before, sv.after, value);
}

// Brings x (NHWC) to NCHW with its padding.
Tensor to_padded_nchw(const Node &n, const Tensor &x, const Window &w,
                      double value, Conv2dGeometry *g) {
  return with_padding(n, x, permute(x, Dims{0, 3, 1, 2}), 2, w, value, g);
}

Tensor to_nhwc(const Tensor &y) { return permute(y, Dims{0, 2, 3, 1}); }

Vals eval_conv2d(const Node &n, const Vals &in, EvalContext &) {
  const Tensor &f = in[1];
  Window w = window_of(n, f->shape[0], f->shape[1]);
  Conv2dGeometry g;
  if (w.dw == 1) // NHWC throughout (see conv2d_nhwc)
    return {conv2d_nhwc(with_padding(n, in[0], in[0], 1, w, 0.0, &g), f, g)};
  Tensor x = to_padded_nchw(n, in[0], w, 0.0, &g);
  Tensor weight = permute(f, Dims{3, 2, 0, 1}); // HWIO -> OIHW
  return {to_nhwc(conv2d(x, weight, std::nullopt, g, 1))};
}

// The executor's fusion of Conv2D, its bias Add and Relu (see
// fuse_conv_bias_relu): inputs x, filter and bias, Conv2D's attributes;
// with `pool`, the 2x2 MaxPool after them too.
Vals eval_conv2d_bias_relu(const Node &n, const Vals &in, EvalContext &) {
  const Tensor &f = in[1];
  Window w = window_of(n, f->shape[0], f->shape[1]);
  Conv2dGeometry g;
  Tensor x = with_padding(n, in[0], in[0], 1, w, 0.0, &g);
  if (n.attr_bool("pool", false))
    return {conv2d_nhwc_relu_pool(x, f, in[2], g)};
  return {conv2d_nhwc_relu(x, f, in[2], g, n.attr_bool("seed_masked", false))};
}

void infer_pool(Node &n) {
  std::vector<int64_t> k = pair_attr(n, "ksize");
  const PartialShape &x = n.input_shape(0);
  infer_window(n, k[0], k[1], x.known_rank && x.rank() == 4 ? x.dims[3] : -1);
}

constexpr int kMaxPool = 0, kAvgPool = 1;

// MaxPool and AvgPool; relu: the executor's MaxPool of a fused Conv2D +
// bias + Relu's output (max_pool_relu_def), relu of the pooling, which
// leaves its values as they are (a window's greatest relu output is at
// least 0, or NaN, and relu keeps -0.0) and masks the pooled gradient
// before max pooling's backward spreads it, in the same pass where the
// device keeps the maximal taps.
Vals run_pool(const Node &n, const Vals &in, bool relu) {
  std::vector<int64_t> k = pair_attr(n, "ksize");
  Window w = window_of(n, k[0], k[1]);
  Conv2dGeometry g;
  if (n.def->code == kMaxPool) {
    const double pad = -std::numeric_limits<double>::infinity();
    return {max_pool2d_nhwc(with_padding(n, in[0], in[0], 1, w, pad, &g), k[0],
                            k[1], g, relu)};
  }
  // Average over the taps inside the image, as TensorFlow: the windowed
  // sum of the zero-padded input over the windowed count of image taps.
  Conv2dGeometry gm;
  Tensor x = to_padded_nchw(n, in[0], w, 0.0, &g);
  Tensor ones = full(Dims{1, in[0]->shape[1], in[0]->shape[2], 1},
                     Scalar::from_int(1), in[0]->dtype, in[0]->device);
  Tensor mask = to_padded_nchw(n, ones, w, 0.0, &gm); // 1 on image taps
  Tensor sum = avg_pool2d(x, k[0], k[1], g, true);
  Tensor count = avg_pool2d(mask, k[0], k[1], gm, true);
  return {to_nhwc(binary(OpId::div, sum, count))};
}

Vals eval_pool(const Node &n, const Vals &in, EvalContext &) {
  return run_pool(n, in, false);
}
Vals eval_max_pool_relu(const Node &n, const Vals &in, EvalContext &) {
  return run_pool(n, in, true);
}

// --- random -----------------------------------------------------------------

constexpr int kNormal = 0, kUniform = 1;

void infer_random(Node &n) {
  n.attr_int("seed"); // required: the stream the node draws from
  if (!is_floating(n.attr_dtype("dtype")))
    bad(n, ErrorKind::Type,
        std::string("needs a floating dtype, got ") +
            dtype_name(n.attr_dtype("dtype")));
  PartialShape s = n.inputs.empty() ? n.attr_shape("shape") : n.input_shape(0);
  if (n.inputs.empty() && !s.fully_known())
    bad(n, ErrorKind::Value, "needs a fully known shape, got " + s.str());
  set_output(n, s, n.attr_dtype("dtype"));
}
Vals eval_random(const Node &n, const Vals &in, EvalContext &ctx) {
  Dims shape = in.empty() ? n.attr_shape("shape").concrete() : in[0]->shape;
  const uint64_t seed = static_cast<uint64_t>(n.attr_int("seed"));
  const uint64_t offset =
      ctx.session.take_random(&n, static_cast<uint64_t>(shape_numel(shape)));
  const DType t = n.attr_dtype("dtype");
  if (n.def->code == kNormal)
    return {randn_seeded(shape, t, ctx.device, seed, offset)};
  return {rand_seeded(shape, t, ctx.device, seed, offset)};
}

// --- the table --------------------------------------------------------------

#define UNARY(name, id)                                                        \
  OpDef { name, 1, 1, infer_unary, eval_unary, OpKind::Compute, id }
#define BINARY(name, id)                                                       \
  OpDef {                                                                      \
    name, 2, 2, infer_binary, eval_binary, OpKind::Compute,                    \
        static_cast<int>(OpId::id)                                             \
  }
#define REDUCE(name, id)                                                       \
  OpDef {                                                                      \
    name, 1, 1, infer_reduce, eval_reduce, OpKind::Compute,                    \
        static_cast<int>(OpId::id)                                             \
  }
#define ID(x) static_cast<int>(OpId::x)

const OpDef kOps[] = {
    {"Placeholder", 0, 0, infer_placeholder, nullptr, OpKind::Placeholder},
    {"Const", 0, 0, infer_const, eval_const},
    {"Variable", 0, 0, infer_variable, nullptr, OpKind::Variable},
    {"Assign", 2, 2, infer_assign, nullptr, OpKind::Assign, ID(copy)},
    {"AssignAdd", 2, 2, infer_assign, nullptr, OpKind::Assign, ID(add)},
    {"AssignSub", 2, 2, infer_assign, nullptr, OpKind::Assign, ID(sub)},
    {"ApplyAdam", 8, 8, infer_apply_adam, eval_apply_adam, OpKind::Assign,
     ID(adam_step), 3},
    {"ApplyGradientDescent", 3, 3, infer_apply_gradient_descent,
     eval_apply_gradient_descent, OpKind::Assign, ID(sgd_step), 1},
    {"Identity", 1, 1, infer_identity, eval_identity},
    {"StopGradient", 1, 1, infer_identity, eval_stop_gradient},
    {"PlaceholderWithDefault", 1, 1, infer_placeholder_with_default,
     eval_identity},
    {"NoOp", 0, 0, infer_noop, nullptr, OpKind::NoOp},
    {"Switch", 2, 2, infer_switch, nullptr, OpKind::Switch},
    {"Merge", 3, 3, infer_merge, nullptr, OpKind::Merge},
    {"VJP", 2, -1, infer_vjp, nullptr, OpKind::VJP},
    // A while_loop body's view of a loop variable or capture: fed by its
    // While each iteration, never by the user.
    {"Arg", 0, 0, infer_placeholder, nullptr, OpKind::Placeholder},
    {"While", 4, -1, infer_while, eval_while},
    {"TensorArrayZeros", 1, 1, infer_tensor_array_zeros,
     eval_tensor_array_zeros},
    {"TensorArrayWrite", 3, 3, infer_tensor_array_write,
     eval_tensor_array_write},
    UNARY("Neg", ID(neg)),
    UNARY("Abs", ID(abs)),
    UNARY("Sign", ID(sign)),
    UNARY("Exp", ID(exp)),
    UNARY("Log", ID(log)),
    UNARY("Sqrt", ID(sqrt)),
    UNARY("Rsqrt", ID(rsqrt)),
    UNARY("Square", kSquare),
    UNARY("Reciprocal", ID(reciprocal)),
    UNARY("Sin", ID(sin)),
    UNARY("Cos", ID(cos)),
    UNARY("Tanh", ID(tanh)),
    UNARY("Sigmoid", ID(sigmoid)),
    UNARY("Relu", ID(relu)),
    UNARY("Erf", ID(erf)),
    UNARY("Log1p", ID(log1p)),
    UNARY("Floor", ID(floor)),
    UNARY("Ceil", ID(ceil)),
    UNARY("Round", ID(round)),
    UNARY("LogicalNot", ID(logical_not)),
    BINARY("Add", add),
    BINARY("Sub", sub),
    BINARY("Mul", mul),
    BINARY("RealDiv", div),
    BINARY("Pow", pow),
    BINARY("Maximum", maximum),
    BINARY("Minimum", minimum),
    BINARY("FloorDiv", floor_divide),
    BINARY("FloorMod", remainder),
    BINARY("Equal", eq),
    BINARY("NotEqual", ne),
    BINARY("Less", lt),
    BINARY("LessEqual", le),
    BINARY("Greater", gt),
    BINARY("GreaterEqual", ge),
    BINARY("LogicalAnd", logical_and),
    BINARY("LogicalOr", logical_or),
    {"Select", 3, 3, infer_select, eval_select},
    {"ZerosLike", 1, 1, infer_like, eval_like, OpKind::Compute, 0},
    {"OnesLike", 1, 1, infer_like, eval_like, OpKind::Compute, 1},
    {"MatMul", 2, 2, infer_matmul, eval_matmul},
    REDUCE("Sum", sum),
    REDUCE("Mean", mean),
    REDUCE("Max", max),
    REDUCE("Min", min),
    REDUCE("Prod", prod),
    {"ArgMax", 1, 1, infer_arg_reduce, eval_arg_reduce, OpKind::Compute,
     ID(argmax)},
    {"ArgMin", 1, 1, infer_arg_reduce, eval_arg_reduce, OpKind::Compute,
     ID(argmin)},
    {"Softmax", 1, 1, infer_softmax, eval_softmax, OpKind::Compute,
     ID(softmax)},
    {"Cumsum", 1, 1, infer_cumsum, eval_cumsum},
    {"TopKV2", 1, 1, infer_top_k, eval_top_k},
    {"LogSoftmax", 1, 1, infer_softmax, eval_softmax, OpKind::Compute,
     ID(log_softmax)},
    {"Reshape", 1, 1, infer_reshape, eval_reshape},
    {"Transpose", 1, 1, infer_transpose, eval_transpose},
    {"ExpandDims", 1, 1, infer_expand_dims, eval_expand_dims},
    {"Squeeze", 1, 1, infer_squeeze, eval_squeeze},
    {"ConcatV2", 1, -1, infer_concat, eval_concat},
    {"Pack", 1, -1, infer_pack, eval_pack},
    {"Cast", 1, 1, infer_cast, eval_cast},
    {"StridedSlice", 1, 1, infer_strided_slice, eval_strided_slice},
    {"OneHot", 1, 1, infer_one_hot, eval_one_hot},
    {"GatherV2", 2, 2, infer_gather, eval_gather},
    {"Shape", 1, 1, infer_shape, eval_shape},
    {"Where", 1, 1, infer_where, eval_where},
    {"Range", 3, 3, infer_range, eval_range},
    {"Conv2D", 2, 2, infer_conv2d, eval_conv2d},
    {"MaxPool", 1, 1, infer_pool, eval_pool, OpKind::Compute, kMaxPool},
    {"AvgPool", 1, 1, infer_pool, eval_pool, OpKind::Compute, kAvgPool},
    {"RandomStandardNormal", 0, 0, infer_random, eval_random, OpKind::Compute,
     kNormal},
    {"RandomUniform", 0, 0, infer_random, eval_random, OpKind::Compute,
     kUniform},
    {"RandomUniformLike", 1, 1, infer_random, eval_random, OpKind::Compute,
     kUniform},
};

#undef UNARY
#undef BINARY
#undef REDUCE
#undef ID

} // namespace

// Every elementwise op of the core's catalogue is a graph op under its
// catalogue name ("atan2", "expm1"), with the catalogue's dtype rules: a
// new catalogue op runs in graphs without an entry in kOps, whose TF names
// the front end maps to.
const std::vector<OpDef> &catalogue_ops() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> v;
    for (int i = 0; i < kNumOps; ++i) {
      const devrt::OpDef &d = op_def(static_cast<OpId>(i));
      if (!d.attrs.empty())
        continue;
      switch (d.family) {
      case OpFamily::Unary:
      case OpFamily::UnaryFloat:
      case OpFamily::UnaryRound:
      case OpFamily::UnaryLogical:
      case OpFamily::UnaryBitwise:
        v.push_back(
            {d.name, 1, 1, infer_unary, eval_unary, OpKind::Compute, i});
        break;
      case OpFamily::Binary:
      case OpFamily::BinaryFloat:
      case OpFamily::BinaryBitwise:
      case OpFamily::Compare:
        v.push_back(
            {d.name, 2, 2, infer_binary, eval_binary, OpKind::Compute, i});
        break;
      default:
        break;
      }
    }
    return v;
  }();
  return ops;
}

bool loop_body_input(const Node &n, size_t i) {
  if (n.op == "While")
    return static_cast<int64_t>(i) >=
           n.attr_int("n_vars") + n.attr_int("n_captured");
  if (n.def->kind != OpKind::VJP)
    return false;
  const int64_t n_in = n.attr_int("n_in");
  return static_cast<int64_t>(i) < n_in &&
         loop_body_input(*n.inputs[n_in].node, i);
}

const OpDef &conv2d_bias_relu_def() {
  static const OpDef def{"Conv2D", 3, 3, nullptr, eval_conv2d_bias_relu};
  return def;
}

const OpDef &max_pool_relu_def() {
  static const OpDef def{
      "MaxPool", 1, 1, nullptr, eval_max_pool_relu, OpKind::Compute, kMaxPool};
  return def;
}

bool conv2d_runs_nhwc(const Node &n) {
  if (n.op != "Conv2D" || n.input_shape(1).rank() != 4)
    return false;
  const PartialShape &f = n.input_shape(1);
  return window_of(n, f.dims[0], f.dims[1]).dw == 1;
}

const OpDef *find_op_def(const std::string &name) {
  static const std::unordered_map<std::string, const OpDef *> table = [] {
    std::unordered_map<std::string, const OpDef *> t;
    for (const OpDef &d : kOps)
      t[d.name] = &d;
    for (const OpDef &d : catalogue_ops())
      t[d.name] = &d;
    return t;
  }();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

} // namespace devrt::graph
