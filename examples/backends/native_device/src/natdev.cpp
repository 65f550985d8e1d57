// natdev: a devrt backend in C++, built against the installed devrt through
// its C ABI alone (devrt/c_api.h). float32 kernels for the ops of the
// two-layer network's training step, eager and as a graph; plain loops over
// strided views, matmul included. Its memory is malloc'd, but the core is
// told it is not host memory, so tensors move through natdev's copy as they
// would to an accelerator.
#include <devrt/c_api.h>
#include <devrt/rng.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

int64_t numel(const devrt_view &v) {
  int64_t n = 1;
  for (int d = 0; d < v.ndim; ++d)
    n *= v.shape[d];
  return n;
}

// The offset, in elements, of the i-th element in row-major order of the
// first `ndim` dimensions of v.
int64_t offset(const devrt_view &v, int64_t i, int ndim) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    off += (i % v.shape[d]) * v.strides[d];
    i /= v.shape[d];
  }
  return off;
}

template <class T> T &at(const devrt_view &v, int64_t i) {
  return static_cast<T *>(v.data)[offset(v, i, v.ndim)];
}

const char *const kDTypeNames[] = {"bool",    "uint8",    "int32",   "int64",
                                   "float16", "bfloat16", "float32", "float64"};

// y[i] = f(a[i], b[i]): the core has expanded both inputs to y's shape.
template <class Out, class F> int binary(const devrt_kernel_call *c, F f) {
  const devrt_view &a = c->inputs[0], &b = c->inputs[1], &y = c->outputs[0];
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<Out>(y, i) = f(at<float>(a, i), at<float>(b, i));
  return DEVRT_OK;
}

int add(const devrt_kernel_call *c) {
  return binary<float>(c, [](float a, float b) { return a + b; });
}
int sub(const devrt_kernel_call *c) {
  return binary<float>(c, [](float a, float b) { return a - b; });
}
int mul(const devrt_kernel_call *c) {
  return binary<float>(c, [](float a, float b) { return a * b; });
}
int pow_(const devrt_kernel_call *c) {
  // One broadcast exponent of 0.5 is sqrt, as in NumPy (they differ at -inf).
  const devrt_view &b = c->inputs[1];
  bool one_value = true;
  for (int d = 0; d < b.ndim; ++d)
    one_value &= b.strides[d] == 0 || b.shape[d] == 1;
  if (one_value && numel(b) > 0 && at<float>(b, 0) == 0.5f)
    return binary<float>(c, [](float a, float) { return std::sqrt(a); });
  return binary<float>(c, [](float a, float b) { return std::pow(a, b); });
}
int maximum(const devrt_kernel_call *c) {
  // NaN wins, from either side.
  return binary<float>(
      c, [](float a, float b) { return a > b || std::isnan(a) ? a : b; });
}
int ge(const devrt_kernel_call *c) {
  return binary<bool>(c, [](float a, float b) { return a >= b; });
}
int gt(const devrt_kernel_call *c) {
  return binary<bool>(c, [](float a, float b) { return a > b; });
}
int eq(const devrt_kernel_call *c) {
  return binary<bool>(c, [](float a, float b) { return a == b; });
}

int neg(const devrt_kernel_call *c) {
  const devrt_view &x = c->inputs[0], &y = c->outputs[0];
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<float>(y, i) = -at<float>(x, i);
  return DEVRT_OK;
}

int clamp(const devrt_kernel_call *c) {
  // attrs: min, max, each a SCALAR or NONE; NaN stays NaN.
  const devrt_attr &lo = c->attrs[0], &hi = c->attrs[1];
  const devrt_view &x = c->inputs[0], &y = c->outputs[0];
  for (int64_t i = 0, n = numel(y); i < n; ++i) {
    float v = at<float>(x, i);
    if (lo.kind != DEVRT_ATTR_NONE && v < static_cast<float>(lo.f))
      v = static_cast<float>(lo.f);
    if (hi.kind != DEVRT_ATTR_NONE && v > static_cast<float>(hi.f))
      v = static_cast<float>(hi.f);
    at<float>(y, i) = v;
  }
  return DEVRT_OK;
}

int where(const devrt_kernel_call *c) {
  const devrt_view &cond = c->inputs[0], &a = c->inputs[1], &b = c->inputs[2];
  const devrt_view &y = c->outputs[0];
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<float>(y, i) = at<bool>(cond, i) ? at<float>(a, i) : at<float>(b, i);
  return DEVRT_OK;
}

int matmul(const devrt_kernel_call *c) {
  // a (..., M, K) @ b (..., K, N) -> y (..., M, N); batch dims broadcast.
  const devrt_view &a = c->inputs[0], &b = c->inputs[1], &y = c->outputs[0];
  const int r = y.ndim;
  const int64_t m = y.shape[r - 2], n = y.shape[r - 1], k = a.shape[r - 1];
  const int64_t as0 = a.strides[r - 2], as1 = a.strides[r - 1];
  const int64_t bs0 = b.strides[r - 2], bs1 = b.strides[r - 1];
  const int64_t ys0 = y.strides[r - 2], ys1 = y.strides[r - 1];
  int64_t batches = 1;
  for (int d = 0; d < r - 2; ++d)
    batches *= y.shape[d];
  for (int64_t t = 0; t < batches; ++t) {
    const float *pa = static_cast<const float *>(a.data) + offset(a, t, r - 2);
    const float *pb = static_cast<const float *>(b.data) + offset(b, t, r - 2);
    float *py = static_cast<float *>(y.data) + offset(y, t, r - 2);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += double(pa[i * as0 + p * as1]) * pb[p * bs0 + j * bs1];
        py[i * ys0 + j * ys1] = static_cast<float>(s);
      }
  }
  return DEVRT_OK;
}

