// Conversions between Python objects and core types; the dtype and device
// classes.
#include "bindings.h"

#include "devrt/error.h"

namespace devrt::bind {

namespace {

struct DTypeObj {
  DType t;
};

struct DeviceObj {
  Device d;
};

// Borrowed forever: static py::objects would be released after the
// interpreter has shut down.
PyObject *g_dtypes[kNumDTypes];

bool numpy_kind_to_dtype(char kind, size_t size, DType *out) {
  switch (kind) {
  case 'b':
    *out = DType::Bool;
    return size == 1;
  case 'u':
    *out = DType::UInt8;
    return size == 1;
  case 'i':
    if (size == 4) {
      *out = DType::Int32;
      return true;
    }
    if (size == 8) {
      *out = DType::Int64;
      return true;
    }
    return false;
  case 'f':
    if (size == 2) {
      *out = DType::Float16;
      return true;
    }
    if (size == 4) {
      *out = DType::Float32;
      return true;
    }
    if (size == 8) {
      *out = DType::Float64;
      return true;
    }
    return false;
  default:
    return false;
  }
}

} // namespace

py::object dtype_object(DType t) {
  return py::reinterpret_borrow<py::object>(g_dtypes[static_cast<int>(t)]);
}

DType to_dtype(const char *op, py::handle h) {
  if (py::isinstance<DTypeObj>(h))
    return h.cast<DTypeObj &>().t;
  if (py::isinstance<py::str>(h)) {
    DType t;
    if (dtype_from_name(h.cast<std::string>(), &t))
      return t;
  }
  if (h.ptr() == reinterpret_cast<PyObject *>(&PyBool_Type))
    return DType::Bool;
  if (h.ptr() == reinterpret_cast<PyObject *>(&PyLong_Type))
    return DType::Int64;
  if (h.ptr() == reinterpret_cast<PyObject *>(&PyFloat_Type))
    return DType::Float64;
  // NumPy makes a dtype of nearly anything (None is float64, a scalar or an
  // array gives its own dtype): only types, names and dtypes are dtypes.
  if (!PyType_Check(h.ptr()) && !py::isinstance<py::str>(h) &&
      !py::isinstance<py::dtype>(h))
    fail(ErrorKind::Type, "[", op,
         "] not a dtype: ", py::repr(h).cast<std::string>());
  try {
    py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(h));
    DType t;
    if (numpy_kind_to_dtype(dt.kind(), dt.itemsize(), &t))
      return t;
    fail(ErrorKind::Type, "[", op, "] unsupported dtype ",
         py::str(dt).cast<std::string>(),
         "; devrt supports bool, uint8, int32, int64, float16, bfloat16, "
         "float32, float64");
  } catch (const py::error_already_set &) {
    fail(ErrorKind::Type, "[", op,
         "] not a dtype: ", py::repr(h).cast<std::string>());
  }
}

bool numpy_dtype_to_dtype(const py::dtype &dt, DType *out) {
  if (dt.byteorder() == '>')
    return false;
  return numpy_kind_to_dtype(dt.kind(), dt.itemsize(), out);
}

std::optional<DType> to_optional_dtype(const char *op, py::handle h) {
  if (h.is_none())
    return std::nullopt;
  return to_dtype(op, h);
}

Device to_device(const char *op, py::handle h) {
  if (h.is_none())
    return kCPU;
  if (py::isinstance<DeviceObj>(h))
    return h.cast<DeviceObj &>().d;
  if (py::isinstance<py::str>(h))
    return parse_device(h.cast<std::string>());
  if (PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr()))
    return parse_device("cuda:" + std::to_string(h.cast<int64_t>()));
  fail(ErrorKind::Type, "[", op,
       "] not a device: ", py::repr(h).cast<std::string>());
}

py::object device_object(Device d) { return py::cast(DeviceObj{d}); }

