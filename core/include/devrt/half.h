/* Conversions between float and the 16-bit float formats, on raw bits.
 *
 * devrt stores float16 (IEEE binary16) and bfloat16 as uint16_t. These
 * helpers convert them to and from float (and double to float16) exactly as
 * NumPy (float16) and ml_dtypes (bfloat16) do: round to nearest, ties to
 * even; overflow gives a signed infinity; subnormals are kept; a NaN stays a
 * NaN of the same sign. Header-only, C++ only.
 */
#ifndef DEVRT_HALF_H
#define DEVRT_HALF_H

#include <cstdint>
#include <cstring>

namespace devrt {

namespace half_detail {
inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
} // namespace half_detail

/* float16 bits -> float; exact. */
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) // inf or NaN, payload kept
    return half_detail::from_bits(sign | 0x7f800000u | (mant << 13));
  if (exp != 0)
    return half_detail::from_bits(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0)
    return half_detail::from_bits(sign);
  // Subnormal: normalise the significand into a float exponent.
  uint32_t e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return half_detail::from_bits(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

namespace half_detail {
/* Rounds a value given as a sign, an unbiased binary exponent `e` and a
 * significand `sig` with its leading one at bit `top` (value =
 * sig * 2^(e - top)) to float16 bits, to nearest even. Finite inputs only. */
inline uint16_t round_to_half(uint16_t sign, int e, uint64_t sig, int top) {
  if (e > 15)
    return static_cast<uint16_t>(sign | 0x7c00u);
  // Keep 10 fraction bits for normals, fewer below 2^-14 (subnormals).
  int shift = top - 10 + (e < -14 ? -14 - e : 0);
  if (shift > top + 1) // below half of the smallest subnormal
    return sign;
  uint64_t kept = sig >> shift;
  const uint64_t rest = sig & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  if (rest > half || (rest == half && (kept & 1)))
    ++kept; // may carry into the exponent, or up to infinity: both correct
  const uint32_t biased = e < -14 ? 0u : static_cast<uint32_t>(e + 14);
  // `kept` still holds the implicit one for normals, which adds 1 to biased.
  return static_cast<uint16_t>(sign + (biased << 10) + kept);
}
} // namespace half_detail

/* float -> float16 bits, round to nearest even. */
inline uint16_t float_to_half(float f) {
  const uint32_t u = half_detail::bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t exp = (u >> 23) & 0xffu;
  const uint32_t mant = u & 0x7fffffu;
  if (exp == 0xffu) { // inf, or NaN with the top payload bits, kept a NaN
    if (mant == 0)
      return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | 0x7e00u | (mant >> 13));
  }
  if (exp == 0) // zero or float subnormal: far below float16's range
    return sign;
  return half_detail::round_to_half(sign, static_cast<int>(exp) - 127,
                                    mant | 0x800000u, 23);
}

/* double -> float16 bits, rounded once (not through float, which could
 * round twice). */
inline uint16_t double_to_half(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  const uint16_t sign = static_cast<uint16_t>((u >> 48) & 0x8000u);
  const uint32_t exp = static_cast<uint32_t>((u >> 52) & 0x7ffu);
  const uint64_t mant = u & 0xfffffffffffffull;
  if (exp == 0x7ffu) {
    if (mant == 0)
      return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | 0x7e00u | (mant >> 42));
  }
  if (exp == 0)
    return sign;
  return half_detail::round_to_half(sign, static_cast<int>(exp) - 1023,
                                    mant | (uint64_t{1} << 52), 52);
}

/* bfloat16 bits -> float; exact. */
inline float bfloat16_to_float(uint16_t b) {
  return half_detail::from_bits(static_cast<uint32_t>(b) << 16);
}

/* float -> bfloat16 bits, round to nearest even; a NaN stays a quiet NaN. */
inline uint16_t float_to_bfloat16(float f) {
  const uint32_t u = half_detail::bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

} // namespace devrt

#endif /* DEVRT_HALF_H */
