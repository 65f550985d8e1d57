#include "devrt/tensor.h"

#include <limits>

#include "devrt/allocator.h"
#include "devrt/error.h"
#include "devrt/registry.h"

namespace devrt {

Storage::~Storage() {
  if (allocator)
    allocator->release(data, block_size);
  else if (deleter)
    deleter(deleter_ctx);
}

int64_t TensorImpl::numel() const {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  return n;
}

bool TensorImpl::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0)
      return true;
    if (shape[i] != 1 && strides[i] != expected)
      return numel() == 0;
    expected *= shape[i];
  }
  return true;
}

Dims contiguous_strides(const Dims &shape) {
  Dims strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

int64_t shape_numel(const Dims &shape, const char *op) {
  // Overflow is checked on the product of the non-zero sizes: a zero
  // anywhere does not make an absurd shape valid.
  int64_t n = 1, nonzero = 1;
  for (int64_t s : shape) {
    if (s < 0)
      fail(ErrorKind::Value, "[", op, "] negative dimension ", s, " in shape ",
           shape);
    if (s != 0) {
      if (nonzero > std::numeric_limits<int64_t>::max() / s)
        fail(ErrorKind::Value, "[", op, "] shape ", shape,
             " has more elements than fit in int64");
      nonzero *= s;
    }
    n *= s;
  }
  return n;
}

Tensor empty(const Dims &shape, DType dtype, Device device) {
  int64_t n = shape_numel(shape);
  size_t isz = itemsize(dtype);
  if (n > 0 &&
      static_cast<uint64_t>(n) > std::numeric_limits<uint64_t>::max() / 2 / isz)
    fail(ErrorKind::Value, "[empty] shape ", shape, " of ", dtype_name(dtype),
         " needs more bytes than fit in 64 bits");
  auto storage = std::make_shared<Storage>();
  storage->nbytes = static_cast<size_t>(n) * isz;
  storage->device = device;
  CachingAllocator &alloc = allocator(device);
  storage->data = alloc.allocate(storage->nbytes, &storage->block_size);
  storage->allocator = &alloc;
  auto t = std::make_shared<TensorImpl>();
  t->storage = std::move(storage);
  t->shape = shape;
  t->strides = contiguous_strides(shape);
  t->dtype = dtype;
  t->device = device;
  return t;
}

bool partially_overlaps(const TensorImpl &a, const TensorImpl &b) {
  if (a.storage != b.storage || a.numel() == 0 || b.numel() == 0)
    return false;
  if (a.offset == b.offset && a.shape == b.shape && a.strides == b.strides)
    return false;
  auto extent = [](const TensorImpl &t) {
    int64_t last = t.offset;
    for (size_t i = 0; i < t.shape.size(); ++i)
      last += (t.shape[i] - 1) * t.strides[i];
    return last;
  };
  return a.offset <= extent(b) && b.offset <= extent(a);
}

Tensor make_view(const std::shared_ptr<Storage> &storage, int64_t offset,
                 Dims shape, Dims strides, DType dtype, Device device) {
  auto t = std::make_shared<TensorImpl>();
  t->storage = storage;
  t->offset = offset;
  t->shape = std::move(shape);
  t->strides = std::move(strides);
  t->dtype = dtype;
  t->device = device;
  return t;
}

Tensor alias(const Tensor &t, Dims shape, Dims strides, int64_t offset) {
  Tensor v = make_view(t->storage, offset, std::move(shape), std::move(strides),
                       t->dtype, t->device);
  v->base = t->base ? t->base : t;
  return v;
}

Tensor detach(const Tensor &t) {
  return make_view(t->storage, t->offset, t->shape, t->strides, t->dtype,
                   t->device);
}

} // namespace devrt
