// The core's op functions: shape and dtype inference, promotion and
// broadcasting, then one kernel call through the dispatcher. Front ends and
// bindings call these; they never compute anything themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "devrt/catalogue.h"
#include "devrt/tensor.h"

namespace devrt {

// A number given by the user, exact for integers.
struct Scalar {
  enum Kind : int8_t { Bool, Int, Float } kind = Float;
  int64_t i = 0;
  double f = 0;
  static Scalar from_bool(bool v) { return {Bool, v ? 1 : 0, v ? 1.0 : 0.0}; }
  static Scalar from_int(int64_t v) { return {Int, v, static_cast<double>(v)}; }
  static Scalar from_double(double v);
  // The dtype a Python number of this kind gets: bool, int64, float64.
  DType natural_dtype() const;
};

// --- elementwise ----------------------------------------------------------
Tensor unary(OpId op, const Tensor &x);
Tensor clamp(const Tensor &x, std::optional<Scalar> lo,
             std::optional<Scalar> hi);
// clamp with tensor bounds (broadcast with x), with PyTorch's gradients.
Tensor clamp(const Tensor &x, const std::optional<Tensor> &lo,
             const std::optional<Tensor> &hi);
Tensor binary(OpId op, const Tensor &a, const Tensor &b);
// `a op s`, or `s op a` when scalar_first; s promotes weakly.
Tensor binary_scalar(OpId op, const Tensor &a, Scalar s, bool scalar_first);
// a = a op b, in place; b broadcasts to a's shape and the result type must
// be castable to a's dtype.
void binary_inplace(OpId op, const Tensor &a, const Tensor &b);
void binary_inplace(OpId op, const Tensor &a, Scalar s);
Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b);
// relu's gradient: g where y (relu's output) is above 0 or NaN, 0 where y
// <= 0, in g's dtype; g (floating) and y of one shape and device. One
// relu_backward kernel where the device has it for g's dtype, y has that
// dtype and nothing records; else where(y <= 0, 0, g), recorded as usual.
Tensor relu_backward(const Tensor &g, const Tensor &y);
// One operand of a binary op as the user gave it: a tensor, or a number
// (which promotes weakly).
struct Operand {
  Tensor tensor; // null for a number
  Scalar number;
  Operand(Tensor t) : tensor(std::move(t)) {}
  Operand(Scalar s) : number(s) {}
  bool is_tensor() const { return tensor != nullptr; }
  DType dtype() const; // a number's natural dtype
};
// a op b, either side a tensor or a number. Two numbers are taken by the
// arithmetic ops only, as PyTorch's functions take them: the first becomes
// a 0-d tensor (a float one of float32), the second stays a number.
Tensor binary(OpId op, const Operand &a, const Operand &b);
// PyTorch's add and sub with alpha: a + alpha * b, a - alpha * b. b * alpha
// is computed in the dtype a op b computes in and the result has a op b's
// dtype; a float32 result rounds once; an integer result takes only an
// integer alpha, a bool alpha only bool operands; sub takes no bools.
Tensor add_sub(OpId op, const Operand &a, const Operand &b, Scalar alpha);
// a = a + alpha * b (a - alpha * b) in place.
void add_sub_(OpId op, const Tensor &a, const Operand &b, Scalar alpha);
// where(cond, a, b) with numbers among a and b: each is made in the
// result's dtype (two numbers: their category's default dtype) and must fit
// it; cond is a bool (or uint8) tensor.
Tensor where(const Tensor &cond, const Operand &a, const Operand &b);
// Broadcast shape of two shapes; `op` names the op in the error message.
Dims broadcast_shapes(const char *op, const Dims &a, const Dims &b);
// The dtype a unary elementwise op computes in and the dtype of its result
// for an input of dtype x (one rule for eager ops and graph nodes); raises
// TypeError where the op does not take x.
void unary_result_types(OpId op, DType x, DType *compute, DType *result);
// Raises TypeError where an in-place `op` would store a result of dtype
// `result` into a tensor of dtype `dst` of a lower category (floats into
// integers, numbers into bools), as PyTorch refuses to.
void check_inplace_result(OpId op, DType result, DType dst);
// The dtype binary `op` computes in and the dtype it returns.
void binary_result_types(OpId op, DType a, DType b, Rank a_rank, Rank b_rank,
                         DType *compute, DType *result);
