// Convolution and pooling, built from im2col (the patch gather), matmul and
// reductions. Their gradients follow from those ops' rules: im2col's is
// col2im, and col2im's is im2col.
#include <algorithm>
#include <cmath>

#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

namespace {

struct Grid {
  int64_t oh, ow;
};

Grid output_grid(const char *op, const Dims &x, int64_t kh, int64_t kw,
                 const Conv2dGeometry &g) {
  for (int i = 0; i < 2; ++i) {
    if (g.stride[i] <= 0 || g.dilation[i] <= 0 || g.padding[i] < 0)
      fail(ErrorKind::Value, "[", op,
           "] stride and dilation must be positive "
           "and padding non-negative, got stride (",
           g.stride[0], ", ", g.stride[1], "), padding (", g.padding[0], ", ",
           g.padding[1], "), dilation (", g.dilation[0], ", ", g.dilation[1],
           ")");
  }
  if (kh <= 0 || kw <= 0)
    fail(ErrorKind::Value, "[", op, "] kernel size must be positive, got (", kh,
         ", ", kw, ")");
  // The spans are checked before dividing: C++ division truncates toward
  // zero, which would turn a small negative span into one output row.
  int64_t span_h = x[2] + 2 * g.padding[0] - g.dilation[0] * (kh - 1) - 1;
  int64_t span_w = x[3] + 2 * g.padding[1] - g.dilation[1] * (kw - 1) - 1;
  int64_t oh = span_h < 0 ? 0 : span_h / g.stride[0] + 1;
  int64_t ow = span_w < 0 ? 0 : span_w / g.stride[1] + 1;
  if (oh <= 0 || ow <= 0)
    fail(ErrorKind::Value, "[", op, "] input of shape ", x,
         " is too small for kernel (", kh, ", ", kw, ") with padding (",
         g.padding[0], ", ", g.padding[1], ") and dilation (", g.dilation[0],
         ", ", g.dilation[1], ")");
  return {oh, ow};
}

void require_4d(const char *op, const Tensor &x) {
  if (x->ndim() != 4)
    fail(ErrorKind::Value, "[", op,
         "] expects a 4-D (N, C, H, W) input, got "
         "shape ",
         x->shape);
}

void geometry_attrs(Launch &k, int64_t kh, int64_t kw,
                    const Conv2dGeometry &g) {
  k.attr_ints(Dims{kh, kw})
      .attr_ints(Dims{g.stride[0], g.stride[1]})
      .attr_ints(Dims{g.padding[0], g.padding[1]})
      .attr_ints(Dims{g.dilation[0], g.dilation[1]});
}

autograd::OpAttrs record_geometry(int64_t kh, int64_t kw,
                                  const Conv2dGeometry &g) {
  autograd::OpAttrs a;
  a.shape = Dims{kh,           kw,           g.stride[0],   g.stride[1],
                 g.padding[0], g.padding[1], g.dilation[0], g.dilation[1]};
  return a;
}

// Note: conv2d with one group works a chunk of the batch at a time, so that
// the columns im2col writes (kh*kw times the input) are still in cache when
// the GEMM reads them; the gradients recompute the columns the same way
// instead of keeping them for backward.
int64_t chunk_images(int64_t n, int64_t k, int64_t l, DType t) {
  constexpr int64_t kChunkBytes = int64_t{8} << 20;
  const int64_t per_image = std::max<int64_t>(k * l * itemsize(t), 1);
  return std::min(n, std::max<int64_t>(1, kChunkBytes / per_image));
}

// The (c, K, L) columns of images [i, i + c) of x.
Tensor chunk_columns(const Tensor &x, int64_t i, int64_t c, int64_t kh,
                     int64_t kw, const Conv2dGeometry &g) {
  return im2col(narrow(x, 0, i, c), kh, kw, g);
}

// w (M, K) seen as c copies, (c, M, K), without copying.
Tensor repeated(const Tensor &w, int64_t c) {
  return expand(unsqueeze(w, 0), Dims{c, w->shape[0], w->shape[1]});
}

// The dtype a convolution computes in: integer inputs compute in float.
DType conv_dtype(const Tensor &x, const Tensor &w) {
  return promote_types(is_floating(x->dtype) ? x->dtype : kDefaultFloat,
                       w->dtype);
}

// Layout permutations: NCHW <-> NHWC images, OIHW <-> HWIO filters.
const Dims kToNhwc{0, 2, 3, 1}, kToNchw{0, 3, 1, 2}, kToHwio{2, 3, 1, 0},
    kToOihw{3, 2, 0, 1};

// An NHWC result as a contiguous NCHW tensor: one transposing copy, where
// leaving it strided made every elementwise op after it a strided one
// (a relu over the small CNN's first convolution took a fifth of its step).
Tensor as_nchw(const Tensor &nhwc) {
  return contiguous(permute(nhwc, kToNchw));
}

// Note: a device with all three direct convolution kernels (the `conv`
// family) runs channels-last convolutions on them, one call each way;
// elsewhere they are im2col and matmul as above.
bool direct_kernels(const Device &d, DType t) {
  return has_kernel(OpId::conv2d_nhwc, d.type, t) &&
         has_kernel(OpId::conv2d_nhwc_backward_input, d.type, t) &&
         has_kernel(OpId::conv2d_nhwc_backward_filter, d.type, t);
}

void direct_attrs(Launch &k, const Conv2dGeometry &g) {
  k.attr_ints(Dims{g.stride[0], g.stride[1]})
      .attr_ints(Dims{g.padding[0], g.padding[1]})
      .attr_ints(Dims{g.dilation[0], g.dilation[1]});
}

// y (N, oh, ow, OC) = x (N, H, W, C) correlated with filter (kh, kw, C, OC),
// plus bias: the direct kernel `op` (conv2d_nhwc, or conv2d_nhwc_relu with
// the same operands) on contiguous operands of dtype t.
Tensor conv2d_nhwc_direct(const Tensor &x, const Tensor &filter,
                          const std::optional<Tensor> &bias,
                          const Conv2dGeometry &g, const Grid &o, DType t,
                          OpId op = OpId::conv2d_nhwc, Tensor *taps = nullptr) {
  const int64_t pool = taps ? 2 : 1; // conv2d_nhwc_relu_pool: y pooled 2x2
  Tensor y =
      empty(Dims{x->shape[0], o.oh / pool, o.ow / pool, filter->shape[3]}, t,
            x->device);
  Launch k(op, x->device, t);
  k.input(contiguous(cast(x, t))).input(contiguous(cast(filter, t)));
  if (bias)
    k.input(contiguous(cast(*bias, t)));
  k.output(y);
  if (taps) {
    *taps = empty(y->shape, DType::UInt8, x->device);
    k.output(*taps);
  }
  direct_attrs(k, g);
  k.run();
  return y;
}

// The gradients of conv2d_nhwc_direct for x, filter and a bias (each null
// when not wanted), from g (N, oh, ow, OC) of dtype t. want_bias only with
// want_filter, where the device has conv2d_nhwc_backward_filter_bias: the
// filter's and the bias's from one kernel. With taps, g is a 2x2 pooling's
// gradient (N, oh/2, ow/2, OC) and taps its kept taps, and the
// conv2d_nhwc_pool_backward kernels spread it (the filter's always with the
// bias's, which may then be wanted alone).
std::vector<Tensor> conv2d_nhwc_direct_backward(
    const Tensor &g, const Tensor &x, const Tensor &filter,
    const Conv2dGeometry &geo, bool want_x, bool want_filter,
    bool want_bias = false, const Tensor *taps = nullptr) {
  const DType t = g->dtype;
  Tensor gy = contiguous(g), kept = taps ? contiguous(*taps) : nullptr, gx, gf,
         gb;
  if (want_x) {
    gx = empty(x->shape, t, x->device);
    Launch k(taps ? OpId::conv2d_nhwc_pool_backward_input
                  : OpId::conv2d_nhwc_backward_input,
             x->device, t);
    k.input(gy);
    if (taps)
      k.input(kept);
    k.input(contiguous(cast(filter, t))).output(gx);
    direct_attrs(k, geo);
    k.run();
  }
  if (want_filter || (taps && want_bias)) {
    const bool bias = want_bias || taps;
    gf = empty(filter->shape, t, x->device);
    Launch k(taps   ? OpId::conv2d_nhwc_pool_backward_filter_bias
             : bias ? OpId::conv2d_nhwc_backward_filter_bias
                    : OpId::conv2d_nhwc_backward_filter,
             x->device, t);
    k.input(contiguous(cast(x, t))).input(gy);
    if (taps)
      k.input(kept);
    k.output(gf);
    if (bias) {
      gb = empty(Dims{filter->shape[3]}, t, x->device);
      k.output(gb);
    }
    direct_attrs(k, geo);
    k.run();
  }
  return {gx, want_filter ? gf : nullptr, want_bias ? gb : nullptr};
}

Tensor conv2d_one_group(const Tensor &x, const Tensor &weight, int64_t kh,
                        int64_t kw, const Conv2dGeometry &g, const Grid &o) {
  const int64_t n = x->shape[0], oc = weight->shape[0];
  const int64_t k = x->shape[1] * kh * kw, l = o.oh * o.ow;
  DType t = conv_dtype(x, weight);
  if (direct_kernels(x->device, t)) // between layout copies
    return as_nchw(conv2d_nhwc_direct(
        permute(x, kToNhwc), permute(weight, kToHwio), std::nullopt, g, o, t));
  Tensor wm = reshape(cast(weight, t), Dims{oc, k});
  Tensor xt = cast(x, t);
  Tensor y = empty(Dims{n, oc, o.oh, o.ow}, t, x->device);
  const int64_t step = chunk_images(n, k, l, t);
  for (int64_t i = 0; i < n; i += step) {
    const int64_t c = std::min(step, n - i);
    // Each image's (OC, K) x (K, L) product lands in its place in y.
    matmul_out(repeated(wm, c), chunk_columns(xt, i, c, kh, kw, g),
               reshape(narrow(y, 0, i, c), Dims{c, oc, l}));
  }
  return y;
}

// a (M, K) @ b (K, N) into y (M, N), any strides the matmul kernel takes.
void gemm_into(const Tensor &a, const Tensor &b, const Tensor &y) {
  matmul_out(unsqueeze(a, 0), unsqueeze(b, 0), unsqueeze(y, 0));
}

// Note: NHWC convolution runs im2col on each image seen as one plane of H
// rows of W*C values, where a window's kw taps over C channels are kw*C
// adjacent values. Two layouts of the columns come out of it, chosen by
// nhwc_plan:
// - patches: the roles of taps and positions swapped (kernel (oh, ow),
//   dilation (sh, sw*C), stride (dh, 1), padding (ph, pw*C)), so each
//   output position's patch is one row of kh*kw*C values in (i, j, c)
//   order, the row order of an HWIO filter seen as (K, OC), and every
//   copy is a run of kw*C adjacent values. A chunk's patches are one
//   (c*L, K) matrix. It needs the swapped grid to be exactly (kh, kw*C)
//   (always so at stride 1).
// - columns: kernel (kh, kw*C), stride (sh, sw*C), padding (ph, pw*C),
//   dilation (dh, 1); each tap's row is a strided gather, written into one
//   (K, c*L) matrix for the chunk (im2col's output may have any strides but
//   the last). For one input channel the gather is contiguous.
// Either way the forward product and both gradients are one GEMM per
// chunk, and the forward's (c*L, OC) result is the NHWC output itself: no
// layout copies on either side.
struct NhwcPlan {
  int64_t n, h, w, c, kh, kw, oc, k, oh, ow;
  bool patches;
  // im2col's kernel and geometry over the (N, 1, H, W*C) planes
  int64_t kernel[2];
  Conv2dGeometry plane;
};

NhwcPlan nhwc_plan(const Tensor &x, const Tensor &filter,
                   const Conv2dGeometry &g) {
  if (x->ndim() != 4)
    fail(ErrorKind::Value,
         "[conv2d] expects a 4-D (N, H, W, C) input for NHWC, got shape ",
         x->shape);
  if (filter->ndim() != 4 || filter->shape[2] != x->shape[3])
    fail(ErrorKind::Value, "[conv2d] filter of shape ", filter->shape,
         " is not an HWIO filter for an NHWC input of shape ", x->shape);
  if (g.dilation[1] != 1)
    fail(ErrorKind::Value,
         "[conv2d] NHWC convolution needs dilation 1 along the width, got ",
         g.dilation[1]);
  NhwcPlan p;
  p.n = x->shape[0];
  p.h = x->shape[1];
  p.w = x->shape[2];
  p.c = x->shape[3];
  p.kh = filter->shape[0];
  p.kw = filter->shape[1];
  p.oc = filter->shape[3];
  p.k = p.kh * p.kw * p.c;
  Grid o = output_grid("conv2d", Dims{p.n, p.c, p.h, p.w}, p.kh, p.kw, g);
  p.oh = o.oh;
  p.ow = o.ow;
  // The swapped grid: how many rows and values of a window im2col would
  // produce with the output grid as its kernel.
  const int64_t rows =
      (p.h + 2 * g.padding[0] - g.stride[0] * (p.oh - 1) - 1) / g.dilation[0] +
      1;
  const int64_t run = p.c * (p.w + 2 * g.padding[1] - g.stride[1] * (p.ow - 1));
  // Runs shorter than a few vectors copy slower than the strided gather of
  // a single channel.
  p.patches = rows == p.kh && run == p.kw * p.c && (p.c > 1 || p.kw >= 16);
  p.plane.padding[0] = g.padding[0];
  p.plane.padding[1] = g.padding[1] * p.c;
  if (p.patches) {
    p.kernel[0] = p.oh;
    p.kernel[1] = p.ow;
    p.plane.stride[0] = g.dilation[0];
    p.plane.stride[1] = 1;
    p.plane.dilation[0] = g.stride[0];
    p.plane.dilation[1] = g.stride[1] * p.c;
  } else {
    p.kernel[0] = p.kh;
    p.kernel[1] = p.kw * p.c;
    p.plane.stride[0] = g.stride[0];
    p.plane.stride[1] = g.stride[1] * p.c;
    p.plane.dilation[0] = g.dilation[0];
    p.plane.dilation[1] = 1;
  }
  return p;
}

// The columns of images [i, i + c) of the planes (N, 1, H, W*C) as a
// (K, c*L) matrix: a transposed view of the (c*L, K) patches, or columns
// as they are.
Tensor nhwc_columns(const Tensor &planes, int64_t i, int64_t c,
                    const NhwcPlan &p) {
  const int64_t l = p.oh * p.ow;
  Tensor buf = p.patches
                   ? empty(Dims{c, l, p.k}, planes->dtype, planes->device)
                   : empty(Dims{p.k, c, l}, planes->dtype, planes->device);
  Launch k(OpId::im2col, planes->device, planes->dtype);
  k.input(narrow(planes, 0, i, c))
      .output(p.patches ? buf : permute(buf, Dims{1, 0, 2}));
  geometry_attrs(k, p.kernel[0], p.kernel[1], p.plane);
  k.attr_float(0.0).run();
  return p.patches ? transpose(reshape(buf, Dims{c * l, p.k}), 0, 1)
                   : reshape(buf, Dims{p.k, c * l});
}

// The columns' gradient gcols (K, c*L) of images [i, i + c) summed into
// their planes gx (N, 1, H, W*C), from gc (c*L, OC) and the filter (K, OC).
void nhwc_columns_backward(const Tensor &gc, const Tensor &wm, const Tensor &gx,
                           int64_t i, int64_t c, const NhwcPlan &p) {
  const int64_t l = p.oh * p.ow;
  Tensor gcols;
  if (p.patches) { // (c*L, OC) x (OC, K)
    gcols = empty(Dims{c, l, p.k}, gc->dtype, gc->device);
    gemm_into(gc, transpose(wm, 0, 1), reshape(gcols, Dims{c * l, p.k}));
  } else { // (K, OC) x (OC, c*L), as (c, K, L)
    Tensor buf = empty(Dims{p.k, c, l}, gc->dtype, gc->device);
    gemm_into(wm, transpose(gc, 0, 1), reshape(buf, Dims{p.k, c * l}));
    gcols = permute(buf, Dims{1, 0, 2});
  }
  Launch k(OpId::col2im, gc->device, gc->dtype);
  k.input(gcols).output(narrow(gx, 0, i, c));
  geometry_attrs(k, p.kernel[0], p.kernel[1], p.plane);
  k.run();
}

Tensor conv2d_nhwc_impl(const Tensor &x, const Tensor &filter,
                        const Conv2dGeometry &g) {
  const NhwcPlan p = nhwc_plan(x, filter, g);
  const DType t = conv_dtype(x, filter);
  if (direct_kernels(x->device, t))
    return conv2d_nhwc_direct(x, filter, std::nullopt, g, {p.oh, p.ow}, t);
  const int64_t l = p.oh * p.ow;
  Tensor wm = reshape(contiguous(cast(filter, t)), Dims{p.k, p.oc});
  Tensor planes = reshape(contiguous(cast(x, t)), Dims{p.n, 1, p.h, p.w * p.c});
  if (p.k == 0) // no input channels: sums of nothing
    return full(Dims{p.n, p.oh, p.ow, p.oc}, Scalar::from_int(0), t, x->device);
  Tensor y = empty(Dims{p.n, p.oh, p.ow, p.oc}, t, x->device);
  const int64_t step = chunk_images(p.n, p.k, l, t);
  for (int64_t i = 0; i < p.n; i += step) {
    const int64_t c = std::min(step, p.n - i);
    Tensor cols = nhwc_columns(planes, i, c, p);
    gemm_into(transpose(cols, 0, 1), wm,
              reshape(narrow(y, 0, i, c), Dims{c * l, p.oc}));
  }
  return y;
}

// Note: max pooling is one kernel each way where the device has both
// (max_pool2d and max_pool2d_backward); elsewhere it is im2col padded with
// -inf and a max reduction, whose rules give the same gradient.
bool pool_kernels(const Tensor &x) {
  return has_kernel(OpId::max_pool2d, x->device.type, x->dtype) &&
         has_kernel(OpId::max_pool2d_backward, x->device.type, x->dtype);
}
bool pool_nhwc_kernels(const Tensor &x) {
  return has_kernel(OpId::max_pool2d_nhwc, x->device.type, x->dtype) &&
         has_kernel(OpId::max_pool2d_nhwc_backward, x->device.type, x->dtype);
}

void check_pool_padding(const char *op, int64_t kh, int64_t kw,
                        const Conv2dGeometry &g) {
  if (g.padding[0] * 2 > kh || g.padding[1] * 2 > kw)
    fail(ErrorKind::Value, "[", op, "] padding (", g.padding[0], ", ",
         g.padding[1], ") must be at most half the kernel (", kh, ", ", kw,
         ")");
}

Dims nchw(const Dims &nhwc) { return {nhwc[0], nhwc[3], nhwc[1], nhwc[2]}; }

// A pooling backward kernel `op`: g shared among the maximal taps of x.
Tensor pool_backward(OpId op, const Tensor &g, const Tensor &x, const Tensor &y,
                     int64_t kh, int64_t kw, const Conv2dGeometry &geo) {
  Tensor gx = empty(x->shape, x->dtype, x->device);
  Launch k(op, x->device, x->dtype);
  k.input(contiguous(cast(g, x->dtype)))
      .input(contiguous(x))
      .input(contiguous(y))
      .output(gx);
  geometry_attrs(k, kh, kw, geo);
  k.run();
  return gx;
}

} // namespace

