// Derivative rules: one per differentiable catalogue op, each written in
// terms of other catalogue ops. Any backend with the forward kernels gets
// these gradients.
#include <cmath>

#include "op_node.h"

namespace devrt::autograd {

namespace {

Tensor num(const Tensor &like, double v) {
  return scalar_tensor(Scalar::from_double(v), like->dtype, like->device);
}
Tensor mul(const Tensor &a, const Tensor &b) { return binary(OpId::mul, a, b); }
Tensor mul(const Tensor &a, double v) {
  return binary_scalar(OpId::mul, a, Scalar::from_double(v), false);
}
Tensor add(const Tensor &a, const Tensor &b) { return binary(OpId::add, a, b); }
Tensor sub(const Tensor &a, const Tensor &b) { return binary(OpId::sub, a, b); }
Tensor div(const Tensor &a, const Tensor &b) { return binary(OpId::div, a, b); }
Tensor neg(const Tensor &a) { return unary(OpId::neg, a); }
Tensor zeros_of(const Tensor &like) {
  return full(like->shape, Scalar::from_int(0), like->dtype, like->device);
}
// g where mask, else 0.
Tensor masked(const Tensor &mask, const Tensor &g) {
  return where(mask, g, num(g, 0.0));
}

// Sums a broadcast gradient back to the shape of the operand.
Tensor sum_to(const Tensor &g, const Dims &shape) {
  if (g->shape == shape)
    return g;
  size_t lead = g->shape.size() - shape.size();
  Dims axes;
  for (size_t i = 0; i < lead; ++i)
    axes.push_back(static_cast<int64_t>(i));
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && g->shape[lead + i] != 1)
      axes.push_back(static_cast<int64_t>(lead + i));
  Tensor r = axes.empty() ? g : reduce(OpId::sum, g, axes, true);
  return reshape(r, shape);
}

// A reduction's gradient, brought back to the input's rank (size 1 on the
// reduced axes).
Tensor unreduce(const OpNode &n, const Tensor &g) {
  if (n.attrs.flag)
    return g;
  Dims kept = n.inputs[0].shape;
  for (int64_t a : n.attrs.axes)
    kept[a] = 1;
  return reshape(g, kept);
}

int64_t reduced_count(const OpNode &n) {
  int64_t count = 1;
  for (int64_t a : n.attrs.axes)
    count *= n.inputs[0].shape[a];
  return count;
}

// The gradient of an indexing read: g added into zeros of the source's
// shape at the indices. When the rule records (create_graph), the result is
// recorded as the index_put it is, so that it is differentiable again.
Tensor scatter_into_zeros(const Dims &shape,
                          const std::vector<std::optional<Tensor>> &idx,
                          const Tensor &g) {
  Tensor z = full(shape, Scalar::from_int(0), g->dtype, g->device);
  {
    NoGradGuard no_grad;
    index_put_(z, idx, g, true);
  }
  if (should_record(g)) {
    OpAttrs attrs;
    attrs.indices = idx;
    attrs.flag = true; // accumulate
    record(OpId::index_put, {z, g}, z, std::move(attrs));
  }
  return z;
}

Tensor matmul_grad_a(const Tensor &g, const Tensor &a, const Tensor &b);

// The geometry recorded by the convolution ops: attrs.shape holds kh, kw,
// stride, padding and dilation.
Conv2dGeometry geometry_of(const OpNode &n) {
  const Dims &a = n.attrs.shape;
  Conv2dGeometry geo;
  for (int i = 0; i < 2; ++i) {
    geo.stride[i] = a[2 + i];
    geo.padding[i] = a[4 + i];
    geo.dilation[i] = a[6 + i];
  }
  return geo;
}

} // namespace

bool differentiable(OpId op) {
  switch (op_def(op).family) {
  case OpFamily::UnaryLogical:
  case OpFamily::UnaryBitwise:
  case OpFamily::BinaryBitwise:
  case OpFamily::Compare:
  case OpFamily::ArgReduce:
  case OpFamily::Creation:
  case OpFamily::Random:
    return false;
  default:
    return op != OpId::any && op != OpId::all && op != OpId::floor_divide &&
           op != OpId::nonzero;
  }
}

