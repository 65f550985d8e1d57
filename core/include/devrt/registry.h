// The one registry of a process: device types (backends), their caching
// allocators, and the kernel table. Plugins reach it through the C ABI in
// c_api.h; the bindings through these functions. It lives in libdevrt_core,
// which the bindings and every plugin link, so there is exactly one.
#pragma once

#include <string>
#include <vector>

#include "devrt/allocator.h"
#include "devrt/c_api.h"
#include "devrt/catalogue.h"
#include "devrt/device.h"
#include "devrt/dtype.h"

namespace devrt {

constexpr int kMaxDeviceTypes = 16;

struct KernelEntry {
  devrt_kernel_fn fn = nullptr;
  void *user_data = nullptr;
  uint32_t dtypes = 0; // DEVRT_DTYPE_BIT mask
  int32_t owner = 0;   // the registering plugin's id; 0 for none
};

struct BackendInfo {
  std::string name;
  int type = -1;
  int device_count = 0;
  bool host_accessible = false;
  bool registered = false; // a backend registered itself for this type
  int kernel_count = 0;    // catalogue ops with at least one kernel
  std::string plugin;      // the plugin that registered it, if any
};

// Registration (also exported through the C ABI).
void register_backend(const devrt_backend_desc &desc);
void register_kernel(const devrt_kernel_desc &desc);
// dlopen()s a plugin library and calls its devrt_plugin_init.
void load_plugin_library(const std::string &path);

// Registrations this thread makes between begin and end belong to `plugin`.
// A kernel for an (op, device type) that another plugin (or none) already
// has is refused unless its descriptor carries DEVRT_KERNEL_OVERRIDE, and
// unregister_plugin takes back everything a plugin registered.
void begin_plugin_registration(const std::string &plugin);
void end_plugin_registration();
// The plugin registering on this thread ("" outside a registration).
std::string registering_plugin();
// Removes the device types and kernels `plugin` registered, restoring the
// kernels it overrode; returns the names of the device types removed.
std::vector<std::string> unregister_plugin(const std::string &plugin);

int device_type_of(const std::string &name); // -1 if unknown
std::vector<BackendInfo> backends();
const devrt_backend_desc &backend_desc(int type);
CachingAllocator &allocator(Device device);
bool host_accessible(Device device);
void synchronize(Device device);

// The dispatcher's lookup: a flat array indexed by op and device type.
// Where it finds nothing it asks the CPU fallback (devrt/fallback.h), and
// then throws NotImplementedError naming op, dtype, device and the device
// types that do implement the op.
const KernelEntry &find_kernel(OpId op, Device device, DType dtype);
// The table's entry as it is (fn is null where nothing is registered).
const KernelEntry &kernel_entry(OpId op, int device_type);
bool has_kernel(OpId op, int device_type, DType dtype);
uint32_t kernel_dtypes(OpId op, int device_type);

// The threads devrt_num_threads() reports from now on (>= 1); the default
// is DEVRT_NUM_THREADS or the CPUs the process may run on.
void set_num_threads(int n);

} // namespace devrt