std::vector<Tensor> conv2d_backward(const Tensor &g, const Tensor &x,
                                    const Tensor &weight,
                                    const Conv2dGeometry &geo, bool want_x,
                                    bool want_weight) {
  const int64_t n = x->shape[0], oc = weight->shape[0];
  const int64_t kh = weight->shape[2], kw = weight->shape[3];
  const int64_t k = x->shape[1] * kh * kw, l = g->shape[2] * g->shape[3];
  const DType t = g->dtype;
  Tensor wm = reshape(cast(weight, t), Dims{oc, k});
  Tensor xt = cast(x, t);
  // When the derivative is itself recorded (create_graph), all images go
  // in one chunk and nothing is written in place, so that every step is a
  // recorded op.
  const bool recording = autograd::grad_enabled();
  if (!recording && direct_kernels(x->device, t)) { // between layout copies
    std::vector<Tensor> r = conv2d_nhwc_direct_backward(
        permute(g, kToNhwc), permute(x, kToNhwc), permute(weight, kToHwio), geo,
        want_x, want_weight);
    return {r[0] ? as_nchw(r[0]) : nullptr,
            r[1] ? contiguous(permute(r[1], kToOihw)) : nullptr};
  }
  Tensor gx = want_x && !recording ? empty(x->shape, t, x->device) : nullptr;
  Tensor gw;
  const int64_t step = recording ? n : chunk_images(n, k, l, t);
  for (int64_t i = 0; i < n; i += step) {
    const int64_t c = std::min(step, n - i);
    Tensor gc = reshape(narrow(g, 0, i, c), Dims{c, oc, l});
    if (want_weight) {
      // Summed over the chunk's images: (OC, L) x (L, K) each.
      Tensor cols = chunk_columns(xt, i, c, kh, kw, geo);
      Tensor part =
          reduce(OpId::sum, matmul(gc, transpose(cols, 1, 2)), Dims{0}, false);
      if (gw) // several chunks: never when recording
        binary_inplace(OpId::add, gw, part);
      else
        gw = part;
    }
    if (want_x) {
      // (K, OC) x (OC, L) per image: the columns' gradients, summed back
      // into the images by col2im.
      Tensor gcols = matmul(repeated(transpose(wm, 0, 1), c), gc);
      Tensor part = col2im(gcols, x->shape[2], x->shape[3], kh, kw, geo);
      if (recording)
        gx = part;
      else
        copy_(narrow(gx, 0, i, c), part);
    }
  }
  return {gx, gw ? reshape(gw, weight->shape) : nullptr};
}

