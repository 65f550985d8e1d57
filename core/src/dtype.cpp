#include "devrt/dtype.h"

#include <cstring>

namespace devrt {

namespace {
struct DTypeInfo {
  const char *name;
  size_t size;
};
constexpr DTypeInfo kInfo[kNumDTypes] = {
    {"bool", 1},    {"uint8", 1},    {"int32", 4},   {"int64", 8},
    {"float16", 2}, {"bfloat16", 2}, {"float32", 4}, {"float64", 8},
};

int category(DType t) {
  return is_floating(t) ? 2 : (t == DType::Bool ? 0 : 1);
}

// Promotion between two types of the same category, as NumPy: the wider one;
// float16 with bfloat16 and uint8 with a signed type need a wider type.
DType promote_same_category(DType a, DType b) {
  if (a == b)
    return a;
  if ((a == DType::Float16 && b == DType::BFloat16) ||
      (a == DType::BFloat16 && b == DType::Float16))
    return DType::Float32;
  // Numbering already orders widths within a category; uint8 with int32/64
  // is representable in the signed type.
  return static_cast<int>(a) > static_cast<int>(b) ? a : b;
}
} // namespace

size_t itemsize(DType t) { return kInfo[static_cast<int>(t)].size; }
const char *dtype_name(DType t) { return kInfo[static_cast<int>(t)].name; }

bool dtype_from_name(const std::string &name, DType *out) {
  for (int i = 0; i < kNumDTypes; ++i) {
    if (name == kInfo[i].name) {
      *out = static_cast<DType>(i);
      return true;
    }
  }
  // devrt's aliases (devrt.float is float32, as torch.float), which NumPy
  // would read otherwise ("float" is float64 there).
  static const struct {
    const char *name;
    DType t;
  } kAliases[] = {{"float", DType::Float32},
                  {"double", DType::Float64},
                  {"half", DType::Float16},
                  {"long", DType::Int64},
                  {"int", DType::Int32}};
  for (const auto &a : kAliases) {
    if (name == a.name) {
      *out = a.t;
      return true;
    }
  }
  return false;
}

DType promote_types(DType a, DType b, Rank a_rank, Rank b_rank) {
  if (a_rank == b_rank)
    return category(a) == category(b) ? promote_same_category(a, b)
                                      : (category(a) > category(b) ? a : b);
  const bool a_strong = a_rank > b_rank;
  DType strong = a_strong ? a : b;
  DType weak = a_strong ? b : a;
  if (category(weak) <= category(strong))
    return strong;
  if ((a_strong ? b_rank : a_rank) == Rank::ZeroDim)
    return weak;
  // A number of a higher category: its category's default type.
  return category(weak) == 2 ? kDefaultFloat : DType::Int64;
}

} // namespace devrt
