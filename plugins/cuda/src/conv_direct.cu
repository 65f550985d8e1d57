// Direct channels-last convolution (the `conv` family) on cuDNN:
// conv2d_nhwc and its input and filter gradients for float16, bfloat16,
// float32 and float64, through cuDNN's convolution API
// (cudnnConvolutionForward, cudnnConvolutionBackwardData,
// cudnnConvolutionBackwardFilter).
//
// Note: cuDNN takes a channels-last filter as KRSC (OC, kh, kw, C), not
// devrt's HWIO (kh, kw, C, OC), so the filter (or its gradient) passes
// through a transpose in the workspace. The 16- and 32-bit floats run on
// NHWC descriptors, as the tensors lie. float64 runs on NCHW descriptors
// over transposed copies in the workspace: cuDNN's double-precision kernels
// are its NCHW ones (frameworks keep float64 convolutions channels-first
// for that reason), and float64 convolutions are for checking, not speed.
//
// An algorithm is chosen once per device, op, dtype, TF32 switch and
// geometry from cuDNN's heuristics (cudnnGet*Algorithm_v7: deterministic,
// nothing timed), deterministic algorithms first, and its candidates are
// cached in order. A call allocates the first candidate's workspace (the
// leanest's when that fails) and runs the first candidate that fits it and
// that cuDNN accepts for the operands' pointers.
// float32 runs without TF32 (CUDNN_FMA_MATH) unless
// devrt.backends.cuda.matmul.allow_tf32 is set, as matmul does.
#include "backend.h"
#include "kernel_util.cuh"
#include "kernels.h"

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace devrt_cuda {
namespace {

// ---- cuDNN errors, handles and workspaces ----------------------------------

bool not_supported(cudnnStatus_t st) { return st / 1000 == 3; }

// A failed cuDNN call, named, with cuDNN's own account of it where it
// gives one: allocation failures are out of memory, unsupported problems
// not implemented, anything else a runtime error.
void check_dnn(cudnnStatus_t st, const char *what) {
  if (st == CUDNN_STATUS_SUCCESS)
    return;
  char detail[512] = "";
  cudnnGetLastErrorString(detail, sizeof detail);
  std::string message = std::string(what) + ": " + cudnnGetErrorString(st);
  if (detail[0])
    message += std::string(" (") + detail + ")";
  const devrt_status status =
      st == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
              st == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED
          ? DEVRT_ERROR_OUT_OF_MEMORY
      : not_supported(st) ? DEVRT_ERROR_NOT_IMPLEMENTED
                          : DEVRT_ERROR_RUNTIME;
  fail(status, message);
}

// One algorithm cuDNN may run for a problem: its id (of the op's algorithm
// enum), the math type it was offered with, and its workspace in bytes.
struct Candidate {
  int algo;
  cudnnMathType_t math;
  size_t bytes;
};

// The op, dtype, TF32 switch and geometry of one cuDNN call.
using PlanKey = std::array<int64_t, 17>;

// What cuDNN keeps per device: a handle, the workspace, the chosen
// algorithms. `mu` is held for a whole kernel call: the handle is not to be
// used from two threads at once, and the workspace is reused by the next
// call as soon as this one has queued its work.
struct DeviceDnn {
  std::mutex mu;
  cudnnHandle_t handle = nullptr;
  void *workspace = nullptr;
  size_t workspace_bytes = 0;
  std::map<PlanKey, std::vector<Candidate>> plans;
};

// The device's state, its handle made on first use. Leaked at exit, as the
// backend's other per-device state is: it outlives the core's allocators.
DeviceDnn &device_dnn(int device) {
  static std::mutex mu;
  static auto *all = new std::vector<std::unique_ptr<DeviceDnn>>();
  std::lock_guard<std::mutex> lock(mu);
  if (device >= static_cast<int>(all->size()))
    all->resize(device + 1);
  if (!(*all)[device])
    (*all)[device] = std::make_unique<DeviceDnn>();
  return *(*all)[device];
}

cudnnHandle_t handle(DeviceDnn &d) {
  if (!d.handle)
    check_dnn(cudnnCreate(&d.handle), "cudnnCreate");
  return d.handle;
}

// The device's workspace grown to `bytes`; null when the device has not
// that much memory free. Growing waits for the stream (the current one,
// which every earlier use of the old buffer is ordered before) and frees
// the old buffer first.
void *workspace(DeviceDnn &d, size_t bytes, cudaStream_t s) {
  if (bytes <= d.workspace_bytes)
    return d.workspace;
  if (d.workspace) {
    check(cudaStreamSynchronize(s), "waiting to grow the cuDNN workspace");
    check(cudaFree(d.workspace), "cudaFree of the cuDNN workspace");
    d.workspace = nullptr;
    d.workspace_bytes = 0;
  }
  const size_t rounded =
      (bytes + (size_t{1} << 20) - 1) & ~((size_t{1} << 20) - 1);
  void *p = nullptr;
  cudaError_t err = cudaMalloc(&p, rounded);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError(); // not sticky: clear it
    return nullptr;
  }
  check(err, "cudaMalloc of the cuDNN workspace");
  d.workspace = p;
  d.workspace_bytes = rounded;
  return p;
}

// ---- descriptors -----------------------------------------------------------

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() {
    check_dnn(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc &) = delete;
  TensorDesc &operator=(const TensorDesc &) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc() {
    check_dnn(cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc &) = delete;
  FilterDesc &operator=(const FilterDesc &) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc() {
    check_dnn(cudnnCreateConvolutionDescriptor(&d),
              "cudnnCreateConvolutionDescriptor");
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc &) = delete;
  ConvDesc &operator=(const ConvDesc &) = delete;
};

// ---- the problem -----------------------------------------------------------

enum class Op { forward, backward_input, backward_filter };

// One call's shapes: x (N, H, W, C), filter (KH, KW, C, OC), y (N, OH, OW,
// OC), and its geometry.
struct Shapes {
  int64_t n, h, w, c, kh, kw, oc, oh, ow;
  int64_t sy, sx, py, px, dy, dx;
};

void read_geometry(const devrt_kernel_call &call, Shapes &s) {
  auto pair = [&](int i) {
    const devrt_attr &a = attr(call, i, DEVRT_ATTR_INTS);
    if (a.count != 2)
      fail(DEVRT_ERROR_RUNTIME, "expected two values per geometry attribute");
    return a.ints;
  };
  const int64_t *st = pair(0), *p = pair(1), *d = pair(2);
  s.sy = st[0];
  s.sx = st[1];
  s.py = p[0];
  s.px = p[1];
  s.dy = d[0];
  s.dx = d[1];
  if (s.sy <= 0 || s.sx <= 0 || s.dy <= 0 || s.dx <= 0 || s.py < 0 || s.px < 0)
    fail(DEVRT_ERROR_RUNTIME,
         "bad stride, padding or dilation: stride (" + std::to_string(s.sy) +
             ", " + std::to_string(s.sx) + "), padding (" +
             std::to_string(s.py) + ", " + std::to_string(s.px) +
             "), dilation (" + std::to_string(s.dy) + ", " +
             std::to_string(s.dx) + ")");
}

std::string shape_text(const devrt_view &v) {
  std::string s = "(";
  for (int32_t d = 0; d < v.ndim; ++d)
    s += (d ? ", " : "") + std::to_string(v.shape[d]);
  return s + (v.ndim == 1 ? ",)" : ")");
}

void expect_contiguous(const devrt_view &v, int32_t dtype, int32_t ndim,
                       const char *what) {
  expect_dtype(v, dtype, what);
  if (v.ndim != ndim)
    fail(DEVRT_ERROR_RUNTIME, std::string(what) + " must be " +
                                  std::to_string(ndim) + "-D, got " +
                                  shape_text(v));
  if (numel(v) == 0) // any strides will do
    return;
  int64_t expected = 1;
  for (int32_t d = ndim - 1; d >= 0; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expected)
      fail(DEVRT_ERROR_RUNTIME,
           std::string(what) + " " + shape_text(v) + " must be contiguous");
    expected *= v.shape[d];
  }
}

// The shapes of x, filter and y checked against each other and the
// geometry (the output grid as im2col's).
Shapes check_shapes(const devrt_kernel_call &call, const devrt_view &x,
                    const devrt_view &f, const devrt_view &y) {
  Shapes s{};
  read_geometry(call, s);
  const int32_t t = x.dtype;
  expect_contiguous(x, t, 4, "input");
  expect_contiguous(f, t, 4, "filter");
  expect_contiguous(y, t, 4, "output");
  s.n = x.shape[0];
  s.h = x.shape[1];
  s.w = x.shape[2];
  s.c = x.shape[3];
  s.kh = f.shape[0];
  s.kw = f.shape[1];
  s.oc = f.shape[3];
  s.oh = y.shape[1];
  s.ow = y.shape[2];
  const int64_t span_h = s.h + 2 * s.py - s.dy * (s.kh - 1) - 1;
  const int64_t span_w = s.w + 2 * s.px - s.dx * (s.kw - 1) - 1;
  if (f.shape[2] != s.c || y.shape[0] != s.n || y.shape[3] != s.oc ||
      span_h < 0 || span_w < 0 || s.oh != span_h / s.sy + 1 ||
      s.ow != span_w / s.sx + 1)
    fail(DEVRT_ERROR_RUNTIME, "input " + shape_text(x) + ", filter " +
                                  shape_text(f) + " and output " +
                                  shape_text(y) + " do not match");
  return s;
}

cudnnDataType_t dnn_type(int32_t dtype) {
  switch (dtype) {
  case DEVRT_FLOAT16:
    return CUDNN_DATA_HALF;
  case DEVRT_BFLOAT16:
    return CUDNN_DATA_BFLOAT16;
  case DEVRT_FLOAT32:
    return CUDNN_DATA_FLOAT;
  case DEVRT_FLOAT64:
    return CUDNN_DATA_DOUBLE;
  default:
    fail(DEVRT_ERROR_TYPE,
         std::string("no cuDNN convolution for dtype ") + dtype_name(dtype));
  }
}

// cuDNN's descriptors of one batch chunk of `nb` images.
struct Descriptors {
  TensorDesc x, y;
  FilterDesc f;
  ConvDesc conv;
};

// Checked narrowing: cuDNN's legacy API takes int dims.
int as_int(int64_t v, const char *what) {
  if (v > INT_MAX)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         std::string(what) + " " + std::to_string(v) +
             " is more than cuDNN's convolutions take (" +
             std::to_string(INT_MAX) + ")");
  return static_cast<int>(v);
}