Tensor conv2d_nhwc(const Tensor &x, const Tensor &filter,
                   const Conv2dGeometry &g) {
  if (!autograd::should_record(x, filter))
    return conv2d_nhwc_impl(x, filter, g);
  Tensor y;
  {
    autograd::NoGradGuard no_grad;
    y = conv2d_nhwc_impl(x, filter, g);
  }
  autograd::OpAttrs a = record_geometry(filter->shape[0], filter->shape[1], g);
  a.flag = true; // NHWC input, HWIO filter
  autograd::record(OpId::conv2d, {x, filter}, y, std::move(a));
  return y;
}

std::vector<Tensor> conv2d_nhwc_bias_backward(const Tensor &g, const Tensor &x,
                                              const Tensor &filter,
                                              const Conv2dGeometry &geo,
                                              bool want_x, bool want_filter,
                                              bool want_bias) {
  const DType t = g->dtype;
  if (want_filter && want_bias && !autograd::grad_enabled() &&
      direct_kernels(x->device, t) &&
      has_kernel(OpId::conv2d_nhwc_backward_filter_bias, x->device.type, t)) {
    nhwc_plan(x, filter, geo); // its checks
    return conv2d_nhwc_direct_backward(g, x, filter, geo, want_x, true, true);
  }
  std::vector<Tensor> r =
      conv2d_nhwc_backward(g, x, filter, geo, want_x, want_filter);
  r.push_back(want_bias ? reduce(OpId::sum, g, Dims{0, 1, 2}, false) : nullptr);
  return r;
}

