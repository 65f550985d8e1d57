// What the kernel families ask of the backend: the current stream of a
// device and the TF32 switch.
#pragma once

#include <cuda_runtime.h>

namespace devrt_cuda {

cudaStream_t current_stream(int device);
// Whether float32 matmuls may use TF32 tensor cores (off unless
// devrt.backends.cuda.matmul.allow_tf32 is set).
bool allow_tf32();

} // namespace devrt_cuda
