// Autograd seen from Python: the tensor attributes, the engine entry points,
// and nodes whose backward is a Python function (autograd.Function).
#include "bindings.h"

#include "devrt/autograd.h"
#include "devrt/error.h"

namespace devrt::bind {

namespace {

using autograd::Node;

// A node whose backward is `fn(grads) -> grads for the tensor inputs`.
class PyFunctionNode : public Node {
public:
  PyFunctionNode(py::object fn, py::object release, std::string name)
      : fn_(new py::object(std::move(fn))),
        release_(new py::object(std::move(release))), name_(std::move(name)) {}
  ~PyFunctionNode() override {
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;
      delete fn_;
      delete release_;
    }
  }
  // Shape, dtype and device of each tensor input, to check gradients.
  std::vector<autograd::OutputInfo> input_info;
  std::vector<Tensor> apply(std::vector<Tensor> &&grads) override {
    py::gil_scoped_acquire gil;
    if (!fn_ || fn_->is_none())
      fail(ErrorKind::Runtime, "[backward] trying to backward through ", name_,
           " a second time; pass retain_graph=True to the first backward");
    py::list in;
    for (size_t i = 0; i < grads.size(); ++i) {
      Tensor g = grads[i];
      if (!g && i < outputs.size())
        g = full(outputs[i].shape, Scalar::from_int(0), outputs[i].dtype,
                 outputs[i].device);
      in.append(g ? py::cast(g) : py::none());
    }
    py::object result = (*fn_)(in);
    std::vector<Tensor> out;
    for (py::handle h : result)
      out.push_back(h.is_none() ? nullptr
                                : tensor_arg("backward", "gradient", h));
    if (out.size() != next_edges.size())
      fail(ErrorKind::Runtime, "[backward] ", name_, " returned ", out.size(),
           " gradients for ", next_edges.size(), " tensor inputs");
    for (size_t i = 0; i < out.size(); ++i) {
      if (!out[i] || i >= input_info.size())
        continue;
      const autograd::OutputInfo &in = input_info[i];
      if (out[i]->shape != in.shape)
        fail(ErrorKind::Runtime, "[backward] ", name_,
             " returned a gradient of shape ", out[i]->shape, " for input ", i,
             " of shape ", in.shape);
      if (out[i]->dtype != in.dtype && is_floating(in.dtype))
        out[i] = cast(out[i], in.dtype);
    }
    return out;
  }
  std::string name() const override { return name_; }
  void release() override {
    py::gil_scoped_acquire gil;
    if (!release_->is_none())
      (*release_)();
    *fn_ = py::none();
  }

private:
  py::object *fn_;
  py::object *release_;
  std::string name_;
};

py::object node_object(const std::shared_ptr<Node> &n) {
  return n ? py::cast(n) : py::none();
}

} // namespace