bool channels_first(int32_t dtype) { return dtype == DEVRT_FLOAT64; }

void describe(Descriptors &d, const Shapes &s, int64_t nb, int32_t dtype) {
  const cudnnDataType_t t = dnn_type(dtype);
  const cudnnTensorFormat_t format =
      channels_first(dtype) ? CUDNN_TENSOR_NCHW : CUDNN_TENSOR_NHWC;
  const int n = as_int(nb, "a batch of"), c = as_int(s.c, "channels"),
            oc = as_int(s.oc, "output channels");
  check_dnn(cudnnSetTensor4dDescriptor(d.x.d, format, t, n, c,
                                       as_int(s.h, "height"),
                                       as_int(s.w, "width")),
            "cudnnSetTensor4dDescriptor (input)");
  check_dnn(cudnnSetTensor4dDescriptor(d.y.d, format, t, n, oc,
                                       as_int(s.oh, "output height"),
                                       as_int(s.ow, "output width")),
            "cudnnSetTensor4dDescriptor (output)");
  // NHWC: KRSC; NCHW: KCRS.
  check_dnn(cudnnSetFilter4dDescriptor(d.f.d, t, format, oc, c,
                                       as_int(s.kh, "kernel height"),
                                       as_int(s.kw, "kernel width")),
            "cudnnSetFilter4dDescriptor");
  check_dnn(cudnnSetConvolution2dDescriptor(
                d.conv.d, as_int(s.py, "padding"), as_int(s.px, "padding"),
                as_int(s.sy, "stride"), as_int(s.sx, "stride"),
                as_int(s.dy, "dilation"), as_int(s.dx, "dilation"),
                CUDNN_CROSS_CORRELATION,
                dtype == DEVRT_FLOAT64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT),
            "cudnnSetConvolution2dDescriptor");
}

