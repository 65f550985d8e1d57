// The op catalogue: one declaration per op (ops.def), queryable at run time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace devrt {

enum class OpId : int16_t {
#define DEVRT_OP(name, family, nin, nout, attrs, doc) name,
#include "devrt/ops.def"
#undef DEVRT_OP
  NumOps
};
constexpr int kNumOps = static_cast<int>(OpId::NumOps);

enum class OpFamily : int8_t {
  Unary,         // numeric in, same dtype out
  UnaryFloat,    // integers are computed in the default float type
  UnaryRound,    // floor/ceil/round: identity on integers
  UnaryLogical,  // any dtype in, bool out
  UnaryBitwise,  // bool and integers only
  Binary,        // promoted dtype in and out
  BinaryFloat,   // like Binary, integers promoted to the default float
  BinaryBitwise, // bool and integers only
  Compare,       // promoted dtype in, bool out
  Where,
  Reduce,
  ArgReduce,
  Softmax,
  Scan, // along one axis, the input's shape out
  Matmul,
  Copy,
  Creation,
  Random,
  Index,
  Patch,     // im2col/col2im
  Pool,      // optional: the core falls back to Patch and Reduce ops
  Conv,      // optional: the core falls back to Patch and Matmul ops
  Composite, // no kernel: built from other ops
  View,      // no kernel: a new view of the input's storage
  Optimizer, // optional: one in-place update of a parameter and its state
  Fused,     // optional: one pass for what the core otherwise does in several
};

struct OpDef {
  OpId id;
  const char *name;
  OpFamily family;
  int num_inputs; // -1: variadic
  int num_outputs;
  std::vector<std::string> attrs;
  const char *doc; // what the op computes, one or two sentences (ops.def)
};

const OpDef &op_def(OpId op);
const char *op_name(OpId op);
const char *family_name(OpFamily f);
// Returns false for an unknown name.
bool op_from_name(const std::string &name, OpId *out);

} // namespace devrt
