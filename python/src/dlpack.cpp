// DLPack both ways (the legacy and the versioned 1.x capsules), without
// copies. The structs below follow the DLPack specification's ABI.
#include "bindings.h"

#include "devrt/error.h"

namespace devrt::bind {

namespace {

enum : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLCUDAManaged = 13
};
enum : uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLBfloat = 4,
  kDLBool = 6
};

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(DLManagedTensor *self);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void *manager_ctx;
  void (*deleter)(DLManagedTensorVersioned *self);
  uint64_t flags;
  DLTensor dl_tensor;
};

// What an exported capsule owns: the tensor and its shape/stride arrays.
struct Export {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
};

DLDataType dl_dtype(DType t) {
  uint8_t bits = static_cast<uint8_t>(itemsize(t) * 8);
  switch (t) {
  case DType::Bool:
    return {kDLBool, 8, 1};
  case DType::UInt8:
    return {kDLUInt, 8, 1};
  case DType::Int32:
  case DType::Int64:
    return {kDLInt, bits, 1};
  case DType::BFloat16:
    return {kDLBfloat, 16, 1};
  default:
    return {kDLFloat, bits, 1};
  }
}

DType from_dl_dtype(DLDataType d) {
  if (d.lanes == 1) {
    if (d.code == kDLBool && d.bits == 8)
      return DType::Bool;
    if (d.code == kDLUInt && d.bits == 8)
      return DType::UInt8;
    if (d.code == kDLInt && d.bits == 32)
      return DType::Int32;
    if (d.code == kDLInt && d.bits == 64)
      return DType::Int64;
    if (d.code == kDLFloat && d.bits == 16)
      return DType::Float16;
    if (d.code == kDLFloat && d.bits == 32)
      return DType::Float32;
    if (d.code == kDLFloat && d.bits == 64)
      return DType::Float64;
    if (d.code == kDLBfloat && d.bits == 16)
      return DType::BFloat16;
  }
  fail(ErrorKind::Type, "[from_dlpack] unsupported DLPack dtype (code ",
       int(d.code), ", bits ", int(d.bits), ", lanes ", d.lanes, ")");
}

DLDevice dl_device(Device d) {
  if (d.is_cpu())
    return {kDLCPU, 0};
  // The backend's descriptor names its DLPack device type.
  const int32_t code = backend_desc(d.type).dlpack_device_type;
  if (code != 0)
    return {code, d.index};
  fail(ErrorKind::Type, "[__dlpack__] DLPack has no device type for ",
       device_str(d));
}

Device from_dl_device(DLDevice d) {
  if (d.device_type == kDLCPU || d.device_type == kDLCUDAHost)
    return kCPU;
  // Managed memory is device memory that the device's own kernels read.
  const int32_t code = d.device_type == kDLCUDAManaged ? int32_t{kDLCUDA}
                                                       : int32_t{d.device_type};
  for (const BackendInfo &b : backends())
    if (b.registered && backend_desc(b.type).dlpack_device_type == code)
      return parse_device(b.name + ":" + std::to_string(d.device_id));
  fail(ErrorKind::Type,
       "[from_dlpack] no loaded backend holds memory of "
       "DLPack device type ",
       int(d.device_type));
}

void fill_dltensor(DLTensor &dl, Export *e) {
  const Tensor &t = e->tensor;
  e->shape.assign(t->shape.begin(), t->shape.end());
  e->strides.assign(t->strides.begin(), t->strides.end());
  dl.data = t->data_ptr();
  dl.device = dl_device(t->device);
  dl.ndim = static_cast<int32_t>(t->ndim());
  dl.dtype = dl_dtype(t->dtype);
  dl.shape = e->shape.data();
  dl.strides = e->strides.data();
  dl.byte_offset = 0;
}

template <class M> void delete_managed(M *m) {
  delete static_cast<Export *>(m->manager_ctx);
  delete m;
}

py::capsule export_capsule(const Tensor &t, bool versioned) {
  auto *e = new Export{t, {}, {}};
  if (versioned) {
    auto *m = new DLManagedTensorVersioned{};
    m->version = {1, 0};
    m->manager_ctx = e;
    m->deleter = delete_managed<DLManagedTensorVersioned>;
    try {
      fill_dltensor(m->dl_tensor, e);
    } catch (...) {
      m->deleter(m);
      throw;
    }
    return py::capsule(m, "dltensor_versioned", [](PyObject *cap) {
      // Unconsumed capsules still own the tensor.
      if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        auto *mt = static_cast<DLManagedTensorVersioned *>(
            PyCapsule_GetPointer(cap, "dltensor_versioned"));
        if (mt && mt->deleter)
          mt->deleter(mt);
      }
    });
  }
  auto *m = new DLManagedTensor{};
  m->manager_ctx = e;
  m->deleter = delete_managed<DLManagedTensor>;
  try {
    fill_dltensor(m->dl_tensor, e);
  } catch (...) {
    m->deleter(m);
    throw;
  }
  return py::capsule(m, "dltensor", [](PyObject *cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto *mt =
          static_cast<DLManagedTensor *>(PyCapsule_GetPointer(cap, "dltensor"));
      if (mt && mt->deleter)
        mt->deleter(mt);
    }
  });
}

