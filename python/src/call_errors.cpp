// Argument errors of the bindings in devrt's own words.
//
// Note: when no signature of a function accepts its arguments, pybind11
// raises TypeError("f(): incompatible function arguments. The following
// argument types are supported: ..."), and a failed conversion inside a
// binding raises RuntimeError("Unable to cast Python instance ..."). Neither
// says which argument was wrong in the "[op] ..." form of devrt's errors.
// Every function object of _C shares pybind11's one dispatcher through its
// PyMethodDef, so install_call_errors() points those at checked_call, which
// calls the dispatcher and, only when the call failed, rewrites such errors:
// it matches the arguments against the signature pybind11 recorded and names
// the first one of the wrong kind. A successful call pays one extra C call.
#include "bindings.h"

#include <string>
#include <vector>

namespace devrt::bind {

namespace {

using Dispatch = PyObject *(*)(PyObject *, PyObject *const *, size_t,
                               PyObject *);
Dispatch g_dispatch = nullptr;
PyObject *g_tensor_type = nullptr;

struct Param {
  std::string name, type;
  bool has_default = false;
};

// "(a: T, b: U = d, *, c: V = e) -> R" -> its parameters, "*" and "*args"
// included. Commas inside brackets, parentheses or quotes do not split.
std::vector<Param> parse_signature(const std::string &sig) {
  std::vector<Param> out;
  size_t open = sig.find('(');
  if (open == std::string::npos)
    return out;
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  char quote = 0;
  size_t i = open + 1;
  for (; i < sig.size(); ++i) {
    char c = sig[i];
    if (quote) {
      if (c == quote)
        quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0)
        break;
      --depth;
    } else if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!cur.empty())
    parts.push_back(cur);
  for (std::string p : parts) {
    size_t start = p.find_first_not_of(' ');
    if (start == std::string::npos)
      continue;
    p = p.substr(start);
    Param param;
    size_t eq = p.find(" = ");
    if (eq != std::string::npos) {
      param.has_default = true;
      p = p.substr(0, eq);
    }
    size_t colon = p.find(": ");
    param.name = p.substr(0, colon);
    if (colon != std::string::npos)
      param.type = p.substr(colon + 2);
    out.push_back(param);
  }
  return out;
}

std::string plain(std::string type) {
  const std::string prefix = "devrt._C.";
  for (size_t at; (at = type.find(prefix)) != std::string::npos;)
    type.erase(at, prefix.size());
  return type;
}

bool is_tensor(PyObject *o) {
  return PyObject_IsInstance(o, g_tensor_type) == 1;
}

bool is_int(PyObject *o) { return is_index(py::handle(o)); }

std::string type_of(PyObject *o) { return type_name(py::handle(o)); }

// Why `o` cannot be passed as a parameter of type `type`; empty when it can
// (or when the type is not one that is checked here).
std::string mismatch(const std::string &type, PyObject *o) {
  std::string t = plain(type);
  const std::string or_none = " | None";
  if (t.size() > or_none.size() &&
      t.compare(t.size() - or_none.size(), or_none.size(), or_none) == 0) {
    if (o == Py_None)
      return {};
    std::string why = mismatch(t.substr(0, t.size() - or_none.size()), o);
    return why.empty() ? why : why.insert(why.find(", got"), " or None");
  }
  if (t == "Tensor") {
    if (!is_tensor(o))
      return "must be a Tensor, got " + type_of(o);
  } else if (t.find("[Tensor") != std::string::npos) {
    bool or_none = t.find("[Tensor | None]") != std::string::npos;
    std::string what =
        or_none ? "a sequence of Tensors or None" : "a sequence of Tensors";
    if (!PyList_Check(o) && !PyTuple_Check(o))
      return "must be " + what + ", got " + type_of(o);
    py::sequence seq = py::reinterpret_borrow<py::sequence>(o);
    for (size_t i = 0; i < seq.size(); ++i) {
      py::object item = seq[i];
      if (!is_tensor(item.ptr()) && !(or_none && item.is_none()))
        return "must be " + what + ", got " + type_of(item.ptr()) +
               " at position " + std::to_string(i);
    }
  } else if (t.rfind("typing.SupportsInt", 0) == 0 || t == "int") {
    if (!is_int(o))
      return "must be an int, got " + type_of(o);
  } else if (t.rfind("typing.SupportsFloat", 0) == 0 || t == "float") {
    if (!is_int(o) && !PyFloat_Check(o) && !PyNumber_Check(o))
      return "must be a number, got " + type_of(o);
  } else if (t == "bool") {
    if (!PyBool_Check(o))
      return "must be a bool, got " + type_of(o);
  } else if (t == "str") {
    if (!PyUnicode_Check(o))
      return "must be a str, got " + type_of(o);
  }
  return {};
}

// The op a binding runs, as the user called it: the private bindings behind
// Python functions (_argsort behind devrt.argsort) are named as those.
std::string op_of(const py::detail::function_record *rec) {
  if (rec->is_constructor && rec->scope)
    return py::str(rec->scope.attr("__name__")).cast<std::string>();
  const char *name = rec->name;
  while (*name == '_' && name[1] != '_' && name[1] != '\0')
    ++name;
  return name;
}

std::string received(PyObject *const *args, size_t nargs, PyObject *kwnames) {
  std::string s = "(";
  for (size_t i = 0; i < nargs; ++i)
    s += (i ? ", " : "") + type_of(args[i]);
  size_t nkw = kwnames ? static_cast<size_t>(PyTuple_GET_SIZE(kwnames)) : 0;
  for (size_t i = 0; i < nkw; ++i)
    s += (nargs + i ? ", " : "") +
         py::str(PyTuple_GET_ITEM(kwnames, i)).cast<std::string>() + "=" +
         type_of(args[nargs + i]);
  return s + ")";
}

// The message for a call that matched no signature.
std::string diagnose(const py::detail::function_record *rec,
                     PyObject *const *args, size_t nargs, PyObject *kwnames) {
  std::string op = op_of(rec);
  std::string expected;
  for (const py::detail::function_record *r = rec; r; r = r->next)
    expected +=
        (r == rec ? "" : " or ") + plain(r->signature ? r->signature : "(...)");
  std::string generic = "[" + op + "] invalid arguments " +
                        received(args, nargs, kwnames) + "; expected " +
                        expected;
  if (rec->next || !rec->signature)
    return generic;
  std::vector<Param> params = parse_signature(rec->signature);
  std::vector<PyObject *> given(params.size(), nullptr);
  size_t positional = 0;
  for (; positional < params.size(); ++positional) {
    const std::string &n = params[positional].name;
    if (n == "*" || n.rfind("*", 0) == 0)
      break;
  }
  bool var_args = positional < params.size() &&
                  params[positional].name.rfind("*", 0) == 0 &&
                  params[positional].name != "*" &&
                  params[positional].name.rfind("**", 0) != 0;
  if (nargs > positional && !var_args)
    return "[" + op + "] takes at most " + std::to_string(positional) +
           " positional arguments, got " + std::to_string(nargs);
  for (size_t i = 0; i < nargs && i < positional; ++i)
    given[i] = args[i];
  bool var_kwargs = !params.empty() && params.back().name.rfind("**", 0) == 0;
  size_t nkw = kwnames ? static_cast<size_t>(PyTuple_GET_SIZE(kwnames)) : 0;
  for (size_t k = 0; k < nkw; ++k) {
    std::string key = py::str(PyTuple_GET_ITEM(kwnames, k)).cast<std::string>();
    size_t j = 0;
    while (j < params.size() && params[j].name != key)
      ++j;
    if (j == params.size()) {
      if (var_kwargs)
        continue;
      return "[" + op + "] got an unexpected keyword argument '" + key + "'";
    }
    if (given[j])
      return "[" + op + "] got multiple values for argument '" + key + "'";
    given[j] = args[nargs + k];
  }
  for (size_t j = 0; j < params.size(); ++j) {
    const Param &p = params[j];
    if (p.name.rfind("*", 0) == 0)
      continue;
    if (!given[j]) {
      if (!p.has_default)
        return "[" + op + "] missing argument '" + p.name + "'";
      continue;
    }
    std::string why = mismatch(p.type, given[j]);
    if (!why.empty())
      return "[" + op + "] argument '" + p.name + "' " + why;
  }
  return generic;
}

PyObject *exact_standard_type(PyObject *type) {
  for (PyObject *t : {PyExc_TypeError, PyExc_ValueError, PyExc_IndexError,
                      PyExc_RuntimeError, PyExc_OverflowError})
    if (type == t)
      return t;
  return nullptr;
}

// The raised exception as a normalized (type, value, traceback).
void fetch_error(PyObject **type, PyObject **value, PyObject **tb) {
#if PY_VERSION_HEX >= 0x030C0000
  *value = PyErr_GetRaisedException();
  *type = Py_NewRef(Py_TYPE(*value));
  *tb = PyException_GetTraceback(*value);
#else
  PyErr_Fetch(type, value, tb);
  PyErr_NormalizeException(type, value, tb);
#endif
}

PyObject *checked_call(PyObject *self, PyObject *const *args, size_t nargsf,
                       PyObject *kwnames) {
  PyObject *result = g_dispatch(self, args, nargsf, kwnames);
  if (result || !PyErr_Occurred())
    return result;
  PyObject *type, *value, *tb;
  fetch_error(&type, &value, &tb);
  // An error raised by Python code that the binding called back (a Python
  // autograd Function, devrt.tensor) carries that code's traceback and its
  // own message: it is passed on untouched. Errors set by C code have none.
  if (tb || !exact_standard_type(type) || !value) {
    PyErr_Restore(type, value, tb);
    return nullptr;
  }
  std::string message;
  try {
    message = py::str(value).cast<std::string>();
  } catch (...) {
    PyErr_Restore(type, value, tb);
    return nullptr;
  }
  if (!message.empty() && message[0] == '[') {
    PyErr_Restore(type, value, tb);
    return nullptr;
  }
  const py::detail::function_record *rec =
      py::detail::function_record_ptr_from_PyObject(self);
  PyObject *new_type = type;
  std::string new_message;
  try {
    if (message.find("incompatible function arguments") != std::string::npos ||
        message.find("incompatible constructor arguments") !=
            std::string::npos) {
      new_type = PyExc_TypeError;
      new_message = diagnose(
          rec, args, static_cast<size_t>(PyVectorcall_NARGS(nargsf)), kwnames);
    } else if (message.rfind("Unable to cast", 0) == 0) {
      new_type = PyExc_TypeError;
      new_message =
          "[" + op_of(rec) + "] an argument has the wrong type " +
          received(args, static_cast<size_t>(PyVectorcall_NARGS(nargsf)),
                   kwnames);
    } else {
      new_message = "[" + op_of(rec) + "] " + message;
    }
  } catch (py::error_already_set &e) {
    e.discard_as_unraisable("devrt: describing an argument error");
    new_message = "[" + op_of(rec) + "] " + message;
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  PyErr_SetString(new_type, new_message.c_str());
  return nullptr;
}

void route(py::handle obj) {
  PyObject *o = obj.ptr();
  if (PyInstanceMethod_Check(o))
    o = PyInstanceMethod_GET_FUNCTION(o);
  if (!PyCFunction_Check(o))
    return;
  PyObject *self = PyCFunction_GET_SELF(o);
  if (!self || !py::detail::function_record_ptr_from_PyObject(self))
    return;
  PyMethodDef *def = reinterpret_cast<PyCFunctionObject *>(o)->m_ml;
  auto checked =
      reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(checked_call));
  if (def->ml_meth == checked)
    return;
  g_dispatch =
      reinterpret_cast<Dispatch>(reinterpret_cast<void (*)()>(def->ml_meth));
  def->ml_meth = checked;
}

void route_class(py::handle cls) {
  py::dict members = cls.attr("__dict__");
  for (auto item : members) {
    py::handle v = item.second;
    route(v);
    if (PyObject_TypeCheck(v.ptr(), &PyProperty_Type)) {
      for (const char *accessor : {"fget", "fset"})
        route(v.attr(accessor));
    } else if (PyObject_TypeCheck(v.ptr(), &PyStaticMethod_Type)) {
      route(v.attr("__func__"));
    }
  }
}

} // namespace

void install_call_errors(py::module_ &m) {
  g_tensor_type = m.attr("Tensor").ptr();
  py::dict members = m.attr("__dict__");
  for (auto item : members) {
    py::handle v = item.second;
    route(v);
    if (PyType_Check(v.ptr()) &&
        py::str(v.attr("__module__")).cast<std::string>() == "devrt._C")
      route_class(v);
  }
}

} // namespace devrt::bind