bool to_scalar(py::handle h, Scalar *out) {
  PyObject *o = h.ptr();
  if (PyBool_Check(o)) {
    *out = Scalar::from_bool(o == Py_True);
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow)
      fail(ErrorKind::Value, "[scalar] Python integer ",
           py::str(h).cast<std::string>(), " does not fit in int64");
    *out = Scalar::from_int(v);
    return true;
  }
  if (PyFloat_Check(o)) {
    *out = Scalar::from_double(PyFloat_AS_DOUBLE(o));
    return true;
  }
  // NumPy scalars (np.float32(1), np.int64(2), np.bool_(True)). As in
  // PyTorch, a NumPy bool is the float 1.0 or 0.0 (np.True_ + int32 tensor
  // is a float32 tensor).
  static PyObject *generic =
      py::object(py::module_::import("numpy").attr("generic")).release().ptr();
  if (PyObject_IsInstance(o, generic) == 1) {
    py::object v = h.attr("item")();
    if (PyBool_Check(v.ptr())) {
      *out = Scalar::from_double(v.ptr() == Py_True ? 1.0 : 0.0);
      return true;
    }
    if (PyLong_Check(v.ptr()) || PyFloat_Check(v.ptr()))
      return to_scalar(v, out);
  }
  return false;
}

bool is_index(py::handle h) {
  PyObject *o = h.ptr();
  if (PyBool_Check(o) || PyFloat_Check(o))
    return false;
  if (PyLong_Check(o))
    return true;
  if (!PyIndex_Check(o))
    return false;
  PyObject *index = PyNumber_Index(o);
  if (!index)
    PyErr_Clear();
  Py_XDECREF(index);
  return index != nullptr;
}

Dims to_dims(const char *op, py::handle h) {
  if (py::isinstance<TensorImpl>(h))
    fail(ErrorKind::Type, "[", op,
         "] expected a shape (a sequence of ints), got a Tensor of shape ",
         h.cast<Tensor>()->shape);
  if (is_index(h))
    return to_dims(op, py::make_tuple(h));
  Dims d;
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    fail(ErrorKind::Type, "[", op,
         "] expected a shape (a sequence of ints), got ", type_name(h), " ",
         py::repr(h).cast<std::string>());
  for (py::handle item : py::reinterpret_borrow<py::sequence>(h)) {
    py::object index;
    if (is_index(item))
      index = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
    if (!index) {
      PyErr_Clear();
      fail(ErrorKind::Type, "[", op, "] shape entries must be ints, got ",
           type_name(item), " ", py::repr(item).cast<std::string>());
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow)
      fail(ErrorKind::Value, "[", op, "] dimension ",
           py::str(item).cast<std::string>(), " does not fit in int64");
    d.push_back(v);
  }
  return d;
}

Dims dims_from_args(const char *op, const py::args &args) {
  if (args.size() == 1 &&
      (!is_index(args[0]) || py::isinstance<TensorImpl>(args[0])))
    return to_dims(op, args[0]);
  return to_dims(op, args);
}

std::optional<Dims> to_axes(const char *op, py::handle h) {
  if (h.is_none())
    return std::nullopt;
  return to_dims(op, h);
}

Tensor as_tensor(const char *op, py::handle h, const Tensor &like) {
  if (py::isinstance<TensorImpl>(h))
    return h.cast<Tensor>();
  Scalar s;
  if (to_scalar(h, &s)) {
    DType t = s.natural_dtype();
    return scalar_tensor(s, t, like ? like->device : kCPU);
  }
  // Only sequences and arrays go on to devrt.tensor: anything else is a
  // wrong kind of operand for `op`, not a failed tensor construction.
  if (!py::isinstance<py::sequence>(h) && !py::isinstance<py::array>(h) &&
      !py::hasattr(h, "__array__"))
    fail(ErrorKind::Type, "[", op,
         "] expected a tensor, a number or a sequence of numbers, got ",
         type_name(h));
  if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h))
    fail(ErrorKind::Type, "[", op,
         "] expected a tensor, a number or a sequence of numbers, got ",
         type_name(h));
  py::object t = py::module_::import("devrt").attr("tensor")(
      h, py::arg("device") = device_object(like ? like->device : kCPU));
  return t.cast<Tensor>();
}

std::string type_name(py::handle h) {
  return py::type::handle_of(h).attr("__name__").cast<std::string>();
}

py::handle unset_arg() {
  // Created once and never freed, as the module's own objects are.
  static PyObject *marker =
      PyObject_CallNoArgs(reinterpret_cast<PyObject *>(&PyBaseObject_Type));
  return marker;
}