namespace {

// The operands of a fused convolution (op) checked: its plan, dtype and
// inputs (x, filter and the bias if any), and whether it is recorded.
struct FusedConv {
  NhwcPlan p;
  DType t;
  std::vector<Tensor> inputs;
  bool record = false;
};

FusedConv fused_conv(OpId op, const Tensor &x, const Tensor &filter,
                     const std::optional<Tensor> &bias,
                     const Conv2dGeometry &g) {
  FusedConv f{nhwc_plan(x, filter, g), conv_dtype(x, filter), {x, filter}};
  if (bias && ((*bias)->ndim() != 1 || (*bias)->shape[0] != f.p.oc))
    fail(ErrorKind::Value, "[", op_name(op), "] bias of shape ", (*bias)->shape,
         " for a filter of ", f.p.oc, " output channels");
  if (!is_floating(f.t))
    fail(ErrorKind::Type, "[", op_name(op), "] expects floating operands, got ",
         dtype_name(f.t));
  if (bias)
    f.inputs.push_back(*bias);
  for (const Tensor &v : f.inputs) {
    check_same_device(op, x, v);
    f.record = f.record || autograd::should_record(v);
  }
  return f;
}

} // namespace

Tensor conv2d_nhwc_relu(const Tensor &x, const Tensor &filter,
                        const std::optional<Tensor> &bias,
                        const Conv2dGeometry &g, bool seed_masked) {
  const FusedConv f = fused_conv(OpId::conv2d_nhwc_relu, x, filter, bias, g);
  const DType t = f.t;
  Tensor y;
  {
    autograd::NoGradGuard no_grad;
    const bool direct = direct_kernels(x->device, t);
    if (direct && has_kernel(OpId::conv2d_nhwc_relu, x->device.type, t)) {
      y = conv2d_nhwc_direct(x, filter, bias, g, {f.p.oh, f.p.ow}, t,
                             OpId::conv2d_nhwc_relu);
    } else {
      // The convolution with its bias, then relu over the fresh result in
      // place (elementwise kernels may write over their input).
      y = direct ? conv2d_nhwc_direct(x, filter, bias, g, {f.p.oh, f.p.ow}, t)
                 : conv2d_nhwc_impl(x, filter, g);
      if (bias && !direct)
        binary_inplace(OpId::add, y, cast(*bias, t));
      Launch k(OpId::relu, y->device, t);
      k.input(y).output(y).run();
    }
  }
  if (f.record) {
    autograd::OpAttrs a =
        record_geometry(filter->shape[0], filter->shape[1], g);
    a.flag = seed_masked;
    autograd::record(OpId::conv2d_nhwc_relu, f.inputs, y, std::move(a));
  }
  return y;
}

