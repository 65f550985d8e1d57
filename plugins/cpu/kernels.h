// The CPU backend's kernel families; each registers its ops with the core.
#pragma once

#include <cstdint>

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

// max_pool2d_nhwc_taps of one channels-last image block x (rows x cols x
// c, rows and cols even) in 2x2 windows at stride 2 with relu set: the
// pooled values into y and their taps, one thread (conv2d_nhwc_relu_pool
// pools each band of its output while it is in cache).
void max_pool_2x2_relu_taps(const float *x, int64_t rows, int64_t cols,
                            int64_t c, float *y, uint8_t *taps);

} // namespace devrt_cpu
