// Creation ops: fill, ranges and the seeded random generator.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "../dispatch.h"
#include "devrt/autograd.h"

namespace devrt {

namespace {

struct Generator {
  std::mutex mu;
  uint64_t seed = 0x5EEDDE7A5EEDull;
  uint64_t offset = 0;

  // Reserves n counters; returns (seed, first counter).
  std::pair<uint64_t, uint64_t> take(int64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    uint64_t first = offset;
    offset += static_cast<uint64_t>(n);
    return {seed, first};
  }
};

Generator &generator() {
  static Generator g;
  return g;
}

void require_floating(const char *op, DType t) {
  if (!is_floating(t))
    fail(ErrorKind::Type, "[", op, "] needs a floating dtype, got ",
         dtype_name(t));
}

} // namespace

void manual_seed(uint64_t seed) {
  Generator &g = generator();
  std::lock_guard<std::mutex> lock(g.mu);
  g.seed = seed;
  g.offset = 0;
}

uint64_t initial_seed() {
  Generator &g = generator();
  std::lock_guard<std::mutex> lock(g.mu);
  return g.seed;
}

// As PyTorch: a value the dtype cannot hold (NaN or an infinity in an
// integer dtype, a number beyond the dtype's range) is refused, not wrapped.
// An integer dtype takes a negative int down to -max of its unsigned range
// (uint8 takes -1 as 255); a float dtype takes NaN and the infinities.
void check_fill_value(const char *op, Scalar v, DType t) {
  double lo = 0, hi = 0;
  switch (t) {
  case DType::Bool:
    return;
  case DType::UInt8:
    lo = v.kind == Scalar::Float ? 0 : -255, hi = 255;
    break;
  case DType::Int32:
    lo = -2147483648.0, hi = 2147483647.0;
    break;
  case DType::Int64: // 2**63 itself does not fit (PyTorch wraps it)
    if (v.kind != Scalar::Float)
      return;
    lo = -0x1p63, hi = std::nextafter(0x1p63, 0.0);
    break;
  case DType::Float16:
    hi = 65504.0;
    break;
  case DType::BFloat16:
    hi = 3.3895313892515355e38;
    break;
  case DType::Float32:
    hi = 3.4028234663852886e38;
    break;
  case DType::Float64:
    return;
  }
  const double x = v.kind == Scalar::Float ? v.f : static_cast<double>(v.i);
  const bool fits = is_floating(t) ? !std::isfinite(x) || std::fabs(x) <= hi
                                   : x >= lo && x <= hi; // false for NaN
  if (fits)
    return;
  if (v.kind == Scalar::Float)
    fail(ErrorKind::Value, "[", op, "] value ", x,
         " cannot be converted to dtype ", dtype_name(t), " without overflow");
  fail(ErrorKind::Value, "[", op, "] value ", v.i,
       " cannot be converted to dtype ", dtype_name(t), " without overflow");
}

namespace {

// fill_ without the check of the value: a number operand is made in the
// dtype it computes in as it is (PyTorch converts it unchecked there).
void fill_unchecked(const Tensor &t, Scalar value) {
  if (t->numel() == 0)
    return;
  if (!t->is_contiguous()) {
    copy_(t, scalar_tensor(value, t->dtype, t->device));
    return;
  }
  Launch k(OpId::fill, t->device, t->dtype);
  k.output(t).attr_scalar(value).run();
  t->bump_version();
}

} // namespace

void fill_(const Tensor &t, Scalar value) {
  check_fill_value("fill_", value, t->dtype);
  if (autograd::inplace_records("fill_", t)) {
    autograd::rebase_history(
        "fill_", t,
        autograd::overwritten(t, {}, scalar_tensor(value, t->dtype, t->device),
                              false));
    return;
  }
  fill_unchecked(t, value);
}

Tensor full(const Dims &shape, Scalar value, DType dtype, Device device) {
  check_fill_value("full", value, dtype);
  Tensor y = empty(shape, dtype, device);
  fill_(y, value);
  return y;
}

Tensor scalar_tensor(Scalar s, DType dtype, Device device) {
  Tensor y = empty(Dims{}, dtype, device);
  if (host_accessible(device)) {
    // Written directly: a binary op with a Python number skips a kernel.
    void *p = y->data_ptr();
    switch (dtype) {
    case DType::Float32:
      *static_cast<float *>(p) = static_cast<float>(s.f);
      break;
    case DType::Float64:
      *static_cast<double *>(p) = s.f;
      break;
    case DType::Int64:
      *static_cast<int64_t *>(p) =
          s.kind == Scalar::Float ? static_cast<int64_t>(s.f) : s.i;
      break;
    case DType::Int32:
      *static_cast<int32_t *>(p) = static_cast<int32_t>(
          s.kind == Scalar::Float ? static_cast<int64_t>(s.f) : s.i);
      break;
    case DType::Bool:
      *static_cast<bool *>(p) = s.f != 0;
      break;
    default:
      fill_unchecked(y, s);
      break;
    }
  } else {
    fill_unchecked(y, s);
  }
  y->wrapped_number = true;
  return y;
}

Tensor arange(Scalar start, Scalar end, Scalar step, DType dtype,
              Device device) {
  if (dtype == DType::Bool)
    fail(ErrorKind::Type, "[arange] bool is not a valid dtype for arange");
  if (!std::isfinite(start.f) || !std::isfinite(end.f))
    fail(ErrorKind::Value, "[arange] start and end must be finite, got ",
         start.f, " and ", end.f);
  if (std::isnan(step.f) || step.f == 0)
    fail(ErrorKind::Value, "[arange] step must be non-zero, got ", step.f);
  // An infinite step takes one stride past any finite end: an empty range
  // in a float dtype, as PyTorch; no integer holds it.
  if (std::isinf(step.f) && !is_floating(dtype))
    fail(ErrorKind::Value, "[arange] step ", step.f,
         " cannot be converted to dtype ", dtype_name(dtype),
         " without overflow");
  // As PyTorch: an integer dtype counts from start and by step truncated to
  // integers (so a step of 0.5 is 0). int64 counts the truncated span
  // exactly and refuses a step truncated to 0; the other integer dtypes
  // count the numbers' own span (arange(-1.5, 0.5, 0.5) in int32 is four
  // -1s).
  auto trunc = [](Scalar v) {
    return v.kind == Scalar::Float ? static_cast<int64_t>(v.f) : v.i;
  };
  const bool integral = !is_floating(dtype);
  const double span = end.f - start.f, by = step.f;
  // The direction is checked on the numbers as given too (PyTorch refuses
  // arange(2, 2.5, -1) in int64, where the truncated range would be empty).
  if ((by > 0 && end.f < start.f) || (by < 0 && end.f > start.f))
    fail(ErrorKind::Value, "[arange] the range from ", start.f, " to ", end.f,
         " does not go the way of step ", by);
  if (integral) {
    start = Scalar::from_int(trunc(start));
    step = Scalar::from_int(trunc(step));
    end = Scalar::from_int(trunc(end));
  }
  if (step.f == 0 && dtype == DType::Int64)
    fail(ErrorKind::Value, "[arange] step must be non-zero, got ", by,
         ", which is 0 in int64");
  if ((step.f > 0 && end.f < start.f) || (step.f < 0 && end.f > start.f))
    fail(ErrorKind::Value, "[arange] the range from ", start.f, " to ", end.f,
         " does not go the way of step ", step.f);
  double len;
  if (dtype == DType::Int64) {
    int64_t n = end.i - start.i;
    len = static_cast<double>((n + step.i + (step.i > 0 ? -1 : 1)) / step.i);
  } else {
    len = std::max(0.0, std::ceil(span / by));
  }
  if (len > 9e15)
    fail(ErrorKind::Value, "[arange] range of ", len, " elements is too large");
  Tensor y = empty(Dims{static_cast<int64_t>(len)}, dtype, device);
  if (len == 0)
    return y;
  Launch k(OpId::arange, device, dtype);
  k.output(y).attr_scalar(start).attr_scalar(step).run();
  return y;
}

Tensor one_hot(const Tensor &indices, int64_t depth, DType dtype) {
  if (!is_integral(indices->dtype))
    fail(ErrorKind::Type, "[one_hot] indices must be integers, got ",
         dtype_name(indices->dtype));
  if (depth < 0)
    fail(ErrorKind::Value, "[one_hot] depth must be >= 0, got ", depth);
  Tensor classes = arange(Scalar::from_int(0), Scalar::from_int(depth),
                          Scalar::from_int(1), indices->dtype, indices->device);
  return cast(binary(OpId::eq, unsqueeze(indices, -1), classes), dtype);
}

Tensor linspace(double start, double end, int64_t steps, DType dtype,
                Device device) {
  if (steps < 0)
    fail(ErrorKind::Value,
         "[linspace] number of steps must be non-negative, "
         "got ",
         steps);
  if (steps <= 1)
    return steps == 0
               ? empty(Dims{0}, dtype, device)
               : full(Dims{1}, Scalar::from_double(start), dtype, device);
  // As PyTorch: in the dtype's precision (float32 for the 16-bit types,
  // float64 for integers, whose start and end are truncated first), the
  // first half counted up from start and the second down from end, so that
  // both ends are exact; integers are truncated at the end.
  if (!is_floating(dtype)) { // in the dtype: uint8 takes -2 as 254
    auto in_dtype = [dtype](double v) {
      const int64_t i = static_cast<int64_t>(std::trunc(v));
      return dtype == DType::UInt8
                 ? static_cast<double>(static_cast<uint8_t>(i))
             : dtype == DType::Int32
                 ? static_cast<double>(static_cast<int32_t>(i))
                 : static_cast<double>(i);
    };
    start = in_dtype(start);
    end = in_dtype(end);
  }
  const DType t = dtype == DType::Float64 || !is_floating(dtype)
                      ? DType::Float64
                      : DType::Float32;
  const double step = t == DType::Float64
                          ? (end - start) / static_cast<double>(steps - 1)
                          : static_cast<double>((static_cast<float>(end) -
                                                 static_cast<float>(start)) /
                                                static_cast<float>(steps - 1));
  Tensor i = arange(Scalar::from_int(0), Scalar::from_int(steps),
                    Scalar::from_int(1), t, device);
  Tensor up = binary_scalar(
      OpId::add, binary_scalar(OpId::mul, i, Scalar::from_double(step), false),
      Scalar::from_double(start), false);
  Tensor left = binary_scalar(OpId::sub, i, Scalar::from_int(steps - 1), true);
  Tensor down = binary_scalar(
      OpId::sub,
      binary_scalar(OpId::mul, left, Scalar::from_double(step), false),
      Scalar::from_double(end), true);
  Tensor first = binary_scalar(OpId::lt, i, Scalar::from_int(steps / 2), false);
  return cast(where(first, up, down), dtype);
}

namespace {

// random_uniform or random_normal from counter `offset` of stream `seed`.
Tensor random_float(OpId op, const char *name, const Dims &shape, DType dtype,
                    Device device, const std::pair<uint64_t, uint64_t> *from) {
  require_floating(name, dtype);
  Tensor y = empty(shape, dtype, device);
  if (y->numel() == 0)
    return y;
  auto [seed, offset] = from ? *from : generator().take(y->numel());
  Launch k(op, device, dtype);
  k.output(y).attr_float(0.0).attr_float(1.0);
  k.attr_int(static_cast<int64_t>(seed)).attr_int(static_cast<int64_t>(offset));
  k.run();
  return y;
}

} // namespace

Tensor rand(const Dims &shape, DType dtype, Device device) {
  return random_float(OpId::random_uniform, "rand", shape, dtype, device,
                      nullptr);
}

Tensor randn(const Dims &shape, DType dtype, Device device) {
  return random_float(OpId::random_normal, "randn", shape, dtype, device,
                      nullptr);
}

Tensor rand_seeded(const Dims &shape, DType dtype, Device device, uint64_t seed,
                   uint64_t offset) {
  const std::pair<uint64_t, uint64_t> from{seed, offset};
  return random_float(OpId::random_uniform, "rand", shape, dtype, device,
                      &from);
}

Tensor randn_seeded(const Dims &shape, DType dtype, Device device,
                    uint64_t seed, uint64_t offset) {
  const std::pair<uint64_t, uint64_t> from{seed, offset};
  return random_float(OpId::random_normal, "randn", shape, dtype, device,
                      &from);
}

Tensor randint(int64_t low, int64_t high, const Dims &shape, DType dtype,
               Device device) {
  if (high <= low)
    fail(ErrorKind::Value, "[randint] high (", high,
         ") must be greater than low (", low, ")");
  if (!is_integral(dtype) || dtype == DType::UInt8)
    fail(ErrorKind::Type, "[randint] needs an int32 or int64 dtype, got ",
         dtype_name(dtype));
  Tensor y = empty(shape, dtype, device);
  if (y->numel() == 0)
    return y;
  auto [seed, offset] = generator().take(y->numel());
  Launch k(OpId::random_integers, device, dtype);
  k.output(y).attr_int(low).attr_int(high);
  k.attr_int(static_cast<int64_t>(seed)).attr_int(static_cast<int64_t>(offset));
  k.run();
  return y;
}

} // namespace devrt
