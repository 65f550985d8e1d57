// A device: a backend's device type (its index in the registry) and an
// ordinal. "cpu" is always type 0.
#pragma once

#include <cstdint>
#include <string>

namespace devrt {

struct Device {
  int16_t type = 0;
  int16_t index = 0;
  bool operator==(const Device &o) const {
    return type == o.type && index == o.index;
  }
  bool operator!=(const Device &o) const { return !(*this == o); }
  bool is_cpu() const { return type == 0; }
};

constexpr Device kCPU{0, 0};

std::string device_str(Device d); // "cpu", "cuda:0"
// Parses "cpu", "cuda", "cuda:1", "mydev:0"; raises ValueError naming the
// known device types for an unknown one.
Device parse_device(const std::string &s);

} // namespace devrt
