#include "dispatch.h"

namespace devrt {

Launch &Launch::add(bool output, const Tensor &t, const Dims *shape) {
  int &n = output ? n_outputs_ : n_inputs_;
  if (n == (output ? kMaxOutputs : kMaxInputs))
    fail(ErrorKind::Value, "[", op_name(op_), "] too many operands");
  Operand &o = (output ? outputs_ : inputs_)[n++];
  if (shape && *shape != t->shape) {
    // Broadcast: align trailing dimensions, stride 0 where expanded.
    size_t n = shape->size(), k = t->shape.size();
    o.shape = *shape;
    o.strides.assign(n, 0);
    for (size_t i = 0; i < k; ++i) {
      size_t d = n - k + i;
      if (t->shape[i] == (*shape)[d])
        o.strides[d] = t->strides[i];
    }
  } else {
    o.shape = t->shape;
    o.strides = t->strides;
  }
  o.view.struct_size = sizeof(devrt_view);
  o.view.data = t->data_ptr();
  o.view.dtype = static_cast<int32_t>(t->dtype);
  o.view.ndim = static_cast<int32_t>(o.shape.size());
  o.view.device_type = t->device.type;
  o.view.device_index = t->device.index;
  return *this;
}

Launch &Launch::push_attr(int kind, int64_t i, double f) {
  if (n_attrs_ == kMaxAttrs)
    fail(ErrorKind::Runtime, "[", op_name(op_), "] too many attributes");
  devrt_attr &a = attrs_[n_attrs_++];
  a = devrt_attr{};
  a.kind = kind;
  a.i = i;
  a.f = f;
  return *this;
}

Launch &Launch::attr_ints(const Dims &v) {
  if (n_lists_ == kMaxListAttrs)
    fail(ErrorKind::Runtime, "[", op_name(op_), "] too many list attributes");
  Dims &list = lists_[n_lists_++];
  list = v;
  push_attr(DEVRT_ATTR_INTS, 0, 0.0);
  attrs_[n_attrs_ - 1].count = static_cast<int32_t>(v.size());
  attrs_[n_attrs_ - 1].ints = list.data();
  return *this;
}

void Launch::run() {
  devrt_view ins[kMaxInputs], outs[kMaxOutputs];
  for (int i = 0; i < n_inputs_; ++i) {
    ins[i] = inputs_[i].view;
    ins[i].shape = inputs_[i].shape.data();
    ins[i].strides = inputs_[i].strides.data();
  }
  for (int i = 0; i < n_outputs_; ++i) {
    outs[i] = outputs_[i].view;
    outs[i].shape = outputs_[i].shape.data();
    outs[i].strides = outputs_[i].strides.data();
  }

  char err[512];
  err[0] = '\0';
  devrt_kernel_call call{};
  call.struct_size = sizeof(call);
  call.op = op_name(op_);
  call.n_inputs = n_inputs_;
  call.n_outputs = n_outputs_;
  call.n_attrs = n_attrs_;
  call.inputs = ins;
  call.outputs = outs;
  call.attrs = attrs_;
  const devrt_backend_desc &b = backend_desc(device_.type);
  call.stream = b.stream ? b.stream(b.user_data, device_.index) : nullptr;
  call.user_data = kernel_.user_data;
  call.error = err;
  call.error_size = sizeof(err);
  int status = kernel_.fn(&call);
  if (status != DEVRT_OK) [[unlikely]]
    raise_kernel_error(op_, status, err);
}

void raise_kernel_error(OpId op, int status, const char *msg) {
  std::string m = msg && *msg ? msg : "";
  if (m.empty() || m[0] != '[')
    m = std::string("[") + op_name(op) + "] " +
        (m.empty() ? "kernel failed without a message" : m);
  ErrorKind kind = ErrorKind::Runtime;
  if (status >= DEVRT_ERROR_RUNTIME && status <= DEVRT_ERROR_OUT_OF_MEMORY)
    kind = static_cast<ErrorKind>(status);
  throw Error(kind, m);
}

} // namespace devrt
