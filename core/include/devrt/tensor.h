// Tensors: a reference-counted storage plus a strided view of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "devrt/device.h"
#include "devrt/dtype.h"
#include "devrt/small_vector.h"

namespace devrt {

class CachingAllocator;

// A buffer on one device. Either a block of a caching allocator or memory
// owned by someone else (a NumPy array, a DLPack producer), released through
// `deleter`.
struct Storage {
  void *data = nullptr;
  size_t nbytes = 0;
  Device device;
  CachingAllocator *allocator = nullptr; // set for allocator blocks
  size_t block_size = 0;
  void (*deleter)(void *ctx) = nullptr; // set for foreign memory
  void *deleter_ctx = nullptr;
  // Bumped by every in-place write; autograd compares it with the version it
  // saved to detect that a saved tensor was modified.
  std::atomic<uint64_t> version{0};

  Storage() = default;
  Storage(const Storage &) = delete;
  Storage &operator=(const Storage &) = delete;
  ~Storage();
};

struct AutogradMeta; // defined by the autograd engine

class TensorImpl {
public:
  std::shared_ptr<Storage> storage;
  int64_t offset = 0; // in elements
  Dims shape;
  Dims strides; // in elements, never negative
  DType dtype = DType::Float32;
  Device device;
  // A tensor made from a Python number: it promotes weakly (see
  // promote_types).
  bool wrapped_number = false;
  std::shared_ptr<AutogradMeta> autograd;
  // Views made by the view ops (alias()): the tensor whose memory they view,
  // never itself a view. An in-place write through the view rebases the
  // base's autograd history too.
  std::shared_ptr<TensorImpl> base;

  int64_t ndim() const { return static_cast<int64_t>(shape.size()); }
  int64_t numel() const;
  bool is_contiguous() const;
  void *data_ptr() const {
    return static_cast<char *>(storage->data) + offset * itemsize(dtype);
  }
  void bump_version() { storage->version.fetch_add(1); }
};

using Tensor = std::shared_ptr<TensorImpl>;

Dims contiguous_strides(const Dims &shape);
// Throws ValueError for negative sizes or an overflowing element count.
int64_t shape_numel(const Dims &shape, const char *op = "empty");

// A new uninitialised contiguous tensor from the device's caching allocator.
Tensor empty(const Dims &shape, DType dtype, Device device);
// A tensor viewing `storage` with the given geometry (no copy).
Tensor make_view(const std::shared_ptr<Storage> &storage, int64_t offset,
                 Dims shape, Dims strides, DType dtype, Device device);
// Whether writing `a` may change what `b` reads: same storage and
// overlapping element ranges. Identical views do not count: an elementwise
// kernel reads each element before it writes it.
bool partially_overlaps(const TensorImpl &a, const TensorImpl &b);
// A view of `t` with other geometry, sharing its storage; its base is t's
// base, or t.
Tensor alias(const Tensor &t, Dims shape, Dims strides, int64_t offset);
// A view of `t` with the same geometry and no autograd history.
Tensor detach(const Tensor &t);

} // namespace devrt
