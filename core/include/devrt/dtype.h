// Element types and the promotion lattice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "devrt/c_api.h"

namespace devrt {

enum class DType : int8_t {
  Bool = DEVRT_BOOL,
  UInt8 = DEVRT_UINT8,
  Int32 = DEVRT_INT32,
  Int64 = DEVRT_INT64,
  Float16 = DEVRT_FLOAT16,
  BFloat16 = DEVRT_BFLOAT16,
  Float32 = DEVRT_FLOAT32,
  Float64 = DEVRT_FLOAT64,
};
constexpr int kNumDTypes = DEVRT_NUM_DTYPES;

size_t itemsize(DType t);
const char *dtype_name(DType t); // "float32"
// "float32" ..., and devrt's aliases: "float", "double", "half", "long",
// "int" (float32, float64, float16, int64, int32).
bool dtype_from_name(const std::string &name, DType *out);
inline bool is_floating(DType t) {
  return t == DType::Float16 || t == DType::BFloat16 || t == DType::Float32 ||
         t == DType::Float64;
}
inline bool is_integral(DType t) {
  return t == DType::UInt8 || t == DType::Int32 || t == DType::Int64;
}
inline uint32_t dtype_bit(DType t) { return 1u << static_cast<int>(t); }

// How strongly an operand takes part in promotion, weakest first: a Python
// number, a 0-d tensor, a tensor with dimensions.
enum class Rank : int8_t { Number, ZeroDim, Dimensioned };

// Result type of a binary op, as PyTorch's: operands of one rank promote
// among themselves (between an integer and a floating type, the floating
// one, so float32 models stay float32). An operand of a lower rank only
// counts when its category (bool < integer < floating) is higher, and then
// gives its own type; a Python number gives its category's default type
// (int64, float32). So int32 + a 0-d int64 is int32, float16 + a 0-d
// float64 is float16, and int32 + a 0-d float64 is float64.
DType promote_types(DType a, DType b, Rank a_rank = Rank::Dimensioned,
                    Rank b_rank = Rank::Dimensioned);

// The type that float-only ops (exp, div, mean, ...) compute integers in.
constexpr DType kDefaultFloat = DType::Float32;

} // namespace devrt
