// Math: module functions (devrt.add ...), Tensor methods and Python
// operators. Each is one call into the core.
#include "bindings.h"

#include "devrt/autograd.h"
#include "devrt/error.h"

namespace devrt::bind {

namespace {

struct Named {
  const char *name;
  OpId op;
};

// Elementwise ops are bound under their catalogue names, so that a new
// catalogue op is a devrt function and a Tensor method without an edit
// here; besides those, PyTorch's other names for them.
const Named kAliases[] = {
    {"negative", OpId::neg},    {"subtract", OpId::sub},
    {"multiply", OpId::mul},    {"divide", OpId::div},
    {"true_divide", OpId::div}, {"arctan2", OpId::atan2},
};

// An alias's note, for its docstring.
std::string alias_note(const Named &n) {
  return n.name == std::string(op_name(n.op))
             ? std::string()
             : std::string("An alias of ") + op_name(n.op) + ".";
}

// Joins docstring notes with a blank line, skipping empty ones.
std::string notes(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string &p : parts)
    if (!p.empty())
      out += (out.empty() ? "" : "\n\n") + p;
  return out;
}

const char *const kUnaryInPlace =
    "In place: the result is written into this tensor, cast to its dtype, "
    "and the tensor is returned.";
const char *const kElementwiseInPlace =
    "In place: the result is written into this tensor and the tensor is "
    "returned; the result's kind (bool < integer < float) must not exceed "
    "its dtype's (a float function of an integer tensor raises).";
const char *const kBinaryInPlace =
    "In place: the result is written into this tensor and the tensor is "
    "returned; other broadcasts to its shape, and the result's kind (bool < "
    "integer < float) must not exceed its dtype's.";
const char *const kOperands =
    "Either operand may be a Python number (weak in type promotion) or a "
    "nested sequence.";

bool is_unary_family(OpFamily f) {
  return f == OpFamily::Unary || f == OpFamily::UnaryFloat ||
         f == OpFamily::UnaryRound || f == OpFamily::UnaryLogical ||
         f == OpFamily::UnaryBitwise;
}

bool is_binary_family(OpFamily f) {
  return f == OpFamily::Binary || f == OpFamily::BinaryFloat ||
         f == OpFamily::BinaryBitwise || f == OpFamily::Compare;
}

// The catalogue's elementwise ops of one arity (ops with attributes, such
// as clamp, have bindings of their own), then their aliases.
std::vector<Named> elementwise(bool (*family)(OpFamily)) {
  std::vector<Named> ops;
  for (int i = 0; i < kNumOps; ++i) {
    const OpDef &d = op_def(static_cast<OpId>(i));
    if (family(d.family) && d.attrs.empty())
      ops.push_back({d.name, d.id});
  }
  for (const Named &a : kAliases)
    if (family(op_def(a.op).family))
      ops.push_back(a);
  return ops;
}

// A binary op's operands as the core takes them: tensors, numbers, or a
// sequence made a tensor like the other operand.
std::pair<Operand, Operand> operands(OpId op, py::handle a, py::handle b) {
  auto one = [&](py::handle h, py::handle other) {
    if (py::isinstance<TensorImpl>(h))
      return Operand(h.cast<Tensor>());
    Scalar s;
    if (to_scalar(h, &s))
      return Operand(s);
    if (!py::isinstance<TensorImpl>(other))
      fail(ErrorKind::Type, "[", op_name(op),
           "] expected a tensor operand, got ", py::repr(a).cast<std::string>(),
           " and ", py::repr(b).cast<std::string>());
    return Operand(as_tensor(op_name(op), h, other.cast<Tensor>()));
  };
  return {one(a, b), one(b, a)};
}

// a op b where either side may be a Python number.
py::object apply_binary(OpId op, py::handle a, py::handle b) {
  if (py::isinstance<TensorImpl>(a) && py::isinstance<TensorImpl>(b))
    return py::cast(binary(op, a.cast<Tensor>(), b.cast<Tensor>()));
  auto [oa, ob] = operands(op, a, b);
  return py::cast(binary(op, oa, ob));
}

// add/sub's alpha: a Python or NumPy number, or a 0-d tensor's value.
Scalar alpha_scalar(OpId op, py::handle alpha) {
  py::object value = py::reinterpret_borrow<py::object>(alpha);
  if (py::isinstance<TensorImpl>(alpha) && alpha.cast<Tensor>()->ndim() == 0)
    value = alpha.attr("item")();
  Scalar s;
  if (!to_scalar(value, &s))
    fail(ErrorKind::Type, "[", op_name(op),
         "] argument 'alpha' must be a number, got ", type_name(alpha));
  return s;
}

// Python operators return NotImplemented for operands they do not know, so
// that Python can try the reflected operation.
bool operand_ok(py::handle h) {
  Scalar s;
  return py::isinstance<TensorImpl>(h) || to_scalar(h, &s) ||
         py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h) ||
         py::isinstance<py::array>(h);
}

// a op= b; a Python number is made directly in the compute dtype.
Tensor inplace(OpId op, const Tensor &a, py::handle b) {
  Scalar s;
  if (to_scalar(b, &s))
    binary_inplace(op, a, s);
  else
    binary_inplace(op, a, as_tensor(op_name(op), b, a));
  return a;
}

std::optional<Scalar> opt_scalar(const char *op, py::handle h) {
  if (h.is_none())
    return std::nullopt;
  Scalar s;
  if (!to_scalar(h, &s))
    fail(ErrorKind::Type, "[", op, "] bound must be a number or a tensor, got ",
         py::repr(h).cast<std::string>());
  return s;
}

// The eager reductions read an empty dim list as every dim, as PyTorch (the
// core's empty axes reduce nothing, as a graph's).
std::optional<Dims> reduce_axes(const char *op, py::handle dim) {
  std::optional<Dims> axes = to_axes(op, dim);
  return axes && axes->empty() ? std::nullopt : axes;
}

// `dtype` is what the reduction reads and what it returns, even where the
// core accumulates wider (integer sums run in int64).
Tensor reduce_py(OpId op, const Tensor &x, py::object dim, bool keepdim,
                 py::object dtype) {
  if (dtype.is_none())
    return reduce(op, x, reduce_axes(op_name(op), dim), keepdim);
  const DType t = to_dtype(op_name(op), dtype);
  Tensor y = reduce(op, cast(x, t), reduce_axes(op_name(op), dim), keepdim);
  return y->dtype == t ? y : cast(y, t);
}