// The rank `t` promotes with: a wrapped Python number, 0-d or dimensioned.
inline Rank promotion_rank(const Tensor &t) {
  return t->wrapped_number
             ? Rank::Number
             : (t->ndim() == 0 ? Rank::ZeroDim : Rank::Dimensioned);
}

// --- reductions -----------------------------------------------------------
// axes == nullopt reduces over every axis.
Tensor reduce(OpId op, const Tensor &x, const std::optional<Dims> &axes,
              bool keepdim, int64_t correction = 1);
// The variance with any correction, as PyTorch's: an integral one is the var
// kernel's; another scales the variance of correction 0 by
// N / max(0, N - correction), N the number of elements reduced.
Tensor var(const Tensor &x, const std::optional<Dims> &axes, bool keepdim,
           Scalar correction);
// sqrt(var(...)), whose gradient is 0 where the variance is 0 (sqrt's is
// infinite there), as PyTorch's.
Tensor std_dev(const Tensor &x, const std::optional<Dims> &axes, bool keepdim,
               Scalar correction);
// The indices that sort x along `axis` (stably; NaN after every number,
// before them when descending), int64; bool and uint8 sort as int32.
Tensor argsort(const Tensor &x, int64_t axis, bool descending);
// The k largest (smallest unless largest) entries of x along `axis`, in
// order, ties in index order, and their int64 indices (argsort, narrowed,
// gathered). A 0-d x is one entry.
std::pair<Tensor, Tensor> topk(const Tensor &x, int64_t k, int64_t axis,
                               bool largest);
// The running sum along `axis`; bool and integers sum in int64.
Tensor cumsum(const Tensor &x, int64_t axis);
Tensor arg_reduce(OpId op, const Tensor &x, std::optional<int64_t> axis,
                  bool keepdim);
Tensor softmax(OpId op, const Tensor &x, int64_t axis);
// Normalises axes against rank (negative wrap, range and duplicate checks).
Dims normalize_axes(const char *op, const Dims &axes, int64_t rank);
int64_t normalize_axis(const char *op, int64_t axis, int64_t rank);

// --- linear algebra -------------------------------------------------------
Tensor matmul(const Tensor &a, const Tensor &b);
// a (B, M, K) @ b (B, K, N) written into y (B, M, N): one dtype, equal batch
// sizes (a stride-0 batch dimension broadcasts), y's rows contiguous. No
// promotion and no autograd: for composites that place their products.
void matmul_out(const Tensor &a, const Tensor &b, const Tensor &y);
// matmul of two matrices, and of two batches of matrices of one batch size
// (no broadcasting): PyTorch's mm and bmm, which refuse other shapes.
Tensor mm(const Tensor &a, const Tensor &b);
Tensor bmm(const Tensor &a, const Tensor &b);

// --- joining and gathering ------------------------------------------------
Tensor cat(const std::vector<Tensor> &tensors, int64_t dim);
Tensor stack(const std::vector<Tensor> &tensors, int64_t dim);
// out[i][j] = x[i][index[i][j]] (dim 1), as torch.gather.
Tensor gather(const Tensor &x, int64_t dim, const Tensor &index);
// x with src added at `index` along dim (out of place), as torch.scatter_add.
Tensor scatter_add(const Tensor &x, int64_t dim, const Tensor &index,
                   const Tensor &src);
Tensor index_select(const Tensor &x, int64_t dim, const Tensor &index);
// NumPy's take along `axis` (TensorFlow's GatherV2): x's slices at the
// integer `indices` of any shape, which replace the axis in the result's
// shape (take_shape); index_select is its 1-D case.
Tensor take(const Tensor &x, int64_t axis, const Tensor &indices);
// x reversed along `dim`, as a new tensor (a gather: no negative strides).
Tensor flip(const Tensor &x, int64_t dim);
Tensor masked_fill(const Tensor &x, const Tensor &mask, Scalar value);
Tensor masked_fill(const Tensor &x, const Tensor &mask, const Tensor &value);

// --- convolution and pooling (NCHW) ----------------------------------------
struct Conv2dGeometry {
  int64_t stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};
};
// (N, C, H, W) -> (N, C*kh*kw, oh*ow), out-of-image taps read pad_value.
Tensor im2col(const Tensor &x, int64_t kh, int64_t kw, const Conv2dGeometry &g,
              double pad_value = 0.0);
