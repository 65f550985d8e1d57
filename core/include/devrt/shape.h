// Shapes known in part, and the shape inference of the op families, written
// once: an eager op runs it on its tensors' shapes when it is called, a graph
// node on partial shapes when it is built (and again on the values' shapes
// where the rank was unknown then).
//
// A size of -1 is unknown, and so may be the rank. Every function here
// raises through a ShapeErrors, which gives its messages the reporting
// surface's prefix and shape notation.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>

#include "devrt/error.h"
#include "devrt/small_vector.h"

namespace devrt {

// A shape known in part: the rank may be unknown, and so may any dimension
// (-1). The sizes are held inline, as a tensor's.
struct PartialShape {
  bool known_rank = false;
  Dims dims;

  static PartialShape unknown() { return {}; }
  static PartialShape of(const Dims &d) { return {true, d}; }
  static PartialShape of_rank(size_t rank) { return {true, Dims(rank, -1)}; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  bool fully_known() const;
  // Whether a concrete shape fits: same rank, equal known dimensions.
  bool admits(const Dims &d) const;
  // Whether some concrete shape fits both.
  bool compatible(const PartialShape &o) const;
  Dims concrete() const { return dims; } // only when fully_known()
  std::string str() const;               // "(?, 3)", "<unknown>"
};

// What the inference functions read: a tensor's shape or a partial shape,
// without copying either.
struct ShapeRef {
  const int64_t *data = nullptr;
  size_t size = 0;
  bool known_rank = false;

  ShapeRef() = default;
  ShapeRef(const Dims &d) : data(d.data()), size(d.size()), known_rank(true) {}
  ShapeRef(const PartialShape &s)
      : data(s.dims.data()), size(s.dims.size()), known_rank(s.known_rank) {}
  // The first `size` sizes of a shape (its batch dimensions, say).
  ShapeRef(const int64_t *d, size_t n) : data(d), size(n), known_rank(true) {}
  int64_t rank() const { return static_cast<int64_t>(size); }
  int64_t operator[](size_t i) const { return data[i]; }
  const int64_t *begin() const { return data; }
  const int64_t *end() const { return data + size; }
  bool fully_known() const;
  PartialShape partial() const {
    return known_rank ? PartialShape{true, Dims(begin(), end())}
                      : PartialShape::unknown();
  }
};

// Who reports a shape error. An eager op's messages start with "[op]" and
// write shapes as lists ([2, 3]); a graph node's start with its context
// ("[MatMul 'dense/MatMul']") and write shapes as tuples with unknown sizes
// as ? ((?, 3)). Shapes passed to fail() as ShapeRef or PartialShape take the
// reporter's notation.
class ShapeErrors {
public:
  // The prefix of a graph node's messages, read only when one is raised.
  using Context = std::string (*)(const void *node);

  explicit ShapeErrors(const char *op) : op_(op) {}
  ShapeErrors(Context context, const void *node)
      : context_(context), node_(node) {}

  template <class... Args>
  [[noreturn]] void fail(ErrorKind kind, const Args &...args) const {
    std::ostringstream os;
    if (context_)
      os << context_(node_) << ' ';
    else
      os << '[' << op_ << "] ";
    (put(os, args), ...);
    throw Error(kind, os.str());
  }

private:
  void put(std::ostringstream &os, ShapeRef s) const;
  void put(std::ostringstream &os, const PartialShape &s) const {
    put(os, ShapeRef(s));
  }
  template <class T> void put(std::ostringstream &os, const T &v) const {
    os << v;
  }