// ---- choosing an algorithm -------------------------------------------------

// The math type a dtype asks cuDNN for: float32 FMA only (no TF32) unless
// TF32 is allowed, the 16-bit floats tensor cores, float64 the default.
cudnnMathType_t requested_math(int32_t dtype, bool tf32) {
  if (dtype == DEVRT_FLOAT32)
    return tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  if (dtype == DEVRT_FLOAT16 || dtype == DEVRT_BFLOAT16)
    return CUDNN_TENSOR_OP_MATH;
  return CUDNN_DEFAULT_MATH;
}

// The heuristics' results that may run: those cuDNN supports, with float32
// kept off TF32 unless it is allowed (CUDNN_DEFAULT_MATH permits TF32 on
// Ampere and later, so FMA is what runs) and never converted to a 16-bit
// type; deterministic ones first, each group in cuDNN's order.
template <typename Perf>
std::vector<Candidate> usable(const Perf *perf, int count, int32_t dtype,
                              bool tf32) {
  std::vector<Candidate> out;
  for (int pass = 0; pass < 2; ++pass)
    for (int i = 0; i < count; ++i) {
      const Perf &p = perf[i];
      if (p.status != CUDNN_STATUS_SUCCESS ||
          (p.determinism == CUDNN_DETERMINISTIC) != (pass == 0))
        continue;
      cudnnMathType_t math = p.mathType;
      if (dtype == DEVRT_FLOAT32) {
        if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
          continue;
        if (!tf32) {
          if (math == CUDNN_TENSOR_OP_MATH)
            continue;
          math = CUDNN_FMA_MATH;
        }
      }
      const bool seen =
          std::any_of(out.begin(), out.end(), [&](const Candidate &c) {
            return c.algo == static_cast<int>(p.algo) && c.math == math;
          });
      if (!seen)
        out.push_back({static_cast<int>(p.algo), math, 0});
    }
  return out;
}

