// Backends written in Python: their kernels are Python callables, and their
// memory is host memory (kernels see NumPy arrays) or the backend's own
// (devrt.protocols.Memory: kernels see devrt.protocols.DeviceView).
#include "bindings.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "devrt/error.h"

namespace devrt::bind {

namespace {

// --- host memory -------------------------------------------------------------

void *host_alloc(void *, int32_t, size_t nbytes) {
  if (nbytes > (size_t(1) << 48))
    return nullptr;
  void *p = nullptr;
  return posix_memalign(&p, 64, nbytes ? nbytes : 64) == 0 ? p : nullptr;
}
void host_free(void *, int32_t, void *p, size_t) { std::free(p); }
int host_copy(void *, int32_t, void *dst, const void *src, size_t n, int32_t) {
  if (n)
    std::memcpy(dst, src, n);
  return DEVRT_OK;
}

// --- memory of its own
// ---------------------------------------------------------

// Note: the core addresses device memory as a pointer plus byte offsets.
// Each buffer a Python backend allocates gets a range of addresses that no
// memory backs (above any user-space pointer); only this file turns an
// address back into (buffer, offset), and nothing ever dereferences one.
struct PyMemory {
  struct Block {
    PyObject *buffer; // owned
    size_t nbytes;
  };
  py::object memory;
  std::mutex mu; // guards blocks and next; never held while calling Python
  std::map<uintptr_t, Block> blocks;

  static uintptr_t take_addresses(size_t nbytes) {
    static std::mutex mu;
    static uintptr_t next = uintptr_t(1) << 52;
    std::lock_guard<std::mutex> lock(mu);
    uintptr_t base = next;
    // A gap after each block, so that one block's end is not the next's start.
    next += ((nbytes + 63) / 64 + 1) * 64;
    return base;
  }

