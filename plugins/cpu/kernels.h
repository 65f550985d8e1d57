// The CPU backend's kernel families; each registers its ops with the core.
#pragma once

namespace devrt_cpu {

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

} // namespace devrt_cpu
