// Fused optimizer updates: one pass over a parameter and its state, in
// place.
#include "kernel_util.cuh"
#include "kernels.h"

namespace devrt_cuda {
namespace {

// Correctly rounded arithmetic that nvcc never contracts into fused
// multiply-adds: the kernel rounds each step as the unfused ops do.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ inline double sqrt_rn(double a) { return __dsqrt_rn(a); }

template <typename T> struct AdamScalars {
  T beta1, keep1, beta2, keep2, eps;
};

// The step size and root divisor are read on the device (0-d tensors), so
// a schedule's value never comes back to the host.
template <typename T, bool AMSGrad>
__global__ void
adam_kernel(int64_t n, const T *__restrict__ g, T *__restrict__ p,
            T *__restrict__ m, T *__restrict__ v, T *__restrict__ v_max,
            const T *__restrict__ step_size, const T *__restrict__ root_divisor,
            AdamScalars<T> s) {
  const T step = *step_size, divisor = *root_divisor;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T gi = g[i];
    const T mi = add_rn(mul_rn(m[i], s.beta1), mul_rn(gi, s.keep1));
    const T vi = add_rn(mul_rn(v[i], s.beta2), mul_rn(mul_rn(gi, gi), s.keep2));
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (AMSGrad) {
      const T old = v_max[i];
      second = (old >= vi || old != old) ? old : vi; // NaN propagates
      v_max[i] = second;
    }
    const T denom = add_rn(div_rn(sqrt_rn(second), divisor), s.eps);
    p[i] = sub_rn(p[i], div_rn(mul_rn(mi, step), denom));
  }
}

void adam_step(const devrt_kernel_call &call) {
  if (call.n_inputs != 3 || call.n_outputs < 3 || call.n_outputs > 4)
    fail(DEVRT_ERROR_RUNTIME, "expected 3 inputs and 3 or 4 outputs, got " +
                                  std::to_string(call.n_inputs) + " and " +
                                  std::to_string(call.n_outputs));
  const devrt_view &grad = call.inputs[0];
  const int64_t n = numel(grad);
  for (int32_t k = 0; k < call.n_outputs; ++k) {
    expect_dtype(call.outputs[k], grad.dtype, "an updated tensor");
    if (numel(call.outputs[k]) != n)
      fail(DEVRT_ERROR_RUNTIME, "the updated tensors must have grad's size");
  }
  for (int32_t k = 1; k < 3; ++k)
    expect_dtype(call.inputs[k], grad.dtype,
                 k == 1 ? "step_size" : "root_divisor");
  const double beta1 = attr(call, 0, DEVRT_ATTR_FLOAT).f;
  const double beta2 = attr(call, 1, DEVRT_ATTR_FLOAT).f;
  const double eps = attr(call, 2, DEVRT_ATTR_FLOAT).f;
  if (n == 0)
    return;
  Floating::dispatch(grad.dtype, [&](auto tag) {
    using T = decltype(tag);
    const AdamScalars<T> s{T(beta1), T(1.0 - beta1), T(beta2), T(1.0 - beta2),
                           T(eps)};
    const T *g = static_cast<const T *>(grad.data);
    T *p = static_cast<T *>(call.outputs[0].data);
    T *m = static_cast<T *>(call.outputs[1].data);
    T *v = static_cast<T *>(call.outputs[2].data);
    const T *step = static_cast<const T *>(call.inputs[1].data);
    const T *divisor = static_cast<const T *>(call.inputs[2].data);
    cudaStream_t st = stream_of(call);
    if (call.n_outputs == 4)
      adam_kernel<T, true><<<blocks_for(n), kThreads, 0, st>>>(
          n, g, p, m, v, static_cast<T *>(call.outputs[3].data), step, divisor,
          s);
    else
      adam_kernel<T, false><<<blocks_for(n), kThreads, 0, st>>>(
          n, g, p, m, v, nullptr, step, divisor, s);
    check_launch("launching adam_step");
  });
}

// param -= grad * lr, the product rounded before the difference; grad may
// be param itself (an identical view).
template <typename T>
__global__ void sgd_kernel(int64_t n, const T *g, T *p,
                           const T *__restrict__ lr) {
  const T rate = *lr;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = sub_rn(p[i], mul_rn(g[i], rate));
}

void sgd_step(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &grad = call.inputs[0], &param = call.outputs[0];
  expect_dtype(param, grad.dtype, "param");
  expect_dtype(call.inputs[1], grad.dtype, "lr");
  const int64_t n = numel(grad);
  if (numel(param) != n)
    fail(DEVRT_ERROR_RUNTIME, "param and grad must have one size");
  if (n == 0)
    return;
  Floating::dispatch(grad.dtype, [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream_of(call)>>>(
        n, static_cast<const T *>(grad.data), static_cast<T *>(param.data),
        static_cast<const T *>(call.inputs[1].data));
    check_launch("launching sgd_step");
  });
}

} // namespace

void register_optimizer_kernels() {
  register_kernel("adam_step", Floating::mask, kernel_entry<adam_step>);
  register_kernel("sgd_step", Floating::mask, kernel_entry<sgd_step>);
}

} // namespace devrt_cuda
