// The CPU backend's kernel families; each registers its ops with the core.
#pragma once

#include <devrt/c_api.h>

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
// The taps of channels-last pooled values y (4-D): checked to be a
// contiguous uint8 of y's shape (the taps kernels' and the pooled-gradient
// convolutions' check).
uint8_t *taps_of(const devrt_view &taps, const devrt_view &y);

// y (m x n, row stride yrs) = a (m x k) @ b (k x n), operands with element
// strides (ars, acs) and (brs, bcs), for a short reduction on AVX-512
// (gemm_small_k.cpp): false, touching nothing, where the shape or the
// processor does not call for it.
bool small_k_matmul(const float *a, int64_t ars, int64_t acs, const float *b,
                    int64_t brs, int64_t bcs, float *y, int64_t yrs, int64_t m,
                    int64_t n, int64_t k);

} // namespace devrt_cpu