int sum(const devrt_kernel_call *c) {
  // y keeps x's rank with size 1 on each reduced axis (attr `axes`).
  const devrt_view &x = c->inputs[0], &y = c->outputs[0];
  std::vector<double> acc(static_cast<size_t>(numel(y)), 0.0);
  for (int64_t i = 0, n = numel(x); i < n; ++i) {
    int64_t rest = i, xo = 0, yi = 0, step = 1;
    for (int d = x.ndim - 1; d >= 0; --d) {
      const int64_t k = rest % x.shape[d];
      rest /= x.shape[d];
      xo += k * x.strides[d];
      if (y.shape[d] != 1)
        yi += k * step;
      step *= y.shape[d];
    }
    acc[yi] += static_cast<const float *>(x.data)[xo];
  }
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<float>(y, i) = static_cast<float>(acc[i]);
  return DEVRT_OK;
}

int copy(const devrt_kernel_call *c) {
  // Also devrt's cast kernel; natdev declares float32 to float32 only.
  const devrt_view &x = c->inputs[0], &y = c->outputs[0];
  if (y.dtype != DEVRT_FLOAT32) {
    std::snprintf(c->error, c->error_size,
                  "[copy] natdev:%d casts float32 to float32 only, not to %s",
                  y.device_index, kDTypeNames[y.dtype & 7]);
    return DEVRT_ERROR_NOT_IMPLEMENTED;
  }
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<float>(y, i) = at<float>(x, i);
  return DEVRT_OK;
}

int fill(const devrt_kernel_call *c) {
  const devrt_view &y = c->outputs[0];
  const float value = static_cast<float>(c->attrs[0].f);
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<float>(y, i) = value;
  return DEVRT_OK;
}

int random_normal(const devrt_kernel_call *c) {
  // attrs: mean, std, seed, offset. devrt's counter-based stream: element i
  // draws from counter offset + i, so natdev matches every other device.
  const double mean = c->attrs[0].f, std = c->attrs[1].f;
  const uint64_t seed = static_cast<uint64_t>(c->attrs[2].i);
  const uint64_t first = static_cast<uint64_t>(c->attrs[3].i);
  const devrt_view &y = c->outputs[0];
  for (int64_t i = 0, n = numel(y); i < n; ++i)
    at<float>(y, i) = static_cast<float>(
        mean + std * devrt_rng_normal(seed, first + static_cast<uint64_t>(i)));
  return DEVRT_OK;
}

// Memory: malloc'd, never read by the core (host_accessible is 0).
void *alloc(void *, int32_t, size_t nbytes) {
  return std::malloc(nbytes ? nbytes : 1);
}
void release(void *, int32_t, void *p, size_t) { std::free(p); }
int copy_bytes(void *, int32_t, void *dst, const void *src, size_t nbytes,
               int32_t) {
  if (nbytes)
    std::memcpy(dst, src, nbytes);
  return DEVRT_OK;
}
int synchronize(void *, int32_t) { return DEVRT_OK; }

struct Kernel {
  const char *op;
  devrt_kernel_fn fn;
};
const Kernel kKernels[] = {
    {"add", add},         {"sub", sub},
    {"mul", mul},         {"pow", pow_},
    {"maximum", maximum}, {"ge", ge},
    {"gt", gt},           {"eq", eq},
    {"neg", neg},         {"clamp", clamp},
    {"where", where},     {"matmul", matmul},
    {"sum", sum},         {"copy", copy},
    {"fill", fill},       {"random_normal", random_normal},
};

} // namespace

extern "C" DEVRT_EXPORT int devrt_plugin_init(uint32_t abi_version) {
  if (abi_version != DEVRT_ABI_VERSION) {
    char message[128];
    std::snprintf(message, sizeof message,
                  "[natdev] built for devrt ABI %u, the core offers %u",
                  DEVRT_ABI_VERSION, abi_version);
    devrt_set_error(message);
    return DEVRT_ERROR_RUNTIME;
  }
  devrt_backend_desc desc{};
  desc.struct_size = sizeof desc;
  desc.name = "natdev";
  desc.device_count = 1;
  desc.host_accessible = 0;
  desc.alloc = alloc;
  desc.free = release;
  desc.copy = copy_bytes;
  desc.synchronize = synchronize;
  if (int status = devrt_register_backend(&desc))
    return status; // devrt_last_error() says why
  for (const Kernel &k : kKernels) {
    devrt_kernel_desc kd{};
    kd.struct_size = sizeof kd;
    kd.op = k.op;
    kd.backend = "natdev";
    kd.dtypes = DEVRT_DTYPE_BIT(DEVRT_FLOAT32);
    kd.fn = k.fn;
    if (int status = devrt_register_kernel(&kd))
      return status;
  }
  return DEVRT_OK;
}