// The candidates for `op` on the described problem, with their workspace
// sizes (a candidate whose size cuDNN will not give is dropped).
std::vector<Candidate> find_candidates(cudnnHandle_t h, Op op, Descriptors &d,
                                       int32_t dtype, bool tf32) {
  check_dnn(cudnnSetConvolutionMathType(d.conv.d, requested_math(dtype, tf32)),
            "cudnnSetConvolutionMathType");
  std::vector<Candidate> found;
  int max = 0, got = 0;
  switch (op) {
  case Op::forward: {
    check_dnn(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max),
              "cudnnGetConvolutionForwardAlgorithmMaxCount");
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(max, 1));
    check_dnn(cudnnGetConvolutionForwardAlgorithm_v7(
                  h, d.x.d, d.f.d, d.conv.d, d.y.d, max, &got, perf.data()),
              "cudnnGetConvolutionForwardAlgorithm_v7");
    found = usable(perf.data(), got, dtype, tf32);
    break;
  }
  case Op::backward_input: {
    check_dnn(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max),
              "cudnnGetConvolutionBackwardDataAlgorithmMaxCount");
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(max, 1));
    check_dnn(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                  h, d.f.d, d.y.d, d.conv.d, d.x.d, max, &got, perf.data()),
              "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    found = usable(perf.data(), got, dtype, tf32);
    break;
  }
  case Op::backward_filter: {
    check_dnn(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max),
              "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount");
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(max, 1));
    check_dnn(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                  h, d.x.d, d.y.d, d.conv.d, d.f.d, max, &got, perf.data()),
              "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    found = usable(perf.data(), got, dtype, tf32);
    break;
  }
  }
  std::vector<Candidate> out;
  for (Candidate c : found) {
    if (cudnnSetConvolutionMathType(d.conv.d, c.math) != CUDNN_STATUS_SUCCESS)
      continue;
    cudnnStatus_t st = CUDNN_STATUS_NOT_SUPPORTED;
    switch (op) {
    case Op::forward:
      st = cudnnGetConvolutionForwardWorkspaceSize(
          h, d.x.d, d.f.d, d.conv.d, d.y.d,
          static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), &c.bytes);
      break;
    case Op::backward_input:
      st = cudnnGetConvolutionBackwardDataWorkspaceSize(
          h, d.f.d, d.y.d, d.conv.d, d.x.d,
          static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), &c.bytes);
      break;
    case Op::backward_filter:
      st = cudnnGetConvolutionBackwardFilterWorkspaceSize(
          h, d.x.d, d.y.d, d.conv.d, d.f.d,
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), &c.bytes);
      break;
    }
    if (st == CUDNN_STATUS_SUCCESS)
      out.push_back(c);
  }
  return out;
}

std::string problem_text(const Shapes &s, int64_t nb, int32_t dtype) {
  auto pair = [](int64_t a, int64_t b) {
    return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
  };
  return std::string(dtype_name(dtype)) + " input (" + std::to_string(nb) +
         ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ", " +
         std::to_string(s.c) + "), filter (" + std::to_string(s.kh) + ", " +
         std::to_string(s.kw) + ", " + std::to_string(s.c) + ", " +
         std::to_string(s.oc) + "), stride " + pair(s.sy, s.sx) + ", padding " +
         pair(s.py, s.px) + ", dilation " + pair(s.dy, s.dx);
}