  // The buffer holding `p` and p's offset in it.
  std::pair<py::object, size_t> locate(const void *p, size_t n) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    std::lock_guard<std::mutex> lock(mu);
    auto it = blocks.upper_bound(a);
    if (it == blocks.begin() ||
        a + n > std::prev(it)->first + std::prev(it)->second.nbytes)
      fail(ErrorKind::Runtime, "[memory] address ", p,
           " lies in no buffer of this device");
    --it;
    return {py::reinterpret_borrow<py::object>(it->second.buffer),
            a - it->first};
  }
};

// A Python error where the C ABI has no room for one: printed, as Python
// prints errors in destructors.
void report(py::error_already_set &e, const char *where) {
  e.discard_as_unraisable(where);
}

void *mem_alloc(void *user, int32_t device, size_t nbytes) {
  auto *m = static_cast<PyMemory *>(user);
  py::gil_scoped_acquire gil;
  py::object buffer;
  try {
    buffer = m->memory.attr("allocate")(device, nbytes);
  } catch (py::error_already_set &e) {
    // Null means out of memory: the core empties its cache and retries.
    if (!e.matches(PyExc_MemoryError))
      report(e, "devrt: Memory.allocate");
    return nullptr;
  }
  if (buffer.is_none())
    return nullptr;
  const uintptr_t base = PyMemory::take_addresses(nbytes);
  std::lock_guard<std::mutex> lock(m->mu);
  m->blocks[base] = PyMemory::Block{buffer.release().ptr(), nbytes};
  return reinterpret_cast<void *>(base);
}

void mem_free(void *user, int32_t device, void *p, size_t) {
  auto *m = static_cast<PyMemory *>(user);
  PyMemory::Block block{};
  {
    std::lock_guard<std::mutex> lock(m->mu);
    auto it = m->blocks.find(reinterpret_cast<uintptr_t>(p));
    if (it == m->blocks.end())
      return;
    block = it->second;
    m->blocks.erase(it);
  }
  py::gil_scoped_acquire gil;
  py::object buffer = py::reinterpret_steal<py::object>(block.buffer);
  try {
    m->memory.attr("free")(device, buffer);
  } catch (py::error_already_set &e) {
    report(e, "devrt: Memory.free");
  }
}

int mem_copy(void *user, int32_t device, void *dst, const void *src, size_t n,
             int32_t kind) {
  auto *m = static_cast<PyMemory *>(user);
  if (n == 0) // an empty tensor's copy: there is no byte to move
    return DEVRT_OK;
  py::gil_scoped_acquire gil;
  try {
    if (kind == DEVRT_COPY_HOST_TO_DEVICE) {
      auto [buf, off] = m->locate(dst, n);
      m->memory.attr("copy_in")(
          device, buf, off,
          py::memoryview::from_memory(src, static_cast<ssize_t>(n)));
    } else if (kind == DEVRT_COPY_DEVICE_TO_HOST) {
      auto [buf, off] = m->locate(src, n);
      m->memory.attr("copy_out")(
          device, buf, off,
          py::memoryview::from_memory(dst, static_cast<ssize_t>(n), false));
    } else {
      auto [dbuf, doff] = m->locate(dst, n);
      auto [sbuf, soff] = m->locate(src, n);
      m->memory.attr("copy")(device, dbuf, doff, sbuf, soff, n);
    }
    return DEVRT_OK;
  } catch (py::error_already_set &e) {
    report(e, "devrt: Memory copy");
  } catch (const std::exception &e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    PyErr_WriteUnraisable(nullptr);
  }
  return DEVRT_ERROR_RUNTIME;
}

// The memory of each device type registered with one (null: host memory).
PyMemory *g_memories[kMaxDeviceTypes] = {};

// --- kernels
// ---------------------------------------------------------------------

bool g_check_kernels = [] {
  const char *env = std::getenv("DEVRT_CHECK_KERNELS");
  return env && *env && std::strcmp(env, "0") != 0;
}();

const char *const kDTypeNames[] = {"bool",    "uint8",    "int32",   "int64",
                                   "float16", "bfloat16", "float32", "float64"};

py::array view_as_numpy(const devrt_view &v) {
  if (v.dtype == DEVRT_BFLOAT16)
    fail(ErrorKind::Type, "[python kernel] bfloat16 has no NumPy type");
  py::dtype dt(kDTypeNames[v.dtype]);
  std::vector<ssize_t> shape(v.shape, v.shape + v.ndim), strides;
  for (int i = 0; i < v.ndim; ++i)
    strides.push_back(static_cast<ssize_t>(v.strides[i] * dt.itemsize()));
  // The kernel call outlives nothing: a dummy base keeps NumPy from copying.
  return py::array(dt, shape, strides, v.data, py::none());
}

py::object view_as_device(const devrt_view &v, PyMemory &m) {
  static py::object *cls =
      new py::object(py::module_::import("devrt.protocols").attr("DeviceView"));
  const DType t = static_cast<DType>(v.dtype);
  py::tuple shape(v.ndim), strides(v.ndim);
  int64_t lo = 0, hi = 0;
  bool empty = false;
  for (int i = 0; i < v.ndim; ++i) {
    shape[i] = py::int_(v.shape[i]);
    strides[i] = py::int_(v.strides[i]);
    empty |= v.shape[i] == 0;
    const int64_t reach = (v.shape[i] - 1) * v.strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  const int64_t isz = static_cast<int64_t>(itemsize(t));
  if (empty) // no element to reach: the view names no buffer
    return (*cls)(py::none(), 0, shape, strides, dtype_name(t), isz,
                  v.device_index);
  const char *first = static_cast<const char *>(v.data) + lo * isz;
  auto [buf, off] = m.locate(first, static_cast<size_t>((hi - lo + 1) * isz));
  return (*cls)(buf, static_cast<int64_t>(off) - lo * isz, shape, strides,
                dtype_name(t), isz, v.device_index);
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

// A Python kernel, the plugin that registered it (for messages) and its
// device type's memory (null: host memory).
struct PyKernel {
  py::object fn;
  std::string plugin;
  PyMemory *memory;
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
      ins.append(k->memory ? view_as_device(call->inputs[i], *k->memory)
                           : view_as_numpy(call->inputs[i]));
    for (int i = 0; i < call->n_outputs; ++i)
      outs.append(k->memory ? view_as_device(call->outputs[i], *k->memory)
                            : view_as_numpy(call->outputs[i]));
    py::dict attrs;
    OpId op;
    if (op_from_name(call->op, &op)) {
      const OpDef &def = op_def(op);
      for (int i = 0; i < call->n_attrs && i < (int)def.attrs.size(); ++i)
        attrs[py::str(def.attrs[i])] = attr_value(call->attrs[i]);
    }
    if (g_check_kernels) [[unlikely]] {
      static py::object *checked = new py::object(
          py::module_::import("devrt.kernel_check").attr("checked_call"));
      (*checked)(k->fn, call->op, ins, outs, attrs,
                 k->memory ? k->memory->memory : py::none());
    } else {
      k->fn(ins, outs, attrs);
    }
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

} // namespace

void init_python_backends(py::module_ &m) {
  m.def(
      "register_python_backend",
      [](const std::string &name, int device_count, py::object memory) {
        devrt_backend_desc d{};
        d.struct_size = sizeof(d);
        d.name = name.c_str();
        d.device_count = device_count;
        PyMemory *mem = nullptr;
        if (memory.is_none()) {
          d.host_accessible = 1;
          d.alloc = host_alloc;
          d.free = host_free;
          d.copy = host_copy;
        } else {
          // Note: leaked, as kernels and tensors may outlive a rollback.
          mem = new PyMemory();
          mem->memory = memory;
          d.host_accessible = 0;
          d.user_data = mem;
          d.alloc = mem_alloc;
          d.free = mem_free;
          d.copy = mem_copy;
        }
        register_backend(d);
        g_memories[device_type_of(name)] = mem;
      },
      py::arg("name"), py::arg("device_count") = 1,
      py::arg("memory") = py::none(),
      "Register a device type whose kernels are Python callables; its memory "
      "is host memory, or `memory` (devrt.protocols.Memory).");
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
        const int type = device_type_of(backend);
        // Note: kernels live as long as the process (a replaced or
        // unregistered one may still be running), so this is never freed.
        auto *k = new PyKernel{fn, registering_plugin(),
                               type >= 0 ? g_memories[type] : nullptr};
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
      "`backend` (devrt.protocols.Kernel).");
  m.def(
      "set_check_kernels", [](bool on) { g_check_kernels = on; }, py::arg("on"),
      "Run every Python kernel call through devrt.kernel_check from now on "
      "(poisoned outputs, unchanged inputs), or stop.");
  m.def(
      "check_kernels", [] { return g_check_kernels; },
      "Whether Python kernel calls are checked (set_check_kernels, "
      "DEVRT_CHECK_KERNELS).");
}

} // namespace devrt::bind
