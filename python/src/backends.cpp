// Backends seen from Python: native plugin loading, plugin registration
// scopes, the catalogue, memory statistics and the CPU fallback. Backends
// written in Python are in python_backends.cpp.
#include "bindings.h"

#include "devrt/error.h"
#include "devrt/fallback.h"

namespace devrt::bind {

namespace {

py::list dtype_list(uint32_t mask) {
  py::list l;
  for (int i = 0; i < kNumDTypes; ++i)
    if (mask & (1u << i))
      l.append(dtype_name(static_cast<DType>(i)));
  return l;
}

py::dict stats_dict(const MemoryStats &s) {
  py::dict d;
  d["allocated"] = s.allocated;
  d["reserved"] = s.reserved;
  d["peak_allocated"] = s.peak_allocated;
  d["allocations"] = s.allocations;
  d["cache_hits"] = s.cache_hits;
  d["device_allocations"] = s.device_allocs;
  return d;
}

void for_each_device(const std::function<void(Device)> &fn) {
  for (const BackendInfo &b : backends())
    for (int i = 0; i < b.device_count; ++i)
      fn(Device{static_cast<int16_t>(b.type), static_cast<int16_t>(i)});
}

} // namespace

void init_backends(py::module_ &m) {
  m.def("load_plugin_library", &load_plugin_library, py::arg("path"),
        "dlopen() a native backend and call its devrt_plugin_init.");
  m.def("begin_plugin_registration", &begin_plugin_registration,
        py::arg("plugin"),
        "Attribute the device types and kernels this thread registers from "
        "now on to `plugin`, until end_plugin_registration.");
  m.def("end_plugin_registration", &end_plugin_registration,
        "End the registration scope begin_plugin_registration opened.");
  m.def("unregister_plugin", &unregister_plugin, py::arg("plugin"),
        "Remove the device types and kernels `plugin` registered; returns "
        "the device types removed.");
  m.def(
      "backends",
      [] {
        py::list out;
        for (const BackendInfo &b : backends()) {
          py::dict d;
          d["name"] = b.name;
          d["device_count"] = b.device_count;
          d["host_accessible"] = b.host_accessible;
          d["registered"] = b.registered;
          d["kernel_count"] = b.kernel_count;
          d["plugin"] = b.plugin;
          out.append(d);
        }
        return out;
      },
      "Every device type, one dict each: name, device_count, host_accessible, "
      "registered (a backend registered itself for it), kernel_count "
      "(catalogue "
      "ops with a kernel) and plugin (the plugin that registered it).");
  m.def(
      "catalogue",
      [] {
        py::list out;
        std::vector<BackendInfo> bs = backends();
        for (int i = 0; i < kNumOps; ++i) {
          const OpDef &def = op_def(static_cast<OpId>(i));
          py::dict d, kernels;
          d["name"] = def.name;
          d["family"] = family_name(def.family);
          d["num_inputs"] = def.num_inputs;
          d["num_outputs"] = def.num_outputs;
          d["attrs"] = py::cast(def.attrs);
          d["doc"] = def.doc;
          for (const BackendInfo &b : bs) {
            uint32_t mask = kernel_dtypes(def.id, b.type);
            if (mask)
              kernels[py::str(b.name)] = dtype_list(mask);
          }
          d["kernels"] = kernels;
          out.append(d);
        }
        return out;
      },
      "Every catalogue op, one dict each, in declaration order: name, family, "
      "num_inputs, num_outputs, attrs, doc (what it computes) and kernels "
      "({device type: [dtype names]}).");
  m.def(
      "memory_stats",
      [](py::object device) {
        return stats_dict(allocator(to_device("memory_stats", device)).stats());
      },
      py::arg("device") = py::none(),
      "The caching allocator's statistics for `device` (default: the CPU): "
      "allocated, reserved and peak_allocated bytes, allocations, cache_hits "
      "and device_allocations.");
  m.def(
      "reset_peak_memory_stats",
      [](py::object device) {
        allocator(to_device("reset_peak_memory_stats", device)).reset_peak();
      },
      py::arg("device") = py::none(),
      "Set peak_allocated of `device` (default: the CPU) to what is "
      "allocated now.");
  m.def(
      "empty_cache",
      [](py::object device) {
        if (!device.is_none()) {
          allocator(to_device("empty_cache", device)).empty_cache();
          return;
        }
        for_each_device([](Device d) { allocator(d).empty_cache(); });
      },
      py::arg("device") = py::none(),
      "Give the cached free blocks of `device` (default: every device) back "
      "to its backend.");
  m.def(
      "synchronize",
      [](py::object device) {
        if (!device.is_none()) {
          synchronize(to_device("synchronize", device));
          return;
        }
        for_each_device([](Device d) { synchronize(d); });
      },
      py::arg("device") = py::none(),
      "Wait until the work queued on `device` (default: every device) is "
      "done.");
  m.def(
      "set_fallback",
      [](const std::string &mode) {
        set_fallback_mode(parse_fallback_mode(mode, "the fallback mode"));
      },
      py::arg("mode"),
      "Set the CPU fallback for ops a device has no kernel for: 'off' "
      "(raise), 'cpu' (run them on the CPU, counted in the placement report) "
      "or 'strict' (refuse, saying so).");
  m.def(
      "get_fallback", [] { return fallback_mode_name(fallback_mode()); },
      "The CPU fallback's mode: 'off', 'cpu' or 'strict'.");
  m.def(
      "placement_report",
      [] {
        py::list out;
        for (const Placement &p : placement_report()) {
          py::dict d;
          d["op"] = p.op;
          d["device"] = p.device;
          d["ran_on"] = p.ran_on;
          d["calls"] = p.calls;
          d["bytes_to_host"] = p.bytes_to_host;
          d["bytes_from_host"] = p.bytes_from_host;
          d["bytes"] = p.bytes_to_host + p.bytes_from_host;
          out.append(d);
        }
        return out;
      },
      "The ops the CPU fallback ran, one dict per (op, device): op, device, "
      "ran_on, calls, and the bytes copied to the host, from it and in all.");
  m.def("reset_placement_report", &reset_placement_report,
        "Empty the placement report.");
  m.def(
      "num_threads", [] { return devrt_num_threads(); },
      "The threads the CPU kernels split work over, the caller included.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Split the CPU kernels' work over `n` threads (at least 1) from now "
        "on.");
}

} // namespace devrt::bind
