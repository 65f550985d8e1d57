// Internal: packs tensors and attributes into a devrt_kernel_call and runs
// the kernel the dispatcher found. Everything lives on the stack: a kernel
// call touches the heap only for tensors of more than six dimensions.
#pragma once

#include <vector>

#include "devrt/c_api.h"
#include "devrt/error.h"
#include "devrt/ops.h"
#include "devrt/registry.h"

namespace devrt {

// ValueError "[op] expected all tensors on one device, got A and B" unless
// a and b share a device.
void check_same_device(OpId op, const Tensor &a, const Tensor &b);

class Launch {
public:
  // Finds the kernel for (op, device, dtype); throws NotImplementedError.
  Launch(OpId op, Device device, DType dtype)
      : op_(op), device_(device), kernel_(find_kernel(op, device, dtype)) {}

  // An operand viewed as it is.
  Launch &input(const Tensor &t) { return add(false, t, nullptr); }
  // An operand broadcast to `shape` (stride 0 where it is expanded).
  Launch &input(const Tensor &t, const Dims &shape) {
    return add(false, t, &shape);
  }
  Launch &output(const Tensor &t) { return add(true, t, nullptr); }

  Launch &attr_none() { return push_attr(DEVRT_ATTR_NONE, 0, 0.0); }
  Launch &attr_int(int64_t v) {
    return push_attr(DEVRT_ATTR_INT, v, double(v));
  }
  Launch &attr_float(double v) {
    return push_attr(DEVRT_ATTR_FLOAT, int64_t(v), v);
  }
  Launch &attr_bool(bool v) { return push_attr(DEVRT_ATTR_BOOL, v, v); }
  Launch &attr_scalar(Scalar s) {
    return push_attr(DEVRT_ATTR_SCALAR, s.i, s.f);
  }
  Launch &attr_ints(const Dims &v);

  void run();

private:
  struct Operand {
    devrt_view view;
    Dims shape, strides;
  };
  static constexpr int kMaxInputs = 12, kMaxOutputs = 4, kMaxAttrs = 8,
                       kMaxListAttrs = 4;
  Launch &add(bool output, const Tensor &t, const Dims *shape);
  Launch &push_attr(int kind, int64_t i, double f);

  OpId op_;
  Device device_;
  const KernelEntry &kernel_;
  Operand inputs_[kMaxInputs], outputs_[kMaxOutputs];
  int n_inputs_ = 0, n_outputs_ = 0, n_attrs_ = 0, n_lists_ = 0;
  devrt_attr attrs_[kMaxAttrs];
  Dims lists_[kMaxListAttrs];
};

// Raises the error a kernel reported, mapped onto devrt's error kinds.
[[noreturn]] void raise_kernel_error(OpId op, int status, const char *msg);

} // namespace devrt
