// The CPU fallback: an op whose device has no kernel for it runs on the CPU
// instead (its operands copied to the host, the CPU kernel run, its outputs
// copied back), and each such call is counted in the placement report.
//
// Off by default. The mode comes from DEVRT_FALLBACK ("off", "cpu" or
// "strict"), read at the first missing kernel, until set_fallback_mode.
// "strict" refuses every fallback with an error that says so, whatever the
// environment asks for: a conformance run cannot pass through the CPU.
//
// The dispatcher consults the fallback only where its kernel lookup has
// already failed, so an op with a kernel pays nothing for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devrt/catalogue.h"
#include "devrt/device.h"
#include "devrt/dtype.h"

namespace devrt {

struct KernelEntry;

enum class FallbackMode { Off, Cpu, Strict };

FallbackMode fallback_mode();
void set_fallback_mode(FallbackMode mode);
// "off", "cpu" or "strict"; raises ValueError naming `source` otherwise.
FallbackMode parse_fallback_mode(const std::string &name, const char *source);
const char *fallback_mode_name(FallbackMode mode);

// Called by the kernel lookup after it found no kernel for (op, device,
// dtype): the kernel that runs the op on the CPU for `device`, or nullptr
// when the fallback is off or cannot help (the device is the CPU, or the CPU
// lacks the kernel too). Raises NotImplementedError in strict mode.
const KernelEntry *fallback_kernel(OpId op, Device device, DType dtype);

// One line of the placement report: an op that ran on `ran_on` although its
// tensors live on `device`.
struct Placement {
  std::string op;
  std::string device;
  std::string ran_on;
  int64_t calls = 0;
  int64_t bytes_to_host = 0;   // operands copied from the device
  int64_t bytes_from_host = 0; // outputs copied back to the device
};

std::vector<Placement> placement_report();
void reset_placement_report();

} // namespace devrt
