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

// Result type of a binary op. A "weak" operand is a Python number: it only
// raises the category (bool < integer < floating), never the width, as in
// NumPy 2 and PyTorch. Between two tensors, an integer and a floating type
// give the floating one (as PyTorch), so float32 models stay float32.
DType promote_types(DType a, DType b, bool a_weak = false, bool b_weak = false);

// The type that float-only ops (exp, div, mean, ...) compute integers in.
constexpr DType kDefaultFloat = DType::Float32;

} // namespace devrt