// The adjoint of im2col: (N, C*kh*kw, oh*ow) summed into (N, C, h, w).
Tensor col2im(const Tensor &cols, int64_t h, int64_t w, int64_t kh, int64_t kw,
              const Conv2dGeometry &g);
Tensor conv2d(const Tensor &x, const Tensor &weight,
              const std::optional<Tensor> &bias, const Conv2dGeometry &g,
              int64_t groups);
// conv2d's gradients for its input and weight (one group), each null when
// not wanted: the direct kernels between layout copies where the device
// has them, else im2col, matmul and col2im over chunks of the batch.
std::vector<Tensor> conv2d_backward(const Tensor &g, const Tensor &x,
                                    const Tensor &weight,
                                    const Conv2dGeometry &geo, bool want_x,
                                    bool want_weight);
// conv2d of an NHWC input with an HWIO filter (one group, dilation 1 along
// the width), giving an NHWC output: the graph front end's layout, computed
// without layout copies (by the direct kernels where the device has them).
// Recorded as a conv2d node.
Tensor conv2d_nhwc(const Tensor &x, const Tensor &filter,
                   const Conv2dGeometry &g);
std::vector<Tensor> conv2d_nhwc_backward(const Tensor &g, const Tensor &x,
                                         const Tensor &filter,
                                         const Conv2dGeometry &geo, bool want_x,
                                         bool want_filter);
// conv2d_nhwc_backward and the gradient of a bias added to its output (g
// summed over the batch and the pixels): the filter's and the bias's from
// one pass over g where the device has conv2d_nhwc_backward_filter_bias.
// Three results, each null when not wanted.
std::vector<Tensor> conv2d_nhwc_bias_backward(const Tensor &g, const Tensor &x,
                                              const Tensor &filter,
                                              const Conv2dGeometry &geo,
                                              bool want_x, bool want_filter,
                                              bool want_bias);
// relu(conv2d_nhwc(x, filter) + bias), bias (OC) optional: the graph's
// Conv2D, BiasAdd and Relu as one op, written once (the conv2d_nhwc_relu
// kernel where the device has it, else the convolution with its bias and
// relu in place). Recorded as one conv2d_nhwc_relu node. seed_masked: the
// caller guarantees that the gradient arriving at the output is already 0
// where the output is at most 0 (a max pooling of it records a relu), so
// the derivative skips relu's mask.
Tensor conv2d_nhwc_relu(const Tensor &x, const Tensor &filter,
                        const std::optional<Tensor> &bias,
                        const Conv2dGeometry &g, bool seed_masked = false);
// max_pool2d_nhwc(conv2d_nhwc_relu(x, filter, bias, g), 2, 2, stride 2,
// relu) for an even output grid: one conv2d_nhwc_relu_pool where the device
// has it (the convolution's output pooled band by band, never written
// whole), recorded as one node where it also has the two
// conv2d_nhwc_pool_backward kernels for the rule; else the two ops.
Tensor conv2d_nhwc_relu_pool(const Tensor &x, const Tensor &filter,
                             const std::optional<Tensor> &bias,
                             const Conv2dGeometry &g);
// conv2d_nhwc_relu_pool's gradients for x, filter and bias (three results,
// each null when not wanted) from the pooled gradient g and the taps, by the
// conv2d_nhwc_pool_backward kernels (the full gradient never written), which
// a device that records conv2d_nhwc_relu_pool has. Not recorded.
std::vector<Tensor> conv2d_nhwc_relu_pool_backward(
    const Tensor &g, const Tensor &taps, const Tensor &x, const Tensor &filter,
    const Conv2dGeometry &geo, bool want_x, bool want_filter, bool want_bias);
// PyTorch's binary_cross_entropy before reduction: (y - 1) * max(log1p(-x),
// -100) - y * max(log(x), -100), for x (probabilities, checked to lie in
// [0, 1]) and y of one shape, in their promoted floating dtype. Recorded as
// one node whose rule gives PyTorch's gradients, finite where the floored
// logs' own derivatives are not.
Tensor binary_cross_entropy(const Tensor &x, const Tensor &y);
Tensor max_pool2d(const Tensor &x, int64_t kh, int64_t kw,
                  const Conv2dGeometry &g);
