// copy (also the cast between any two dtypes), fill and arange.
#include "kernel_util.cuh"
#include "kernels.h"

namespace devrt_cuda {
namespace {

template <typename To, typename From> struct CastFn {
  To *dst;
  const From *src;
  __device__ void operator()(const int64_t *o) const {
    dst[o[0]] = convert<To>(src[o[1]]);
  }
};

template <typename T> struct MoveFn {
  T *dst;
  const T *src;
  __device__ void operator()(const int64_t *o) const { dst[o[0]] = src[o[1]]; }
};

void copy(const devrt_kernel_call &call) {
  expect_arity(call, 1, 1);
  const devrt_view &src = call.inputs[0], &dst = call.outputs[0];
  const devrt_view *views[2] = {&dst, &src};
  const Layout<2> l = make_layout(dst.shape, dst.ndim, views);
  const cudaStream_t s = stream_of(call);
  if (l.numel == 0)
    return;
  if (src.dtype == dst.dtype) {
    if (l.contiguous()) {
      check(cudaMemcpyAsync(dst.data, src.data,
                            static_cast<size_t>(l.numel * itemsize(dst.dtype)),
                            cudaMemcpyDeviceToDevice, s),
            "cudaMemcpyAsync");
      return;
    }
    auto run = [&](auto tag) {
      using T = decltype(tag);
      for_each(s, l,
               MoveFn<T>{static_cast<T *>(dst.data),
                         static_cast<const T *>(src.data)});
    };
    switch (itemsize(dst.dtype)) {
    case 1:
      return run(uint8_t{});
    case 2:
      return run(uint16_t{});
    case 4:
      return run(uint32_t{});
    case 8:
      return run(uint64_t{});
    }
    fail(DEVRT_ERROR_TYPE,
         std::string("no CUDA kernel for dtype ") + dtype_name(dst.dtype));
  }
  AllTypes::dispatch(src.dtype, [&](auto from) {
    using From = decltype(from);
    AllTypes::dispatch(dst.dtype, [&](auto to) {
      using To = decltype(to);
      for_each(s, l,
               CastFn<To, From>{static_cast<To *>(dst.data),
                                static_cast<const From *>(src.data)});
    });
  });
}

template <typename T> struct FillFn {
  T *y;
  T v;
  __device__ void operator()(const int64_t *o) const { y[o[0]] = v; }
};

// The SCALAR attribute as a T: integers from the exact `i`, the rest from
// `f` (bool: non-zero, as a cast).
template <typename T> T scalar_as(const devrt_attr &a) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(a.i);
  else
    return convert<T>(a.f);
}

void fill(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const devrt_view &y = call.outputs[0];
  const devrt_attr &value = attr(call, 0, DEVRT_ATTR_SCALAR);
  const devrt_view *views[1] = {&y};
  const Layout<1> l = make_layout(y.shape, y.ndim, views);
  AllTypes::dispatch(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(stream_of(call), l,
             FillFn<T>{static_cast<T *>(y.data), scalar_as<T>(value)});
  });
}

template <typename T> struct ArangeFn {
  T *y;
  int64_t stride;
  double fstart, fstep;
  int64_t istart, istep;
  __device__ void operator()(const int64_t *o) const {
    // o[0] is the element's offset; its index along the one dim:
    const int64_t i = stride != 0 ? o[0] / stride : 0;
    if constexpr (std::is_floating_point_v<T>)
      y[o[0]] = static_cast<T>(fstart + static_cast<double>(i) * fstep);
    else
      y[o[0]] = static_cast<T>(static_cast<uint64_t>(istart) +
                               static_cast<uint64_t>(i) *
                                   static_cast<uint64_t>(istep));
  }
};

void arange(const devrt_kernel_call &call) {
  expect_arity(call, 0, 1);
  const devrt_view &y = call.outputs[0];
  if (y.ndim != 1)
    fail(DEVRT_ERROR_RUNTIME,
         "expected a 1-d output, got rank " + std::to_string(y.ndim));
  const devrt_attr &start = attr(call, 0, DEVRT_ATTR_SCALAR);
  const devrt_attr &step = attr(call, 1, DEVRT_ATTR_SCALAR);
  const devrt_view *views[1] = {&y};
  const Layout<1> l = make_layout(y.shape, y.ndim, views);
  const int64_t stride = l.ndim == 1 ? l.stride[0][0] : 1;
  Numeric::dispatch(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(stream_of(call), l,
             ArangeFn<T>{static_cast<T *>(y.data), stride, start.f, step.f,
                         start.i, step.i});
  });
}

} // namespace

void register_copy_kernels() {
  register_kernel("copy", AllTypes::mask, kernel_entry<copy>);
  register_kernel("fill", AllTypes::mask, kernel_entry<fill>);
  register_kernel("arange", Numeric::mask, kernel_entry<arange>);
}

} // namespace devrt_cuda