// The cached candidates of a chunk of `nb` images (chosen on first use).
const std::vector<Candidate> &plan(DeviceDnn &dd, int device, Op op,
                                   Descriptors &d, const Shapes &s, int64_t nb,
                                   int32_t dtype, bool tf32) {
  const PlanKey key{device, static_cast<int64_t>(op),
                    dtype,  tf32 ? 1 : 0,
                    nb,     s.h,
                    s.w,    s.c,
                    s.kh,   s.kw,
                    s.oc,   s.sy,
                    s.sx,   s.py,
                    s.px,   s.dy,
                    s.dx};
  auto it = dd.plans.find(key);
  if (it == dd.plans.end()) {
    std::vector<Candidate> found =
        find_candidates(handle(dd), op, d, dtype, tf32);
    if (found.empty())
      fail(DEVRT_ERROR_NOT_IMPLEMENTED,
           "cuDNN offers no algorithm for the " + problem_text(s, nb, dtype));
    it = dd.plans.emplace(key, std::move(found)).first;
  }
  return it->second;
}

// ---- layout kernels --------------------------------------------------------

// out (contiguous, dims size) = in read with the strides `stride` (the
// input's stride along each of out's dims): a transpose of up to 4 dims.
struct Permute {
  int64_t size[4];
  int64_t stride[4];
};

template <typename E>
__global__ void permute_kernel(const E *in, E *out, Permute p, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, off = 0;
    for (int d = 3; d >= 0; --d) {
      off += (rest % p.size[d]) * p.stride[d];
      rest /= p.size[d];
    }
    out[i] = in[off];
  }
}

void permute(const void *in, void *out, int32_t dtype, const Permute &p,
             cudaStream_t s) {
  const int64_t total = p.size[0] * p.size[1] * p.size[2] * p.size[3];
  if (total == 0)
    return;
  auto launch = [&](auto tag) {
    using E = decltype(tag);
    permute_kernel<E><<<blocks_for(total), kThreads, 0, s>>>(
        static_cast<const E *>(in), static_cast<E *>(out), p, total);
  };
  if (itemsize(dtype) == 2)
    launch(uint16_t{});
  else if (itemsize(dtype) == 4)
    launch(uint32_t{});
  else
    launch(uint64_t{});
  check_launch("launching a convolution layout transpose");
}

// The filter's layouts: devrt's HWIO, cuDNN's KRSC (NHWC) and KCRS (NCHW).
Permute hwio_to_dnn(const Shapes &s, bool nchw) {
  const int64_t kh = s.kh, kw = s.kw, c = s.c, oc = s.oc;
  if (nchw) // out (OC, C, KH, KW)
    return {{oc, c, kh, kw}, {1, oc, kw * c * oc, c * oc}};
  return {{oc, kh, kw, c}, {1, kw * c * oc, c * oc, oc}}; // out (OC, KH, KW, C)
}

Permute dnn_to_hwio(const Shapes &s, bool nchw) { // out (KH, KW, C, OC)
  const int64_t kh = s.kh, kw = s.kw, c = s.c;
  if (nchw)
    return {{kh, kw, c, s.oc}, {kw, 1, kh * kw, c * kh * kw}};
  return {{kh, kw, c, s.oc}, {kw * c, c, 1, kh * kw * c}};
}

Permute nhwc_to_nchw(int64_t n, int64_t h, int64_t w, int64_t c) {
  return {{n, c, h, w}, {h * w * c, 1, w * c, c}};
}

Permute nchw_to_nhwc(int64_t n, int64_t h, int64_t w, int64_t c) {
  return {{n, h, w, c}, {c * h * w, w, 1, h * w}};
}

// y[..., o] = bias[o] (add: y[..., o] += bias[o]) over an (M, OC) output.
template <typename T>
__global__ void bias_kernel(T *y, const T *bias, int64_t total, int64_t oc,
                            bool add) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const acc_t<T> b = load(bias[i % oc]);
    y[i] = add ? convert<T>(load(y[i]) + b) : convert<T>(b);
  }
}

void apply_bias(void *y, const void *bias, int32_t dtype, int64_t total,
                int64_t oc, bool add, cudaStream_t s) {
  if (total == 0)
    return;
  FloatingH::dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    bias_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(
        static_cast<T *>(y), static_cast<const T *>(bias), total, oc, add);
  });
  check_launch("launching the convolution's bias");
}

// ---- running ---------------------------------------------------------------

// Bytes rounded up to cuDNN's preferred alignment of a buffer.
size_t aligned(size_t bytes) { return (bytes + 255) & ~size_t{255}; }

// Images per cuDNN call: cuDNN indexes a tensor with 32-bit integers, so a
// batch whose input or output has more elements runs in chunks.
int64_t chunk_of(const Shapes &s) {
  const int64_t per_image =
      std::max({s.h * s.w * s.c, s.oh * s.ow * s.oc, int64_t{1}});
  if (per_image > INT_MAX || s.kh * s.kw * s.c * s.oc > INT_MAX)
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         "one image of " + std::to_string(per_image) +
             " elements, or a filter of " +
             std::to_string(s.kh * s.kw * s.c * s.oc) +
             ", is more than cuDNN's convolutions take (" +
             std::to_string(INT_MAX) + " elements)");
  return std::max<int64_t>(1, std::min<int64_t>(s.n, INT_MAX / per_image));
}