uint32_t saved_for_backward(OpId op) {
  constexpr uint32_t X = 1u, Y = 2u, Z = 4u, OUT = 1u << 31;
  switch (op) {
  case OpId::abs:
  case OpId::log:
  case OpId::sin:
  case OpId::cos:
  case OpId::erf:
  case OpId::log1p:
  case OpId::clamp:
  case OpId::var:
    return X;
  case OpId::relu:
  case OpId::exp:
  case OpId::sqrt:
  case OpId::rsqrt:
  case OpId::tan:
  case OpId::tanh:
  case OpId::sigmoid:
  case OpId::expm1:
  case OpId::reciprocal:
  case OpId::softmax:
  case OpId::log_softmax:
    return OUT;
  case OpId::mul:
  case OpId::matmul:
  case OpId::conv2d:
  case OpId::maximum:
  case OpId::minimum:
    return X | Y;
  case OpId::conv2d_nhwc_relu:
    return X | Y | OUT;
  case OpId::conv2d_nhwc_relu_pool:
    return X | Y;
  case OpId::binary_cross_entropy:
    return X | Y;
  case OpId::div:
    return Y | OUT;
  case OpId::atan2:
  case OpId::remainder:
    return X | Y;
  case OpId::hypot:
    return X | Y | OUT;
  case OpId::pow:
    return X | Y | OUT;
  case OpId::where:
    return X;
  case OpId::prod:
  case OpId::max:
  case OpId::min:
  case OpId::max_pool2d:
    return X | OUT;
  default:
    (void)Z;
    return 0;
  }
}

