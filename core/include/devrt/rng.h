/* devrt's random stream, shared by every backend.
 *
 * Note: random numbers are a pure function of (seed, counter). The core hands
 * each random op the generator's seed and its current offset, then advances
 * the offset by the number of elements drawn; element i of the op uses
 * counter offset + i. Any backend, and any split of the work across threads,
 * therefore produces the same numbers for the same seed.
 */
#ifndef DEVRT_RNG_H
#define DEVRT_RNG_H

#include <math.h>
#include <stdint.h>

/* A backend that compiles these functions for its device defines
 * DEVRT_RNG_FN with its qualifiers before including this header (the CUDA
 * backend: __host__ __device__ static inline). */
#ifndef DEVRT_RNG_FN
#define DEVRT_RNG_FN static inline
#endif

/* A 64-bit finaliser (splitmix64): a bijection with good avalanche. */
DEVRT_RNG_FN uint64_t devrt_rng_mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* 64 random bits for (seed, counter, lane); lane separates the draws that
 * one element needs (Box-Muller takes two). */
DEVRT_RNG_FN uint64_t devrt_rng_bits(uint64_t seed, uint64_t counter,
                                     uint32_t lane) {
  return devrt_rng_mix(devrt_rng_mix(seed ^ ((uint64_t)lane << 62)) ^ counter);
}

/* Uniform double in [0, 1) with 53 random bits. */
DEVRT_RNG_FN double devrt_rng_uniform(uint64_t seed, uint64_t counter) {
  return (double)(devrt_rng_bits(seed, counter, 0) >> 11) *
         (1.0 / 9007199254740992.0);
}

/* Standard normal by Box-Muller from two uniforms of the same counter. */
DEVRT_RNG_FN double devrt_rng_normal(uint64_t seed, uint64_t counter) {
  double u1 = (double)(devrt_rng_bits(seed, counter, 0) >> 11) *
              (1.0 / 9007199254740992.0);
  double u2 = (double)(devrt_rng_bits(seed, counter, 1) >> 11) *
              (1.0 / 9007199254740992.0);
  /* 1 - u1 lies in (0, 1], so the log is finite. */
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* Integer in [low, high) (high > low), by multiply-shift on 64 bits. */
DEVRT_RNG_FN int64_t devrt_rng_integer(uint64_t seed, uint64_t counter,
                                       int64_t low, int64_t high) {
  uint64_t span = (uint64_t)(high - low);
  uint64_t r = devrt_rng_bits(seed, counter, 0);
  return low + (int64_t)(uint64_t)(((__uint128_t)r * span) >> 64);
}

#endif /* DEVRT_RNG_H */