// alpha = 1 and beta (0 or 1) as cuDNN reads them: double for float64 data,
// float otherwise.
struct Scale {
  double d;
  float f;
  const void *of(int32_t dtype) const {
    return dtype == DEVRT_FLOAT64 ? static_cast<const void *>(&d) : &f;
  }
};
const Scale kOne{1.0, 1.0f}, kZero{0.0, 0.0f};

// One kernel call on cuDNN: the device's state (locked for the call), the
// stream, the batch cut into chunks of at most `chunk` images (at most two
// problems: full chunks and the remainder), each problem's descriptors and
// candidates, and one buffer for the whole call: `scratch` bytes of layout
// copies, then cuDNN's workspace (`room` bytes).
struct Call {
  const Shapes &s;
  int32_t t;
  Op op;
  int device = 0;
  DeviceDnn *dd = nullptr;
  std::unique_lock<std::mutex> lock;
  cudaStream_t stream = nullptr;
  bool nchw = false;
  int64_t chunk = 0, item = 0;
  Descriptors descs[2];
  const std::vector<Candidate> *plans[2] = {nullptr, nullptr};
  char *scratch = nullptr;
  size_t room = 0;

  Call(const devrt_kernel_call &call, const Shapes &shapes, int32_t dtype,
       Op which)
      : s(shapes), t(dtype), op(which) {
    check(cudaGetDevice(&device), "cudaGetDevice");
    dd = &device_dnn(device);
    lock = std::unique_lock<std::mutex>(dd->mu);
    stream = stream_of(call);
    check_dnn(cudnnSetStream(handle(*dd), stream), "cudnnSetStream");
    nchw = channels_first(t);
    chunk = chunk_of(s);
    item = itemsize(t);
    const bool tf32 = t == DEVRT_FLOAT32 && allow_tf32();
    for (int i = 0; i < 2; ++i) {
      const int64_t nb = i == 0 ? std::min(chunk, s.n) : s.n % chunk;
      if (i == 1 && (s.n <= chunk || nb == 0))
        break;
      describe(descs[i], s, nb, t);
      plans[i] = &plan(*dd, device, op, descs[i], s, nb, t, tf32);
    }
  }

  // Allocates the call's buffer: room for each problem's first candidate,
  // or failing that its leanest; out of memory when neither fits.
  void reserve(size_t scratch_bytes) {
    size_t first = 0, leanest = 0;
    for (const auto *p : plans) {
      if (!p)
        continue;
      first = std::max(first, p->front().bytes);
      size_t least = p->front().bytes;
      for (const Candidate &c : *p)
        least = std::min(least, c.bytes);
      leanest = std::max(leanest, least);
    }
    for (size_t want : {first, leanest}) {
      const size_t total = aligned(scratch_bytes) + want;
      if (void *p = workspace(*dd, total, stream)) {
        scratch = static_cast<char *>(p);
        room = dd->workspace_bytes - aligned(scratch_bytes);
        return;
      }
    }
    fail(DEVRT_ERROR_OUT_OF_MEMORY,
         "out of memory on cuda:" + std::to_string(device) + " for " +
             std::to_string(aligned(scratch_bytes) + leanest) +
             " bytes of cuDNN workspace");
  }

  // Runs chunk n0's problem with the first candidate that fits the room
  // and that cuDNN accepts: run(descriptors, candidate, workspace) returns
  // cuDNN's status.
  template <typename Run>
  void run_chunk(int64_t n0, const char *what, Run run) {
    const int i = std::min(chunk, s.n - n0) == chunk || !plans[1] ? 0 : 1;
    Descriptors &d = descs[i];
    void *ws = scratch + (dd->workspace_bytes - room);
    for (const Candidate &c : *plans[i]) {
      if (c.bytes > room)
        continue;
      check_dnn(cudnnSetConvolutionMathType(d.conv.d, c.math),
                "cudnnSetConvolutionMathType");
      // Unsupported here (an algorithm may need aligned pointers, which
      // the heuristics did not see): the next candidate.
      const cudnnStatus_t st = run(d, c, ws);
      if (!not_supported(st) &&
          st != CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER) {
        check_dnn(st, what);
        return;
      }
    }
    fail(DEVRT_ERROR_NOT_IMPLEMENTED,
         std::string(what) +
             " supports none of the algorithms cuDNN offered "
             "for the " +
             problem_text(s, std::min(chunk, s.n - n0), t));
  }