void init_autograd(py::module_ &m, py::class_<TensorImpl, Tensor> &cls) {
  py::class_<Node, std::shared_ptr<Node>>(m, "Node",
                                          "A step of the backward graph.")
      .def("name", &Node::name,
           "The node's name ('MulBackward', 'AccumulateGrad' for a leaf, ...).")
      .def_property_readonly(
          "next_functions",
          [](const Node &n) {
            py::list out;
            for (const autograd::Edge &e : n.next_edges)
              out.append(py::make_tuple(node_object(e.fn), e.input_nr));
            return py::tuple(out);
          },
          "A (node, input_nr) pair per input of the op: where the gradient "
          "for that input goes (None for inputs without history).")
      .def(
          "__repr__", [](const Node &n) { return "<" + n.name() + ">"; },
          "The node's name in angle brackets: <MulBackward>.");

  cls.def_property(
         "requires_grad",
         [](const Tensor &t) { return autograd::requires_grad(t); },
         [](const Tensor &t, bool on) { autograd::set_requires_grad(t, on); },
         "Whether autograd records ops on this tensor; settable on leaves.")
      .def(
          "requires_grad_",
          [](const Tensor &t, bool on) {
            autograd::set_requires_grad(t, on);
            return t;
          },
          py::arg("requires_grad") = true,
          "Set requires_grad in place and return this tensor.")
      .def_property(
          "grad",
          [](const Tensor &t) -> py::object {
            if (!t->autograd || !t->autograd->grad)
              return py::none();
            return py::cast(t->autograd->grad);
          },
          [](const Tensor &t, py::object g) {
            if (g.is_none()) {
              if (t->autograd)
                t->autograd->grad.reset();
              return;
            }
            Tensor gt = tensor_arg("grad", "grad", g);
            if (gt->shape != t->shape)
              fail(ErrorKind::Value, "[grad] assigned gradient of shape ",
                   gt->shape, " to a tensor of shape ", t->shape);
            if (!t->autograd)
              t->autograd = std::make_shared<AutogradMeta>();
            t->autograd->grad = gt;
          },
          "The gradient backward() accumulated for this tensor, or None. "
          "Assign a tensor of this tensor's shape, or None to clear it.")
      .def_property_readonly(
          "grad_fn",
          [](const Tensor &t) {
            return node_object(t->autograd ? t->autograd->grad_fn : nullptr);
          },
          "The backward node of the op that made this tensor, or None for a "
          "leaf.")
      .def_property_readonly(
          "is_leaf",
          [](const Tensor &t) { return !t->autograd || !t->autograd->grad_fn; },
          "Whether this tensor has no recorded history (grad_fn is None).")
      .def_property_readonly(
          "retains_grad",
          [](const Tensor &t) {
            return t->autograd && t->autograd->retains_grad;
          },
          "Whether backward() fills .grad of this non-leaf (retain_grad).")
      .def(
          "retain_grad", [](const Tensor &t) { autograd::retain_grad(t); },
          "Make backward() fill .grad of this non-leaf tensor too.")
      .def(
          "backward",
          [](const Tensor &t, py::object gradient, py::object retain_graph,
             bool create_graph) {
            Tensor g = gradient.is_none() ? nullptr
                                          : as_tensor("backward", gradient, t);
            // retain_graph defaults to create_graph, as in PyTorch.
            const bool retain = retain_graph.is_none()
                                    ? create_graph
                                    : retain_graph.cast<bool>();
            autograd::backward({t}, {g}, retain, create_graph);
          },
          py::arg("gradient") = py::none(),
          py::arg("retain_graph") = py::none(), py::arg("create_graph") = false,
          "Accumulate the gradient of this tensor into .grad of the leaves "
          "it depends on.\n\n"
          "gradient: d(loss)/d(self), required unless this tensor has one "
          "element; retain_graph keeps the saved tensors for another backward "
          "(default: create_graph); create_graph records the backward pass, "
          "for higher-order gradients.")
      .def_property(
          "data", [](const Tensor &t) { return detach(t); },
          [](const Tensor &t, const Tensor &v) {
            // Rebinds t to v's memory and geometry, keeping t's identity and
            // autograd state (as torch's `param.data = ...`).
            t->storage = v->storage;
            t->offset = v->offset;
            t->shape = v->shape;
            t->strides = v->strides;
            t->dtype = v->dtype;
            t->device = v->device;
          },
          "This tensor detached from autograd (shares its memory). Assigning "
          "a tensor rebinds this one to its memory, shape and dtype, keeping "
          "this tensor's identity and autograd state.");

  m.def("is_grad_enabled", &autograd::grad_enabled,
        "Whether ops record autograd history on this thread.");
  m.def("_set_grad_enabled", &autograd::set_grad_enabled, py::arg("mode"),
        "Turn autograd recording on or off for this thread (devrt.no_grad "
        "and set_grad_enabled restore it).");
  m.def(
      "_backward",
      [](const std::vector<Tensor> &tensors,
         const std::vector<py::object> &grads, bool retain_graph,
         bool create_graph) {
        std::vector<Tensor> gs;
        for (size_t i = 0; i < grads.size(); ++i)
          gs.push_back(grads[i].is_none()
                           ? nullptr
                           : as_tensor("backward", grads[i], tensors[i]));
        autograd::backward(tensors, gs, retain_graph, create_graph);
      },
      py::arg("tensors"), py::arg("grad_tensors"), py::arg("retain_graph"),
      py::arg("create_graph") = false,
      "Run the backward engine from several tensors at once, each with its "
      "gradient (None for a one-element tensor), accumulating into .grad "
      "(autograd.backward).");
  m.def(
      "_grad",
      [](const std::vector<Tensor> &outputs, const std::vector<Tensor> &inputs,
         const std::vector<py::object> &grads, bool retain_graph,
         bool allow_unused, bool create_graph) {
        std::vector<Tensor> gs;
        for (size_t i = 0; i < grads.size(); ++i)
          gs.push_back(grads[i].is_none()
                           ? nullptr
                           : as_tensor("grad", grads[i], outputs[i]));
        py::list out;
        for (const Tensor &g : autograd::grad(outputs, inputs, gs, retain_graph,
                                              allow_unused, create_graph))
          out.append(g ? py::cast(g) : py::none());
        return out;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs"),
      py::arg("retain_graph"), py::arg("allow_unused"),
      py::arg("create_graph") = false,
      "The gradients of `outputs` with respect to `inputs` (autograd.grad), "
      "leaving .grad alone; None for an unused input when allow_unused.");
  m.def(
      "_record_function",
      [](py::object backward, const std::vector<std::optional<Tensor>> &inputs,
         const std::vector<Tensor> &outputs, const std::string &name,
         py::object release) {
        auto node = std::make_shared<PyFunctionNode>(backward, release, name);
        std::vector<Tensor> ins;
        for (const auto &t : inputs) {
          ins.push_back(t ? *t : nullptr);
          node->input_info.push_back(
              t ? autograd::OutputInfo{(*t)->shape, (*t)->dtype, (*t)->device}
                : autograd::OutputInfo{});
        }
        autograd::collect_next_edges(*node, ins);
        for (size_t i = 0; i < outputs.size(); ++i)
          autograd::set_history(outputs[i], node, static_cast<uint32_t>(i));
      },
      py::arg("backward"), py::arg("inputs"), py::arg("outputs"),
      py::arg("name"), py::arg("release") = py::none(),
      "Attach a node whose backward calls `backward(grads)` to `outputs`.");
}

} // namespace devrt::bind