Tensor conv2d_nhwc_relu_pool(const Tensor &x, const Tensor &filter,
                             const std::optional<Tensor> &bias,
                             const Conv2dGeometry &g) {
  const FusedConv f =
      fused_conv(OpId::conv2d_nhwc_relu_pool, x, filter, bias, g);
  const DType t = f.t;
  Conv2dGeometry window; // 2x2 at stride 2, no padding
  window.stride[0] = window.stride[1] = 2;
  // Recorded, the fused op's derivative needs its two gradient kernels.
  const auto dt = x->device.type;
  if (f.p.oh % 2 || f.p.ow % 2 || !direct_kernels(x->device, t) ||
      !has_kernel(OpId::conv2d_nhwc_relu_pool, dt, t) ||
      (f.record &&
       (!has_kernel(OpId::conv2d_nhwc_pool_backward_input, dt, t) ||
        !has_kernel(OpId::conv2d_nhwc_pool_backward_filter_bias, dt, t))))
    return max_pool2d_nhwc(conv2d_nhwc_relu(x, filter, bias, g, true), 2, 2,
                           window, true);
  Tensor y, taps;
  {
    autograd::NoGradGuard no_grad;
    y = conv2d_nhwc_direct(x, filter, bias, g, {f.p.oh, f.p.ow}, t,
                           OpId::conv2d_nhwc_relu_pool, &taps);
  }
  if (f.record) {
    autograd::OpAttrs a =
        record_geometry(filter->shape[0], filter->shape[1], g);
    a.indices = {taps};
    autograd::record(OpId::conv2d_nhwc_relu_pool, f.inputs, y, std::move(a));
  }
  return y;
}

