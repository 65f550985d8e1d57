// The CPU fallback and its placement report (see devrt/fallback.h).
#include "devrt/fallback.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "devrt/error.h"
#include "devrt/registry.h"
#include "devrt/tensor.h"

namespace devrt {

namespace {

constexpr int kUnset = -1;
std::atomic<int> g_mode{kUnset};

struct Report {
  std::mutex mu;
  std::map<std::pair<OpId, int32_t>, Placement> lines; // (op, device)
};

Report &report() {
  static Report *r = new Report(); // leaked: kernels may run at exit
  return *r;
}

int32_t device_key(Device d) { return (int32_t(d.type) << 16) | d.index; }

// An operand's memory on the host: the bytes its view spans on the device.
struct HostCopy {
  Tensor buffer;
  char *device_lo = nullptr; // the span's first byte on the device
  size_t nbytes = 0;
};

// The element offsets, relative to view.data, of the view's first and last
// bytes; false for an empty view.
bool span(const devrt_view &v, int64_t *lo, int64_t *hi) {
  *lo = *hi = 0;
  for (int i = 0; i < v.ndim; ++i) {
    if (v.shape[i] == 0)
      return false;
    const int64_t reach = (v.shape[i] - 1) * v.strides[i];
    (reach < 0 ? *lo : *hi) += reach;
  }
  return true;
}

bool is_contiguous(const devrt_view &v) {
  int64_t expected = 1;
  for (int i = v.ndim - 1; i >= 0; --i) {
    if (v.shape[i] != 1 && v.strides[i] != expected)
      return false;
    expected *= v.shape[i];
  }
  return true;
}

void device_copy(Device device, void *dst, const void *src, size_t n,
                 int32_t kind, const char *op) {
  const devrt_backend_desc &b = backend_desc(device.type);
  if (b.copy(b.user_data, device.index, dst, src, n, kind) != DEVRT_OK)
    fail(ErrorKind::Runtime, "[", op, "] CPU fallback: copying ", n, " bytes ",
         kind == DEVRT_COPY_DEVICE_TO_HOST ? "from " : "to ",
         device_str(device), " failed");
}

// Points `v` at a host copy of its memory; reads the device's bytes when
// `read` (every input; an output the kernel may not overwrite whole).
HostCopy to_host(devrt_view &v, bool read, const char *op) {
  HostCopy h;
  int64_t lo, hi;
  if (v.device_type == 0 || !span(v, &lo, &hi)) {
    v.device_type = v.device_index = 0;
    return h;
  }
  const Device device{static_cast<int16_t>(v.device_type),
                      static_cast<int16_t>(v.device_index)};
  const size_t isz = itemsize(static_cast<DType>(v.dtype));
  h.nbytes = static_cast<size_t>(hi - lo + 1) * isz;
  h.device_lo = static_cast<char *>(v.data) + lo * static_cast<int64_t>(isz);
  h.buffer = empty({static_cast<int64_t>(h.nbytes)}, DType::UInt8, kCPU);
  char *host_lo = static_cast<char *>(h.buffer->data_ptr());
  if (read)
    device_copy(device, host_lo, h.device_lo, h.nbytes,
                DEVRT_COPY_DEVICE_TO_HOST, op);
  v.data = host_lo - lo * static_cast<int64_t>(isz);
  v.device_type = v.device_index = 0;
  return h;
}

struct Target {
  OpId op;
  const KernelEntry *cpu;
};

// The kernel the dispatcher runs in place of a missing one: the CPU's
// kernel, over host copies of the operands.
int run_on_cpu(const devrt_kernel_call *call) {
  const Target &t = *static_cast<const Target *>(call->user_data);
  try {
    Device device = kCPU;
    for (int i = 0; i < call->n_inputs + call->n_outputs && device.is_cpu();
         ++i) {
      const devrt_view &v = i < call->n_inputs
                                ? call->inputs[i]
                                : call->outputs[i - call->n_inputs];
      device = Device{static_cast<int16_t>(v.device_type),
                      static_cast<int16_t>(v.device_index)};
    }
    std::vector<devrt_view> ins(call->inputs, call->inputs + call->n_inputs);
    std::vector<devrt_view> outs(call->outputs,
                                 call->outputs + call->n_outputs);
    std::vector<HostCopy> in_copies, out_copies;
    int64_t to_host_bytes = 0, from_host_bytes = 0;
    for (devrt_view &v : ins) {
      in_copies.push_back(to_host(v, true, call->op));
      to_host_bytes += in_copies.back().nbytes;
    }
    // Note: kernels write every element of a contiguous output, except
    // index_put, which writes only the indexed ones: only a strided output
    // (a view into a larger tensor) or index_put's needs its old contents.
    for (devrt_view &v : outs) {
      const bool read = !is_contiguous(v) || t.op == OpId::index_put;
      out_copies.push_back(to_host(v, read, call->op));
      if (read)
        to_host_bytes += out_copies.back().nbytes;
    }
    const devrt_backend_desc &cpu = backend_desc(0);
    devrt_kernel_call c = *call;
    c.inputs = ins.data();
    c.outputs = outs.data();
    c.stream = cpu.stream ? cpu.stream(cpu.user_data, 0) : nullptr;
    c.user_data = t.cpu->user_data;
    const int status = t.cpu->fn(&c);
    if (status != DEVRT_OK)
      return status;
    for (const HostCopy &h : out_copies) {
      if (!h.nbytes)
        continue;
      device_copy(device, h.device_lo, h.buffer->data_ptr(), h.nbytes,
                  DEVRT_COPY_HOST_TO_DEVICE, call->op);
      from_host_bytes += h.nbytes;
    }
    Report &r = report();
    std::lock_guard<std::mutex> lock(r.mu);
    Placement &p = r.lines[{t.op, device_key(device)}];
    if (p.calls == 0) {
      p.op = op_name(t.op);
      p.device = device_str(device);
      p.ran_on = device_str(kCPU);
    }
    p.calls++;
    p.bytes_to_host += to_host_bytes;
    p.bytes_from_host += from_host_bytes;
    return DEVRT_OK;
  } catch (const Error &e) {
    std::snprintf(call->error, call->error_size, "%s", e.what());
    return static_cast<int>(e.kind());
  } catch (const std::exception &e) {
    std::snprintf(call->error, call->error_size, "[%s] CPU fallback: %s",
                  call->op, e.what());
    return DEVRT_ERROR_RUNTIME;
  }
}

} // namespace

FallbackMode parse_fallback_mode(const std::string &name, const char *source) {
  if (name.empty() || name == "off" || name == "0")
    return FallbackMode::Off;
  if (name == "cpu")
    return FallbackMode::Cpu;
  if (name == "strict")
    return FallbackMode::Strict;
  fail(ErrorKind::Value, "[fallback] ", source,
       " must be 'off', 'cpu' or 'strict', got '", name, "'");
}

const char *fallback_mode_name(FallbackMode mode) {
  switch (mode) {
  case FallbackMode::Cpu:
    return "cpu";
  case FallbackMode::Strict:
    return "strict";
  default:
    return "off";
  }
}

FallbackMode fallback_mode() {
  int m = g_mode.load(std::memory_order_relaxed);
  if (m == kUnset) {
    const char *env = std::getenv("DEVRT_FALLBACK");
    m = static_cast<int>(parse_fallback_mode(env ? env : "", "DEVRT_FALLBACK"));
    int expected = kUnset;
    g_mode.compare_exchange_strong(expected, m);
    m = g_mode.load(std::memory_order_relaxed);
  }
  return static_cast<FallbackMode>(m);
}

void set_fallback_mode(FallbackMode mode) {
  g_mode.store(static_cast<int>(mode), std::memory_order_relaxed);
}

const KernelEntry *fallback_kernel(OpId op, Device device, DType dtype) {
  const FallbackMode mode = fallback_mode();
  if (mode == FallbackMode::Off || device.is_cpu() || !has_kernel(op, 0, dtype))
    return nullptr;
  if (mode == FallbackMode::Strict)
    fail(ErrorKind::NotImplemented, "[", op_name(op), "] no kernel for dtype ",
         dtype_name(dtype), " on ", device_str(device),
         ", and the fallback is strict: running it on the cpu is refused "
         "(devrt.set_fallback('cpu') or DEVRT_FALLBACK=cpu allows it)");
  static Target targets[kNumOps];
  static KernelEntry entries[kNumOps];
  static std::once_flag once;
  std::call_once(once, [] {
    for (int i = 0; i < kNumOps; ++i) {
      targets[i] =
          Target{static_cast<OpId>(i), &kernel_entry(static_cast<OpId>(i), 0)};
      entries[i].fn = run_on_cpu;
      entries[i].user_data = &targets[i];
      entries[i].dtypes = DEVRT_ALL_MASK;
    }
  });
  return &entries[static_cast<int>(op)];
}

std::vector<Placement> placement_report() {
  Report &r = report();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<Placement> out;
  for (const auto &kv : r.lines)
    out.push_back(kv.second);
  return out;
}

void reset_placement_report() {
  Report &r = report();
  std::lock_guard<std::mutex> lock(r.mu);
  r.lines.clear();
}

} // namespace devrt
