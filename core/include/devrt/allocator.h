// The caching allocator the core puts in front of every device's raw
// allocator. Freed blocks go to a free list keyed by size class and are
// handed out again without calling the backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "devrt/c_api.h"
#include "devrt/device.h"

namespace devrt {

struct MemoryStats {
  int64_t allocated = 0;      // bytes in blocks held by live tensors
  int64_t reserved = 0;       // allocated + cached
  int64_t peak_allocated = 0; // high-water mark of `allocated`
  int64_t allocations = 0;    // number of allocate() calls
  int64_t cache_hits = 0;     // allocations served from the cache
  int64_t device_allocs = 0;  // allocations that reached the backend
};

class CachingAllocator {
public:
  CachingAllocator(Device device, const devrt_backend_desc *backend);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator &) = delete;
  CachingAllocator &operator=(const CachingAllocator &) = delete;

  // Returns a block of at least nbytes (never null: throws
  // Error(OutOfMemory) after emptying the cache and retrying once).
  // *block_size receives the size class to pass back to release().
  void *allocate(size_t nbytes, size_t *block_size);
  void release(void *ptr, size_t block_size);
  void empty_cache();
  MemoryStats stats() const;
  void reset_peak();

  static size_t size_class(size_t nbytes);

private:
  void free_cached_locked();

  Device device_;
  const devrt_backend_desc *backend_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void *>> free_;
  MemoryStats stats_;
};

} // namespace devrt
