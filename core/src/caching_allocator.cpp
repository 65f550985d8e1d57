#include "devrt/allocator.h"

#include <algorithm>

#include "devrt/error.h"

namespace devrt {

CachingAllocator::CachingAllocator(Device device,
                                   const devrt_backend_desc *backend)
    : device_(device), backend_(backend) {}

CachingAllocator::~CachingAllocator() {
  // Unreached in practice: the registry, and so every allocator, is leaked
  // on purpose so that no block is freed through a plugin already unloaded
  // at exit.
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked();
}

// Blocks under 1 MiB round up to 512 bytes; larger ones to a quarter of
// their power of two, bounding the waste at 25% while keeping the number of
// distinct classes (and so missed reuse) small.
size_t CachingAllocator::size_class(size_t nbytes) {
  if (nbytes == 0)
    return 512;
  if (nbytes < (1u << 20))
    return (nbytes + 511) & ~size_t(511);
  size_t p = size_t(1) << (63 - __builtin_clzll(nbytes));
  size_t step = p / 4;
  if (nbytes > SIZE_MAX - step)
    return nbytes; // absurd sizes: let the backend refuse them
  return (nbytes + step - 1) / step * step;
}

void *CachingAllocator::allocate(size_t nbytes, size_t *block_size) {
  size_t cls = size_class(nbytes);
  std::unique_lock<std::mutex> lock(mu_);
  stats_.allocations++;
  auto it = free_.find(cls);
  if (it != free_.end() && !it->second.empty()) {
    void *p = it->second.back();
    it->second.pop_back();
    stats_.cache_hits++;
    stats_.allocated += cls;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    *block_size = cls;
    return p;
  }
  void *p = backend_->alloc(backend_->user_data, device_.index, cls);
  if (!p) {
    // Out of memory: give every cached block back and retry once.
    free_cached_locked();
    p = backend_->alloc(backend_->user_data, device_.index, cls);
  }
  if (!p) {
    MemoryStats s = stats_;
    lock.unlock();
    fail(ErrorKind::OutOfMemory, "[alloc] out of memory on ",
         device_str(device_), ": tried to allocate ", nbytes,
         " bytes (allocated ", s.allocated, ", reserved ", s.reserved,
         ", peak ", s.peak_allocated, ")");
  }
  stats_.device_allocs++;
  stats_.allocated += cls;
  stats_.reserved += cls;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  *block_size = cls;
  return p;
}

void CachingAllocator::release(void *ptr, size_t block_size) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.allocated -= block_size;
  free_[block_size].push_back(ptr);
}

void CachingAllocator::free_cached_locked() {
  for (auto &[cls, blocks] : free_) {
    for (void *p : blocks) {
      backend_->free(backend_->user_data, device_.index, p, cls);
      stats_.reserved -= cls;
    }
    blocks.clear();
  }
  free_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked();
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_allocated = stats_.allocated;
}

} // namespace devrt