std::vector<Tensor> conv2d_nhwc_relu_pool_backward(
    const Tensor &g, const Tensor &taps, const Tensor &x, const Tensor &filter,
    const Conv2dGeometry &geo, bool want_x, bool want_filter, bool want_bias) {
  return conv2d_nhwc_direct_backward(g, x, filter, geo, want_x, want_filter,
                                     want_bias, &taps);
}

std::vector<Tensor> conv2d_nhwc_backward(const Tensor &g, const Tensor &x,
                                         const Tensor &filter,
                                         const Conv2dGeometry &geo, bool want_x,
                                         bool want_filter) {
  if (autograd::grad_enabled()) {
    // Recorded (create_graph): the NCHW gradients, whose steps are all
    // recorded ops, between permuting views.
    std::vector<Tensor> r = conv2d_backward(
        permute(g, Dims{0, 3, 1, 2}), permute(x, Dims{0, 3, 1, 2}),
        permute(filter, Dims{3, 2, 0, 1}), geo, want_x, want_filter);
    return {r[0] ? permute(r[0], Dims{0, 2, 3, 1}) : nullptr,
            r[1] ? permute(r[1], Dims{2, 3, 1, 0}) : nullptr};
  }
  const NhwcPlan p = nhwc_plan(x, filter, geo);
  const DType t = g->dtype;
  const int64_t l = p.oh * p.ow;
  if (direct_kernels(x->device, t)) {
    std::vector<Tensor> r =
        conv2d_nhwc_direct_backward(g, x, filter, geo, want_x, want_filter);
    r.pop_back(); // no bias
    return r;
  }
  if (p.k == 0) // no input channels: both gradients are empty
    return {want_x ? empty(x->shape, t, x->device) : nullptr,
            want_filter ? empty(filter->shape, t, x->device) : nullptr};
  Tensor wm = reshape(contiguous(cast(filter, t)), Dims{p.k, p.oc});
  Tensor planes = reshape(contiguous(cast(x, t)), Dims{p.n, 1, p.h, p.w * p.c});
  Tensor gy = contiguous(g);
  Tensor gx = want_x ? empty(x->shape, t, x->device) : nullptr;
  Tensor gxp = want_x ? reshape(gx, Dims{p.n, 1, p.h, p.w * p.c}) : nullptr;
  Tensor gw = !want_filter ? nullptr
              : p.n ? empty(Dims{p.k, p.oc}, t, x->device)
                    : full(Dims{p.k, p.oc}, Scalar::from_int(0), t, x->device);
  const int64_t step = chunk_images(p.n, p.k, l, t);
  for (int64_t i = 0; i < p.n; i += step) {
    const int64_t c = std::min(step, p.n - i);
    Tensor gc = reshape(narrow(gy, 0, i, c), Dims{c * l, p.oc});
    if (want_filter) {
      // (K, c*L) x (c*L, OC), summed over the chunk by the product itself.
      Tensor cols = nhwc_columns(planes, i, c, p);
      if (i == 0) {
        gemm_into(cols, gc, gw);
      } else {
        Tensor part = empty(Dims{p.k, p.oc}, t, x->device);
        gemm_into(cols, gc, part);
        binary_inplace(OpId::add, gw, part);
      }
    }
    if (want_x)
      nhwc_columns_backward(gc, wm, gxp, i, c, p);
  }
  return {gx, gw ? reshape(gw, filter->shape) : nullptr};
}

Tensor im2col(const Tensor &x, int64_t kh, int64_t kw, const Conv2dGeometry &g,
              double pad_value) {
  require_4d("im2col", x);
  Grid o = output_grid("im2col", x->shape, kh, kw, g);
  DType t = is_floating(x->dtype) ? x->dtype : kDefaultFloat;
  Tensor src = contiguous(cast(x, t));
  Launch k(OpId::im2col, x->device, t);
  Tensor y = empty(Dims{x->shape[0], x->shape[1] * kh * kw, o.oh * o.ow}, t,
                   x->device);
  k.input(src).output(y);
  geometry_attrs(k, kh, kw, g);
  k.attr_float(pad_value).run();
  if (autograd::should_record(x)) {
    autograd::OpAttrs a = record_geometry(kh, kw, g);
    autograd::record(OpId::im2col, {x}, y, std::move(a));
  }
  return y;
}