std::vector<Tensor> derivative(const OpNode &n, const Tensor &g) {
  switch (n.op) {
  // --- unary ---------------------------------------------------------------
  case OpId::neg:
    return {neg(g)};
  case OpId::abs:
    return {mul(g, unary(OpId::sign, n.input(0)))};
  case OpId::sign:
  case OpId::floor:
  case OpId::ceil:
  case OpId::round:
    return {zeros_of(g)};
  case OpId::relu: // only out <= 0 stops g: at NaN it passes, as PyTorch's
    return {relu_backward(g, n.output())};
  case OpId::exp:
    return {mul(g, n.output())};
  case OpId::log:
    return {div(g, n.input(0))};
  case OpId::sqrt:
    return {div(g, mul(n.output(), 2.0))};
  case OpId::rsqrt: {
    Tensor y = n.output();
    return {mul(mul(g, mul(mul(y, y), y)), -0.5)};
  }
  case OpId::sin:
    return {mul(g, unary(OpId::cos, n.input(0)))};
  case OpId::cos:
    return {neg(mul(g, unary(OpId::sin, n.input(0))))};
  case OpId::tan: {
    Tensor y = n.output();
    return {mul(
        g, binary_scalar(OpId::add, mul(y, y), Scalar::from_int(1), false))};
  }
  case OpId::tanh: {
    Tensor y = n.output();
    return {
        mul(g, binary_scalar(OpId::sub, mul(y, y), Scalar::from_int(1), true))};
  }
  case OpId::sigmoid: {
    Tensor y = n.output();
    return {
        mul(mul(g, y), binary_scalar(OpId::sub, y, Scalar::from_int(1), true))};
  }
  case OpId::erf: {
    Tensor x = n.input(0);
    Tensor e = unary(OpId::exp, neg(mul(x, x)));
    return {mul(mul(g, e), 2.0 / std::sqrt(M_PI))};
  }
  case OpId::log1p:
    return {div(
        g, binary_scalar(OpId::add, n.input(0), Scalar::from_int(1), false))};
  case OpId::expm1:
    return {mul(
        g, binary_scalar(OpId::add, n.output(), Scalar::from_int(1), false))};
  case OpId::reciprocal: {
    Tensor y = n.output();
    return {neg(mul(g, mul(y, y)))};
  }
  case OpId::clamp: {
    Tensor x = n.input(0);
    Tensor keep;
    if (n.attrs.s0)
      keep = binary_scalar(OpId::ge, x, *n.attrs.s0, false);
    if (n.attrs.s1) {
      Tensor upper = binary_scalar(OpId::le, x, *n.attrs.s1, false);
      keep = keep ? binary(OpId::logical_and, keep, upper) : upper;
    }
    return {masked(keep, g)};
  }

  // --- binary (broadcasting sums back to each operand's shape) -------------
  case OpId::add:
    return {n.wants(0) ? sum_to(g, n.inputs[0].shape) : nullptr,
            n.wants(1) ? sum_to(g, n.inputs[1].shape) : nullptr};
  case OpId::sub:
    return {n.wants(0) ? sum_to(g, n.inputs[0].shape) : nullptr,
            n.wants(1) ? sum_to(neg(g), n.inputs[1].shape) : nullptr};
  case OpId::mul: {
    Tensor a = n.input(0), b = n.input(1);
    return {n.wants(0) ? sum_to(mul(g, b), n.inputs[0].shape) : nullptr,
            n.wants(1) ? sum_to(mul(g, a), n.inputs[1].shape) : nullptr};
  }
  case OpId::div: {
    Tensor b = n.input(1);
    Tensor ga = div(g, b);
    return {n.wants(0) ? sum_to(ga, n.inputs[0].shape) : nullptr,
            n.wants(1) ? sum_to(neg(mul(ga, n.output())), n.inputs[1].shape)
                       : nullptr};
  }
  case OpId::atan2: {
    // d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
    Tensor a = n.input(0), b = n.input(1);
    Tensor scaled = div(g, add(mul(a, a), mul(b, b)));
    return {n.wants(0) ? sum_to(mul(scaled, b), n.inputs[0].shape) : nullptr,
            n.wants(1) ? sum_to(neg(mul(scaled, a)), n.inputs[1].shape)
                       : nullptr};
  }
  case OpId::remainder: {
    // remainder(a, b) = a - floor(a / b) * b: d/da = 1, d/db = -floor(a / b).
    return {n.wants(0) ? sum_to(g, n.inputs[0].shape) : nullptr,
            n.wants(1) ? sum_to(neg(mul(g, binary(OpId::floor_divide,
                                                  n.input(0), n.input(1)))),
                                n.inputs[1].shape)
                       : nullptr};
  }
  case OpId::hypot: {
    // d/da hypot(a, b) = a / hypot(a, b), and b / hypot(a, b).
    Tensor scaled = div(g, n.output());
    return {n.wants(0) ? sum_to(mul(scaled, n.input(0)), n.inputs[0].shape)
                       : nullptr,
            n.wants(1) ? sum_to(mul(scaled, n.input(1)), n.inputs[1].shape)
                       : nullptr};
  }
  case OpId::pow: {
    Tensor a = n.input(0), b = n.input(1), y = n.output();
    Tensor ga, gb;
    if (n.wants(0)) {
      // b a^(b-1); 0 where b == 0, also at a = 0 or NaN, as PyTorch's (a^0
      // is 1 everywhere).
      Tensor bm1 = binary_scalar(OpId::sub, b, Scalar::from_int(1), false);
      Tensor d = mul(mul(g, b), binary(OpId::pow, a, bm1));
      ga = sum_to(where(binary_scalar(OpId::eq, b, Scalar::from_int(0), false),
                        num(d, 0.0), d),
                  n.inputs[0].shape);
    }
    if (n.wants(1)) {
      // d/db a^b = a^b log a; taken as 0 where a == 0 and b >= 0. log a is
      // taken in the result's dtype: an integer a would give float32.
      Tensor zero_base =
          binary(OpId::logical_and,
                 binary_scalar(OpId::eq, a, Scalar::from_int(0), false),
                 binary_scalar(OpId::ge, b, Scalar::from_int(0), false));
      Tensor d = mul(g, mul(y, unary(OpId::log, cast(a, y->dtype))));
      gb = sum_to(where(zero_base, num(d, 0.0), d), n.inputs[1].shape);
    }
    return {ga, gb};
  }
  case OpId::maximum:
  case OpId::minimum: {
    // Ties split the gradient evenly, as the subgradient midpoint. Only
    // the side that loses gets none: where a NaN is the result, g goes to
    // both sides, as PyTorch's. `shared` is what a side that does not lose
    // gets, so each side costs a comparison and a select.
    Tensor a = n.input(0), b = n.input(1);
    OpId wins = n.op == OpId::maximum ? OpId::gt : OpId::lt;
    Tensor shared = where(binary(OpId::eq, a, b), mul(g, 0.5), g);
    auto side = [&](int i, const Tensor &x, const Tensor &y) -> Tensor {
      if (!n.wants(i))
        return nullptr;
      return sum_to(where(binary(wins, y, x), num(g, 0.0), shared),
                    n.inputs[i].shape); // x loses: none
    };
    return {side(0, a, b), side(1, b, a)};
  }
  case OpId::where: {
    Tensor c = n.input(0);
    return {nullptr, sum_to(masked(c, g), n.inputs[1].shape),
            sum_to(where(c, num(g, 0.0), g), n.inputs[2].shape)};
  }

  // --- reductions ----------------------------------------------------------
  case OpId::sum:
    return {expand(unreduce(n, g), n.inputs[0].shape)};
  case OpId::mean:
    return {
        expand(mul(unreduce(n, g), 1.0 / static_cast<double>(reduced_count(n))),
               n.inputs[0].shape)};
  case OpId::prod: {
    // d prod / d x_i is the product of the other elements: y / x_i where no
    // element is 0; with exactly one 0 in the slice, that element gets the
    // product of the rest and the others 0; with more, all get 0.
    Tensor x = n.input(0);
    Tensor gk = unreduce(n, g), y = unreduce(n, n.output());
    Tensor is_zero = binary_scalar(OpId::eq, x, Scalar::from_int(0), false);
    Tensor zeros =
        reduce(OpId::sum, cast(is_zero, x->dtype), n.attrs.axes, true);
    Tensor others =
        reduce(OpId::prod, where(is_zero, num(x, 1.0), x), n.attrs.axes, true);
    Tensor lone_zero =
        binary(OpId::logical_and, is_zero,
               binary_scalar(OpId::eq, zeros, Scalar::from_int(1), false));
    Tensor plain = div(mul(gk, y), x);
    Tensor with_zero = masked(lone_zero, mul(gk, others));
    return {where(binary_scalar(OpId::eq, zeros, Scalar::from_int(0), false),
                  plain, with_zero)};
  }
  case OpId::max:
  case OpId::min: {
    // The gradient goes to the extremal elements, shared among ties; a NaN
    // is the extremum of its slice.
    Tensor x = n.input(0);
    Tensor hit = binary(OpId::eq, x, unreduce(n, n.output()));
    if (is_floating(x->dtype))
      hit = binary(OpId::logical_or, hit, binary(OpId::ne, x, x));
    hit = cast(hit, x->dtype);
    Tensor count = reduce(OpId::sum, hit, n.attrs.axes, true);
    return {mul(hit, div(unreduce(n, g), count))};
  }
  case OpId::var: {
    Tensor x = n.input(0);
    Tensor mean = reduce(OpId::mean, x, n.attrs.axes, true);
    double denom = static_cast<double>(reduced_count(n) - n.attrs.i0);
    return {mul(mul(unreduce(n, g), sub(x, mean)), 2.0 / denom)};
  }
  // A 0-d input is a slice of one element, its own sum: the gradient is 0
  // where the output is finite, NaN where it is NaN, as PyTorch's.
  case OpId::softmax: {
    Tensor y = n.output(), gy = mul(g, y);
    Tensor s = n.inputs[0].shape.empty()
                   ? gy
                   : reduce(OpId::sum, gy, Dims{n.attrs.i0}, true);
    return {mul(y, sub(g, s))};
  }
  case OpId::log_softmax: {
    Tensor s = n.inputs[0].shape.empty()
                   ? g
                   : reduce(OpId::sum, g, Dims{n.attrs.i0}, true);
    return {sub(g, mul(unary(OpId::exp, n.output()), s))};
  }

  // --- linear algebra --------------------------------------------------------
  case OpId::matmul: {
    Tensor a = n.input(0), b = n.input(1);
    Tensor ga = n.wants(0) ? matmul_grad_a(g, a, b) : nullptr;
    Tensor gb;
    if (n.wants(1)) {
      auto tr = [](const Tensor &t) {
        return t->ndim() < 2 ? t : transpose(t, -1, -2);
      };
      if (a->ndim() == 1 && b->ndim() == 1)
        gb = mul(g, a);
      else if (b->ndim() == 1)
        gb = sum_to(matmul(tr(a), unsqueeze(g, -1)), Dims{b->shape[0], 1});
      else if (a->ndim() == 1)
        gb = sum_to(matmul(unsqueeze(a, -1), unsqueeze(g, -2)), b->shape);
      else if (b->ndim() == 2 && !b->is_contiguous() && b->strides[0] == 1 &&
               b->strides[1] == b->shape[0] && a->numel() > 0) {
        // b is the transpose of a contiguous matrix (nn.Linear's weight.T):
        // g^T @ a over all rows of the batch, transposed back, comes out in
        // the layout of the matrix behind the view (contiguous again after
        // the view's rule), where a^T @ g would be copied into .grad.
        const int64_t k = a->shape.back(), n_out = g->shape.back();
        const int64_t rows = a->numel() / k;
        gb = transpose(matmul(tr(reshape(g, Dims{rows, n_out})),
                              reshape(a, Dims{rows, k})),
                       0, 1);
      } else
        // a^T @ g: BLAS reads a transposed in place and the result comes
        // out contiguous, ready to be accumulated and used by an optimizer.
        gb = sum_to(matmul(tr(a), g), b->shape);
      gb = reshape(gb, b->shape);
    }
    return {ga, gb};
  }

  // --- memory and views ------------------------------------------------------
  case OpId::copy: {
    const InputInfo &in = n.inputs[0];
    return {to_device(cast(g, in.dtype), in.device)};
  }
  case OpId::index: // reads no values: views of rebased bases use it
    return {scatter_into_zeros(n.inputs[0].shape, n.attrs.indices, g)};
  case OpId::index_put: {
    // out = base with values written (or added) at the indices.
    Tensor gv;
    if (n.wants(1)) {
      gv = index(g, n.attrs.indices);
      gv = sum_to(gv, n.inputs[1].shape);
    }
    Tensor gb;
    if (n.wants(0)) {
      if (n.attrs.flag) {
        gb = g;
      } else { // overwritten elements get nothing (recorded, as in-place)
        gb = clone(g);
        index_put_(gb, n.attrs.indices, num(g, 0.0), false);
      }
    }
    return {gb, gv};
  }
  case OpId::conv2d: {
    std::vector<Tensor> r =
        n.attrs.flag // NHWC input, HWIO filter
            ? conv2d_nhwc_backward(g, n.input(0), n.input(1), geometry_of(n),
                                   n.wants(0), n.wants(1))
            : conv2d_backward(g, n.input(0), n.input(1), geometry_of(n),
                              n.wants(0), n.wants(1));
    if (n.inputs.size() == 3) // a bias added by the kernel (NCHW)
      r.push_back(n.wants(2) ? reduce(OpId::sum, g, Dims{0, 2, 3}, false)
                             : nullptr);
    return r;
  }
  case OpId::conv2d_nhwc_relu:
  case OpId::conv2d_nhwc_relu_pool: {
    // relu's gradient (unless the seed comes masked: attrs.flag), then the
    // convolution's and the bias's (its sum over the batch and the
    // pixels); for the pooled op, the convolution's gradients of the one
    // max pooling spreads from the kept taps (relu's mask in them; only
    // planned where nothing differentiates it again).
    const bool bias = n.inputs.size() == 3;
    std::vector<Tensor> r;
    if (n.op == OpId::conv2d_nhwc_relu) {
      r = conv2d_nhwc_bias_backward(n.attrs.flag ? g
                                                 : relu_backward(g, n.output()),
                                    n.input(0), n.input(1), geometry_of(n),
                                    n.wants(0), n.wants(1), bias && n.wants(2));
    } else {
      if (grad_enabled())
        fail(ErrorKind::Runtime, "[conv2d_nhwc_relu_pool] has no second "
                                 "derivative: run conv2d_nhwc_relu and "
                                 "max_pool2d_nhwc instead");
      r = conv2d_nhwc_relu_pool_backward(g, *n.attrs.indices[0], n.input(0),
                                         n.input(1), geometry_of(n), n.wants(0),
                                         n.wants(1), bias && n.wants(2));
    }
    if (!bias)
      r.pop_back();
    return r;
  }
  case OpId::binary_cross_entropy: {
    // PyTorch's: (x - y) / max(x (1 - x), 1e-12) for x, finite where the
    // floored logs are flat, and -logit(x) = -log(x / (1 - x)) for y. The
    // floor is the float 1e-12 in every dtype, as PyTorch's.
    const Tensor &x = n.input(0), &y = n.input(1);
    const Tensor not_x =
        binary_scalar(OpId::sub, x, Scalar::from_int(1), true); // 1 - x
    Tensor gx, gy;
    if (n.wants(0)) {
      const Scalar floor = Scalar::from_double(static_cast<double>(1e-12f));
      gx = mul(g, div(sub(x, y), clamp(mul(x, not_x), floor, std::nullopt)));
    }
    if (n.wants(1))
      gy = mul(g, neg(unary(OpId::log, div(x, not_x))));
    return {gx, gy};
  }
  case OpId::cumsum: {
    // Each input feeds every later output: the sum of g from i onwards, a
    // reversed running sum (a difference of sums would lose precision and
    // turn an inf into NaNs).
    const int64_t a = n.attrs.i0;
    return {flip(cumsum(flip(g, a), a), a)};
  }
  case OpId::max_pool2d: {
    const Dims &a = n.attrs.shape;
    const bool nhwc = n.attrs.flag; // channels last
    // max_pool2d_nhwc's relu after the pooling, kept with its taps
    const bool relu = n.attrs.i0 != 0;
    if (grad_enabled()) {
      // Recording (create_graph): the backward kernel is not differentiable,
      // so route g through the same selection built from recorded ops: each
      // window's maxima (ties share, a NaN is the maximum) via im2col.
      const Dims nchw_dims{0, 3, 1, 2}, nhwc_dims{0, 2, 3, 1};
      Tensor pooled = n.output();
      Tensor seed = g;
      if (relu) { // relu's rule first, then the maxima before the relu
        seed = relu_backward(g, pooled);
        NoGradGuard no_grad;
        pooled = max_pool2d_nhwc(n.input(0), a[0], a[1], geometry_of(n));
      }
      Tensor x = nhwc ? permute(n.input(0), nchw_dims) : n.input(0);
      Tensor y = nhwc ? permute(pooled, nchw_dims) : pooled;
      Tensor gy = nhwc ? permute(seed, nchw_dims) : seed;
      const Dims &xs = x->shape;
      const Conv2dGeometry geo = geometry_of(n);
      const int64_t planes = xs[0] * xs[1], l = y->shape[2] * y->shape[3];
      Tensor cols = im2col(reshape(x, Dims{planes, 1, xs[2], xs[3]}), a[0],
                           a[1], geo, -INFINITY);
      Tensor hit =
          binary(OpId::logical_or,
                 binary(OpId::eq, cols, reshape(y, Dims{planes, 1, l})),
                 binary(OpId::ne, cols, cols));
      hit = cast(hit, g->dtype);
      Tensor count = reduce(OpId::sum, hit, Dims{1}, true);
      Tensor share = div(reshape(gy, Dims{planes, 1, l}), count);
      Tensor gx =
          reshape(col2im(mul(hit, share), xs[2], xs[3], a[0], a[1], geo), xs);
      return {nhwc ? permute(gx, nhwc_dims) : gx};
    }
    if (!n.attrs.indices.empty())
      return {max_pool2d_nhwc_taps_backward(
          cast(g, n.input(0)->dtype), *n.attrs.indices[0], n.input(0)->shape,
          a[0], a[1], geometry_of(n))};
    if (nhwc)
      return {max_pool2d_nhwc_backward(g, n.input(0), n.output(), a[0], a[1],
                                       geometry_of(n))};
    return {max_pool2d_backward(g, n.input(0), n.output(), a[0], a[1],
                                geometry_of(n))};
  }
  case OpId::im2col:
  case OpId::col2im: {
    const Dims &a = n.attrs.shape; // kh, kw, stride, padding, dilation
    Conv2dGeometry geo = geometry_of(n);
    if (n.op == OpId::col2im)
      return {im2col(g, a[0], a[1], geo)};
    // Taps read from padding get no gradient: col2im drops them.
    const Dims &x = n.inputs[0].shape;
    return {col2im(g, x[2], x[3], a[0], a[1], geo)};
  }
  case OpId::cat: {
    std::vector<Tensor> out;
    int64_t offset = 0, d = n.attrs.i0;
    for (const InputInfo &in : n.inputs) {
      if (in.shape.size() != g->shape.size()) { // a 1-d empty input cat skipped
        out.push_back(in.requires_grad
                          ? slice(reshape(g, Dims{g->numel()}), 0, 0, 0, 1)
                          : nullptr);
        continue;
      }
      out.push_back(in.requires_grad
                        ? slice(g, d, offset, offset + in.shape[d], 1)
                        : nullptr);
      offset += in.shape[d];
    }
    return out;
  }
  case OpId::scatter_add:
    return {g,
            n.wants(1) ? gather(g, n.attrs.i0, *n.attrs.indices[0]) : nullptr};
  case OpId::reshape:
    return {reshape(g, n.inputs[0].shape)};
  case OpId::permute: {
    Dims inverse(n.attrs.axes.size());
    for (size_t i = 0; i < inverse.size(); ++i)
      inverse[n.attrs.axes[i]] = static_cast<int64_t>(i);
    return {permute(g, inverse)};
  }
  case OpId::expand:
    return {sum_to(g, n.inputs[0].shape)};
  case OpId::slice:
  case OpId::select: {
    const InputInfo &in = n.inputs[0];
    if (grad_enabled()) {
      // Recording (create_graph): the same embedding as an index_put of g
      // along the dimension, an op with a rule of its own.
      const int64_t d = n.attrs.i0;
      Tensor positions =
          n.op == OpId::slice
              ? arange(Scalar::from_int(n.attrs.i1),
                       Scalar::from_int(n.attrs.i2),
                       Scalar::from_int(n.attrs.i3), DType::Int64, g->device)
              : full(Dims{1}, Scalar::from_int(n.attrs.i1), DType::Int64,
                     g->device);
      std::vector<std::optional<Tensor>> idx(static_cast<size_t>(d + 1));
      idx[d] = positions;
      return {scatter_into_zeros(in.shape, idx,
                                 n.op == OpId::slice ? g : unsqueeze(g, d))};
    }
    Tensor z = full(in.shape, Scalar::from_int(0), g->dtype, g->device);
    Tensor part = n.op == OpId::slice
                      ? slice(z, n.attrs.i0, n.attrs.i1, n.attrs.i2, n.attrs.i3)
                      : select(z, n.attrs.i0, n.attrs.i1);
    copy_(part, g);
    return {z};
  }
  default:
    fail(ErrorKind::NotImplemented, "[backward] ", op_name(n.op),
         " has no derivative rule");
  }
}

namespace {

Tensor matmul_grad_a(const Tensor &g, const Tensor &a, const Tensor &b) {
  auto tr = [](const Tensor &t) { return transpose(t, -1, -2); };
  if (a->ndim() == 1 && b->ndim() == 1)
    return mul(g, b);
  if (a->ndim() == 1) // g: (..., N); a as (1, K)
    return reshape(
        sum_to(matmul(unsqueeze(g, -2), tr(b)), Dims{1, a->shape[0]}),
        a->shape);
  if (b->ndim() == 1) // g: (..., M); b as (K, 1)
    return sum_to(matmul(unsqueeze(g, -1), unsqueeze(b, 0)), a->shape);
  return sum_to(matmul(g, tr(b)), a->shape);
}

} // namespace

} // namespace devrt::autograd