// max_pool2d's gradient on a device with pooling kernels: g shared among
// each window's maximal taps of x (y = max_pool2d(x)).
Tensor max_pool2d_backward(const Tensor &g, const Tensor &x, const Tensor &y,
                           int64_t kh, int64_t kw, const Conv2dGeometry &geo);
// max_pool2d of a channels-last (N, H, W, C) input, giving (N, oh, ow, C):
// one pass each way where the device has the _nhwc pooling kernels, else
// max_pool2d of a channels-first copy. Recorded as a max_pool2d node, which
// keeps the maximal taps for its gradient where the device has the
// max_pool2d_nhwc_taps pair (windows of at most 8 taps). relu: relu of the
// pooling, in the same pass where the taps are kept (the graph's pooling
// of a fused Conv2D + bias + Relu).
Tensor max_pool2d_nhwc(const Tensor &x, int64_t kh, int64_t kw,
                       const Conv2dGeometry &g, bool relu = false);
Tensor max_pool2d_nhwc_backward(const Tensor &g, const Tensor &x,
                                const Tensor &y, int64_t kh, int64_t kw,
                                const Conv2dGeometry &geo);
// The same gradient from the taps max_pool2d_nhwc_taps kept, for an input
// of shape x_shape (in g's dtype).
Tensor max_pool2d_nhwc_taps_backward(const Tensor &g, const Tensor &taps,
                                     const Dims &x_shape, int64_t kh,
                                     int64_t kw, const Conv2dGeometry &geo);
Tensor avg_pool2d(const Tensor &x, int64_t kh, int64_t kw,
                  const Conv2dGeometry &g, bool count_include_pad);

// --- optimizer updates (in place) -----------------------------------------
// One Adam step over one parameter, writing param, m, v (and v_max) in place:
//   m = beta1 * m + (1 - beta1) * grad
//   v = beta2 * v + (1 - beta2) * grad * grad
//   v_max = max(v_max, v)      (AMSGrad, when v_max is given; it replaces v)
//   param -= step_size * m / (sqrt(v) / root_divisor + eps)
// grad, m, v and v_max have param's shape, dtype and device; step_size and
// root_divisor (null: none) are 0-d floating tensors on that device, read
// by the kernel, so a schedule's value needs no host read, or wrapped
// numbers (scalar_tensor), which take param's dtype and device. 1 - beta is
// computed in double and rounded once to param's dtype; every other step
// rounds as the unfused ops do. One kernel where the device has it and the
// operands are contiguous float32/float64, else the same core ops. Never
// recorded by autograd; bumps the versions of what it writes.
void adam_step(const Tensor &param, const Tensor &grad, const Tensor &m,
               const Tensor &v, const Tensor &v_max, const Tensor &step_size,
               const Tensor &root_divisor, double beta1, double beta2,
               double eps);
// One gradient-descent step, in place: param -= grad * lr, the product
// rounded to param's dtype before the difference. grad has param's shape,
// dtype and device; lr is a 0-d floating tensor on that device or a wrapped
// number, as adam_step's step_size. One kernel where the device has it and
// the operands are contiguous float32/float64, else the same two core ops.
// Never recorded by autograd; bumps param's version.
void sgd_step(const Tensor &param, const Tensor &grad, const Tensor &lr);

// --- memory ---------------------------------------------------------------
Tensor cast(const Tensor &x, DType dtype); // x itself when already dtype
Tensor contiguous(const Tensor &x);        // x itself when contiguous
Tensor clone(const Tensor &x);
void copy_(const Tensor &dst, const Tensor &src); // src broadcasts to dst
// The in-place form of an out-of-place op: writes f(dst) into dst. When
// autograd records the write (dst, its base or one of `operands` requires
// grad), f reads a copy of dst with its history if `reads_dst`, and dst's
// history is rebased onto f's result.
void apply_inplace(const char *op, const Tensor &dst,
                   const std::vector<Tensor> &operands, bool reads_dst,
                   const std::function<Tensor(const Tensor &)> &f);
Tensor to_device(const Tensor &x, Device device);
// Copies nbytes of contiguous `x` into host memory at dst.
void copy_to_host(const Tensor &x, void *dst);
Scalar item(const Tensor &x);