Tensor col2im(const Tensor &cols, int64_t h, int64_t w, int64_t kh, int64_t kw,
              const Conv2dGeometry &g) {
  if (cols->ndim() != 3 || cols->shape[1] % (kh * kw) != 0)
    fail(ErrorKind::Value,
         "[col2im] expects (N, C*kh*kw, L) columns, got "
         "shape ",
         cols->shape, " for kernel (", kh, ", ", kw, ")");
  Grid o = output_grid("col2im", Dims{cols->shape[0], 1, h, w}, kh, kw, g);
  if (o.oh * o.ow != cols->shape[2])
    fail(ErrorKind::Value, "[col2im] ", cols->shape[2],
         " columns do not match the ", o.oh, "x", o.ow, " patch grid of a ", h,
         "x", w, " image");
  // Any (N, K) strides will do; L must be unit-stride.
  Tensor src =
      cols->shape[2] > 1 && cols->strides[2] != 1 ? contiguous(cols) : cols;
  Launch k(OpId::col2im, cols->device, cols->dtype);
  Tensor y = empty(Dims{cols->shape[0], cols->shape[1] / (kh * kw), h, w},
                   cols->dtype, cols->device);
  k.input(src).output(y);
  geometry_attrs(k, kh, kw, g);
  k.run();
  if (autograd::should_record(cols)) {
    autograd::OpAttrs a = record_geometry(kh, kw, g);
    autograd::record(OpId::col2im, {cols}, y, std::move(a));
  }
  return y;
}

Tensor conv2d(const Tensor &x, const Tensor &weight,
              const std::optional<Tensor> &bias, const Conv2dGeometry &g,
              int64_t groups) {
  require_4d("conv2d", x);
  if (weight->ndim() != 4)
    fail(ErrorKind::Value,
         "[conv2d] weight must be 4-D (out, in/groups, kh, "
         "kw), got shape ",
         weight->shape);
  int64_t n = x->shape[0], c = x->shape[1], oc = weight->shape[0];
  if (groups <= 0 || c % groups != 0 || oc % groups != 0)
    fail(ErrorKind::Value, "[conv2d] groups=", groups,
         " must divide the input channels (", c, ") and output channels (", oc,
         ")");
  if (weight->shape[1] * groups != c)
    fail(ErrorKind::Value, "[conv2d] input of shape ", x->shape, " has ", c,
         " channels, but weight of shape ", weight->shape, " expects ",
         weight->shape[1] * groups, " (groups=", groups, ")");
  int64_t kh = weight->shape[2], kw = weight->shape[3];
  Grid o = output_grid("conv2d", x->shape, kh, kw, g);
  int64_t k = (c / groups) * kh * kw, l = o.oh * o.ow;
  if (bias && ((*bias)->ndim() != 1 || (*bias)->shape[0] != oc))
    fail(ErrorKind::Value, "[conv2d] bias of shape ", (*bias)->shape, " for ",
         oc, " output channels");
  Tensor y;
  if (groups == 1 && bias && (*bias)->dtype == conv_dtype(x, weight) &&
      (*bias)->device == x->device &&
      direct_kernels(x->device, (*bias)->dtype)) {
    // The direct kernel adds the bias itself: one node of three inputs.
    const Tensor &b = *bias;
    auto run = [&] {
      return as_nchw(conv2d_nhwc_direct(
          permute(x, kToNhwc), permute(weight, kToHwio), b, g, o, b->dtype));
    };
    if (autograd::should_record(x, weight) || autograd::should_record(b)) {
      {
        autograd::NoGradGuard no_grad;
        y = run();
      }
      autograd::record(OpId::conv2d, {x, weight, b}, y,
                       record_geometry(kh, kw, g));
    } else {
      y = run();
    }
    return y;
  }
  if (groups == 1) {
    // One node with its own rule, over chunks of the batch whose columns
    // stay in cache (see conv2d_one_group).
    if (autograd::should_record(x, weight)) {
      {
        autograd::NoGradGuard no_grad;
        y = conv2d_one_group(x, weight, kh, kw, g, o);
      }
      autograd::record(OpId::conv2d, {x, weight}, y,
                       record_geometry(kh, kw, g));
    } else {
      y = conv2d_one_group(x, weight, kh, kw, g, o);
    }
  } else {
    // (N, g, K, L) columns times (g, OC/g, K) weights: a batched GEMM.
    Tensor cols = reshape(im2col(x, kh, kw, g), Dims{n, groups, k, l});
    Tensor w = reshape(weight, Dims{groups, oc / groups, k});
    y = reshape(matmul(w, cols), Dims{n, oc, o.oh, o.ow});
  }
  if (bias)
    y = binary(OpId::add, y, reshape(*bias, Dims{1, oc, 1, 1}));
  return y;
}