  char *images(const devrt_view &v, int64_t n0, int64_t per_image) const {
    return static_cast<char *>(v.data) + n0 * per_image * item;
  }
};

// The three kernels share one pattern: the filter transposed into scratch
// once, then per chunk of images (through channels-first copies in scratch
// for float64) one cuDNN call.

// One image's sizes, NHWC.
struct Image {
  int64_t h, w, c;
  int64_t size() const { return h * w * c; }
};

// The forward and input-gradient passes: images `from` (each of sizes a)
// read and images `to` (each of sizes b) written with the filter f, chunk
// by chunk. conv(descriptors, candidate, workspace, filter, in, out) runs
// the chunk's cuDNN call on the filter in cuDNN's layout and the chunk's
// images in the call's layout, returning cuDNN's status.
template <typename Conv>
void image_pass(Call &cx, const devrt_view &f, const devrt_view &from, Image a,
                const devrt_view &to, Image b, const char *what, Conv conv) {
  const Shapes &s = cx.s;
  const int32_t t = cx.t;
  const size_t f_bytes = aligned(numel(f) * cx.item);
  const size_t a_bytes = cx.nchw ? aligned(cx.chunk * a.size() * cx.item) : 0;
  const size_t b_bytes = cx.nchw ? aligned(cx.chunk * b.size() * cx.item) : 0;
  cx.reserve(f_bytes + a_bytes + b_bytes);
  char *fk = cx.scratch, *ac = fk + f_bytes, *bc = ac + a_bytes;
  permute(f.data, fk, t, hwio_to_dnn(s, cx.nchw), cx.stream);
  for (int64_t n0 = 0; n0 < s.n; n0 += cx.chunk) {
    const int64_t nb = std::min(cx.chunk, s.n - n0);
    char *pa = cx.images(from, n0, a.size()), *pb = cx.images(to, n0, b.size());
    if (cx.nchw)
      permute(pa, ac, t, nhwc_to_nchw(nb, a.h, a.w, a.c), cx.stream);
    cx.run_chunk(n0, what, [&](Descriptors &d, const Candidate &c, void *ws) {
      return conv(d, c, ws, fk, cx.nchw ? ac : pa, cx.nchw ? bc : pb);
    });
    if (cx.nchw)
      permute(bc, pb, t, nchw_to_nhwc(nb, b.h, b.w, b.c), cx.stream);
  }
}

void conv2d_nhwc(const devrt_kernel_call &call) {
  if (call.n_inputs != 2 && call.n_inputs != 3)
    expect_arity(call, 2, 1);
  expect_arity(call, call.n_inputs, 1);
  const devrt_view &x = call.inputs[0], &f = call.inputs[1];
  const devrt_view &y = call.outputs[0];
  const Shapes s = check_shapes(call, x, f, y);
  const int32_t t = x.dtype;
  const void *bias = nullptr;
  if (call.n_inputs == 3) {
    const devrt_view &b = call.inputs[2];
    expect_dtype(b, t, "bias");
    if (b.ndim != 1 || b.shape[0] != s.oc || (s.oc > 1 && b.strides[0] != 1))
      fail(DEVRT_ERROR_RUNTIME, "bias " + shape_text(b) +
                                    " must be a contiguous (" +
                                    std::to_string(s.oc) + ",) vector");
    bias = b.data;
  }
  const int64_t total = numel(y);
  if (total == 0)
    return;
  if (numel(x) == 0 || numel(f) == 0) { // every tap on padding, or none
    if (bias)
      apply_bias(y.data, bias, t, total, s.oc, false, stream_of(call));
    else
      check(cudaMemsetAsync(y.data, 0, total * itemsize(t), stream_of(call)),
            "cudaMemsetAsync");
    return;
  }
  Call cx(call, s, t, Op::forward);
  image_pass(cx, f, x, {s.h, s.w, s.c}, y, {s.oh, s.ow, s.oc},
             "cudnnConvolutionForward",
             [&](Descriptors &d, const Candidate &c, void *ws, const void *fk,
                 const void *in, void *out) {
               return cudnnConvolutionForward(
                   handle(*cx.dd), kOne.of(t), d.x.d, in, d.f.d, fk, d.conv.d,
                   static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), ws, c.bytes,
                   kZero.of(t), d.y.d, out);
             });
  if (bias)
    apply_bias(y.data, bias, t, total, s.oc, true, cx.stream);
}

