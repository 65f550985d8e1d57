// Zero-copy exchange with NumPy on devices whose memory is host memory.
#include "bindings.h"

#include "devrt/error.h"

namespace devrt::bind {

namespace {

// Keeps a NumPy array alive for as long as a storage views its memory.
void release_pyobject(void *ctx) {
  if (!Py_IsInitialized())
    return; // interpreter gone: nothing left to release
  py::gil_scoped_acquire gil;
  Py_XDECREF(static_cast<PyObject *>(ctx));
}

py::dtype numpy_dtype(const char *op, DType t) {
  switch (t) {
  case DType::Bool:
    return py::dtype("bool");
  case DType::UInt8:
    return py::dtype("uint8");
  case DType::Int32:
    return py::dtype("int32");
  case DType::Int64:
    return py::dtype("int64");
  case DType::Float16:
    return py::dtype("float16");
  case DType::Float32:
    return py::dtype("float32");
  case DType::Float64:
    return py::dtype("float64");
  case DType::BFloat16:
    break;
  }
  fail(ErrorKind::Type, "[", op, "] NumPy has no ", dtype_name(t),
       " type; convert with .float() first");
}

} // namespace

Tensor from_numpy(py::array arr) {
  // devrt tensors are writable: a read-only array (np.frombuffer of bytes, a
  // broadcast view) is copied rather than shared, so writes cannot reach
  // memory its owner promised not to change.
  if (!arr.writeable())
    arr = py::array(arr.attr("copy")());
  DType t;
  if (!numpy_dtype_to_dtype(arr.dtype(), &t))
    fail(ErrorKind::Type, "[from_numpy] unsupported NumPy dtype ",
         py::str(arr.dtype()).cast<std::string>(),
         "; devrt supports bool, uint8, int32, int64, float16, float32 and "
         "float64 (native byte order)");
  ssize_t isz = static_cast<ssize_t>(itemsize(t));
  Dims shape, strides;
  for (ssize_t i = 0; i < arr.ndim(); ++i) {
    shape.push_back(arr.shape(i));
    ssize_t st = arr.strides(i);
    if (arr.shape(i) > 1 && (st < 0 || st % isz != 0))
      fail(ErrorKind::Value, "[from_numpy] array strides ",
           py::str(py::cast(std::vector<ssize_t>(arr.strides(),
                                                 arr.strides() + arr.ndim())))
               .cast<std::string>(),
           " are negative or not a multiple of the item size ", isz,
           "; pass a copy (np.ascontiguousarray)");
    strides.push_back(arr.shape(i) > 1 ? st / isz : 1);
  }
  auto storage = std::make_shared<Storage>();
  storage->data = const_cast<void *>(arr.data());
  storage->nbytes = static_cast<size_t>(arr.nbytes());
  storage->device = kCPU;
  storage->deleter = release_pyobject;
  storage->deleter_ctx = arr.inc_ref().ptr();
  return make_view(storage, 0, shape, strides, t, kCPU);
}

py::array to_numpy(const Tensor &t) {
  if (!host_accessible(t->device))
    fail(ErrorKind::Type, "[numpy] tensor is on ", device_str(t->device),
         "; copy it to the host with .cpu() first");
  synchronize(t->device);
  py::dtype dt = numpy_dtype("numpy", t->dtype);
  std::vector<ssize_t> shape(t->shape.begin(), t->shape.end());
  std::vector<ssize_t> strides;
  for (int64_t s : t->strides)
    strides.push_back(static_cast<ssize_t>(s * itemsize(t->dtype)));
  // The capsule owns a reference to the tensor: NumPy's array keeps it, and
  // so the storage, alive.
  py::capsule owner(new Tensor(t),
                    [](void *p) { delete static_cast<Tensor *>(p); });
  return py::array(dt, shape, strides, t->data_ptr(), owner);
}

void init_numpy(py::module_ &m, py::class_<TensorImpl, Tensor> &cls) {
  m.def("from_numpy", &from_numpy, py::arg("ndarray"),
        "A tensor sharing the memory of a NumPy array (no copy; a read-only "
        "array is copied).");
  cls.def(
      "numpy",
      [](const Tensor &t, bool force) {
        if (force && !host_accessible(t->device))
          return to_numpy(to_device(t, kCPU));
        return to_numpy(t);
      },
      py::arg("force") = false,
      "A NumPy array sharing this tensor's memory (no copy).\n\n"
      "force=True copies a tensor whose memory the host cannot read to the "
      "CPU first.");
  cls.def(
      "__array__",
      [](const Tensor &t, py::object dtype, py::object copy) -> py::object {
        py::array a =
            to_numpy(host_accessible(t->device) ? t : to_device(t, kCPU));
        bool force_copy = !copy.is_none() && copy.cast<bool>();
        if (!dtype.is_none())
          return a.attr("astype")(dtype, py::arg("copy") = force_copy);
        if (force_copy)
          return a.attr("copy")();
        return a;
      },
      py::arg("dtype") = py::none(), py::arg("copy") = py::none(),
      "NumPy's array protocol: the tensor as an array (a view of host memory, "
      "else a copy), cast to `dtype` and copied when `copy` is True.");
}

} // namespace devrt::bind
