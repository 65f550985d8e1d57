// The CPU backend's entry point: registers the "cpu" device and its kernels.
#include "kernel_util.h"
#include "kernels.h"

#include <devrt/c_api.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace devrt_cpu {
namespace {

constexpr size_t kAlignment = 64;

void *host_alloc(void *, int32_t, size_t nbytes) {
  // aligned_alloc wants a multiple of the alignment; the rounding must not
  // wrap for absurd sizes.
  if (nbytes > SIZE_MAX - kAlignment)
    return nullptr;
  const size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  return std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
}

void host_free(void *, int32_t, void *ptr, size_t) { std::free(ptr); }

int host_copy(void *, int32_t, void *dst, const void *src, size_t nbytes,
              int32_t) {
  if (nbytes > 0)
    std::memcpy(dst, src, nbytes);
  return DEVRT_OK;
}

int host_synchronize(void *, int32_t) { return DEVRT_OK; }

} // namespace
} // namespace devrt_cpu

extern "C" DEVRT_EXPORT int devrt_plugin_init(uint32_t abi_version) {
  using namespace devrt_cpu;
  if (abi_version != DEVRT_ABI_VERSION) {
    const std::string message = "[cpu] plugin built for devrt ABI " +
                                std::to_string(DEVRT_ABI_VERSION) +
                                ", core offers " + std::to_string(abi_version);
    devrt_set_error(message.c_str());
    return DEVRT_ERROR_RUNTIME;
  }
  try {
    devrt_backend_desc desc{};
    desc.struct_size = sizeof desc;
    desc.name = "cpu";
    desc.device_count = 1;
    desc.host_accessible = 1;
    desc.user_data = nullptr;
    desc.alloc = host_alloc;
    desc.free = host_free;
    desc.copy = host_copy;
    desc.synchronize = host_synchronize;
    desc.stream = nullptr;
    const int status = devrt_register_backend(&desc);
    if (status != DEVRT_OK) {
      const char *why = devrt_last_error();
      fail(static_cast<devrt_status>(status),
           std::string("registering the backend: ") + (why ? why : "failed"));
    }
    register_unary_kernels();
    register_binary_kernels();
    register_reduce_kernels();
    register_softmax_kernels();
    register_matmul_kernels();
    register_copy_kernels();
    register_random_kernels();
    register_indexing_kernels();
    register_conv_kernels();
    register_conv_direct_kernels();
    register_scan_kernels();
    register_optimizer_kernels();
    return DEVRT_OK;
  } catch (const KernelError &e) {
    devrt_set_error(("[cpu] " + e.message).c_str());
    return e.status;
  } catch (const std::exception &e) {
    devrt_set_error((std::string("[cpu] ") + e.what()).c_str());
    return DEVRT_ERROR_RUNTIME;
  } catch (...) {
    devrt_set_error("[cpu] unknown error during initialisation");
    return DEVRT_ERROR_RUNTIME;
  }
}