void conv2d_nhwc_backward_input(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &g = call.inputs[0], &f = call.inputs[1];
  const devrt_view &gx = call.outputs[0];
  const Shapes s = check_shapes(call, gx, f, g);
  const int32_t t = gx.dtype;
  const int64_t total = numel(gx);
  if (total == 0)
    return;
  if (numel(g) == 0 || numel(f) == 0) { // no tap reads the input
    check(cudaMemsetAsync(gx.data, 0, total * itemsize(t), stream_of(call)),
          "cudaMemsetAsync");
    return;
  }
  Call cx(call, s, t, Op::backward_input);
  image_pass(cx, f, g, {s.oh, s.ow, s.oc}, gx, {s.h, s.w, s.c},
             "cudnnConvolutionBackwardData",
             [&](Descriptors &d, const Candidate &c, void *ws, const void *fk,
                 const void *in, void *out) {
               return cudnnConvolutionBackwardData(
                   handle(*cx.dd), kOne.of(t), d.f.d, fk, d.y.d, in, d.conv.d,
                   static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), ws,
                   c.bytes, kZero.of(t), d.x.d, out);
             });
}

void conv2d_nhwc_backward_filter(const devrt_kernel_call &call) {
  expect_arity(call, 2, 1);
  const devrt_view &x = call.inputs[0], &g = call.inputs[1];
  const devrt_view &gf = call.outputs[0];
  const Shapes s = check_shapes(call, x, gf, g);
  const int32_t t = x.dtype;
  const int64_t total = numel(gf);
  if (total == 0)
    return;
  if (numel(x) == 0 || numel(g) == 0) { // no product to sum
    check(cudaMemsetAsync(gf.data, 0, total * itemsize(t), stream_of(call)),
          "cudaMemsetAsync");
    return;
  }
  Call cx(call, s, t, Op::backward_filter);
  const int64_t in_image = s.h * s.w * s.c, out_image = s.oh * s.ow * s.oc;
  const size_t f_bytes = aligned(total * cx.item);
  const size_t x_bytes = cx.nchw ? aligned(cx.chunk * in_image * cx.item) : 0;
  const size_t g_bytes = cx.nchw ? aligned(cx.chunk * out_image * cx.item) : 0;
  cx.reserve(f_bytes + x_bytes + g_bytes);
  // The gradient in cuDNN's layout, summed over the chunks (beta 1 after
  // the first), then transposed into gf.
  char *gk = cx.scratch, *xc = gk + f_bytes, *gc = xc + x_bytes;
  for (int64_t n0 = 0; n0 < s.n; n0 += cx.chunk) {
    const int64_t nb = std::min(cx.chunk, s.n - n0);
    char *px = cx.images(x, n0, in_image), *pg = cx.images(g, n0, out_image);
    if (cx.nchw) {
      permute(px, xc, t, nhwc_to_nchw(nb, s.h, s.w, s.c), cx.stream);
      permute(pg, gc, t, nhwc_to_nchw(nb, s.oh, s.ow, s.oc), cx.stream);
    }
    cx.run_chunk(n0, "cudnnConvolutionBackwardFilter",
                 [&](Descriptors &d, const Candidate &c, void *ws) {
                   return cudnnConvolutionBackwardFilter(
                       handle(*cx.dd), kOne.of(t), d.x.d, cx.nchw ? xc : px,
                       d.y.d, cx.nchw ? gc : pg, d.conv.d,
                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), ws,
                       c.bytes, (n0 == 0 ? kZero : kOne).of(t), d.f.d, gk);
                 });
  }
  permute(gk, gf.data, t, dnn_to_hwio(s, cx.nchw), cx.stream);
}

} // namespace

void register_conv_direct_kernels() {
  using Conv = Types<half, bf16, float, double>;
  register_kernel("conv2d_nhwc", Conv::mask, kernel_entry<conv2d_nhwc>);
  register_kernel("conv2d_nhwc_backward_input", Conv::mask,
                  kernel_entry<conv2d_nhwc_backward_input>);
  register_kernel("conv2d_nhwc_backward_filter", Conv::mask,
                  kernel_entry<conv2d_nhwc_backward_filter>);
}

} // namespace devrt_cuda

// cuDNN's version as cudnnGetVersion gives it (91900 for 9.19.0), for
// devrt_cuda's description of the backend.
extern "C" DEVRT_EXPORT int devrt_cuda_cudnn_version(void) {
  return static_cast<int>(cudnnGetVersion());
}
