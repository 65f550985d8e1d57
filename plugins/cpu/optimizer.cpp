// Fused optimizer updates: one pass over a parameter and its state, in
// place.
#include "kernels.h"
#include "strided.h"

#include <cmath>

namespace devrt_cpu {
namespace {

template <typename T> struct AdamScalars {
  T beta1, keep1, beta2, keep2, eps, step_size, root_divisor;
};

// Note: each product, sum, root and quotient is rounded as the unfused ops
// round it, in their order (the file is compiled without contraction into
// fused multiply-adds), so the kernel gives the core's composite sequence
// bit for bit. The core hands over contiguous operands that do not share
// memory (grad is copied when it would).
template <typename T, bool AMSGrad>
DEVRT_CPU_CLONES void adam_loop(int64_t n, const T *__restrict__ g,
                                T *__restrict__ p, T *__restrict__ m,
                                T *__restrict__ v, T *__restrict__ v_max,
                                AdamScalars<T> s) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = m[i] * s.beta1 + gi * s.keep1;
    const T vi = v[i] * s.beta2 + (gi * gi) * s.keep2;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (AMSGrad) {
      second = nan_extreme<true>(v_max[i], vi); // maximum: NaN propagates
      v_max[i] = second;
    }
    p[i] = p[i] -
           (mi * s.step_size) / (std::sqrt(second) / s.root_divisor + s.eps);
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
    const devrt_view &o = call.outputs[k];
    expect_dtype(o, grad.dtype, "an updated tensor");
    if (numel(o) != n || !is_contiguous(o))
      fail(DEVRT_ERROR_RUNTIME, "the updated tensors must be contiguous and "
                                "of grad's size");
  }
  if (!is_contiguous(grad))
    fail(DEVRT_ERROR_RUNTIME, "grad must be contiguous");
  for (int32_t k = 1; k < 3; ++k)
    expect_dtype(call.inputs[k], grad.dtype,
                 k == 1 ? "step_size" : "root_divisor");
  const double beta1 = attr(call, 0, DEVRT_ATTR_FLOAT).f;
  const double beta2 = attr(call, 1, DEVRT_ATTR_FLOAT).f;
  const double eps = attr(call, 2, DEVRT_ATTR_FLOAT).f;
  Floating::dispatch(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const AdamScalars<T> s{T(beta1),
                           T(1.0 - beta1),
                           T(beta2),
                           T(1.0 - beta2),
                           T(eps),
                           *static_cast<const T *>(call.inputs[1].data),
                           *static_cast<const T *>(call.inputs[2].data)};
    const T *g = static_cast<const T *>(grad.data);
    T *p = static_cast<T *>(call.outputs[0].data);
    T *m = static_cast<T *>(call.outputs[1].data);
    T *v = static_cast<T *>(call.outputs[2].data);
    T *v_max =
        call.n_outputs == 4 ? static_cast<T *>(call.outputs[3].data) : nullptr;
    parallel_for(n, kGrainMedium, [&](int64_t b, int64_t e) {
      if (v_max)
        adam_loop<T, true>(e - b, g + b, p + b, m + b, v + b, v_max + b, s);
      else
        adam_loop<T, false>(e - b, g + b, p + b, m + b, v + b, nullptr, s);
    });
  });
}

// param -= grad * lr, the product rounded before the difference (no fused
// multiply-add, as above). grad may be param itself (an identical view).
template <typename T>
DEVRT_CPU_CLONES void sgd_loop(int64_t n, const T *g, T *p, T lr) {
  for (int64_t i = 0; i < n; ++i)
    p[i] = p[i] - g[i] * lr;
}

void sgd_step(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &grad = call.inputs[0], &param = call.outputs[0];
  expect_dtype(param, grad.dtype, "param");
  expect_dtype(call.inputs[1], grad.dtype, "lr");
  const int64_t n = numel(grad);
  if (numel(param) != n || !is_contiguous(param) || !is_contiguous(grad))
    fail(DEVRT_ERROR_RUNTIME,
         "param and grad must be contiguous and of one size");
  Floating::dispatch(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T lr = *static_cast<const T *>(call.inputs[1].data);
    const T *g = static_cast<const T *>(grad.data);
    T *p = static_cast<T *>(param.data);
    parallel_for(n, kGrainCheap, [&](int64_t b, int64_t e) {
      sgd_loop<T>(e - b, g + b, p + b, lr);
    });
  });
}

} // namespace

void register_optimizer_kernels() {
  register_kernel("adam_step", Floating::mask, kernel_entry<adam_step>);
  register_kernel("sgd_step", Floating::mask, kernel_entry<sgd_step>);
}

} // namespace devrt_cpu