Tensor tensor_arg(const char *op, const char *name, py::handle h) {
  if (!py::isinstance<TensorImpl>(h))
    fail(ErrorKind::Type, "[", op, "] argument '", name,
         "' must be a Tensor, got ", type_name(h));
  return h.cast<Tensor>();
}

py::tuple dims_tuple(const Dims &d) {
  py::tuple t(d.size());
  for (size_t i = 0; i < d.size(); ++i)
    t[i] = py::int_(d[i]);
  return t;
}

void init_convert(py::module_ &m) {
  py::class_<DTypeObj>(m, "dtype", "A tensor element type (devrt.float32 ...).")
      .def_property_readonly(
          "is_floating_point",
          [](const DTypeObj &d) { return is_floating(d.t); },
          "Whether this is a floating type (float16, bfloat16, float32, "
          "float64).")
      .def_property_readonly(
          "itemsize", [](const DTypeObj &d) { return itemsize(d.t); },
          "The size of one element in bytes.")
      .def_property_readonly(
          "name", [](const DTypeObj &d) { return dtype_name(d.t); },
          "The type's name: 'float32', 'int64', ...")
      .def(
          "__repr__",
          [](const DTypeObj &d) {
            return std::string("devrt.") + dtype_name(d.t);
          },
          "devrt.<name>, as the dtype is spelled in code.")
      .def(
          "__reduce__",
          [](const DTypeObj &d) {
            return py::make_tuple(
                py::module_::import("devrt").attr("dtype_from_name"),
                py::make_tuple(dtype_name(d.t)));
          },
          "Pickles the dtype by name, so that it unpickles as the same "
          "object.");
  for (int i = 0; i < kNumDTypes; ++i) {
    DType t = static_cast<DType>(i);
    g_dtypes[i] = py::cast(DTypeObj{t}).release().ptr();
    m.attr(dtype_name(t)) = dtype_object(t);
  }
  m.def(
      "dtype_from_name",
      [](const std::string &name) {
        return dtype_object(to_dtype("dtype", py::str(name)));
      },
      py::arg("name"), "The dtype called `name` ('float32', 'int64', ...).");

  py::class_<DeviceObj>(m, "device",
                        "A device: 'cpu', 'cuda:0', or '<name>:<index>'.")
      .def(py::init([](py::object spec, std::optional<int> index) {
             if (!index)
               return DeviceObj{to_device("device", spec)};
             std::string type = py::str(spec).cast<std::string>();
             if (type.find(':') != std::string::npos)
               fail(ErrorKind::Value, "[device] index given twice: '", type,
                    "' and ", *index);
             return DeviceObj{
                 parse_device(type + ":" + std::to_string(*index))};
           }),
           py::arg("type"), py::arg("index") = py::none(),
           "device('cuda:1'), device('cuda', 1), device(other_device), or "
           "device(1) for cuda:1.")
      .def_property_readonly(
          "type", [](const DeviceObj &d) { return backends()[d.d.type].name; },
          "The device type's name: 'cpu', 'cuda', or a plugin's.")
      .def_property_readonly(
          "index", [](const DeviceObj &d) { return d.d.index; },
          "The device's index within its type.")
      .def(
          "__str__", [](const DeviceObj &d) { return device_str(d.d); },
          "'<type>:<index>' ('cpu' for the CPU).")
      .def(
          "__repr__",
          [](const DeviceObj &d) {
            std::string type = backends()[d.d.type].name;
            if (d.d.is_cpu() && d.d.index == 0)
              return std::string("device(type='cpu')");
            return "device(type='" + type +
                   "', index=" + std::to_string(d.d.index) + ")";
          },
          "device(type='cuda', index=0), as PyTorch writes it.")
      .def(
          "__eq__",
          [](const DeviceObj &a, py::handle b) {
            if (py::isinstance<DeviceObj>(b))
              return a.d == b.cast<DeviceObj &>().d;
            if (py::isinstance<py::str>(b))
              return a.d == parse_device(b.cast<std::string>());
            return false;
          },
          "Equal to the same device, or to a string that names it "
          "('cuda:0').")
      .def(
          "__hash__",
          [](const DeviceObj &d) {
            return std::hash<int>()(d.d.type * 65536 + d.d.index);
          },
          "A hash of type and index, so that devices work as dict keys.");
}

} // namespace devrt::bind
