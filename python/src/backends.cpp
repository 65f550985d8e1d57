// Backends seen from Python: native plugin loading, backends written in
// Python (kernels are callables over NumPy views), the catalogue and memory
// statistics.
#include "bindings.h"

#include <cstdlib>
#include <cstring>

#include "devrt/error.h"
#include "devrt/fallback.h"

namespace devrt::bind {

namespace {

// Memory of a Python backend is host memory: kernels see NumPy arrays.
void *py_alloc(void *, int32_t, size_t nbytes) {
  if (nbytes > (size_t(1) << 48))
    return nullptr;
  void *p = nullptr;
  return posix_memalign(&p, 64, nbytes ? nbytes : 64) == 0 ? p : nullptr;
}
void py_free(void *, int32_t, void *p, size_t) { std::free(p); }
int py_copy(void *, int32_t, void *dst, const void *src, size_t n, int32_t) {
  if (n)
    std::memcpy(dst, src, n);
  return DEVRT_OK;
}

py::array view_as_numpy(const devrt_view &v) {
  static const char *names[] = {"bool",    "uint8",    "int32",   "int64",
                                "float16", "bfloat16", "float32", "float64"};
  if (v.dtype == DEVRT_BFLOAT16)
    fail(ErrorKind::Type, "[python kernel] bfloat16 has no NumPy type");
  py::dtype dt(names[v.dtype]);
  std::vector<ssize_t> shape(v.shape, v.shape + v.ndim), strides;
  for (int i = 0; i < v.ndim; ++i)
    strides.push_back(static_cast<ssize_t>(v.strides[i] * dt.itemsize()));
  // The kernel call outlives nothing: a dummy base keeps NumPy from copying.
  return py::array(dt, shape, strides, v.data, py::none());
}

py::object attr_value(const devrt_attr &a) {
  switch (a.kind) {
  case DEVRT_ATTR_INT:
    return py::int_(a.i);
  case DEVRT_ATTR_FLOAT:
    return py::float_(a.f);
  case DEVRT_ATTR_BOOL:
    return py::bool_(a.i != 0);
  case DEVRT_ATTR_DTYPE:
    return dtype_object(static_cast<DType>(a.i));
  case DEVRT_ATTR_INTS: {
    py::tuple t(a.count);
    for (int i = 0; i < a.count; ++i)
      t[i] = py::int_(a.ints[i]);
    return t;
  }
  case DEVRT_ATTR_SCALAR:
    // Exact integers stay ints.
    return static_cast<double>(a.i) == a.f ? py::object(py::int_(a.i))
                                           : py::object(py::float_(a.f));
  default:
    return py::none();
  }
}

// A Python kernel and the plugin that registered it (for messages).
struct PyKernel {
  py::object fn;
  std::string plugin;
};

// The devrt error kind that fits a Python exception.
int status_of(const py::error_already_set &e) {
  if (e.matches(PyExc_NotImplementedError))
    return DEVRT_ERROR_NOT_IMPLEMENTED;
  if (e.matches(PyExc_TypeError))
    return DEVRT_ERROR_TYPE;
  if (e.matches(PyExc_ValueError) || e.matches(PyExc_ArithmeticError))
    return DEVRT_ERROR_VALUE;
  if (e.matches(PyExc_LookupError))
    return DEVRT_ERROR_INDEX;
  if (e.matches(PyExc_MemoryError))
    return DEVRT_ERROR_OUT_OF_MEMORY;
  return DEVRT_ERROR_RUNTIME;
}

std::string device_of(const devrt_kernel_call *call) {
  const devrt_view *v = call->n_outputs ? call->outputs : call->inputs;
  return device_str(Device{static_cast<int16_t>(v->device_type),
                           static_cast<int16_t>(v->device_index)});
}

int py_kernel(const devrt_kernel_call *call) {
  py::gil_scoped_acquire gil;
  const auto *k = static_cast<const PyKernel *>(call->user_data);
  try {
    py::list ins, outs;
    for (int i = 0; i < call->n_inputs; ++i)
      ins.append(view_as_numpy(call->inputs[i]));
    for (int i = 0; i < call->n_outputs; ++i)
      outs.append(view_as_numpy(call->outputs[i]));
    py::dict attrs;
    OpId op;
    if (op_from_name(call->op, &op)) {
      const OpDef &def = op_def(op);
      for (int i = 0; i < call->n_attrs && i < (int)def.attrs.size(); ++i)
        attrs[py::str(def.attrs[i])] = attr_value(call->attrs[i]);
    }
    k->fn(ins, outs, attrs);
    return DEVRT_OK;
  } catch (py::error_already_set &e) {
    const std::string what =
        py::str(e.type().attr("__name__")).cast<std::string>() + ": " +
        py::str(e.value()).cast<std::string>();
    std::snprintf(call->error, call->error_size,
                  "[%s] the kernel of %s on %s raised %s", call->op,
                  k->plugin.empty() ? "no plugin"
                                    : ("plugin '" + k->plugin + "'").c_str(),
                  device_of(call).c_str(), what.c_str());
    set_kernel_cause(call->error, e.value());
    return status_of(e);
  } catch (const std::exception &e) {
    std::snprintf(call->error, call->error_size, "[%s] %s", call->op, e.what());
    return DEVRT_ERROR_RUNTIME;
  }
}

uint32_t dtype_mask(py::handle dtypes) {
  uint32_t mask = 0;
  for (py::handle d : dtypes)
    mask |= dtype_bit(to_dtype("register_kernel", d));
  return mask;
}

py::list dtype_list(uint32_t mask) {
  py::list l;
  for (int i = 0; i < kNumDTypes; ++i)
    if (mask & (1u << i))
      l.append(dtype_name(static_cast<DType>(i)));
  return l;
}

py::dict stats_dict(const MemoryStats &s) {
  py::dict d;
  d["allocated"] = s.allocated;
  d["reserved"] = s.reserved;
  d["peak_allocated"] = s.peak_allocated;
  d["allocations"] = s.allocations;
  d["cache_hits"] = s.cache_hits;
  d["device_allocations"] = s.device_allocs;
  return d;
}

void for_each_device(const std::function<void(Device)> &fn) {
  for (const BackendInfo &b : backends())
    for (int i = 0; i < b.device_count; ++i)
      fn(Device{static_cast<int16_t>(b.type), static_cast<int16_t>(i)});
}

} // namespace

void init_backends(py::module_ &m) {
  m.def("load_plugin_library", &load_plugin_library, py::arg("path"),
        "dlopen() a native backend and call its devrt_plugin_init.");
  m.def(
      "register_python_backend",
      [](const std::string &name, int device_count) {
        devrt_backend_desc d{};
        d.struct_size = sizeof(d);
        d.name = name.c_str();
        d.device_count = device_count;
        d.host_accessible = 1;
        d.alloc = py_alloc;
        d.free = py_free;
        d.copy = py_copy;
        register_backend(d);
      },
      py::arg("name"), py::arg("device_count") = 1,
      "Register a device type whose memory is host memory and whose kernels "
      "are Python callables.");
  m.def(
      "register_python_kernel",
      [](const std::string &op, const std::string &backend, py::object dtypes,
         py::object fn, bool override_) {
        if (!PyCallable_Check(fn.ptr()))
          fail(ErrorKind::Type, "[register_kernel] kernel for '", op,
               "' is not callable");
        devrt_kernel_desc d{};
        d.struct_size = sizeof(d);
        d.op = op.c_str();
        d.backend = backend.c_str();
        d.dtypes = dtype_mask(dtypes);
        d.fn = py_kernel;
        d.flags = override_ ? DEVRT_KERNEL_OVERRIDE : 0;
        // Note: kernels live as long as the process (a replaced or
        // unregistered one may still be running), so this is never freed.
        auto *k = new PyKernel{fn, registering_plugin()};
        d.user_data = k;
        try {
          register_kernel(d);
        } catch (...) {
          delete k;
          throw;
        }
      },
      py::arg("op"), py::arg("backend"), py::arg("dtypes"), py::arg("fn"),
      py::arg("override") = false,
      "Register fn(inputs, outputs, attrs) as the kernel of `op` on "
      "`backend`; inputs and outputs are NumPy views, attrs a dict.");
  m.def("begin_plugin_registration", &begin_plugin_registration,
        py::arg("plugin"));
  m.def("end_plugin_registration", &end_plugin_registration);
  m.def("unregister_plugin", &unregister_plugin, py::arg("plugin"),
        "Remove the device types and kernels `plugin` registered; returns "
        "the device types removed.");
  m.def("backends", [] {
    py::list out;
    for (const BackendInfo &b : backends()) {
      py::dict d;
      d["name"] = b.name;
      d["device_count"] = b.device_count;
      d["host_accessible"] = b.host_accessible;
      d["registered"] = b.registered;
      d["kernel_count"] = b.kernel_count;
      d["plugin"] = b.plugin;
      out.append(d);
    }
    return out;
  });
  m.def("catalogue", [] {
    py::list out;
    std::vector<BackendInfo> bs = backends();
    for (int i = 0; i < kNumOps; ++i) {
      const OpDef &def = op_def(static_cast<OpId>(i));
      py::dict d, kernels;
      d["name"] = def.name;
      d["family"] = family_name(def.family);
      d["num_inputs"] = def.num_inputs;
      d["num_outputs"] = def.num_outputs;
      d["attrs"] = py::cast(def.attrs);
      for (const BackendInfo &b : bs) {
        uint32_t mask = kernel_dtypes(def.id, b.type);
        if (mask)
          kernels[py::str(b.name)] = dtype_list(mask);
      }
      d["kernels"] = kernels;
      out.append(d);
    }
    return out;
  });
  m.def(
      "memory_stats",
      [](py::object device) {
        return stats_dict(allocator(to_device("memory_stats", device)).stats());
      },
      py::arg("device") = py::none());
  m.def(
      "reset_peak_memory_stats",
      [](py::object device) {
        allocator(to_device("reset_peak_memory_stats", device)).reset_peak();
      },
      py::arg("device") = py::none());
  m.def(
      "empty_cache",
      [](py::object device) {
        if (!device.is_none()) {
          allocator(to_device("empty_cache", device)).empty_cache();
          return;
        }
        for_each_device([](Device d) { allocator(d).empty_cache(); });
      },
      py::arg("device") = py::none());
  m.def(
      "synchronize",
      [](py::object device) {
        if (!device.is_none()) {
          synchronize(to_device("synchronize", device));
          return;
        }
        for_each_device([](Device d) { synchronize(d); });
      },
      py::arg("device") = py::none());
  m.def(
      "set_fallback",
      [](const std::string &mode) {
        set_fallback_mode(parse_fallback_mode(mode, "the fallback mode"));
      },
      py::arg("mode"));
  m.def("get_fallback", [] { return fallback_mode_name(fallback_mode()); });
  m.def("placement_report", [] {
    py::list out;
    for (const Placement &p : placement_report()) {
      py::dict d;
      d["op"] = p.op;
      d["device"] = p.device;
      d["ran_on"] = p.ran_on;
      d["calls"] = p.calls;
      d["bytes_to_host"] = p.bytes_to_host;
      d["bytes_from_host"] = p.bytes_from_host;
      d["bytes"] = p.bytes_to_host + p.bytes_from_host;
      out.append(d);
    }
    return out;
  });
  m.def("reset_placement_report", &reset_placement_report);
  m.def("num_threads", [] { return devrt_num_threads(); });
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
}

} // namespace devrt::bind
