// Partial shapes and the notation of shapes in shape errors.
#include "devrt/shape.h"

namespace devrt {

bool ShapeRef::fully_known() const {
  if (!known_rank)
    return false;
  for (int64_t d : *this)
    if (d < 0)
      return false;
  return true;
}

bool PartialShape::fully_known() const { return ShapeRef(*this).fully_known(); }

bool PartialShape::admits(const Dims &d) const {
  if (!known_rank)
    return true;
  if (d.size() != dims.size())
    return false;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] >= 0 && dims[i] != d[i])
      return false;
  return true;
}

bool PartialShape::compatible(const PartialShape &o) const {
  if (!known_rank || !o.known_rank)
    return true;
  if (dims.size() != o.dims.size())
    return false;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] >= 0 && o.dims[i] >= 0 && dims[i] != o.dims[i])
      return false;
  return true;
}

std::string PartialShape::str() const {
  if (!known_rank)
    return "<unknown>";
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < dims.size(); ++i) {
    os << (i ? ", " : "");
    if (dims[i] < 0)
      os << '?';
    else
      os << dims[i];
  }
  if (dims.size() == 1)
    os << ',';
  os << ')';
  return os.str();
}

void ShapeErrors::put(std::ostringstream &os, ShapeRef s) const {
  if (context_) {
    os << s.partial().str();
    return;
  }
  // An eager shape: every size known, written as a list.
  os << '[';
  for (size_t i = 0; i < s.size; ++i)
    os << (i ? ", " : "") << s[i];
  os << ']';
}

} // namespace devrt
