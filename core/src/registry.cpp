#include "devrt/registry.h"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "devrt/error.h"
#include "devrt/fallback.h"

namespace devrt {

namespace {

// Memory of the built-in host device, used until (and unless) a CPU backend
// registers an allocator of its own.
void *host_alloc(void *, int32_t, size_t nbytes) {
  if (nbytes > (size_t(1) << 48))
    return nullptr;
  void *p = nullptr;
  if (posix_memalign(&p, 64, nbytes ? nbytes : 64) != 0)
    return nullptr;
  return p;
}
void host_free(void *, int32_t, void *ptr, size_t) { std::free(ptr); }
int host_copy(void *, int32_t, void *dst, const void *src, size_t n, int32_t) {
  if (n)
    std::memcpy(dst, src, n);
  return DEVRT_OK;
}
int host_sync(void *, int32_t) { return DEVRT_OK; }

// The plugin whose registration runs on this thread (an owner id).
thread_local int32_t tl_owner = 0;

struct BackendSlot {
  BackendInfo info;
  devrt_backend_desc desc{};
  std::string name_storage;
  std::vector<std::unique_ptr<CachingAllocator>> allocators;
  int32_t owner = 0;
};

// A kernel that a plugin replaced with DEVRT_KERNEL_OVERRIDE, kept so that
// unregistering that plugin brings it back.
struct Overridden {
  OpId op;
  int type;
  int32_t by;
  KernelEntry previous;
};

struct Registry {
  std::mutex mu;
  std::array<BackendSlot, kMaxDeviceTypes> slots;
  int num_types = 0;
  // kernels[op][device type]
  std::array<std::array<KernelEntry, kMaxDeviceTypes>, kNumOps> kernels{};
  // Plugin names by owner id; id 0 is "no plugin".
  std::vector<std::string> owners{""};
  std::vector<Overridden> overridden;

  int32_t owner_id(const std::string &plugin) {
    for (size_t i = 0; i < owners.size(); ++i)
      if (owners[i] == plugin)
        return static_cast<int32_t>(i);
    owners.push_back(plugin);
    return static_cast<int32_t>(owners.size() - 1);
  }

  std::string owner_name(int32_t id) const {
    return id ? "plugin '" + owners[id] + "'" : "no plugin";
  }

  void count_kernels() {
    for (int t = 0; t < num_types; ++t) {
      int n = 0;
      for (int op = 0; op < kNumOps; ++op)
        n += kernels[op][t].fn != nullptr;
      slots[t].info.kernel_count = n;
    }
  }

  Registry() {
    // "cpu" is type 0 from the start so that host tensors (NumPy views,
    // DLPack imports) exist before any plugin has loaded.
    devrt_backend_desc d{};
    d.struct_size = sizeof(d);
    d.name = "cpu";
    d.device_count = 1;
    d.host_accessible = 1;
    d.alloc = host_alloc;
    d.free = host_free;
    d.copy = host_copy;
    d.synchronize = host_sync;
    install(0, d);
    slots[0].info.registered = false;
    num_types = 1;
  }

