// The static graph seen from Python: Graph, GraphNode and Session, thin
// over core/include/devrt/graph.h. devrt.graph builds the TF1-style API on
// these.
#include "bindings.h"

#include "devrt/error.h"
#include "devrt/graph.h"

namespace devrt::bind {

namespace {

using graph::Attrs;
using graph::AttrValue;
using graph::Graph;
using graph::Node;
using graph::Output;
using graph::PartialShape;
using graph::Session;

// A node as Python holds it: keeps its graph alive.
struct NodeRef {
  std::shared_ptr<Graph> graph;
  Node *node;
};

using OutputRef = std::pair<NodeRef, int>;

Output to_output(const OutputRef &o) { return {o.first.node, o.second}; }

bool is_dtype(py::handle h) {
  static PyTypeObject *const cls = Py_TYPE(dtype_object(DType::Float32).ptr());
  return Py_TYPE(h.ptr()) == cls;
}

AttrValue to_attr(const std::string &key, py::handle h) {
  AttrValue v;
  if (h.is_none()) {
    v.kind = AttrValue::None;
  } else if (py::isinstance<py::bool_>(h)) {
    v.kind = AttrValue::Bool;
    v.b = h.cast<bool>();
  } else if (py::isinstance<py::int_>(h)) {
    v.kind = AttrValue::Int;
    v.i = h.cast<int64_t>();
  } else if (py::isinstance<py::float_>(h)) {
    v.kind = AttrValue::Float;
    v.f = h.cast<double>();
  } else if (py::isinstance<py::str>(h)) {
    v.kind = AttrValue::String;
    v.s = h.cast<std::string>();
  } else if (is_dtype(h)) {
    v.kind = AttrValue::DTypeV;
    v.dtype = to_dtype("add_node", h);
  } else if (py::isinstance<TensorImpl>(h)) {
    v.kind = AttrValue::TensorV;
    v.tensor = h.cast<Tensor>();
  } else if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    bool partial = false;
    std::vector<int64_t> ints;
    for (py::handle e : h) {
      if (e.is_none()) {
        partial = true;
        ints.push_back(-1);
      } else if (py::isinstance<py::int_>(e) && !py::isinstance<py::bool_>(e)) {
        ints.push_back(e.cast<int64_t>());
      } else {
        fail(ErrorKind::Type, "[add_node] attribute '", key,
             "': lists hold ints (or None for unknown dimensions), got ",
             std::string(py::str(py::type::of(e).attr("__name__"))));
      }
    }
    v.kind = partial ? AttrValue::Shape : AttrValue::Ints;
    v.ints = std::move(ints);
  } else {
    fail(ErrorKind::Type, "[add_node] attribute '", key,
         "' of unsupported type ",
         std::string(py::str(py::type::of(h).attr("__name__"))));
  }
  return v;
}

py::object from_attr(const AttrValue &v) {
  switch (v.kind) {
  case AttrValue::None:
    return py::none();
  case AttrValue::Bool:
    return py::bool_(v.b);
  case AttrValue::Int:
    return py::int_(v.i);
  case AttrValue::Float:
    return py::float_(v.f);
  case AttrValue::String:
    return py::str(v.s);
  case AttrValue::DTypeV:
    return dtype_object(v.dtype);
  case AttrValue::TensorV:
    return py::cast(v.tensor);
  case AttrValue::Ints:
  case AttrValue::Shape: {
    py::list l;
    for (int64_t d : v.ints)
      l.append(d < 0 && v.kind == AttrValue::Shape ? py::object(py::none())
                                                   : py::object(py::int_(d)));
    return std::move(l);
  }
  }
  return py::none();
}

py::object shape_object(const PartialShape &s) {
  if (!s.known_rank)
    return py::none();
  py::list l;
  for (int64_t d : s.dims)
    l.append(d < 0 ? py::object(py::none()) : py::object(py::int_(d)));
  return py::tuple(l);
}

NodeRef ref(const NodeRef &like, Node *n) { return {like.graph, n}; }

const Node &checked(const NodeRef &r, int i) {
  if (i < 0 || i >= r.node->num_outputs())
    fail(ErrorKind::Index, "[GraphNode] '", r.node->name, "' has ",
         r.node->num_outputs(), " outputs, asked for output ", i);
  return *r.node;
}

} // namespace