// --- creation -------------------------------------------------------------
// Raises ValueError "[op] value ... cannot be converted to dtype ..." where
// dtype t cannot hold v (PyTorch's rule: NaN or an infinity in an integer
// dtype, a number beyond the dtype's range); full and fill_ check with it.
void check_fill_value(const char *op, Scalar v, DType t);
Tensor full(const Dims &shape, Scalar value, DType dtype, Device device);
void fill_(const Tensor &t, Scalar value);
Tensor arange(Scalar start, Scalar end, Scalar step, DType dtype,
              Device device);
// indices (integers) as one-hot vectors of `depth` classes along a new last
// axis, in `dtype`: 1 at each index, 0 elsewhere (an index outside
// [0, depth) gives a row of zeros; PyTorch's one_hot refuses it first).
Tensor one_hot(const Tensor &indices, int64_t depth, DType dtype);
Tensor linspace(double start, double end, int64_t steps, DType dtype,
                Device device);
Tensor rand(const Dims &shape, DType dtype, Device device);
Tensor randn(const Dims &shape, DType dtype, Device device);
Tensor randint(int64_t low, int64_t high, const Dims &shape, DType dtype,
               Device device);
// The same draws from an explicit stream: counter `offset` onwards of
// `seed`, leaving the global generator alone (graph random ops).
Tensor rand_seeded(const Dims &shape, DType dtype, Device device, uint64_t seed,
                   uint64_t offset);
Tensor randn_seeded(const Dims &shape, DType dtype, Device device,
                    uint64_t seed, uint64_t offset);
void manual_seed(uint64_t seed);
uint64_t initial_seed();
// A tensor holding a Python number, in `dtype`, marked as a wrapped number.
Tensor scalar_tensor(Scalar s, DType dtype, Device device);

// --- views (no kernels; share storage) ------------------------------------
Tensor view(const Tensor &x, const Dims &shape);
Tensor reshape(const Tensor &x, const Dims &shape);
Tensor transpose(const Tensor &x, int64_t d0, int64_t d1);
Tensor t(const Tensor &x);
Tensor permute(const Tensor &x, const Dims &dims);
Tensor expand(const Tensor &x, const Dims &shape);
Tensor squeeze(const Tensor &x, const std::optional<Dims> &dims);
Tensor unsqueeze(const Tensor &x, int64_t dim);
Tensor slice(const Tensor &x, int64_t dim, std::optional<int64_t> start,
             std::optional<int64_t> stop, int64_t step);
Tensor select(const Tensor &x, int64_t dim, int64_t index);
Tensor flatten(const Tensor &x, int64_t start, int64_t end);
Tensor narrow(const Tensor &x, int64_t dim, int64_t start, int64_t length);
// x cut along `dim` into views of `size` elements, the last one shorter (a
// dimension of size 0 is one empty piece, and the only one size 0 may cut);
// a 0-d x raises, as in PyTorch.
std::vector<Tensor> split(const Tensor &x, int64_t size, int64_t dim);
// x cut along `dim` into views of the given sizes, which sum to its size.
std::vector<Tensor> split(const Tensor &x, const Dims &sizes, int64_t dim);
// x cut along `dim` into at most `chunks` views of ceil(size / chunks)
// elements (`chunks` empty views of a dimension of size 0).
std::vector<Tensor> chunk(const Tensor &x, int64_t chunks, int64_t dim);
// The same bytes read as another dtype (as NumPy's ndarray.view(dtype)).
Tensor view_dtype(const Tensor &x, DType dtype);

// --- indexing -------------------------------------------------------------
Tensor nonzero(const Tensor &x); // (n, ndim) int64
// NumPy advanced indexing: indices[d] indexes dimension d (int64 or bool
// tensors; a bool tensor stands for its nonzero() columns); nullopt keeps
// the dimension whole. Negative indices count from the end unless `wrap`
// is false (gather, index_select and scatter_add, as in PyTorch), where
// they are out of bounds.
Tensor index(const Tensor &src, const std::vector<std::optional<Tensor>> &idx,
             bool wrap = true);
void index_put_(const Tensor &dst,
                const std::vector<std::optional<Tensor>> &idx,
                const Tensor &values, bool accumulate, bool wrap = true);

} // namespace devrt