struct Imported {
  void *managed;
  bool versioned;
};

void release_imported(void *ctx) {
  auto *imp = static_cast<Imported *>(ctx);
  if (imp->versioned) {
    auto *m = static_cast<DLManagedTensorVersioned *>(imp->managed);
    if (m->deleter)
      m->deleter(m);
  } else {
    auto *m = static_cast<DLManagedTensor *>(imp->managed);
    if (m->deleter)
      m->deleter(m);
  }
  delete imp;
}

Tensor import_capsule(py::capsule cap) {
  PyObject *c = cap.ptr();
  bool versioned = PyCapsule_IsValid(c, "dltensor_versioned");
  if (!versioned && !PyCapsule_IsValid(c, "dltensor"))
    fail(ErrorKind::Value, "[from_dlpack] not an unconsumed DLPack capsule");
  void *managed =
      PyCapsule_GetPointer(c, versioned ? "dltensor_versioned" : "dltensor");
  DLTensor *dl;
  if (versioned) {
    auto *m = static_cast<DLManagedTensorVersioned *>(managed);
    if (m->version.major != 1)
      fail(ErrorKind::Value, "[from_dlpack] unsupported DLPack version ",
           m->version.major, ".", m->version.minor);
    dl = &m->dl_tensor;
  } else {
    dl = &static_cast<DLManagedTensor *>(managed)->dl_tensor;
  }
  DType t = from_dl_dtype(dl->dtype);
  Device dev = from_dl_device(dl->device);
  Dims shape(dl->shape, dl->shape + dl->ndim);
  Dims strides = dl->strides ? Dims(dl->strides, dl->strides + dl->ndim)
                             : contiguous_strides(shape);
  for (int i = 0; i < dl->ndim; ++i)
    if (strides[i] < 0)
      fail(ErrorKind::Value,
           "[from_dlpack] negative strides are not "
           "supported, got ",
           strides);
  int64_t extent = 1;
  for (int i = 0; i < dl->ndim; ++i)
    if (shape[i] > 0)
      extent += (shape[i] - 1) * strides[i];
  auto storage = std::make_shared<Storage>();
  storage->data = static_cast<char *>(dl->data) + dl->byte_offset;
  storage->nbytes = static_cast<size_t>(extent) * itemsize(t);
  storage->device = dev;
  storage->deleter = release_imported;
  storage->deleter_ctx = new Imported{managed, versioned};
  PyCapsule_SetName(c, versioned ? "used_dltensor_versioned" : "used_dltensor");
  return make_view(storage, 0, shape, strides, t, dev);
}

} // namespace

void init_dlpack(py::module_ &m, py::class_<TensorImpl, Tensor> &cls) {
  cls.def(
      "__dlpack__",
      [](const Tensor &t, py::object stream, py::object max_version,
         py::object dl_device, py::object copy) {
        (void)stream;
        (void)dl_device;
        // A consumer on another stream must see every write queued so far:
        // wait for the device rather than track which stream it reads on.
        if (!host_accessible(t->device))
          synchronize(t->device);
        Tensor src = t;
        if (!copy.is_none() && copy.cast<bool>())
          src = clone(t);
        bool versioned = false;
        if (!max_version.is_none())
          versioned = max_version.cast<py::tuple>()[0].cast<int>() >= 1;
        return export_capsule(src, versioned);
      },
      py::kw_only(), py::arg("stream") = py::none(),
      py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
      py::arg("copy") = py::none(),
      "A DLPack capsule sharing this tensor's memory (a versioned one when "
      "max_version >= (1, 0)), after the device's queued work is done; "
      "copy=True exports a copy.");
  cls.def(
      "__dlpack_device__",
      [](const Tensor &t) {
        DLDevice d = dl_device(t->device);
        return py::make_tuple(d.device_type, d.device_id);
      },
      "The DLPack (device_type, device_id) of this tensor's memory.");
  m.def(
      "from_dlpack",
      [](py::object obj) -> Tensor {
        if (py::isinstance<py::capsule>(obj))
          return import_capsule(obj.cast<py::capsule>());
        if (!py::hasattr(obj, "__dlpack__"))
          fail(ErrorKind::Type, "[from_dlpack] object of type ",
               py::str(py::type::handle_of(obj).attr("__name__"))
                   .cast<std::string>(),
               " does not implement __dlpack__");
        py::object cap;
        try {
          cap = obj.attr("__dlpack__")(py::arg("max_version") =
                                           py::make_tuple(1, 0));
        } catch (const py::error_already_set &e) {
          if (!e.matches(PyExc_TypeError))
            throw;
          cap = obj.attr("__dlpack__")();
        }
        return import_capsule(cap.cast<py::capsule>());
      },
      py::arg("ext_tensor"),
      "A tensor sharing the memory of any object that implements DLPack.");
}

} // namespace devrt::bind