void init_graph(py::module_ &m) {
  py::class_<NodeRef>(m, "GraphNode", "A node of a devrt static graph.")
      .def_property_readonly(
          "name", [](const NodeRef &r) { return r.node->name; },
          "The node's name, unique in its graph.")
      .def_property_readonly(
          "op", [](const NodeRef &r) { return r.node->op; },
          "The op the node runs: a graph op ('MatMul') or a catalogue name.")
      .def_property_readonly(
          "device", [](const NodeRef &r) { return r.node->device; },
          "The device the node asked for ('' for none).")
      .def_property_readonly(
          "id", [](const NodeRef &r) { return r.node->id; },
          "The node's position in its graph, in order of creation.")
      .def_property_readonly(
          "num_outputs", [](const NodeRef &r) { return r.node->num_outputs(); },
          "How many outputs the node has.")
      .def_property_readonly(
          "inputs",
          [](const NodeRef &r) {
            py::list l;
            for (const Output &o : r.node->inputs)
              l.append(py::make_tuple(ref(r, o.node), o.index));
            return l;
          },
          "The node's inputs as (node, output index) pairs.")
      .def_property_readonly(
          "control_inputs",
          [](const NodeRef &r) {
            py::list l;
            for (Node *c : r.node->control_inputs)
              l.append(ref(r, c));
            return l;
          },
          "The nodes that run before this one without feeding it.")
      .def_property_readonly(
          "attrs",
          [](const NodeRef &r) {
            py::dict d;
            for (const auto &[k, v] : r.node->attrs)
              d[py::str(k)] = from_attr(v);
            return d;
          },
          "The node's attributes as a dict of Python values (shapes as lists "
          "with None for unknown dimensions).")
      .def_property_readonly(
          "graph", [](const NodeRef &r) { return r.graph; },
          "The Graph the node belongs to.")
      .def(
          "shape",
          [](const NodeRef &r, int i) {
            return shape_object(checked(r, i).shapes[i]);
          },
          py::arg("i") = 0,
          "Output i's inferred shape: a tuple with None for unknown "
          "dimensions, or None when the rank is unknown.")
      .def(
          "dtype",
          [](const NodeRef &r, int i) {
            return dtype_object(checked(r, i).dtypes[i]);
          },
          py::arg("i") = 0, "The dtype of output i.")
      .def(
          "__eq__",
          [](const NodeRef &a, py::object b) {
            return py::isinstance<NodeRef>(b) &&
                   a.node == b.cast<NodeRef>().node;
          },
          "Whether the other object refers to the same node.")
      .def(
          "__hash__",
          [](const NodeRef &r) { return std::hash<const void *>()(r.node); },
          "A hash of the node's identity.")
      .def(
          "__repr__",
          [](const NodeRef &r) {
            return "<GraphNode '" + r.node->name + "' " + r.node->op + ">";
          },
          "<GraphNode 'name' op>.");

  py::class_<Graph, std::shared_ptr<Graph>>(
      m, "Graph",
      "A devrt static graph: nodes whose shapes are inferred "
      "when they are added (docs/graph.md).")
      .def(py::init<>(), "An empty graph.")
      .def(
          "add_node",
          [](const std::shared_ptr<Graph> &g, const std::string &op,
             const std::vector<OutputRef> &inputs, const py::dict &attrs,
             const std::string &name, const std::string &device,
             const std::vector<NodeRef> &control_inputs) {
            std::vector<Output> ins;
            for (const OutputRef &o : inputs)
              ins.push_back(to_output(o));
            Attrs a;
            for (auto [k, v] : attrs) {
              std::string key = py::str(k);
              a[key] = to_attr(key, v);
            }
            std::vector<Node *> ctrl;
            for (const NodeRef &c : control_inputs)
              ctrl.push_back(c.node);
            return NodeRef{g, g->add_node(op, std::move(ins), std::move(a),
                                          name, device, std::move(ctrl))};
          },
          py::arg("op"), py::arg("inputs"), py::arg("attrs"), py::arg("name"),
          py::arg("device") = "",
          py::arg("control_inputs") = std::vector<NodeRef>{},
          "Adds a node; raises when its inputs do not fit the op.")
      .def(
          "add_gradients",
          [](const std::shared_ptr<Graph> &g, const std::vector<OutputRef> &ys,
             const std::vector<OutputRef> &xs,
             const std::vector<std::optional<OutputRef>> &grad_ys,
             const std::string &scope) {
            std::vector<Output> y, x, gy;
            for (const OutputRef &o : ys)
              y.push_back(to_output(o));
            for (const OutputRef &o : xs)
              x.push_back(to_output(o));
            for (const auto &o : grad_ys)
              gy.push_back(o ? to_output(*o) : Output{});
            py::list result;
            for (const Output &o : add_gradients(*g, y, x, gy, scope))
              if (o.node)
                result.append(OutputRef{NodeRef{g, o.node}, o.index});
              else
                result.append(py::none());
            return result;
          },
          py::arg("ys"), py::arg("xs"), py::arg("grad_ys"), py::arg("scope"),
          "tf.gradients: adds the derivative of sum(grad_ys * ys) with "
          "respect to each x as VJP and Add nodes under `scope`; returns per "
          "x its gradient output, or None where no y depends on x.")
      .def(
          "nodes",
          [](const std::shared_ptr<Graph> &g) {
            py::list l;
            for (const auto &n : g->nodes())
              l.append(NodeRef{g, n.get()});
            return l;
          },
          "Every node of the graph, in order of creation.")
      .def(
          "get",
          [](const std::shared_ptr<Graph> &g, const std::string &name) {
            Node *n = g->find(name);
            if (!n)
              throw py::key_error("no node named '" + name + "' in the graph");
            return NodeRef{g, n};
          },
          py::arg("name"), "The node called `name`; KeyError when none is.")
      .def(
          "__len__",
          [](const std::shared_ptr<Graph> &g) { return g->nodes().size(); },
          "The number of nodes.");

  py::class_<Session, std::shared_ptr<Session>>(
      m, "Session",
      "Runs a graph: plans once per signature, keeps variables "
      "resident between runs.")
      .def(py::init<std::shared_ptr<Graph>, bool>(), py::arg("graph"),
           py::arg("allow_soft_placement") = false,
           "A session over `graph`; with allow_soft_placement, a node whose "
           "device is not available runs on the CPU instead of raising.")
      .def(
          "run",
          [](Session &s, const std::vector<OutputRef> &fetches,
             const std::vector<NodeRef> &targets,
             const std::vector<std::pair<OutputRef, Tensor>> &feeds) {
            std::vector<Output> f;
            for (const OutputRef &o : fetches)
              f.push_back(to_output(o));
            std::vector<Node *> t;
            for (const NodeRef &r : targets)
              t.push_back(r.node);
            std::vector<std::pair<Output, Tensor>> fd;
            for (const auto &[o, v] : feeds)
              fd.emplace_back(to_output(o), v);
            py::gil_scoped_release nogil;
            return s.run(f, t, fd);
          },
          py::arg("fetches"), py::arg("targets"), py::arg("feeds"),
          "Run the graph with `feeds` ((node, output) -> Tensor pairs) and "
          "return the values of `fetches`, after running `targets` too; "
          "planned once per (fetches, targets, feeds) signature.")
      .def("close", &Session::close,
           "Free the session's plans and variable values; later runs raise.")
      .def_property_readonly("closed", &Session::closed,
                             "Whether close() was called.")
      .def(
          "variable",
          [](const Session &s, const NodeRef &r) { return s.variable(r.node); },
          py::arg("node"),
          "The current value of variable `node`, or None before it is "
          "initialised.")
      .def(
          "set_variable",
          [](Session &s, const NodeRef &r, const Tensor &v) {
            s.set_variable(r.node, v);
          },
          py::arg("node"), py::arg("value"),
          "Set variable `node` to a copy of `value`, cast to its dtype and "
          "placed on its device.")
      .def_property_readonly(
          "placement_log", &Session::placement_log,
          "One line per node placed, the first time: 'name (op): device'.")
      .def_property_readonly(
          "stats",
          [](const Session &s) {
            py::dict d;
            d["runs"] = s.stats().runs;
            d["plans"] = s.stats().plans;
            d["fetched_bytes"] = s.stats().fetched_bytes;
            d["fused"] = s.stats().fused;
            d["fused_pools"] = s.stats().fused_pools;
            return d;
          },
          "The session's counters: runs, plans made, fetched_bytes, fused "
          "(Conv2D + bias + Relu chains its plans run as one step) and "
          "fused_pools (those of them with their 2x2 MaxPool).");
}

} // namespace devrt::bind
