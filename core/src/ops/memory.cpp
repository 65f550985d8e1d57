// Copies, casts and moves between devices.
#include <cstring>

#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

namespace {

void byte_copy(Device dst_dev, void *dst, Device src_dev, const void *src,
               size_t n) {
  if (n == 0)
    return;
  int status;
  if (src_dev.is_cpu()) {
    const devrt_backend_desc &b = backend_desc(dst_dev.type);
    status = b.copy(b.user_data, dst_dev.index, dst, src, n,
                    DEVRT_COPY_HOST_TO_DEVICE);
  } else if (dst_dev.is_cpu()) {
    const devrt_backend_desc &b = backend_desc(src_dev.type);
    status = b.copy(b.user_data, src_dev.index, dst, src, n,
                    DEVRT_COPY_DEVICE_TO_HOST);
  } else {
    const devrt_backend_desc &b = backend_desc(src_dev.type);
    status = b.copy(b.user_data, src_dev.index, dst, src, n,
                    DEVRT_COPY_DEVICE_TO_DEVICE);
  }
  if (status != DEVRT_OK)
    fail(ErrorKind::Runtime, "[to] copying ", n, " bytes from ",
         device_str(src_dev), " to ", device_str(dst_dev), " failed");
}

// The data of x as a CPU tensor: x itself, a CPU view of another backend's
// host memory, or a copy. Lets the core convert on the host what a device
// has no kernel for.
Tensor on_host(const Tensor &x) {
  if (x->device.is_cpu())
    return x;
  if (host_accessible(x->device)) {
    synchronize(x->device);
    return make_view(x->storage, x->offset, x->shape, x->strides, x->dtype,
                     kCPU);
  }
  return to_device(x, kCPU);
}

} // namespace

Tensor cast(const Tensor &x, DType dtype) {
  if (x->dtype == dtype)
    return x;
  if (autograd::should_record(x) && is_floating(dtype))
    return autograd::recorded(OpId::copy, x, {},
                              [&] { return cast(x, dtype); });
  Launch k(OpId::copy, x->device, x->dtype);
  Tensor y = empty(x->shape, dtype, x->device);
  k.input(x).output(y).run();
  return y;
}

Tensor contiguous(const Tensor &x) { return x->is_contiguous() ? x : clone(x); }

Tensor clone(const Tensor &x) {
  if (autograd::should_record(x))
    return autograd::recorded(OpId::copy, x, {}, [&] { return clone(x); });
  Launch k(OpId::copy, x->device, x->dtype);
  Tensor y = empty(x->shape, x->dtype, x->device);
  k.input(x).output(y).run();
  return y;
}

void copy_(const Tensor &dst, const Tensor &src) {
  if (autograd::inplace_records("copy_", dst, {src})) {
    autograd::rebase_history(
        "copy_", dst,
        autograd::overwritten(dst, {}, to_device(src, dst->device), false));
    return;
  }
  broadcast_shapes("copy", dst->shape, src->shape);
  Tensor s = src;
  if (s->device != dst->device)
    s = to_device(s, dst->device);
  else if (partially_overlaps(*dst, *s))
    s = clone(s); // the kernel must not read what it already wrote
  Dims shape = broadcast_shapes("copy", dst->shape, s->shape);
  if (shape != dst->shape)
    fail(ErrorKind::Value, "[copy] source of shape ", src->shape,
         " does not broadcast to the destination's shape ", dst->shape);
  if (dst->numel() == 0)
    return;
  Launch k(OpId::copy, dst->device, s->dtype);
  k.input(s, shape).output(dst).run();
  dst->bump_version();
}

Tensor to_device(const Tensor &x, Device device) {
  if (x->device == device)
    return x;
  if (autograd::should_record(x))
    return autograd::recorded(OpId::copy, x, {},
                              [&] { return to_device(x, device); });
  allocator(device); // validates the ordinal before any work
  if (!x->device.is_cpu() && !device.is_cpu() && x->device.type != device.type)
    return to_device(to_device(x, kCPU), device);
  Tensor src = x;
  Device from = x->device;
  if (!x->is_contiguous() && host_accessible(x->device) && !from.is_cpu()) {
    // Host memory of another backend: gather it with the CPU's copy kernel,
    // so that a backend need not implement `copy` to give its tensors back.
    src = clone(on_host(x));
    from = kCPU;
    if (device.is_cpu())
      return src;
  } else {
    src = contiguous(x);
  }
  Tensor y = empty(x->shape, x->dtype, device);
  byte_copy(device, y->data_ptr(), from, src->data_ptr(),
            x->numel() * itemsize(x->dtype));
  return y;
}

void copy_to_host(const Tensor &x, void *dst) {
  Tensor src = contiguous(x);
  size_t n = x->numel() * itemsize(x->dtype);
  if (host_accessible(x->device)) {
    synchronize(x->device);
    if (n)
      std::memcpy(dst, src->data_ptr(), n);
  } else {
    byte_copy(kCPU, dst, x->device, src->data_ptr(), n);
  }
}

Scalar item(const Tensor &x) {
  if (x->numel() != 1)
    fail(ErrorKind::Value, "[item] a tensor with ", x->numel(),
         " elements (shape ", x->shape, ") cannot be converted to a number");
  // Converted on the host, so that no device needs a cast kernel for it.
  Tensor v = on_host(x);
  if (x->dtype == DType::Float16 || x->dtype == DType::BFloat16 ||
      x->dtype == DType::Float32)
    v = cast(v, DType::Float64);
  else if (x->dtype == DType::UInt8 || x->dtype == DType::Int32)
    v = cast(v, DType::Int64);
  unsigned char buf[8];
  copy_to_host(v, buf);
  switch (v->dtype) {
  case DType::Bool:
    return Scalar::from_bool(buf[0] != 0);
  case DType::Int64: {
    int64_t i;
    std::memcpy(&i, buf, 8);
    return Scalar::from_int(i);
  }
  default: {
    double d;
    std::memcpy(&d, buf, 8);
    return Scalar::from_double(d);
  }
  }
}

} // namespace devrt