  void install(int type, const devrt_backend_desc &d) {
    BackendSlot &s = slots[type];
    s.name_storage = d.name;
    s.desc = d;
    s.desc.name = s.name_storage.c_str();
    s.info.name = s.name_storage;
    s.info.type = type;
    s.info.device_count = d.device_count;
    s.info.host_accessible = d.host_accessible != 0;
    s.info.registered = true;
    s.owner = tl_owner;
    s.info.plugin = owners[tl_owner];
    s.allocators.clear();
    for (int i = 0; i < d.device_count; ++i)
      s.allocators.push_back(std::make_unique<CachingAllocator>(
          Device{static_cast<int16_t>(type), static_cast<int16_t>(i)},
          &s.desc));
  }
};

Registry &reg() {
  static Registry *r = new Registry(); // leaked: see ~CachingAllocator
  return *r;
}

thread_local std::string tl_last_error;

// Copies the fields a plugin's (possibly older, shorter) struct has.
template <class T> T read_sized(const T *p) {
  T out{};
  size_t n = p->struct_size < sizeof(T) ? p->struct_size : sizeof(T);
  std::memcpy(&out, p, n);
  out.struct_size = sizeof(T);
  return out;
}

} // namespace

void register_backend(const devrt_backend_desc &user) {
  devrt_backend_desc d = read_sized(&user);
  if (!d.name || !*d.name)
    fail(ErrorKind::Value, "[register_backend] a backend needs a name");
  if (!d.alloc || !d.free || !d.copy)
    fail(ErrorKind::Value, "[register_backend] backend '", d.name,
         "' must provide alloc, free and copy");
  if (d.device_count < 0 || d.device_count > 1024)
    fail(ErrorKind::Value, "[register_backend] backend '", d.name,
         "' has an invalid device count ", d.device_count);
  if (!d.synchronize)
    d.synchronize = host_sync;
  Registry &r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  for (int t = 0; t < r.num_types; ++t) {
    if (r.slots[t].info.name != d.name)
      continue;
    if (r.slots[t].info.registered)
      fail(ErrorKind::Runtime, "[register_backend] device type '", d.name,
           "' is already registered");
    // Blocks still cached were allocated by the earlier functions: free them
    // through those. Live ones would be freed through the new: refused.
    for (auto &a : r.slots[t].allocators) {
      a->empty_cache();
      if (a->stats().allocated != 0)
        fail(ErrorKind::Runtime, "[register_backend] '", d.name,
             "' registered while ", a->stats().allocated,
             " bytes of its memory are still in use");
    }
    r.install(t, d);
    return;
  }
  if (r.num_types == kMaxDeviceTypes)
    fail(ErrorKind::Runtime, "[register_backend] too many device types (",
         kMaxDeviceTypes, ")");
  r.install(r.num_types++, d);
}

void register_kernel(const devrt_kernel_desc &user) {
  devrt_kernel_desc d = read_sized(&user);
  OpId op;
  if (!d.op || !op_from_name(d.op, &op))
    fail(ErrorKind::Value, "[register_kernel] unknown op '",
         d.op ? d.op : "(null)", "'");
  if (!d.fn)
    fail(ErrorKind::Value, "[register_kernel] kernel for '", d.op,
         "' has no function");
  int type = device_type_of(d.backend ? d.backend : "");
  if (type < 0 || !reg().slots[type].info.registered)
    fail(ErrorKind::Value, "[register_kernel] backend '",
         d.backend ? d.backend : "(null)",
         "' must be registered before its kernels");
  const OpFamily family = op_def(op).family;
  if (family == OpFamily::View)
    fail(ErrorKind::Value, "[register_kernel] '", d.op,
         "' is a view op: it shares its input's storage and takes no kernel");
  if (family == OpFamily::Composite)
    fail(ErrorKind::Value, "[register_kernel] '", d.op,
         "' is built by the core from other ops and takes no kernel");
  Registry &r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  KernelEntry &e = r.kernels[static_cast<int>(op)][type];
  if (e.fn && e.owner != tl_owner) {
    if (!(d.flags & DEVRT_KERNEL_OVERRIDE))
      fail(ErrorKind::Runtime, "[register_kernel] '", d.op, "' on '", d.backend,
           "' already has a kernel from ", r.owner_name(e.owner), "; ",
           r.owner_name(tl_owner),
           " must register it with override to replace it");
    r.overridden.push_back(Overridden{op, type, tl_owner, e});
  }
  if (!e.fn)
    r.slots[type].info.kernel_count++;
  e.fn = d.fn;
  e.user_data = d.user_data;
  e.dtypes = d.dtypes & DEVRT_ALL_MASK;
  e.owner = tl_owner;
}

void begin_plugin_registration(const std::string &plugin) {
  Registry &r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  tl_owner = r.owner_id(plugin);
}

void end_plugin_registration() { tl_owner = 0; }

std::string registering_plugin() {
  Registry &r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.owners[tl_owner];
}

std::vector<std::string> unregister_plugin(const std::string &plugin) {
  Registry &r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> removed;
  if (plugin.empty())
    return removed;
  const int32_t id = r.owner_id(plugin);
  // Its device types go with every kernel on them. Their allocators stay:
  // tensors allocated during the failed registration may still free into
  // them.
  for (int t = 1; t < r.num_types; ++t) {
    BackendSlot &s = r.slots[t];
    if (s.owner != id || !s.info.registered)
      continue;
    s.info.registered = false;
    s.info.device_count = 0;
    s.owner = 0;
    s.info.plugin.clear();
    for (auto &row : r.kernels)
      row[t] = KernelEntry{};
    removed.push_back(s.info.name);
  }
  // Its kernels elsewhere give way to the ones they overrode.
  for (auto it = r.overridden.rbegin(); it != r.overridden.rend(); ++it) {
    KernelEntry &e = r.kernels[static_cast<int>(it->op)][it->type];
    if (it->by == id && e.owner == id && r.slots[it->type].info.registered)
      e = it->previous;
  }
  for (auto &row : r.kernels)
    for (KernelEntry &e : row)
      if (e.owner == id)
        e = KernelEntry{};
  r.overridden.erase(std::remove_if(r.overridden.begin(), r.overridden.end(),
                                    [&](const Overridden &o) {
                                      return o.by == id ||
                                             o.previous.owner == id;
                                    }),
                     r.overridden.end());
  r.count_kernels();
  return removed;
}

void load_plugin_library(const std::string &path) {
  void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    fail(ErrorKind::Runtime, "[load_plugin] cannot load ", path, ": ",
         dlerror());
  auto init =
      reinterpret_cast<devrt_plugin_init_fn>(dlsym(h, "devrt_plugin_init"));
  if (!init)
    fail(ErrorKind::Runtime, "[load_plugin] ", path,
         " does not export devrt_plugin_init");
  tl_last_error.clear();
  if (init(DEVRT_ABI_VERSION) != DEVRT_OK)
    fail(ErrorKind::Runtime, "[load_plugin] ", path, " failed to initialise: ",
         tl_last_error.empty() ? "no message" : tl_last_error);
}

int device_type_of(const std::string &name) {
  Registry &r = reg();
  for (int t = 0; t < r.num_types; ++t)
    if (r.slots[t].info.name == name)
      return t;
  return -1;
}

std::vector<BackendInfo> backends() {
  Registry &r = reg();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<BackendInfo> out;
  for (int t = 0; t < r.num_types; ++t)
    out.push_back(r.slots[t].info);
  return out;
}

const devrt_backend_desc &backend_desc(int type) {
  return reg().slots[type].desc;
}

CachingAllocator &allocator(Device device) {
  BackendSlot &s = reg().slots[device.type];
  if (device.index < 0 || device.index >= static_cast<int>(s.allocators.size()))
    fail(ErrorKind::Value, "[device] ", device_str(device),
         " does not exist: '", s.info.name, "' has ", s.allocators.size(),
         " device(s)");
  return *s.allocators[device.index];
}

bool host_accessible(Device device) {
  return reg().slots[device.type].desc.host_accessible != 0;
}

void synchronize(Device device) {
  const devrt_backend_desc &d = reg().slots[device.type].desc;
  if (d.synchronize(d.user_data, device.index) != DEVRT_OK)
    fail(ErrorKind::Runtime, "[synchronize] ", device_str(device), " failed");
}

const KernelEntry &kernel_entry(OpId op, int device_type) {
  return reg().kernels[static_cast<int>(op)][device_type];
}

bool has_kernel(OpId op, int device_type, DType dtype) {
  const KernelEntry &e = kernel_entry(op, device_type);
  return e.fn && (e.dtypes & dtype_bit(dtype));
}

uint32_t kernel_dtypes(OpId op, int device_type) {
  const KernelEntry &e = kernel_entry(op, device_type);
  return e.fn ? e.dtypes : 0;
}

const KernelEntry &find_kernel(OpId op, Device device, DType dtype) {
  const KernelEntry &e = reg().kernels[static_cast<int>(op)][device.type];
  if (e.fn && (e.dtypes & dtype_bit(dtype))) [[likely]]
    return e;
  if (const KernelEntry *cpu = fallback_kernel(op, device, dtype))
    return *cpu;
  std::ostringstream have;
  Registry &r = reg();
  for (int t = 0; t < r.num_types; ++t) {
    if (has_kernel(op, t, dtype))
      have << (have.tellp() > 0 ? ", " : "") << r.slots[t].info.name;
  }
  std::string h = have.str();
  fail(ErrorKind::NotImplemented, "[", op_name(op), "] no kernel for dtype ",
       dtype_name(dtype), " on ", device_str(device), "; implemented for ",
       dtype_name(dtype), " on: ", h.empty() ? "no device" : h);
}

// --- devices ------------------------------------------------------------

std::string device_str(Device d) {
  const BackendSlot &s = reg().slots[d.type];
  if (d.type == 0 && d.index == 0)
    return "cpu";
  return s.info.name + ":" + std::to_string(d.index);
}

Device parse_device(const std::string &str) {
  std::string name = str;
  int index = 0;
  auto colon = str.find(':');
  if (colon != std::string::npos) {
    name = str.substr(0, colon);
    std::string idx = str.substr(colon + 1);
    char *end = nullptr;
    long v = std::strtol(idx.c_str(), &end, 10);
    if (idx.empty() || *end != '\0' || v < 0 || v > 32767)
      fail(ErrorKind::Value, "[device] invalid device index in '", str, "'");
    index = static_cast<int>(v);
  }
  int type = device_type_of(name);
  // A device type whose plugin was taken back is unknown again (the CPU's
  // type exists before its plugin registers it).
  if (type < 0 || (type != 0 && !reg().slots[type].info.registered)) {
    std::ostringstream known;
    for (const BackendInfo &b : backends())
      if (b.registered || b.type == 0)
        known << (known.tellp() > 0 ? ", " : "") << b.name;
    fail(ErrorKind::Value, "[device] unknown device type '", name, "' in '",
         str, "'; known device types: ", known.str());
  }
  return Device{static_cast<int16_t>(type), static_cast<int16_t>(index)};
}

} // namespace devrt