Tensor max_pool2d(const Tensor &x, int64_t kh, int64_t kw,
                  const Conv2dGeometry &g) {
  require_4d("max_pool2d", x);
  check_pool_padding("max_pool2d", kh, kw, g);
  Grid o = output_grid("max_pool2d", x->shape, kh, kw, g);
  int64_t n = x->shape[0], c = x->shape[1];
  if (pool_kernels(x)) {
    // The node keeps the contiguous copy (itself a recorded copy) for its
    // backward kernel, which would otherwise copy x again.
    Tensor src = contiguous(x);
    Tensor y = empty(Dims{n, c, o.oh, o.ow}, x->dtype, x->device);
    Launch k(OpId::max_pool2d, x->device, x->dtype);
    k.input(src).output(y);
    geometry_attrs(k, kh, kw, g);
    k.run();
    if (autograd::should_record(src))
      autograd::record(OpId::max_pool2d, {src}, y, record_geometry(kh, kw, g));
    return y;
  }
  // Each channel alone: (N*C, 1, H, W) -> (N*C, kh*kw, L), padded with -inf.
  Tensor planes = reshape(x, Dims{n * c, 1, x->shape[2], x->shape[3]});
  Tensor cols = im2col(planes, kh, kw, g, -INFINITY);
  Tensor m = reduce(OpId::max, cols, Dims{1}, false);
  return reshape(m, Dims{n, c, o.oh, o.ow});
}

Tensor max_pool2d_backward(const Tensor &g, const Tensor &x, const Tensor &y,
                           int64_t kh, int64_t kw, const Conv2dGeometry &geo) {
  return pool_backward(OpId::max_pool2d_backward, g, x, y, kh, kw, geo);
}

Tensor max_pool2d_nhwc(const Tensor &x, int64_t kh, int64_t kw,
                       const Conv2dGeometry &g, bool relu) {
  if (x->ndim() != 4)
    fail(ErrorKind::Value,
         "[max_pool2d] expects a 4-D (N, H, W, C) input for NHWC, got shape ",
         x->shape);
  const bool taps =
      kh * kw <= 8 && autograd::should_record(x) &&
      has_kernel(OpId::max_pool2d_nhwc_taps, x->device.type, x->dtype) &&
      has_kernel(OpId::max_pool2d_nhwc_taps_backward, x->device.type, x->dtype);
  if (!taps && !pool_nhwc_kernels(x)) { // pools a channels-first copy
    Tensor y =
        permute(max_pool2d(contiguous(permute(x, Dims{0, 3, 1, 2})), kh, kw, g),
                Dims{0, 2, 3, 1});
    return relu ? unary(OpId::relu, y) : y;
  }
  check_pool_padding("max_pool2d", kh, kw, g);
  Grid o = output_grid("max_pool2d", nchw(x->shape), kh, kw, g);
  Tensor src = contiguous(x); // kept by the node, as in max_pool2d
  const Dims shape{x->shape[0], o.oh, o.ow, x->shape[3]};
  Tensor y = empty(shape, x->dtype, x->device);
  autograd::OpAttrs a = record_geometry(kh, kw, g);
  a.flag = true; // channels last
  if (taps) {
    Tensor bits = empty(shape, DType::UInt8, x->device);
    Launch k(OpId::max_pool2d_nhwc_taps, x->device, x->dtype);
    k.input(src).output(y).output(bits);
    geometry_attrs(k, kh, kw, g);
    k.attr_bool(relu).run();
    a.indices = {bits};
    a.i0 = relu;
  } else {
    Launch k(OpId::max_pool2d_nhwc, x->device, x->dtype);
    k.input(src).output(y);
    geometry_attrs(k, kh, kw, g);
    k.run();
  }
  if (autograd::should_record(src))
    autograd::record(OpId::max_pool2d, {src}, y, std::move(a));
  return relu && !taps ? unary(OpId::relu, y) : y;
}

Tensor max_pool2d_nhwc_backward(const Tensor &g, const Tensor &x,
                                const Tensor &y, int64_t kh, int64_t kw,
                                const Conv2dGeometry &geo) {
  return pool_backward(OpId::max_pool2d_nhwc_backward, g, x, y, kh, kw, geo);
}

Tensor max_pool2d_nhwc_taps_backward(const Tensor &g, const Tensor &taps,
                                     const Dims &x_shape, int64_t kh,
                                     int64_t kw, const Conv2dGeometry &geo) {
  Tensor gx = empty(x_shape, g->dtype, g->device);
  Launch k(OpId::max_pool2d_nhwc_taps_backward, g->device, g->dtype);
  k.input(contiguous(g)).input(contiguous(taps)).output(gx);
  geometry_attrs(k, kh, kw, geo);
  k.run();
  return gx;
}

Tensor avg_pool2d(const Tensor &x, int64_t kh, int64_t kw,
                  const Conv2dGeometry &g, bool count_include_pad) {
  require_4d("avg_pool2d", x);
  check_pool_padding("avg_pool2d", kh, kw, g);
  Grid o = output_grid("avg_pool2d", x->shape, kh, kw, g);
  int64_t n = x->shape[0], c = x->shape[1];
  Tensor planes = reshape(x, Dims{n * c, 1, x->shape[2], x->shape[3]});
  Tensor cols = im2col(planes, kh, kw, g);
  Tensor sum = reduce(OpId::sum, cols, Dims{1}, false);
  Tensor avg;
  if (count_include_pad || (g.padding[0] == 0 && g.padding[1] == 0)) {
    avg = binary_scalar(OpId::div, sum, Scalar::from_int(kh * kw), false);
  } else {
    // Divide by the number of in-image taps of each window.
    Tensor ones = full(Dims{1, 1, x->shape[2], x->shape[3]},
                       Scalar::from_int(1), sum->dtype, x->device);
    Tensor count = reduce(OpId::sum, im2col(ones, kh, kw, g), Dims{1}, false);
    avg = binary(OpId::div, sum, count);
  }
  return reshape(avg, Dims{n, c, o.oh, o.ow});
}

} // namespace devrt
