// The CUDA backend's kernel families, one file each, mirroring plugins/cpu;
// each registers its ops with the core.
#pragma once

namespace devrt_cuda {

void register_unary_kernels();
void register_binary_kernels();
void register_reduce_kernels();
void register_softmax_kernels();
void register_matmul_kernels();
void register_copy_kernels();
void register_random_kernels();
void register_indexing_kernels();
void register_conv_kernels();
void register_conv_direct_kernels();
void register_scan_kernels();
void register_optimizer_kernels();

} // namespace devrt_cuda