// --- the C ABI -------------------------------------------------------------

using devrt::Error;

namespace {
template <class F> int guarded(F &&f) {
  try {
    f();
    return DEVRT_OK;
  } catch (const Error &e) {
    devrt::tl_last_error = e.what();
    return static_cast<int>(e.kind());
  } catch (const std::exception &e) {
    devrt::tl_last_error = e.what();
    return DEVRT_ERROR_RUNTIME;
  }
}
} // namespace

namespace devrt {
namespace {

// 0 until set_num_threads: the default then applies.
std::atomic<int> g_num_threads{0};

// DEVRT_NUM_THREADS, else the CPUs this process may run on (a taskset or
// cgroup affinity counts, where hardware_concurrency would not).
int default_num_threads() {
  static const int n = [] {
    if (const char *env = std::getenv("DEVRT_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v > 0)
        return v;
    }
#if defined(__linux__)
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 &&
        CPU_COUNT(&allowed) > 0)
      return CPU_COUNT(&allowed);
#endif
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? static_cast<int>(hw) : 1;
  }();
  return n;
}

} // namespace

void set_num_threads(int n) {
  if (n < 1)
    fail(ErrorKind::Value,
         "[set_num_threads] the number of threads must be at least 1, got ", n);
  g_num_threads.store(n, std::memory_order_relaxed);
}

} // namespace devrt

extern "C" {

DEVRT_EXPORT int devrt_register_backend(const devrt_backend_desc *desc) {
  return guarded([&] { devrt::register_backend(*desc); });
}

DEVRT_EXPORT int devrt_register_kernel(const devrt_kernel_desc *desc) {
  return guarded([&] { devrt::register_kernel(*desc); });
}

DEVRT_EXPORT const char *devrt_last_error(void) {
  return devrt::tl_last_error.c_str();
}

DEVRT_EXPORT void devrt_set_error(const char *message) {
  devrt::tl_last_error = message ? message : "";
}

DEVRT_EXPORT int devrt_num_threads(void) {
  const int n = devrt::g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : devrt::default_num_threads();
}

} // extern "C"
