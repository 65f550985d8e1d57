#include "devrt/catalogue.h"

#include <sstream>
#include <unordered_map>

namespace devrt {

namespace {

std::vector<std::string> split_attrs(const char *s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty())
      out.push_back(item);
  return out;
}

const std::vector<OpDef> &defs() {
  static const std::vector<OpDef> table = {
#define DEVRT_OP(name, family, nin, nout, attrs, doc)                          \
  {OpId::name, #name, OpFamily::family, nin, nout, split_attrs(attrs), doc},
#include "devrt/ops.def"
#undef DEVRT_OP
  };
  return table;
}

} // namespace

const OpDef &op_def(OpId op) { return defs()[static_cast<size_t>(op)]; }
const char *op_name(OpId op) { return op_def(op).name; }

const char *family_name(OpFamily f) {
  switch (f) {
  case OpFamily::Unary:
    return "unary";
  case OpFamily::UnaryFloat:
    return "unary_float";
  case OpFamily::UnaryRound:
    return "unary_round";
  case OpFamily::UnaryLogical:
    return "unary_logical";
  case OpFamily::UnaryBitwise:
    return "unary_bitwise";
  case OpFamily::Binary:
    return "binary";
  case OpFamily::BinaryFloat:
    return "binary_float";
  case OpFamily::BinaryBitwise:
    return "binary_bitwise";
  case OpFamily::Compare:
    return "compare";
  case OpFamily::Where:
    return "where";
  case OpFamily::Reduce:
    return "reduce";
  case OpFamily::ArgReduce:
    return "arg_reduce";
  case OpFamily::Softmax:
    return "softmax";
  case OpFamily::Scan:
    return "scan";
  case OpFamily::Matmul:
    return "matmul";
  case OpFamily::Copy:
    return "copy";
  case OpFamily::Creation:
    return "creation";
  case OpFamily::Random:
    return "random";
  case OpFamily::Index:
    return "index";
  case OpFamily::Composite:
    return "composite";
  case OpFamily::Patch:
    return "patch";
  case OpFamily::Pool:
    return "pool";
  case OpFamily::Conv:
    return "conv";
  case OpFamily::View:
    return "view";
  case OpFamily::Optimizer:
    return "optimizer";
  case OpFamily::Fused:
    return "fused";
  }
  return "?";
}

bool op_from_name(const std::string &name, OpId *out) {
  static const std::unordered_map<std::string, OpId> by_name = [] {
    std::unordered_map<std::string, OpId> m;
    for (const OpDef &d : defs())
      m.emplace(d.name, d.id);
    return m;
  }();
  auto it = by_name.find(name);
  if (it == by_name.end())
    return false;
  *out = it->second;
  return true;
}

} // namespace devrt
