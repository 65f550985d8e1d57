// The CUDA backend's entry point: the "cuda" device type (memory, copies,
// streams) and the C functions devrt_cuda's Python module calls through
// ctypes for devrt.cuda (devices, streams, events, TF32).
#include "backend.h"
#include "kernel_util.cuh"
#include "kernels.h"

#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace devrt_cuda {
namespace {

// Pinned host buffers that host<->device copies stage through, two per
// device so that one fills while the other moves.
constexpr size_t kStagingBytes = size_t{8} << 20;

struct DeviceState {
  cudaStream_t stream = nullptr; // current stream; null: the legacy default
  void *staging[2] = {nullptr, nullptr};
  cudaEvent_t staged[2] = {nullptr, nullptr};
  DeviceError *error = nullptr;
  std::mutex copy_mu;
};

struct State {
  int device_count = 0;
  std::string unavailable; // why there is no device, when device_count is 0
  std::vector<std::unique_ptr<DeviceState>> devices;
  std::mutex mu;
  bool allow_tf32 = false;
};

State &state() {
  static State *s = new State(); // leaked: outlives the core's allocators
  return *s;
}

thread_local std::string tl_error;

int set_error(cudaError_t err, const char *what) {
  cudaGetLastError();
  tl_error = std::string(what) + ": " + cudaGetErrorString(err);
  return err == cudaErrorMemoryAllocation ? DEVRT_ERROR_OUT_OF_MEMORY
                                          : DEVRT_ERROR_RUNTIME;
}

DeviceState &device_state(int device) { return *state().devices.at(device); }

void *cuda_alloc(void *, int32_t device, size_t nbytes) {
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  void *p = nullptr;
  if (cudaMalloc(&p, nbytes ? nbytes : 1) != cudaSuccess) {
    cudaGetLastError(); // out of memory is not sticky: clear it
    return nullptr;
  }
  return p;
}

void cuda_free(void *, int32_t device, void *ptr, size_t) {
  cudaSetDevice(device);
  cudaFree(ptr);
}

int ensure_staging(DeviceState &d) {
  for (int i = 0; i < 2; ++i) {
    if (d.staging[i])
      continue;
    if (cudaError_t e =
            cudaHostAlloc(&d.staging[i], kStagingBytes, cudaHostAllocDefault))
      return set_error(e, "cudaHostAlloc of a staging buffer");
    if (cudaError_t e =
            cudaEventCreateWithFlags(&d.staged[i], cudaEventDisableTiming))
      return set_error(e, "cudaEventCreate");
  }
  return DEVRT_OK;
}

// Host to device: each chunk is copied into a pinned buffer and moved
// asynchronously; a buffer is refilled once its last move has finished.
int copy_in(DeviceState &d, char *dst, const char *src, size_t n) {
  for (size_t off = 0, i = 0; off < n; off += kStagingBytes, i ^= 1) {
    const size_t chunk = n - off < kStagingBytes ? n - off : kStagingBytes;
    if (cudaError_t e = cudaEventSynchronize(d.staged[i]))
      return set_error(e, "waiting for a staging buffer");
    std::memcpy(d.staging[i], src + off, chunk);
    if (cudaError_t e = cudaMemcpyAsync(dst + off, d.staging[i], chunk,
                                        cudaMemcpyHostToDevice, d.stream))
      return set_error(e, "cudaMemcpyAsync host to device");
    if (cudaError_t e = cudaEventRecord(d.staged[i], d.stream))
      return set_error(e, "cudaEventRecord");
  }
  return DEVRT_OK;
}

// Device to host: chunk i+1 moves while chunk i is copied out of its buffer.
int copy_out(DeviceState &d, char *dst, const char *src, size_t n) {
  const size_t chunks = (n + kStagingBytes - 1) / kStagingBytes;
  auto enqueue = [&](size_t c) -> int {
    const size_t off = c * kStagingBytes;
    const size_t chunk = n - off < kStagingBytes ? n - off : kStagingBytes;
    if (cudaError_t e = cudaMemcpyAsync(d.staging[c & 1], src + off, chunk,
                                        cudaMemcpyDeviceToHost, d.stream))
      return set_error(e, "cudaMemcpyAsync device to host");
    if (cudaError_t e = cudaEventRecord(d.staged[c & 1], d.stream))
      return set_error(e, "cudaEventRecord");
    return DEVRT_OK;
  };
  if (chunks > 0)
    if (int s = enqueue(0))
      return s;
  for (size_t c = 0; c < chunks; ++c) {
    if (c + 1 < chunks)
      if (int s = enqueue(c + 1))
        return s;
    if (cudaError_t e = cudaEventSynchronize(d.staged[c & 1]))
      return set_error(e, "waiting for a device to host copy");
    const size_t off = c * kStagingBytes;
    const size_t chunk = n - off < kStagingBytes ? n - off : kStagingBytes;
    std::memcpy(dst + off, d.staging[c & 1], chunk);
  }
  return DEVRT_OK;
}

int cuda_copy(void *, int32_t device, void *dst, const void *src, size_t nbytes,
              int32_t kind) {
  if (nbytes == 0)
    return DEVRT_OK;
  if (cudaError_t e = cudaSetDevice(device))
    return set_error(e, "cudaSetDevice");
  DeviceState &d = device_state(device);
  if (kind == DEVRT_COPY_DEVICE_TO_DEVICE) {
    if (cudaError_t e = cudaMemcpyAsync(dst, src, nbytes,
                                        cudaMemcpyDeviceToDevice, d.stream))
      return set_error(e, "cudaMemcpyAsync device to device");
    return DEVRT_OK;
  }
  std::lock_guard<std::mutex> lock(d.copy_mu);
  if (int s = ensure_staging(d))
    return s;
  if (kind == DEVRT_COPY_HOST_TO_DEVICE)
    return copy_in(d, static_cast<char *>(dst), static_cast<const char *>(src),
                   nbytes);
  return copy_out(d, static_cast<char *>(dst), static_cast<const char *>(src),
                  nbytes);
}

int cuda_synchronize(void *, int32_t device) {
  if (cudaError_t e = cudaSetDevice(device))
    return set_error(e, "cudaSetDevice");
  if (cudaError_t e = cudaDeviceSynchronize())
    return set_error(e, "cudaDeviceSynchronize");
  return DEVRT_OK;
}

// The stream a kernel receives; also makes `device` current, so that the
// kernel launches there.
void *cuda_stream(void *, int32_t device) {
  cudaSetDevice(device);
  return device_state(device).stream;
}

} // namespace