  const char *op_ = nullptr;
  Context context_ = nullptr;
  const void *node_ = nullptr;
};

// --- broadcasting (elementwise.cpp) -----------------------------------------

// NumPy broadcasting. An unknown size meeting a known one other than 1 takes
// it (they must be equal when the op runs); an unknown rank gives one.
PartialShape broadcast_shape(const ShapeErrors &err, ShapeRef a, ShapeRef b);
// where(cond, a, b): the three broadcast together.
PartialShape where_shape(const ShapeErrors &err, ShapeRef cond, ShapeRef a,
                         ShapeRef b);

// --- reductions and axes (reduce.cpp) ---------------------------------------

// `axis` of a rank-`rank` shape, counted from the end when negative. A 0-d
// shape takes axis 0 and -1 when scalar_axis (PyTorch), none otherwise
// (TensorFlow). Raises IndexError out of range.
int64_t normalize_axis(const ShapeErrors &err, int64_t axis, int64_t rank,
                       bool scalar_axis = true);
// Each of `axes` normalised, sorted; raises ValueError for a repeat.
Dims normalize_axes(const ShapeErrors &err, const Dims &axes, int64_t rank,
                    bool scalar_axis = true);
// A reduction over `axes` (every axis when nullopt), which stay as size 1
// when keepdim. A 0-d x reduces over no axis. `normalized`, when given,
// receives the reduced axes, sorted (left empty for an unknown rank).
PartialShape reduce_shape(const ShapeErrors &err, ShapeRef x,
                          const std::optional<Dims> &axes, bool keepdim,
                          bool scalar_axis = true, Dims *normalized = nullptr);
// argmax/argmin along `axis`, or over every element when nullopt (then a
// 0-d result, or all ones when keepdim).
PartialShape arg_reduce_shape(const ShapeErrors &err, ShapeRef x,
                              std::optional<int64_t> axis, bool keepdim,
                              bool scalar_axis = true);
// An op that keeps x's shape and works along `axis` (softmax, log_softmax,
// cumsum): the axis normalised, -1 when x's rank is unknown.
int64_t axis_of(const ShapeErrors &err, ShapeRef x, int64_t axis,
                bool scalar_axis = true);

// topk along `axis`: x with k entries there, k in [0, size] (a 0-d x has
// one entry, at axis 0, when scalar_axis; TensorFlow's TopKV2 takes no 0-d
// input). `normalized`, when given, receives the axis (-1 for an unknown
// rank).
PartialShape topk_shape(const ShapeErrors &err, ShapeRef x, int64_t k,
                        int64_t axis, bool scalar_axis = true,
                        int64_t *normalized = nullptr);

// --- matmul (matmul.cpp) -----------------------------------------------------

// NumPy's matmul: a 1-D a is a row and a 1-D b a column, whose added
// dimension the result drops; the dimensions before the last two broadcast.
// transpose_a/transpose_b swap the last two dimensions of an operand of
// rank 2 or more first (the graph's MatMul attributes).
PartialShape matmul_shape(const ShapeErrors &err, ShapeRef a, ShapeRef b,
                          bool transpose_a = false, bool transpose_b = false);

// --- joining (join.cpp) ------------------------------------------------------

// cat of n shapes: one rank (at least 1), equal sizes except along `axis`,
// where they add up. When skip_empty (PyTorch), a 1-D shape of size 0 joins
// any (it is skipped); TensorFlow's ConcatV2 makes no such exception. A
// shape of unknown rank is checked when it is known and makes the size
// along the axis unknown.
PartialShape cat_shape(const ShapeErrors &err, const ShapeRef *shapes, size_t n,
                       int64_t axis, bool skip_empty = true);
// take (GatherV2) of `indices` along `axis` of x: x's shape with the axis
// replaced by the indices' shape. `normalized`, when given, receives the
// axis (-1 while a rank is unknown). TensorFlow's axis of a 0-d x is none
// (scalar_axis false).
PartialShape take_shape(const ShapeErrors &err, ShapeRef x, ShapeRef indices,
                        int64_t axis, bool scalar_axis = true,
                        int64_t *normalized = nullptr);
// stack of n equal shapes: a new axis of size n at `axis`.
PartialShape stack_shape(const ShapeErrors &err, const ShapeRef *shapes,
                         size_t n, int64_t axis);

// --- views (shape.cpp) -------------------------------------------------------

// x's axes in the order `perm` gives (each axis once, negative ones counted
// from the end). `normalized`, when given, receives perm normalised.
PartialShape permute_shape(const ShapeErrors &err, ShapeRef x, const Dims &perm,
                           Dims *normalized = nullptr);
// x with an axis of size 1 inserted at `axis` (an axis of the result).
PartialShape unsqueeze_shape(const ShapeErrors &err, ShapeRef x, int64_t axis);
// x without its size-1 axes among `axes` (every axis when nullopt). A
// listed axis of another size is kept (PyTorch), or raises when strict
// (TensorFlow; an unknown size is then taken to be 1). `kept`, when given,
// receives the axes of x that stay.
PartialShape squeeze_shape(const ShapeErrors &err, ShapeRef x,
                           const std::optional<Dims> &axes, bool strict,
                           bool scalar_axis = true, Dims *kept = nullptr);
// `shape` with its one -1 resolved from x's element count, which must equal
// the shape's. Left unknown while x's size is.
PartialShape reshape_shape(const ShapeErrors &err, ShapeRef x,
                           const Dims &shape);

} // namespace devrt
