// Exceptions thrown by the core. Each carries a kind that the bindings map
// onto the Python exception users already catch (ValueError, IndexError, ...).
// Messages start with the op name in brackets: "[matmul] ...".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "devrt/c_api.h"
#include "devrt/small_vector.h"

namespace devrt {

enum class ErrorKind {
  Runtime = DEVRT_ERROR_RUNTIME,
  Value = DEVRT_ERROR_VALUE,
  Index = DEVRT_ERROR_INDEX,
  Type = DEVRT_ERROR_TYPE,
  NotImplemented = DEVRT_ERROR_NOT_IMPLEMENTED,
  OutOfMemory = DEVRT_ERROR_OUT_OF_MEMORY,
};

class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string &message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

private:
  ErrorKind kind_;
};

namespace detail {
inline void append(std::ostringstream &) {}
template <class T, class... Rest>
void append(std::ostringstream &os, const T &v, const Rest &...rest) {
  os << v;
  append(os, rest...);
}
} // namespace detail

// fail(ErrorKind::Value, "[op] shapes ", a, " and ", b, " ...")
template <class... Args>
[[noreturn]] void fail(ErrorKind kind, const Args &...args) {
  std::ostringstream os;
  detail::append(os, args...);
  throw Error(kind, os.str());
}

inline std::ostream &operator<<(std::ostream &os, const Dims &d) {
  os << '[';
  for (size_t i = 0; i < d.size(); ++i)
    os << (i ? ", " : "") << d[i];
  return os << ']';
}

} // namespace devrt