cudaStream_t current_stream(int device) { return device_state(device).stream; }

bool allow_tf32() { return state().allow_tf32; }

DeviceError *error_slot(cudaStream_t s) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  DeviceState &d = device_state(device);
  if (!d.error)
    check(cudaMalloc(&d.error, sizeof(DeviceError)),
          "allocating the error slot");
  check(cudaMemsetAsync(d.error, 0, sizeof(DeviceError), s),
        "clearing the error slot");
  return d.error;
}

DeviceError read_error(cudaStream_t s) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  DeviceError out{};
  check(cudaMemcpyAsync(&out, device_state(device).error, sizeof out,
                        cudaMemcpyDeviceToHost, s),
        "reading the error slot");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  return out;
}

} // namespace devrt_cuda

using namespace devrt_cuda;

// ---- what devrt_cuda's Python module calls (ctypes) -------------------------
// Each returns a devrt_status (or a value); devrt_cuda_last_error() says
// why the last call of this thread failed.

extern "C" {

DEVRT_EXPORT const char *devrt_cuda_last_error(void) {
  return tl_error.c_str();
}

DEVRT_EXPORT int devrt_cuda_device_count(void) { return state().device_count; }

DEVRT_EXPORT const char *devrt_cuda_unavailable_reason(void) {
  return state().unavailable.c_str();
}

DEVRT_EXPORT int devrt_cuda_device_name(int device, char *out, size_t size) {
  cudaDeviceProp p{};
  if (cudaError_t e = cudaGetDeviceProperties(&p, device))
    return set_error(e, "cudaGetDeviceProperties");
  std::snprintf(out, size, "%s", p.name);
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_device_memory(int device, size_t *free_bytes,
                                          size_t *total_bytes) {
  if (cudaError_t e = cudaSetDevice(device))
    return set_error(e, "cudaSetDevice");
  if (cudaError_t e = cudaMemGetInfo(free_bytes, total_bytes))
    return set_error(e, "cudaMemGetInfo");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_versions(int *runtime, int *driver) {
  cudaRuntimeGetVersion(runtime);
  if (cudaDriverGetVersion(driver) != cudaSuccess) {
    cudaGetLastError();
    *driver = 0;
  }
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_set_device(int device) {
  if (cudaError_t e = cudaSetDevice(device))
    return set_error(e, "cudaSetDevice");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_current_device(int *device) {
  if (cudaError_t e = cudaGetDevice(device))
    return set_error(e, "cudaGetDevice");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_stream_create(int device, int priority,
                                          void **stream) {
  if (cudaError_t e = cudaSetDevice(device))
    return set_error(e, "cudaSetDevice");
  cudaStream_t s = nullptr;
  if (cudaError_t e =
          cudaStreamCreateWithPriority(&s, cudaStreamDefault, priority))
    return set_error(e, "cudaStreamCreate");
  *stream = s;
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_stream_destroy(void *stream) {
  if (cudaError_t e = cudaStreamDestroy(static_cast<cudaStream_t>(stream)))
    return set_error(e, "cudaStreamDestroy");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_stream_synchronize(void *stream) {
  if (cudaError_t e = cudaStreamSynchronize(static_cast<cudaStream_t>(stream)))
    return set_error(e, "cudaStreamSynchronize");
  return DEVRT_OK;
}

// 1 when all work queued on `stream` has finished, 0 when not.
DEVRT_EXPORT int devrt_cuda_stream_query(void *stream, int *done) {
  cudaError_t e = cudaStreamQuery(static_cast<cudaStream_t>(stream));
  if (e == cudaErrorNotReady) {
    cudaGetLastError();
    *done = 0;
    return DEVRT_OK;
  }
  if (e != cudaSuccess)
    return set_error(e, "cudaStreamQuery");
  *done = 1;
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_current_stream(int device, void **stream) {
  if (device < 0 || device >= state().device_count) {
    tl_error = "no CUDA device " + std::to_string(device);
    return DEVRT_ERROR_VALUE;
  }
  *stream = device_state(device).stream;
  return DEVRT_OK;
}

// Makes `stream` the one devrt's kernels and copies on `device` use.
// Note: the core's caching allocator hands a freed block to the next op
// without knowing streams. Work on the new stream therefore first waits for
// everything queued on the old one, which keeps all of devrt's work on a
// device in one order and every reuse of a block safe.
DEVRT_EXPORT int devrt_cuda_set_stream(int device, void *stream) {
  if (device < 0 || device >= state().device_count) {
    tl_error = "no CUDA device " + std::to_string(device);
    return DEVRT_ERROR_VALUE;
  }
  DeviceState &d = device_state(device);
  auto next = static_cast<cudaStream_t>(stream);
  if (next == d.stream)
    return DEVRT_OK;
  if (cudaError_t e = cudaSetDevice(device))
    return set_error(e, "cudaSetDevice");
  cudaEvent_t ev;
  if (cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming))
    return set_error(e, "cudaEventCreate");
  cudaError_t e = cudaEventRecord(ev, d.stream);
  if (e == cudaSuccess)
    e = cudaStreamWaitEvent(next, ev, 0);
  cudaEventDestroy(ev);
  if (e != cudaSuccess)
    return set_error(e, "ordering the new stream after the old");
  d.stream = next;
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_event_create(int timing, void **event) {
  cudaEvent_t ev = nullptr;
  if (cudaError_t e = cudaEventCreateWithFlags(
          &ev, timing ? cudaEventDefault : cudaEventDisableTiming))
    return set_error(e, "cudaEventCreate");
  *event = ev;
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_event_destroy(void *event) {
  if (cudaError_t e = cudaEventDestroy(static_cast<cudaEvent_t>(event)))
    return set_error(e, "cudaEventDestroy");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_event_record(void *event, void *stream) {
  if (cudaError_t e = cudaEventRecord(static_cast<cudaEvent_t>(event),
                                      static_cast<cudaStream_t>(stream)))
    return set_error(e, "cudaEventRecord");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_event_synchronize(void *event) {
  if (cudaError_t e = cudaEventSynchronize(static_cast<cudaEvent_t>(event)))
    return set_error(e, "cudaEventSynchronize");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_event_query(void *event, int *done) {
  cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (e == cudaErrorNotReady) {
    cudaGetLastError();
    *done = 0;
    return DEVRT_OK;
  }
  if (e != cudaSuccess)
    return set_error(e, "cudaEventQuery");
  *done = 1;
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_stream_wait_event(void *stream, void *event) {
  if (cudaError_t e = cudaStreamWaitEvent(static_cast<cudaStream_t>(stream),
                                          static_cast<cudaEvent_t>(event), 0))
    return set_error(e, "cudaStreamWaitEvent");
  return DEVRT_OK;
}

DEVRT_EXPORT int devrt_cuda_event_elapsed(void *start, void *end, float *ms) {
  if (cudaError_t e = cudaEventElapsedTime(ms, static_cast<cudaEvent_t>(start),
                                           static_cast<cudaEvent_t>(end)))
    return set_error(e, "cudaEventElapsedTime");
  return DEVRT_OK;
}

DEVRT_EXPORT void devrt_cuda_set_allow_tf32(int allow) {
  state().allow_tf32 = allow != 0;
}

DEVRT_EXPORT int devrt_cuda_get_allow_tf32(void) {
  return state().allow_tf32 ? 1 : 0;
}

DEVRT_EXPORT int devrt_plugin_init(uint32_t abi_version) {
  if (abi_version != DEVRT_ABI_VERSION) {
    const std::string message = "[cuda] plugin built for devrt ABI " +
                                std::to_string(DEVRT_ABI_VERSION) +
                                ", core offers " + std::to_string(abi_version);
    devrt_set_error(message.c_str());
    return DEVRT_ERROR_RUNTIME;
  }
  try {
    State &s = state();
    // Without a driver or a GPU the device type still registers, with no
    // devices: its kernels are its capability manifest, and devrt.cuda
    // reports why nothing runs.
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      cudaGetLastError();
      count = 0;
      s.unavailable =
          std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    } else if (count == 0) {
      s.unavailable = "the CUDA driver sees no GPU";
    }
    s.device_count = count;
    for (int i = 0; i < count; ++i)
      s.devices.push_back(std::make_unique<DeviceState>());

    devrt_backend_desc desc{};
    desc.struct_size = sizeof desc;
    desc.name = "cuda";
    desc.device_count = count;
    desc.host_accessible = 0;
    desc.alloc = cuda_alloc;
    desc.free = cuda_free;
    desc.copy = cuda_copy;
    desc.synchronize = cuda_synchronize;
    desc.stream = cuda_stream;
    desc.dlpack_device_type = 2; // kDLCUDA
    if (int status = devrt_register_backend(&desc)) {
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
    devrt_set_error(("[cuda] " + e.message).c_str());
    return e.status;
  } catch (const std::exception &e) {
    devrt_set_error((std::string("[cuda] ") + e.what()).c_str());
    return DEVRT_ERROR_RUNTIME;
  }
}

} // extern "C"