// max/min: max() reduces everything; max(dim) returns (values, indices), a
// plain tuple that devrt's max makes a devrt.return_types.max; max(tensor)
// is maximum.
py::object extremum(OpId reduce_op, OpId arg_op, OpId binary_op,
                    const Tensor &x, py::object dim, bool keepdim) {
  if (dim.is_none())
    return py::cast(reduce(reduce_op, x, std::nullopt, false));
  if (py::isinstance<TensorImpl>(dim))
    return py::cast(binary(binary_op, x, dim.cast<Tensor>()));
  int64_t d = dim.cast<int64_t>();
  Tensor values = reduce(reduce_op, x, Dims{d}, keepdim);
  // argmax has no bool kernel (nor has PyTorch's), max(dim) takes bools.
  Tensor indices = arg_reduce(
      arg_op, x->dtype == DType::Bool ? cast(x, DType::Int32) : x, d, keepdim);
  return py::make_tuple(values, indices);
}

// var's correction: any number, as in PyTorch (unbiased picks 1 or 0).
Scalar correction_of(const char *op, py::object unbiased,
                     py::object correction) {
  Scalar s = Scalar::from_int(1);
  if (!correction.is_none()) {
    if (!to_scalar(correction, &s))
      fail(ErrorKind::Type, "[", op,
           "] argument 'correction' must be a number, got ",
           type_name(correction));
  } else if (!unbiased.is_none()) {
    s = Scalar::from_int(unbiased.cast<bool>() ? 1 : 0);
  }
  return s;
}

// Python's number protocol straight into the core: `a + b` on tensors
// calls this C function instead of looking up __add__ and going through
// pybind11's overload dispatch. Python calls the same slot for the reflected
// case (`2 + t`), with the operands in their original order.
template <OpId Op> PyObject *number_slot(PyObject *a, PyObject *b) noexcept {
  try {
    py::handle ha(a), hb(b);
    bool a_t = py::isinstance<TensorImpl>(ha);
    if (!operand_ok(a_t ? hb : ha))
      return Py_NewRef(Py_NotImplemented);
    return apply_binary(Op, ha, hb).release().ptr();
  } catch (py::error_already_set &e) {
    e.restore();
  } catch (...) {
    translate(std::current_exception());
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_RuntimeError, "[devrt] unknown C++ error");
  }
  return nullptr;
}

// In-place operators (`a += b`): a is always the tensor.
template <OpId Op>
PyObject *inplace_number_slot(PyObject *a, PyObject *b) noexcept {
  try {
    py::handle ha(a), hb(b);
    if (!py::isinstance<TensorImpl>(ha) || !operand_ok(hb))
      return Py_NewRef(Py_NotImplemented);
    inplace(Op, ha.cast<Tensor>(), hb);
    return Py_NewRef(a);
  } catch (py::error_already_set &e) {
    e.restore();
  } catch (...) {
    translate(std::current_exception());
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_RuntimeError, "[devrt] unknown C++ error");
  }
  return nullptr;
}

void install_number_slots(py::class_<TensorImpl, Tensor> &cls) {
  // Note: only the base class gets the direct slots; Python subclasses
  // (nn.Parameter) keep CPython's generic slots, which find the __add__
  // methods defined above and behave the same.
  PyNumberMethods *n =
      reinterpret_cast<PyTypeObject *>(cls.ptr())->tp_as_number;
  n->nb_add = number_slot<OpId::add>;
  n->nb_subtract = number_slot<OpId::sub>;
  n->nb_multiply = number_slot<OpId::mul>;
  n->nb_true_divide = number_slot<OpId::div>;
  n->nb_inplace_add = inplace_number_slot<OpId::add>;
  n->nb_inplace_subtract = inplace_number_slot<OpId::sub>;
  n->nb_inplace_multiply = inplace_number_slot<OpId::mul>;
  n->nb_inplace_true_divide = inplace_number_slot<OpId::div>;
}

} // namespace

