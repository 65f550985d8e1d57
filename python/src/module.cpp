// devrt._C: thin bindings over the core. The package devrt re-exports it.
#include "bindings.h"

#include <cstring>

#include "devrt/error.h"

namespace devrt::bind {
namespace {
PyObject *g_oom_error = nullptr;

// Owned references; never released at thread exit (no GIL there).
thread_local PyObject *tl_cause = nullptr;
thread_local std::string tl_cause_message;

// The kept kernel exception if it caused the error `message` (which may
// carry a prefix, as a graph node adds its name), else null.
PyObject *take_kernel_cause(const char *message) {
  PyObject *cause = tl_cause;
  tl_cause = nullptr;
  if (cause && std::strstr(message, tl_cause_message.c_str()))
    return cause;
  Py_XDECREF(cause);
  return nullptr;
}
} // namespace

void set_kernel_cause(const std::string &message, py::handle exc) {
  Py_XDECREF(tl_cause);
  tl_cause = exc.inc_ref().ptr();
  tl_cause_message = message;
}

void translate(std::exception_ptr p) {
  try {
    if (p)
      std::rethrow_exception(p);
  } catch (const Error &e) {
    PyObject *type = PyExc_RuntimeError;
    switch (e.kind()) {
    case ErrorKind::Value:
      type = PyExc_ValueError;
      break;
    case ErrorKind::Index:
      type = PyExc_IndexError;
      break;
    case ErrorKind::Type:
      type = PyExc_TypeError;
      break;
    case ErrorKind::NotImplemented:
      type = PyExc_NotImplementedError;
      break;
    case ErrorKind::OutOfMemory:
      type = g_oom_error;
      break;
    case ErrorKind::Runtime:
      type = PyExc_RuntimeError;
      break;
    }
    if (PyObject *cause = take_kernel_cause(e.what())) {
      PyObject *exc = PyObject_CallFunction(type, "s", e.what());
      if (!exc) {
        Py_DECREF(cause);
        return;
      }
      PyException_SetCause(exc, cause); // steals cause
      PyErr_SetObject(type, exc);
      Py_DECREF(exc);
      return;
    }
    PyErr_SetString(type, e.what());
  }
}

} // namespace devrt::bind

PYBIND11_MODULE(_C, m) {
  using namespace devrt;
  using namespace devrt::bind;
  m.doc() = "devrt's C++ core: tensors, the op catalogue and dispatcher, "
            "allocators and backends.";
  g_oom_error = PyErr_NewExceptionWithDoc(
      "devrt.OutOfMemoryError",
      "A device ran out of memory even after its cache was emptied. The "
      "message carries the allocator's statistics.",
      PyExc_MemoryError, nullptr);
  m.attr("OutOfMemoryError") = py::handle(g_oom_error);
  py::register_exception_translator(&translate);

  py::class_<TensorImpl, Tensor> cls(m, "Tensor");
  init_convert(m);
  init_tensor(m, cls);
  init_ops(m, cls);
  init_numpy(m, cls);
  init_dlpack(m, cls);
  init_backends(m);
  init_python_backends(m);
  init_autograd(m, cls);
  init_graph(m);
  install_call_errors(m);
}
