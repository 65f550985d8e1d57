// Shared declarations of the _C bindings: one init_<area>() per file, and
// the conversions between Python objects and core types.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "devrt/ops.h"
#include "devrt/registry.h"
#include "devrt/tensor.h"

namespace py = pybind11;

namespace devrt::bind {
// A flag such as keepdim: True or False only, as in PyTorch (1, 2**70 or a
// NumPy bool are refused).
struct Flag {
  bool value = false;
  operator bool() const { return value; }
};
} // namespace devrt::bind

namespace pybind11::detail {
// Note: pybind11 loads None into a holder argument as an empty shared_ptr
// (None stands for a null pointer), and every binding dereferences its
// Tensor arguments. A Tensor argument therefore takes only a Tensor; one
// that may be absent is spelled std::optional<Tensor>, whose caster maps
// None to nullopt before it gets here. This caster must be seen before any
// binding is compiled, hence its place at the top of bindings.h.
template <>
class type_caster<devrt::Tensor>
    : public copyable_holder_caster<devrt::TensorImpl, devrt::Tensor> {
public:
  bool load(handle src, bool convert) {
    if (src.is_none())
      return false;
    return copyable_holder_caster::load(src, convert);
  }
};

// Note: an int64_t argument (a dim, a size, an index) takes what PyTorch's
// int arguments take: an int or an object with __index__ (NumPy integers).
// pybind11's own caster also takes a bool, and in its converting pass any
// number it can truncate (np.float32(1.5) is 1); this one refuses both, so
// that the call fails and call_errors.cpp names the argument.
template <> struct type_caster<int64_t> {
  bool load(handle src, bool) {
    PyObject *o = src.ptr();
    if (!o || PyBool_Check(o) || PyFloat_Check(o))
      return false;
    object index;
    if (!PyLong_Check(o)) {
      if (!PyIndex_Check(o))
        return false;
      index = reinterpret_steal<object>(PyNumber_Index(o));
      if (!index) {
        PyErr_Clear();
        return false;
      }
      o = index.ptr();
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return false;
    }
    value = static_cast<int64_t>(v);
    return true;
  }
  static handle cast(int64_t src, return_value_policy, handle) {
    return PyLong_FromLongLong(static_cast<long long>(src));
  }
  PYBIND11_TYPE_CASTER(int64_t, io_name("typing.SupportsInt", "int"));
};

template <> struct type_caster<devrt::bind::Flag> {
  bool load(handle src, bool) {
    if (!PyBool_Check(src.ptr()))
      return false;
    value.value = src.ptr() == Py_True;
    return true;
  }
  static handle cast(devrt::bind::Flag src, return_value_policy, handle) {
    return handle(src.value ? Py_True : Py_False).inc_ref();
  }
  PYBIND11_TYPE_CASTER(devrt::bind::Flag, const_name("bool"));
};
} // namespace pybind11::detail

namespace devrt::bind {

void init_convert(py::module_ &m);
void init_tensor(py::module_ &m, py::class_<TensorImpl, Tensor> &cls);
void init_ops(py::module_ &m, py::class_<TensorImpl, Tensor> &cls);
void init_numpy(py::module_ &m, py::class_<TensorImpl, Tensor> &cls);
void init_dlpack(py::module_ &m, py::class_<TensorImpl, Tensor> &cls);
void init_backends(py::module_ &m);
void init_python_backends(py::module_ &m);
void init_autograd(py::module_ &m, py::class_<TensorImpl, Tensor> &cls);
void init_graph(py::module_ &m);

// The Python object for a dtype (devrt.float32 ...): one per dtype, so that
// `t.dtype is devrt.float32` holds.
py::object dtype_object(DType t);
// dtype from devrt.float32, "float32", numpy dtypes and types, Python's
// float/int/bool; `op` names the caller in the error message.
DType to_dtype(const char *op, py::handle h);
std::optional<DType> to_optional_dtype(const char *op, py::handle h);
// device from devrt.device, "cuda:0", or an int (a CUDA ordinal).
Device to_device(const char *op, py::handle h);
py::object device_object(Device d);
// A NumPy dtype as a devrt dtype; false when devrt has no such type.
bool numpy_dtype_to_dtype(const py::dtype &dt, DType *out);

// A Python number (bool, int, float, NumPy scalar) as a Scalar; false if h
// is not a number. A NumPy bool is a float, as in PyTorch.
bool to_scalar(py::handle h, Scalar *out);
// Whether h is an int as PyTorch takes one for a dim or a size: an int or
// an object with __index__ (a NumPy integer), never a bool.
bool is_index(py::handle h);
// A shape from (2, 3), [2, 3] or *args of ints.
Dims to_dims(const char *op, py::handle h);
Dims dims_from_args(const char *op, const py::args &args);
// Optional axes: None, an int, or a sequence of ints.
std::optional<Dims> to_axes(const char *op, py::handle h);

// Any tensor-like operand: a Tensor, a Python number (a wrapped number on
// `like`'s device), or a nested sequence / array (through devrt.tensor).
Tensor as_tensor(const char *op, py::handle h, const Tensor &like);

py::tuple dims_tuple(const Dims &d);

// h as a Tensor, or TypeError "[op] argument 'name' must be a Tensor, got
// NoneType".
Tensor tensor_arg(const char *op, const char *name, py::handle h);
// The name of h's Python type, for error messages.
std::string type_name(py::handle h);
// The default of an argument whose omission differs from an explicit None
// (arange's end): one private object, compared by identity.
py::handle unset_arg();

// The docstring of a binding that runs catalogue op `op`: the op's doc line
// from ops.def (what it computes), then `notes` on what the binding adds to
// it (its Python arguments, an alias, an in-place form), when there are any.
// pybind11 copies the text, so `op_doc(...).c_str()` may be passed to def().
inline std::string op_doc(OpId op, const std::string &notes = {}) {
  std::string doc = op_def(op).doc;
  if (!notes.empty())
    doc += "\n\n" + notes;
  return doc;
}
// The same after a first sentence of the binding's own, for a binding whose
// Python meaning is more than the op's line says (zeros runs fill).
inline std::string op_doc(const std::string &summary, OpId op,
                          const std::string &notes = {}) {
  return summary + "\n\n" + op_doc(op, notes);
}

// Routes every function and method of the module through a check that
// turns pybind11's own argument errors into devrt's "[op] ..." TypeErrors
// (call_errors.cpp). Called last, once all bindings exist.
void install_call_errors(py::module_ &m);

// Sets the Python error for a devrt::Error (the module's exception
// translator, also used by code that runs outside pybind11's dispatch).
void translate(std::exception_ptr p);
// Keeps `exc`, the exception a Python kernel raised, for translate to set
// as the __cause__ of the error whose message contains `message` (the next
// one this thread raises; any other message drops it).
void set_kernel_cause(const std::string &message, py::handle exc);

} // namespace devrt::bind