void init_ops(py::module_ &m, py::class_<TensorImpl, Tensor> &cls) {
  for (const Named &u : elementwise(is_unary_family)) {
    OpId op = u.op;
    auto fn = [op](const Tensor &x) { return unary(op, x); };
    const std::string doc = op_doc(op, alias_note(u));
    m.def(u.name, fn, py::arg("input"), doc.c_str());
    cls.def(u.name, fn, doc.c_str());
    // In-place form: computed, then written back (shares the value checks
    // of copy_, and rebases the autograd history).
    const std::string inplace_name = std::string(u.name) + "_";
    cls.def(
        inplace_name.c_str(),
        [op, inplace_name](const Tensor &x) {
          DType compute, result;
          unary_result_types(op, x->dtype, &compute, &result);
          check_inplace_result(op, result, x->dtype);
          apply_inplace(inplace_name.c_str(), x, {},
                        autograd::saves_input(op, 0),
                        [op](const Tensor &old) { return unary(op, old); });
          return x;
        },
        op_doc(op, notes({kElementwiseInPlace, alias_note(u)})).c_str());
  }
  for (const Named &b : elementwise(is_binary_family)) {
    OpId op = b.op;
    if (op == OpId::add || op == OpId::sub) {
      // add and sub scale `other` by the keyword `alpha`, as in PyTorch.
      auto fn = [op](py::handle a, py::handle o, py::handle alpha) {
        const Scalar al = alpha_scalar(op, alpha);
        auto [oa, oo] = operands(op, a, o);
        return py::cast(add_sub(op, oa, oo, al));
      };
      const std::string alpha_note =
          std::string("alpha scales other first: input ") +
          (op == OpId::add ? "+" : "-") +
          " alpha * other, the product computed in the dtype the result "
          "computes in; an integer result takes only an integer alpha.";
      const std::string doc =
          op_doc(op, notes({alpha_note, kOperands, alias_note(b)}));
      m.def(b.name, fn, py::arg("input"), py::arg("other"), py::kw_only(),
            py::arg("alpha") = 1, doc.c_str());
      cls.def(b.name, fn, py::arg("other"), py::kw_only(), py::arg("alpha") = 1,
              doc.c_str());
      cls.def((std::string(b.name) + "_").c_str(),
              [op](const Tensor &a, py::handle o, py::handle alpha) {
                add_sub_(op, a, operands(op, py::cast(a), o).second,
                         alpha_scalar(op, alpha));
                return a;
              },
              py::arg("other"), py::kw_only(), py::arg("alpha") = 1,
              op_doc(op, notes({kBinaryInPlace, alpha_note, alias_note(b)}))
                  .c_str());
      continue;
    }
    auto fn = [op](py::handle a, py::handle o) {
      return apply_binary(op, a, o);
    };
    const std::string doc = op_doc(op, notes({kOperands, alias_note(b)}));
    m.def(b.name, fn, py::arg("input"), py::arg("other"), doc.c_str());
    cls.def(b.name, fn, py::arg("other"), doc.c_str());
    cls.def((std::string(b.name) + "_").c_str(),
            [op](const Tensor &a, py::handle o) { return inplace(op, a, o); },
            py::arg("other"),
            op_doc(op, notes({kBinaryInPlace, alias_note(b)})).c_str());
  }

  // Python operators.
  struct Operator {
    const char *name, *reflected, *inplace, *symbol;
    OpId op;
  };
  const Operator ops[] = {
      {"__add__", "__radd__", "__iadd__", "+", OpId::add},
      {"__sub__", "__rsub__", "__isub__", "-", OpId::sub},
      {"__mul__", "__rmul__", "__imul__", "*", OpId::mul},
      {"__truediv__", "__rtruediv__", "__itruediv__", "/", OpId::div},
      {"__floordiv__", "__rfloordiv__", "__ifloordiv__", "//",
       OpId::floor_divide},
      {"__mod__", "__rmod__", "__imod__", "%", OpId::remainder},
      {"__pow__", "__rpow__", "__ipow__", "**", OpId::pow},
      {"__and__", "__rand__", "__iand__", "&", OpId::bitwise_and},
      {"__or__", "__ror__", "__ior__", "|", OpId::bitwise_or},
      {"__xor__", "__rxor__", "__ixor__", "^", OpId::bitwise_xor},
  };
  const std::string not_implemented =
      " NotImplemented for an operand devrt does not take, so that Python "
      "tries the other side.";
  for (const Operator &o : ops) {
    OpId op = o.op;
    const std::string sym = o.symbol;
    cls.def(
        o.name,
        [op](py::handle a, py::handle b) -> py::object {
          if (!operand_ok(b))
            return py::reinterpret_borrow<py::object>(Py_NotImplemented);
          return apply_binary(op, a, b);
        },
        op_doc(op, "The operator self " + sym + " other." + not_implemented)
            .c_str());
    cls.def(
        o.reflected,
        [op](py::handle a, py::handle b) -> py::object {
          if (!operand_ok(b))
            return py::reinterpret_borrow<py::object>(Py_NotImplemented);
          return apply_binary(op, b, a);
        },
        op_doc(op, "The reflected operator other " + sym +
                       " self, for a "
                       "left operand that is not a tensor." +
                       not_implemented)
            .c_str());
    cls.def(
        o.inplace,
        [op](const Tensor &a, py::handle b) { return inplace(op, a, b); },
        op_doc(op, "The operator self " + sym + "= other. " + kBinaryInPlace)
            .c_str());
  }
  struct Compare {
    const char *name, *symbol;
    OpId op;
  };
  const Compare compares[] = {
      {"__eq__", "==", OpId::eq}, {"__ne__", "!=", OpId::ne},
      {"__lt__", "<", OpId::lt},  {"__le__", "<=", OpId::le},
      {"__gt__", ">", OpId::gt},  {"__ge__", ">=", OpId::ge}};
  for (const Compare &c : compares) {
    OpId op = c.op;
    cls.def(
        c.name,
        [op](py::handle a, py::handle b) -> py::object {
          if (!operand_ok(b))
            return py::reinterpret_borrow<py::object>(Py_NotImplemented);
          return apply_binary(op, a, b);
        },
        op_doc(op, std::string("The operator self ") + c.symbol + " other." +
                       not_implemented)
            .c_str());
  }
  install_number_slots(cls);
  cls.attr("__hash__") =
      py::module_::import("builtins").attr("object").attr("__hash__");
  cls.def(
         "__neg__", [](const Tensor &x) { return unary(OpId::neg, x); },
         op_doc(OpId::neg, "The operator -self.").c_str())
      .def(
          "__pos__", [](const Tensor &x) { return x; },
          "The operator +self: the tensor itself.")
      .def(
          "__abs__", [](const Tensor &x) { return unary(OpId::abs, x); },
          op_doc(OpId::abs, "abs(self).").c_str())
      .def(
          "__invert__",
          [](const Tensor &x) {
            return unary(x->dtype == DType::Bool ? OpId::logical_not
                                                 : OpId::bitwise_not,
                         x);
          },
          op_doc(OpId::bitwise_not,
                 "The operator ~self (logical_not for a bool tensor).")
              .c_str());

  // clamp
  // Bounds are numbers, or tensors (never one of each, as PyTorch).
  auto clamp_fn = [](const Tensor &x, py::object lo, py::object hi) {
    const bool lo_t = py::isinstance<TensorImpl>(lo),
               hi_t = py::isinstance<TensorImpl>(hi);
    if (!lo_t && !hi_t)
      return clamp(x, opt_scalar("clamp", lo), opt_scalar("clamp", hi));
    if ((!lo_t && !lo.is_none()) || (!hi_t && !hi.is_none()))
      fail(ErrorKind::Type,
           "[clamp] min and max must both be numbers or both be tensors, got ",
           type_name(lo), " and ", type_name(hi));
    auto bound = [](py::handle h, bool is_t) {
      return is_t ? std::optional<Tensor>(h.cast<Tensor>()) : std::nullopt;
    };
    return clamp(x, bound(lo, lo_t), bound(hi, hi_t));
  };
  const std::string clamp_note =
      "min and max are both numbers or both tensors (broadcast with input), "
      "at least one given. A float bound on an integer or bool tensor "
      "computes in float32, an int bound on a bool tensor in int64; a NaN "
      "bound makes every element NaN.";
  for (const char *name : {"clamp", "clip"}) {
    const std::string doc = op_doc(
        OpId::clamp, notes({clamp_note, alias_note({name, OpId::clamp})}));
    m.def(name, clamp_fn, py::arg("input"), py::arg("min") = py::none(),
          py::arg("max") = py::none(), doc.c_str());
    cls.def(name, clamp_fn, py::arg("min") = py::none(),
            py::arg("max") = py::none(), doc.c_str());
  }
  cls.def(
      "clamp_",
      [=](const Tensor &x, py::object lo, py::object hi) {
        apply_inplace("clamp_", x, {}, true, [&](const Tensor &old) {
          Tensor y = clamp_fn(old, lo, hi);
          check_inplace_result(OpId::clamp, y->dtype, x->dtype);
          return y;
        });
        return x;
      },
      py::arg("min") = py::none(), py::arg("max") = py::none(),
      op_doc(OpId::clamp, notes({kElementwiseInPlace, clamp_note})).c_str());

  auto where_fn = [](py::handle c, py::handle a, py::handle b) {
    Tensor cond = tensor_arg("where", "condition", c);
    // As PyTorch: tensors or numbers, not sequences.
    auto operand = [](const char *name, py::handle h) {
      Scalar s;
      if (!py::isinstance<TensorImpl>(h) && to_scalar(h, &s))
        return Operand(s);
      if (!py::isinstance<TensorImpl>(h))
        fail(ErrorKind::Type, "[where] argument '", name,
             "' must be a Tensor or a number, got ", type_name(h));
      return Operand(h.cast<Tensor>());
    };
    return where(cond, operand("input", a), operand("other", b));
  };
  const std::string where_note =
      "input and other are tensors or Python numbers (weak in type "
      "promotion, made in the result's dtype); two numbers give int64, "
      "float32 or bool, as PyTorch's default dtypes. condition is a bool (or "
      "uint8) tensor.";
  m.def("where", where_fn, py::arg("condition"), py::arg("input"),
        py::arg("other"), op_doc(OpId::where, where_note).c_str());
  cls.def(
      "where",
      [=](py::handle self, py::handle c, py::handle other) {
        return where_fn(c, self, other);
      },
      py::arg("condition"), py::arg("other"),
      op_doc(OpId::where, "Here input is this tensor. " + where_note).c_str());

  // Reductions.
  const Named reductions[] = {{"sum", OpId::sum},
                              {"prod", OpId::prod},
                              {"mean", OpId::mean},
                              {"amax", OpId::max},
                              {"amin", OpId::min}};
  for (const Named &r : reductions) {
    OpId op = r.op;
    auto fn = [op](const Tensor &x, py::object dim, Flag keepdim,
                   py::object dtype) {
      return reduce_py(op, x, dim, keepdim, dtype);
    };
    const std::string doc = op_doc(
        op, "dim: an int, a sequence of ints, or None (or an empty sequence) "
            "for every dim; keepdim keeps the reduced dims with size 1. "
            "dtype: the input is cast to it first, and the result has it.");
    m.def(r.name, fn, py::arg("input"), py::arg("dim") = py::none(),
          py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none(), doc.c_str());
    cls.def(r.name, fn, py::arg("dim") = py::none(), py::arg("keepdim") = false,
            py::kw_only(), py::arg("dtype") = py::none(), doc.c_str());
  }
  for (auto [name, op] :
       {std::pair{"any", OpId::any}, std::pair{"all", OpId::all}}) {
    OpId o = op;
    // As in PyTorch, uint8 tensors give uint8 truth values, and an empty
    // dim list reduces nothing.
    auto fn = [o](const Tensor &x, py::object dim, Flag keepdim) {
      Tensor y = reduce(o, x, to_axes(op_name(o), dim), keepdim);
      return x->dtype == DType::UInt8 ? cast(y, DType::UInt8) : y;
    };
    const std::string doc = op_doc(
        o, "dim: an int, a sequence of ints, or None for every dim (an empty "
           "sequence reduces nothing); keepdim keeps the reduced dims with "
           "size 1. A uint8 input gives uint8 truth values.");
    m.def(name, fn, py::arg("input"), py::arg("dim") = py::none(),
          py::arg("keepdim") = false, doc.c_str());
    cls.def(name, fn, py::arg("dim") = py::none(), py::arg("keepdim") = false,
            doc.c_str());
  }
  // max(input), max(input, dim, keepdim=False) and max(input, other), as
  // PyTorch's overloads: a tensor is `other` only when passed as such or in
  // second place, never as `dim=`.
  auto extremum_fn = [](OpId reduce_op, OpId arg_op, OpId binary_op) {
    return [=](const Tensor &x, py::args args, py::kwargs kwargs) {
      const char *name = op_name(reduce_op);
      if (args.size() > 2)
        fail(ErrorKind::Type, "[", name,
             "] takes at most dim and keepdim after the input, got ",
             args.size(), " positional arguments");
      py::object dim = py::none(), keepdim = py::bool_(false);
      if (args.size() > 0)
        dim = args[0];
      if (args.size() > 1)
        keepdim = args[1];
      for (auto [k, v] : kwargs) {
        const std::string key = py::str(k);
        const bool is_dim = key == "dim", is_other = key == "other";
        if ((is_dim || is_other) && args.size() > 0)
          fail(ErrorKind::Type, "[", name, "] got '", key,
               "' both by position and by keyword");
        if (is_dim && py::isinstance<TensorImpl>(v))
          fail(ErrorKind::Type, "[", name,
               "] dim must be an int, got a Tensor; pass it as `other` for "
               "the elementwise ",
               op_name(binary_op));
        if (is_other && !py::isinstance<TensorImpl>(v))
          fail(ErrorKind::Type, "[", name, "] other must be a Tensor, got ",
               py::type::of(v).attr("__name__").cast<std::string>());
        if (is_dim || is_other)
          dim = py::reinterpret_borrow<py::object>(v);
        else if (key == "keepdim")
          keepdim = py::reinterpret_borrow<py::object>(v);
        else
          fail(ErrorKind::Type, "[", name,
               "] got an unexpected keyword argument '", key, "'");
      }
      if (!dim.is_none() && !py::isinstance<TensorImpl>(dim)) {
        if (!is_index(dim)) // (an int or a NumPy integer, not a bool)
          fail(ErrorKind::Type, "[", name, "] dim must be an int, got ",
               py::type::of(dim).attr("__name__").cast<std::string>());
        dim = py::reinterpret_steal<py::object>(PyNumber_Index(dim.ptr()));
      }
      if (!py::isinstance<py::bool_>(keepdim))
        fail(ErrorKind::Type, "[", name, "] keepdim must be a bool, got ",
             py::type::of(keepdim).attr("__name__").cast<std::string>());
      return extremum(reduce_op, arg_op, binary_op, x, dim,
                      keepdim.cast<bool>());
    };
  };
  auto max_fn = extremum_fn(OpId::max, OpId::argmax, OpId::maximum);
  auto min_fn = extremum_fn(OpId::min, OpId::argmin, OpId::minimum);
  auto extremum_doc = [](OpId reduce_op, OpId arg_op, OpId binary_op) {
    const std::string n = op_name(reduce_op);
    return op_doc(reduce_op, n + "(input) reduces every element. " + n +
                                 "(input, dim, keepdim=False) returns "
                                 "(values, indices) along dim, the indices "
                                 "as " +
                                 op_name(arg_op) +
                                 " gives them (for bools "
                                 "too). " +
                                 n + "(input, other) is " + op_name(binary_op) +
                                 "(input, other).");
  };
  const std::string max_doc =
      extremum_doc(OpId::max, OpId::argmax, OpId::maximum);
  const std::string min_doc =
      extremum_doc(OpId::min, OpId::argmin, OpId::minimum);
  m.def("max", max_fn, py::arg("input"), max_doc.c_str());
  cls.def("max", max_fn, max_doc.c_str());
  m.def("min", min_fn, py::arg("input"), min_doc.c_str());
  cls.def("min", min_fn, min_doc.c_str());
  for (auto [name, op] :
       {std::pair{"argmax", OpId::argmax}, std::pair{"argmin", OpId::argmin}}) {
    OpId o = op;
    auto fn = [o](const Tensor &x, py::object dim, Flag keepdim) {
      return arg_reduce(o, x,
                        dim.is_none()
                            ? std::nullopt
                            : std::optional<int64_t>(dim.cast<int64_t>()),
                        keepdim);
    };
    const std::string doc =
        op_doc(o, "dim None reads input flattened; keepdim keeps the reduced "
                  "dim (every dim, for None) with size 1.");
    m.def(name, fn, py::arg("input"), py::arg("dim") = py::none(),
          py::arg("keepdim") = false, doc.c_str());
    cls.def(name, fn, py::arg("dim") = py::none(), py::arg("keepdim") = false,
            doc.c_str());
  }
  m.def("_argsort", &argsort, py::arg("input"), py::arg("dim"),
        py::arg("descending"),
        op_doc(OpId::argsort, "Every argument is required (devrt.argsort "
                              "gives the defaults).")
            .c_str());
  m.def("_topk", &topk, py::arg("input"), py::arg("k"), py::arg("dim"),
        py::arg("largest"),
        op_doc(OpId::argsort,
               "(values, indices) of the k largest (smallest unless largest) "
               "entries along dim, in order, ties in index order: argsort, "
               "narrowed and gathered. Every argument is required (devrt.topk "
               "gives the defaults).")
            .c_str());
  m.def("_cumsum", &cumsum, py::arg("input"), py::arg("dim"),
        op_doc(OpId::cumsum, "devrt.cumsum adds the dtype argument.").c_str());
  m.def(
      "_one_hot",
      [](const Tensor &indices, int64_t depth, py::object dtype) {
        return one_hot(indices, depth, to_dtype("one_hot", dtype));
      },
      py::arg("indices"), py::arg("depth"), py::arg("dtype"),
      "indices (integers) as one-hot vectors of depth classes along a new "
      "last axis, in dtype: eq(indices[..., None], arange(depth)), cast. "
      "An index outside [0, depth) gives a row of zeros (nn.functional."
      "one_hot refuses it first; the graph's OneHot keeps the zeros).");
  m.def("_flip", &devrt::flip, py::arg("input"), py::arg("dim"),
        "input reversed along one dim, as a new tensor (an index_select).");
  // std is a composite: sqrt of var.
  for (bool is_std : {false, true}) {
    auto fn = [is_std](const Tensor &x, py::object dim, py::object unbiased,
                       Flag keepdim, py::object correction) {
      const Scalar c =
          correction_of(is_std ? "std" : "var", unbiased, correction);
      const std::optional<Dims> axes = reduce_axes("var", dim);
      return is_std ? std_dev(x, axes, keepdim, c) : var(x, axes, keepdim, c);
    };
    const char *name = is_std ? "std" : "var";
    const std::string var_note =
        "dim: an int, a sequence of ints, or None (or an empty sequence) for "
        "every dim; keepdim keeps the reduced dims with size 1. correction: "
        "any number (default 1), or unbiased=True/False for 1/0; one that is "
        "not an integer scales the variance by N / max(0, N - correction).";
    const std::string doc =
        is_std ? "The standard deviation, sqrt(var(...)), with var's "
                 "arguments; its gradient is 0 where the variance is 0.\n\n" +
                     op_doc(OpId::var, var_note)
               : op_doc(OpId::var, var_note);
    m.def(name, fn, py::arg("input"), py::arg("dim") = py::none(),
          py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
          py::kw_only(), py::arg("correction") = py::none(), doc.c_str());
    cls.def(name, fn, py::arg("dim") = py::none(),
            py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
            py::kw_only(), py::arg("correction") = py::none(), doc.c_str());
  }
  for (auto [name, op] : {std::pair{"softmax", OpId::softmax},
                          std::pair{"log_softmax", OpId::log_softmax}}) {
    OpId o = op;
    auto fn = [o](const Tensor &x, int64_t dim, py::object dtype) {
      Tensor src = dtype.is_none() ? x : cast(x, to_dtype(op_name(o), dtype));
      return softmax(o, src, dim);
    };
    const std::string doc = op_doc(o, "dtype: the input is cast to it first.");
    m.def(name, fn, py::arg("input"), py::arg("dim"),
          py::arg("dtype") = py::none(), doc.c_str());
    cls.def(name, fn, py::arg("dim"), py::arg("dtype") = py::none(),
            doc.c_str());
  }

  // Linear algebra.
  const std::string matmul_doc = op_doc(OpId::matmul);
  const std::string mm_doc =
      op_doc(OpId::matmul, "Both operands must be 2-D (matrices).");
  const std::string bmm_doc = op_doc(
      OpId::matmul,
      "Both operands must be 3-D with equal batch sizes (no broadcast).");
  m.def("matmul", &matmul, py::arg("input"), py::arg("other"),
        matmul_doc.c_str());
  cls.def("matmul", &matmul, py::arg("other"), matmul_doc.c_str());
  m.def("mm", &mm, py::arg("input"), py::arg("mat2"), mm_doc.c_str());
  cls.def("mm", &mm, py::arg("mat2"), mm_doc.c_str());
  m.def("bmm", &bmm, py::arg("input"), py::arg("mat2"), bmm_doc.c_str());
  cls.def("bmm", &bmm, py::arg("mat2"), bmm_doc.c_str());
  cls.def(
      "__matmul__",
      [](const Tensor &a, py::handle b) -> py::object {
        if (!py::isinstance<TensorImpl>(b))
          return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(matmul(a, b.cast<Tensor>()));
      },
      op_doc(OpId::matmul,
             "The operator self @ other; NotImplemented unless other is a "
             "tensor.")
          .c_str());
  cls.def(
      "__rmatmul__",
      [](const Tensor &a, py::handle b) -> py::object {
        if (!py::isinstance<TensorImpl>(b))
          return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(matmul(b.cast<Tensor>(), a));
      },
      op_doc(OpId::matmul,
             "The reflected operator other @ self; NotImplemented unless "
             "other is a tensor.")
          .c_str());

  // Joining, splitting and gathering.
  // A tensor is a sequence of its rows, but not a sequence of tensors to
  // join: PyTorch takes a list or a tuple only.
  auto tensor_list = [](const char *op, py::handle h) {
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
      fail(ErrorKind::Type, "[", op,
           "] argument 'tensors' must be a sequence of Tensors, got ",
           type_name(h));
    std::vector<Tensor> out;
    for (py::handle item : h) {
      if (!py::isinstance<TensorImpl>(item))
        fail(ErrorKind::Type, "[", op,
             "] argument 'tensors' must be a sequence of Tensors, got ",
             type_name(item), " at position ", out.size());
      out.push_back(item.cast<Tensor>());
    }
    return out;
  };
  for (const char *name : {"cat", "concat", "concatenate"})
    m.def(
        name,
        [=](py::handle tensors, int64_t dim) {
          return cat(tensor_list("cat", tensors), dim);
        },
        py::arg("tensors"), py::arg("dim") = 0,
        op_doc(OpId::cat,
               notes({"tensors: a list or tuple of tensors on one device.",
                      alias_note({name, OpId::cat})}))
            .c_str());
  m.def(
      "stack",
      [=](py::handle tensors, int64_t dim) {
        return stack(tensor_list("stack", tensors), dim);
      },
      py::arg("tensors"), py::arg("dim") = 0,
      "The tensors (a list or tuple, all of one shape) joined along a new "
      "dimension `dim`: cat of each with a dimension of size 1 inserted.");
  const std::string gather_doc =
      "input read at `index` along dim: out[i][j] = input[i][index[i][j]] for "
      "dim 1. index is an integer tensor of input's rank, no larger than "
      "input outside dim; negative entries are out of range.";
  m.def("gather", &gather, py::arg("input"), py::arg("dim"), py::arg("index"),
        gather_doc.c_str());
  cls.def("gather", &gather, py::arg("dim"), py::arg("index"),
          gather_doc.c_str());
  const std::string scatter_add_note =
      "index is an integer tensor no larger than src in any dimension (only "
      "its extent of src is added; negative entries are out of range); src "
      "has input's dtype.";
  m.def("scatter_add", &scatter_add, py::arg("input"), py::arg("dim"),
        py::arg("index"), py::arg("src"),
        op_doc(OpId::scatter_add, scatter_add_note).c_str());
  cls.def("scatter_add", &scatter_add, py::arg("dim"), py::arg("index"),
          py::arg("src"), op_doc(OpId::scatter_add, scatter_add_note).c_str());
  cls.def(
      "scatter_add_",
      [](const Tensor &x, int64_t dim, const Tensor &index, const Tensor &src) {
        apply_inplace("scatter_add_", x, {src}, false, [&](const Tensor &old) {
          return scatter_add(old, dim, index, src);
        });
        return x;
      },
      py::arg("dim"), py::arg("index"), py::arg("src"),
      op_doc(OpId::scatter_add, notes({kUnaryInPlace, scatter_add_note}))
          .c_str());
  const std::string index_select_doc =
      "The entries of input at the positions of a 1-D integer `index` along "
      "dim, as a new tensor; negative entries are out of range.";
  m.def("index_select", &index_select, py::arg("input"), py::arg("dim"),
        py::arg("index"), index_select_doc.c_str());
  cls.def("index_select", &index_select, py::arg("dim"), py::arg("index"),
          index_select_doc.c_str());
  auto masked_fill_fn = [](const Tensor &x, const Tensor &mask,
                           py::handle value) {
    if (py::isinstance<TensorImpl>(value))
      return masked_fill(x, mask, value.cast<Tensor>());
    Scalar s;
    if (!to_scalar(value, &s))
      fail(ErrorKind::Type,
           "[masked_fill] argument 'value' must be a number or a 0-d "
           "Tensor, got ",
           type_name(value));
    return masked_fill(x, mask, s);
  };
  const std::string masked_fill_doc =
      "input with `value` (a number or a 0-d tensor) where the bool `mask`, "
      "broadcast to input's shape, is True.";
  m.def("masked_fill", masked_fill_fn, py::arg("input"), py::arg("mask"),
        py::arg("value"), masked_fill_doc.c_str());
  cls.def("masked_fill", masked_fill_fn, py::arg("mask"), py::arg("value"),
          masked_fill_doc.c_str());
  cls.def(
      "masked_fill_",
      [=](const Tensor &x, const Tensor &mask, py::handle value) {
        std::vector<Tensor> operands;
        if (py::isinstance<TensorImpl>(value))
          operands.push_back(value.cast<Tensor>());
        apply_inplace("masked_fill_", x, operands, false,
                      [&](const Tensor &old) {
                        return masked_fill_fn(old, mask, value);
                      });
        return x;
      },
      py::arg("mask"), py::arg("value"),
      (masked_fill_doc + "\n\n" + kUnaryInPlace).c_str());
  // split/chunk return views (narrow), as PyTorch.
  auto split_fn = [](const Tensor &x, py::object size, int64_t dim) {
    if (is_index(size))
      return split(x, size.cast<int64_t>(), dim);
    if (x->ndim()) // a bad dim is reported before bad sizes
      normalize_axis("split", dim, x->ndim());
    return split(x, to_dims("split", size), dim);
  };
  const std::string split_doc =
      "The tensor cut along dim into views: pieces of an int size (the last "
      "one may be shorter), or of the sizes in a sequence, which must sum to "
      "the "
      "dim's size.";
  m.def("split", split_fn, py::arg("tensor"), py::arg("split_size_or_sections"),
        py::arg("dim") = 0, split_doc.c_str());
  cls.def("split", split_fn, py::arg("split_size"), py::arg("dim") = 0,
          split_doc.c_str());

  const std::string chunk_doc =
      "input cut along dim into at most `chunks` views of equal size "
      "(ceil(size / chunks); the last one may be shorter, and a dim of size 0 "
      "gives `chunks` empty views).";
  m.def("chunk", &chunk, py::arg("input"), py::arg("chunks"),
        py::arg("dim") = 0, chunk_doc.c_str());
  cls.def("chunk", &chunk, py::arg("chunks"), py::arg("dim") = 0,
          chunk_doc.c_str());

  // Convolution and pooling (NCHW).
  auto pair = [](const char *op, py::handle h, const char *what) {
    Dims d = is_index(h) ? Dims{h.cast<int64_t>(), h.cast<int64_t>()}
                         : to_dims(op, h);
    if (d.size() != 2)
      fail(ErrorKind::Value, "[", op, "] ", what,
           " must be an int or a pair, got ", d);
    return d;
  };
  auto geometry = [=](const char *op, py::handle stride, py::handle padding,
                      py::handle dilation) {
    Conv2dGeometry g;
    Dims s = pair(op, stride, "stride"), p = pair(op, padding, "padding"),
         d = pair(op, dilation, "dilation");
    for (int i = 0; i < 2; ++i) {
      g.stride[i] = s[i];
      g.padding[i] = p[i];
      g.dilation[i] = d[i];
    }
    return g;
  };
  m.def(
      "conv2d",
      [=](const Tensor &x, const Tensor &w, std::optional<Tensor> bias,
          py::object stride, py::object padding, py::object dilation,
          int64_t groups) {
        py::object pad = padding;
        if (py::isinstance<py::str>(padding)) {
          std::string mode = padding.cast<std::string>();
          Dims d = pair("conv2d", dilation, "dilation"),
               st = pair("conv2d", stride, "stride");
          if (mode == "valid") {
            pad = py::int_(0);
          } else if (mode == "same") {
            if (st[0] != 1 || st[1] != 1)
              fail(ErrorKind::Value,
                   "[conv2d] padding='same' needs stride 1, got ", st);
            int64_t ph = d[0] * (w->shape[2] - 1),
                    pw = d[1] * (w->shape[3] - 1);
            if (ph % 2 || pw % 2)
              fail(ErrorKind::Value, "[conv2d] padding='same' with an even "
                                     "effective kernel is not supported");
            pad = py::make_tuple(ph / 2, pw / 2);
          } else {
            fail(ErrorKind::Value,
                 "[conv2d] padding must be 'valid', 'same', "
                 "an int or a pair, got '",
                 mode, "'");
          }
        }
        return conv2d(x, w, bias, geometry("conv2d", stride, pad, dilation),
                      groups);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
      py::arg("groups") = 1,
      op_doc(OpId::conv2d,
             "stride, padding and dilation: an int or a pair. padding may "
             "also be 'valid' (0) or 'same' (stride 1 and an odd effective "
             "kernel). bias: None or (OC,).")
          .c_str());
  auto pool_args = [=](const char *op, py::object kernel, py::object stride,
                       py::object padding, py::object dilation, bool ceil) {
    if (ceil)
      fail(ErrorKind::NotImplemented, "[", op,
           "] ceil_mode=True is not supported");
    Dims k = pair(op, kernel, "kernel_size");
    Conv2dGeometry g =
        geometry(op, stride.is_none() ? kernel : stride, padding, dilation);
    return std::make_pair(k, g);
  };
  m.def(
      "max_pool2d",
      [=](const Tensor &x, py::object kernel, py::object stride,
          py::object padding, py::object dilation, bool ceil_mode) {
        auto [k, g] = pool_args("max_pool2d", kernel, stride, padding, dilation,
                                ceil_mode);
        return max_pool2d(x, k[0], k[1], g);
      },
      py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = 0, py::arg("dilation") = 1,
      py::arg("ceil_mode") = false,
      op_doc(OpId::max_pool2d,
             "kernel_size, stride (default: kernel_size), padding and "
             "dilation: an int or a pair; ceil_mode=True is not supported.")
          .c_str());
  m.def(
      "avg_pool2d",
      [=](const Tensor &x, py::object kernel, py::object stride,
          py::object padding, bool ceil_mode, bool count_include_pad) {
        auto [k, g] = pool_args("avg_pool2d", kernel, stride, padding,
                                py::int_(1), ceil_mode);
        return avg_pool2d(x, k[0], k[1], g, count_include_pad);
      },
      py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = 0, py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true,
      "The mean of each window of an (N, C, H, W) input: the window's sum "
      "divided by its size, or with count_include_pad=False by its in-image "
      "taps.\n\n"
      "kernel_size, stride (default: kernel_size) and padding: an int or a "
      "pair; ceil_mode=True is not supported.");
  m.def(
      "unfold",
      [=](const Tensor &x, py::object kernel, py::object dilation,
          py::object padding, py::object stride) {
        Dims k = pair("unfold", kernel, "kernel_size");
        return im2col(x, k[0], k[1],
                      geometry("unfold", stride, padding, dilation));
      },
      py::arg("input"), py::arg("kernel_size"), py::arg("dilation") = 1,
      py::arg("padding") = 0, py::arg("stride") = 1,
      op_doc(OpId::im2col,
             "kernel_size, dilation, padding and stride: an int or a pair; "
             "the padding reads 0.")
          .c_str());
  m.def(
      "fold",
      [=](const Tensor &cols, py::object output_size, py::object kernel,
          py::object dilation, py::object padding, py::object stride) {
        Dims k = pair("fold", kernel, "kernel_size");
        Dims size = pair("fold", output_size, "output_size");
        return col2im(cols, size[0], size[1], k[0], k[1],
                      geometry("fold", stride, padding, dilation));
      },
      py::arg("input"), py::arg("output_size"), py::arg("kernel_size"),
      py::arg("dilation") = 1, py::arg("padding") = 0, py::arg("stride") = 1,
      op_doc(OpId::col2im,
             "output_size: the image's (H, W); kernel_size, dilation, padding "
             "and stride as for unfold.")
          .c_str());

  // Views and memory as module functions.
  m.def(
      "reshape",
      [](const Tensor &x, py::object shape) {
        return reshape(x, to_dims("reshape", shape));
      },
      py::arg("input"), py::arg("shape"),
      op_doc(OpId::reshape, "shape: a sequence of ints; one may be -1.")
          .c_str());
  m.def("transpose", &transpose, py::arg("input"), py::arg("dim0"),
        py::arg("dim1"), "A view of input with dims dim0 and dim1 swapped.");
  m.def("t", &devrt::t, py::arg("input"),
        "A view of an input of at most 2 dims with its two dims swapped (the "
        "input itself below 2).");
  m.def(
      "permute",
      [](const Tensor &x, py::object dims) {
        return permute(x, to_dims("permute", dims));
      },
      py::arg("input"), py::arg("dims"),
      op_doc(OpId::permute,
             "dims: a permutation of input's dims (negative ones count from "
             "the end).")
          .c_str());
  m.def(
      "squeeze",
      [](const Tensor &x, py::object dim) {
        return squeeze(x, to_axes("squeeze", dim));
      },
      py::arg("input"), py::arg("dim") = py::none(),
      "A view of input without its dims of size 1 (only those among `dim`, "
      "an int or a sequence, when given; others are kept).");
  m.def("unsqueeze", &unsqueeze, py::arg("input"), py::arg("dim"),
        "A view of input with a dim of size 1 inserted at `dim`.");
  m.def("flatten", &flatten, py::arg("input"), py::arg("start_dim") = 0,
        py::arg("end_dim") = -1,
        "input with dims start_dim to end_dim merged into one (a view where "
        "the strides allow one, else a copy).");
  m.def("clone", &clone, py::arg("input"),
        "A copy of input in new contiguous memory; gradients flow back to "
        "input.");
  m.def("nonzero", &nonzero, py::arg("input"), op_doc(OpId::nonzero).c_str());
  cls.def("nonzero", &nonzero, op_doc(OpId::nonzero).c_str());
  m.def(
      "broadcast_shapes",
      [](py::args shapes) {
        Dims out;
        for (py::handle s : shapes)
          out = broadcast_shapes("broadcast_shapes", out,
                                 to_dims("broadcast_shapes", s));
        return dims_tuple(out);
      },
      "The shape the given shapes broadcast to, as a tuple; ValueError when "
      "they do not.");
  m.def("_index", &index, py::arg("input"), py::arg("indices"),
        py::arg("wrap") = true,
        op_doc(OpId::index,
               "indices: one entry per leading dim, an int64 tensor, a bool "
               "tensor (its nonzero() columns) or None to keep the dim "
               "whole.")
            .c_str());
  m.def("_index_put_", &index_put_, py::arg("input"), py::arg("indices"),
        py::arg("values"), py::arg("accumulate") = false,
        py::arg("wrap") = true,
        op_doc("Write values into input at indices, in place.", OpId::index_put,
               "indices as for _index; values broadcast to the indexed "
               "shape.")
            .c_str());
  m.def(
      "_fill_",
      [](const Tensor &t, py::handle v) {
        Scalar s;
        if (!to_scalar(v, &s))
          fail(ErrorKind::Type, "[fill_] value must be a number");
        fill_(t, s);
      },
      op_doc("Fill the tensor with value, a number its dtype can hold.",
             OpId::fill)
          .c_str());
  m.def("_copy_", &copy_, py::arg("dst"), py::arg("src"),
        op_doc("Copy src into dst (src broadcasts to dst's shape).", OpId::copy)
            .c_str());
  m.def(
      "adam_step",
      [](const Tensor &param, const Tensor &grad, const Tensor &exp_avg,
         const Tensor &exp_avg_sq, py::handle step_size,
         py::handle root_divisor, double beta1, double beta2, double eps,
         const std::optional<Tensor> &max_exp_avg_sq) {
        // A Python number becomes a wrapped number, which the core gives
        // param's dtype and device once the operands are checked.
        auto scale = [](const char *what, py::handle h) -> Tensor {
          if (h.is_none())
            return nullptr;
          if (py::isinstance<TensorImpl>(h))
            return h.cast<Tensor>();
          Scalar s;
          if (!to_scalar(h, &s))
            fail(ErrorKind::Type, "[adam_step] ", what,
                 " must be a number or a 0-d tensor, got ",
                 py::str(py::type::of(h).attr("__name__")).cast<std::string>());
          return scalar_tensor(s, DType::Float64, kCPU);
        };
        Tensor ss = scale("step_size", step_size);
        if (!ss)
          fail(ErrorKind::Type, "[adam_step] step_size must be a number or a ",
               "0-d tensor, got None");
        adam_step(param, grad, exp_avg, exp_avg_sq,
                  max_exp_avg_sq.value_or(nullptr), ss,
                  scale("root_divisor", root_divisor), beta1, beta2, eps);
        return param;
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
      py::arg("exp_avg_sq"), py::arg("step_size"),
      py::arg("root_divisor") = py::none(), py::kw_only(), py::arg("beta1"),
      py::arg("beta2"), py::arg("eps"), py::arg("max_exp_avg_sq") = py::none(),
      op_doc(OpId::adam_step,
             "exp_avg and exp_avg_sq are m and v, max_exp_avg_sq is v_max "
             "(AMSGrad, when given); step_size and root_divisor are numbers "
             "or 0-d tensors on param's device (root_divisor None: 1). One "
             "kernel where the device has it, the same core ops elsewhere; "
             "not recorded by autograd. Returns param (docs/kernels.md).")
          .c_str());
  m.def(
      "sgd_step",
      [](const Tensor &param, const Tensor &grad, py::handle lr) {
        Tensor rate;
        if (py::isinstance<TensorImpl>(lr)) {
          rate = lr.cast<Tensor>();
        } else {
          // A Python number becomes a wrapped number, which the core gives
          // param's dtype and device once the operands are checked.
          Scalar s;
          if (!to_scalar(lr, &s))
            fail(
                ErrorKind::Type,
                "[sgd_step] lr must be a number or a 0-d tensor, got ",
                py::str(py::type::of(lr).attr("__name__")).cast<std::string>());
          rate = scalar_tensor(s, DType::Float64, kCPU);
        }
        sgd_step(param, grad, rate);
        return param;
      },
      py::arg("param"), py::arg("grad"), py::arg("lr"),
      op_doc(OpId::sgd_step,
             "lr is a number or a 0-d tensor on param's device. One kernel "
             "where the device has it, the same core ops elsewhere; not "
             "recorded by autograd. Returns param (docs/kernels.md).")
          .c_str());
  m.def("relu_backward", &relu_backward, py::arg("grad"), py::arg("output"),
        op_doc(OpId::relu_backward,
               "grad is g and output y. One kernel where the device has it; "
               "where(y <= 0, 0, g) elsewhere and when autograd records it.")
            .c_str());
  m.def(
      "binary_cross_entropy",
      [](py::handle input, py::handle target) {
        return binary_cross_entropy(
            tensor_arg("binary_cross_entropy", "input", input),
            tensor_arg("binary_cross_entropy", "target", target));
      },
      py::arg("input"), py::arg("target"),
      op_doc(OpId::binary_cross_entropy,
             "Elementwise, before any reduction (nn.functional's "
             "binary_cross_entropy reduces it).")
          .c_str());
}

} // namespace devrt::bind
