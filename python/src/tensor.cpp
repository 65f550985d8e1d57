// The Tensor class: attributes, views, conversions and creation functions.
#include "bindings.h"

#include "devrt/autograd.h"
#include "devrt/error.h"

namespace devrt::bind {

namespace {

Tensor grad_if(bool requires_grad, Tensor t) {
  if (requires_grad)
    autograd::set_requires_grad(t, true);
  return t;
}

int64_t dim_arg(const char *op, const Tensor &t, int64_t d) {
  return normalize_axis(op, d, t->ndim());
}

// .to(device), .to(dtype), .to(device, dtype), .to(other), keywords too.
Tensor to(const Tensor &t, py::args args, py::kwargs kw) {
  std::optional<Device> device;
  std::optional<DType> dtype;
  auto take = [&](py::handle h) {
    if (py::isinstance<TensorImpl>(h)) {
      Tensor o = h.cast<Tensor>();
      device = o->device;
      dtype = o->dtype;
    } else if (py::isinstance<py::str>(h) ||
               py::type::handle_of(h).attr("__name__").cast<std::string>() ==
                   "device") {
      device = to_device("to", h);
    } else if (!h.is_none()) {
      dtype = to_dtype("to", h);
    }
  };
  for (py::handle a : args)
    take(a);
  if (kw.contains("device") && !kw["device"].is_none())
    device = to_device("to", kw["device"]);
  if (kw.contains("dtype") && !kw["dtype"].is_none())
    dtype = to_dtype("to", kw["dtype"]);
  bool copy = kw.contains("copy") && kw["copy"].cast<bool>();
  Tensor r = t;
  if (device)
    r = to_device(r, *device);
  if (dtype)
    r = cast(r, *dtype);
  if (copy && r == t)
    r = clone(t);
  return r;
}

} // namespace

void init_tensor(py::module_ &m, py::class_<TensorImpl, Tensor> &cls) {
  cls.doc() = "An n-dimensional array on one device.";
  // Tensor(t) aliases t's memory (so that Python subclasses such as
  // nn.Parameter can wrap a tensor); Tensor(data) copies data.
  cls.def(
      py::init([](py::object data) -> Tensor {
        if (py::isinstance<TensorImpl>(data)) {
          return detach(data.cast<Tensor>());
        }
        return py::module_::import("devrt").attr("tensor")(data).cast<Tensor>();
      }),
      py::arg("data"),
      "Tensor(data) copies data (anything devrt.tensor takes); Tensor(t) of "
      "a tensor shares t's memory, without its autograd history.");
  cls.def_property_readonly(
         "shape", [](const Tensor &t) { return dims_tuple(t->shape); },
         "The size of each dimension, as a tuple.")
      .def_property_readonly(
          "dtype", [](const Tensor &t) { return dtype_object(t->dtype); },
          "The element type (devrt.float32 ...).")
      .def_property_readonly(
          "device", [](const Tensor &t) { return device_object(t->device); },
          "The device the tensor's memory is on.")
      .def_property_readonly(
          "ndim", [](const Tensor &t) { return t->ndim(); },
          "The number of dimensions.")
      .def_property_readonly(
          "is_cuda",
          [](const Tensor &t) {
            return backends()[t->device.type].name == "cuda";
          },
          "Whether the tensor is on a CUDA device.")
      .def_property_readonly(
          "itemsize", [](const Tensor &t) { return itemsize(t->dtype); },
          "The size of one element in bytes.")
      .def_property_readonly(
          "nbytes",
          [](const Tensor &t) { return t->numel() * itemsize(t->dtype); },
          "The size of the elements in bytes (numel() * itemsize).")
      .def_property_readonly(
          "_version",
          [](const Tensor &t) { return t->storage->version.load(); },
          "The storage's version counter: every in-place write adds one.")
      .def(
          "dim", [](const Tensor &t) { return t->ndim(); },
          "The number of dimensions.")
      .def(
          "numel", [](const Tensor &t) { return t->numel(); },
          "The number of elements.")
      .def(
          "element_size", [](const Tensor &t) { return itemsize(t->dtype); },
          "The size of one element in bytes.")
      .def(
          "size",
          [](const Tensor &t, py::object dim) -> py::object {
            if (dim.is_none())
              return dims_tuple(t->shape);
            return py::int_(t->shape[dim_arg("size", t, dim.cast<int64_t>())]);
          },
          py::arg("dim") = py::none(),
          "The shape as a tuple, or the size of dimension `dim`.")
      .def(
          "stride",
          [](const Tensor &t, py::object dim) -> py::object {
            if (dim.is_none())
              return dims_tuple(t->strides);
            return py::int_(
                t->strides[dim_arg("stride", t, dim.cast<int64_t>())]);
          },
          py::arg("dim") = py::none(),
          "The strides in elements as a tuple, or the stride of dimension "
          "`dim`.")
      .def(
          "storage_offset", [](const Tensor &t) { return t->offset; },
          "Where the first element lies in the storage, in elements.")
      .def(
          "data_ptr",
          [](const Tensor &t) {
            return reinterpret_cast<uintptr_t>(t->data_ptr());
          },
          "The address of the first element (a device address off the "
          "host).")
      .def(
          "is_contiguous", [](const Tensor &t) { return t->is_contiguous(); },
          "Whether the elements lie in row-major order without gaps.")
      .def(
          "_is_view_of",
          [](const Tensor &a, const Tensor &b) {
            return a->storage == b->storage;
          },
          "Whether the two tensors share one storage.")
      // views
      .def(
          "view",
          [](const Tensor &t, py::args shape) {
            if (shape.size() == 1 && !is_index(shape[0]) &&
                !py::isinstance<py::sequence>(shape[0]))
              return view_dtype(t, to_dtype("view", shape[0]));
            return view(t, dims_from_args("view", shape));
          },
          op_doc("A view of this tensor in a new shape, given as ints or one "
                 "sequence (one size may be -1), or of its bytes as another "
                 "dtype: view(dtype).",
                 OpId::reshape,
                 "Unlike reshape, view never copies: it raises where the "
                 "strides allow no view.")
              .c_str())
      .def(
          "reshape",
          [](const Tensor &t, py::args shape) {
            return reshape(t, dims_from_args("reshape", shape));
          },
          op_doc(OpId::reshape,
                 "The shape is given as ints or one sequence; one size may be "
                 "-1.")
              .c_str())
      .def("transpose", &transpose, py::arg("dim0"), py::arg("dim1"),
           "A view with dimensions dim0 and dim1 swapped.")
      .def("t", &devrt::t,
           "A view of a tensor of at most 2 dimensions with its two "
           "dimensions swapped (the tensor itself below 2).")
      .def_property_readonly(
          "T",
          [](const Tensor &x) {
            Dims p;
            for (int64_t i = x->ndim(); i-- > 0;)
              p.push_back(i);
            return permute(x, p);
          },
          "A view with every dimension in reverse order.")
      .def_property_readonly(
          "mT", [](const Tensor &x) { return transpose(x, -2, -1); },
          "A view with the last two dimensions swapped (a batch of "
          "transposed matrices).")
      .def(
          "permute",
          [](const Tensor &t, py::args dims) {
            return permute(t, dims_from_args("permute", dims));
          },
          op_doc(OpId::permute,
                 "The dims are given as ints or one sequence, a permutation "
                 "of the tensor's dimensions.")
              .c_str())
      .def(
          "expand",
          [](const Tensor &t, py::args shape) {
            return expand(t, dims_from_args("expand", shape));
          },
          op_doc(OpId::expand,
                 "The shape is given as ints or one sequence; -1 keeps a "
                 "dimension's size.")
              .c_str())
      .def(
          "expand_as",
          [](const Tensor &t, const Tensor &o) { return expand(t, o->shape); },
          py::arg("other"),
          op_doc(OpId::expand, "expand to other's shape.").c_str())
      .def(
          "squeeze",
          [](const Tensor &t, py::object dim) {
            return squeeze(t, to_axes("squeeze", dim));
          },
          py::arg("dim") = py::none(),
          "A view without the dimensions of size 1 (only those among `dim`, "
          "an int or a sequence, when given; others are kept).")
      .def("unsqueeze", &unsqueeze, py::arg("dim"),
           "A view with a dimension of size 1 inserted at `dim`.")
      .def("flatten", &flatten, py::arg("start_dim") = 0,
           py::arg("end_dim") = -1,
           "The dimensions start_dim to end_dim merged into one (a view where "
           "the strides allow one, else a copy).")
      .def("narrow", &narrow, py::arg("dim"), py::arg("start"),
           py::arg("length"),
           "A view of `length` elements from `start` (negative: from the end) "
           "along `dim`.")
      .def("contiguous", &contiguous,
           "This tensor when contiguous, else a contiguous copy.")
      .def("clone", &clone,
           "A copy in new contiguous memory; gradients flow back to this "
           "tensor.")
      .def("detach", &detach,
           "A tensor sharing this one's memory, without autograd history.")
      .def("_slice", &slice, py::arg("dim"), py::arg("start"), py::arg("stop"),
           py::arg("step"),
           op_doc(OpId::slice,
                  "start and stop may be None or negative (from the end) and "
                  "are clipped to the dimension; step is positive.")
               .c_str())
      .def(
          "_select", &select, py::arg("dim"), py::arg("index"),
          op_doc(OpId::select, "index may be negative (from the end).").c_str())
      // conversions
      .def("to", &to,
           "This tensor on another device and/or in another dtype: "
           "to(device), to(dtype), to(device, dtype), to(other) for other's "
           "device and dtype, or keywords device=, dtype=, copy=. Returns "
           "this tensor itself when nothing changes, unless copy=True.")
      .def(
          "cpu", [](const Tensor &t) { return to_device(t, kCPU); },
          "This tensor on the CPU (itself when already there).")
      .def(
          "cuda",
          [](const Tensor &t, int index) {
            return to_device(t, parse_device("cuda:" + std::to_string(index)));
          },
          py::arg("device") = 0,
          "This tensor on CUDA device `device` (itself when already there).")
      .def(
          "float", [](const Tensor &t) { return cast(t, DType::Float32); },
          "This tensor as float32 (itself when it already is).")
      .def(
          "double", [](const Tensor &t) { return cast(t, DType::Float64); },
          "This tensor as float64 (itself when it already is).")
      .def(
          "half", [](const Tensor &t) { return cast(t, DType::Float16); },
          "This tensor as float16 (itself when it already is).")
      .def(
          "bfloat16", [](const Tensor &t) { return cast(t, DType::BFloat16); },
          "This tensor as bfloat16 (itself when it already is).")
      .def(
          "int", [](const Tensor &t) { return cast(t, DType::Int32); },
          "This tensor as int32 (itself when it already is).")
      .def(
          "long", [](const Tensor &t) { return cast(t, DType::Int64); },
          "This tensor as int64 (itself when it already is).")
      .def(
          "bool", [](const Tensor &t) { return cast(t, DType::Bool); },
          "This tensor as bool, True where non-zero (itself when it already "
          "is).")
      .def(
          "type_as",
          [](const Tensor &t, const Tensor &o) { return cast(t, o->dtype); },
          py::arg("other"), "This tensor in other's dtype.")
      .def(
          "is_floating_point",
          [](const Tensor &t) { return is_floating(t->dtype); },
          "Whether the dtype is a floating type.")
      .def(
          "item",
          [](const Tensor &t) -> py::object {
            Scalar s = item(t);
            if (s.kind == Scalar::Bool)
              return py::bool_(s.i != 0);
            if (s.kind == Scalar::Int)
              return py::int_(s.i);
            return py::float_(s.f);
          },
          "The value of a one-element tensor as a Python bool, int or float.")
      .def(
          "copy_",
          [](const Tensor &t, py::handle src) {
            copy_(t, as_tensor("copy_", src, t));
            return t;
          },
          py::arg("src"),
          op_doc("Copy src into this tensor and return it.", OpId::copy,
                 "src: a tensor (of any device) or anything devrt.tensor "
                 "takes.")
              .c_str())
      .def(
          "fill_",
          [](const Tensor &t, py::handle v) {
            Scalar s;
            if (to_scalar(v, &s))
              fill_(t, s);
            else
              copy_(t, as_tensor("fill_", v, t));
            return t;
          },
          py::arg("value"),
          op_doc("Fill this tensor with value and return it.", OpId::fill,
                 "value: a number this tensor's dtype can hold, or a tensor "
                 "(copied in).")
              .c_str())
      .def(
          "zero_",
          [](const Tensor &t) {
            fill_(t, Scalar::from_int(0));
            return t;
          },
          op_doc("Fill this tensor with zeros and return it.", OpId::fill)
              .c_str());

  // Creation functions.
  auto dev = [](py::handle h) { return to_device("tensor", h); };
  auto dt = [](py::handle h, DType fallback) {
    std::optional<DType> t = to_optional_dtype("tensor", h);
    return t ? *t : fallback;
  };
  m.def(
      "empty",
      [=](py::args shape, py::object dtype, py::object device,
          bool requires_grad) {
        return grad_if(requires_grad,
                       empty(dims_from_args("empty", shape),
                             dt(dtype, DType::Float32), dev(device)));
      },
      py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "A new tensor of the given shape (ints or one sequence) whose elements "
      "are not initialised; dtype defaults to float32, device to the CPU.");
  m.def(
      "full",
      [=](py::object shape, py::object value, py::object dtype,
          py::object device, bool requires_grad) {
        Scalar s;
        if (!to_scalar(value, &s))
          fail(ErrorKind::Type, "[full] fill value must be a number, got ",
               py::repr(value).cast<std::string>());
        DType fallback =
            s.kind == Scalar::Float
                ? DType::Float32
                : (s.kind == Scalar::Int ? DType::Int64 : DType::Bool);
        if (is_index(shape)) // as PyTorch: full(2, v) is no full((2,), v)
          fail(ErrorKind::Type,
               "[full] argument 'size' must be a sequence of ints, got ",
               type_name(shape));
        return grad_if(requires_grad, full(to_dims("full", shape), s,
                                           dt(dtype, fallback), dev(device)));
      },
      py::arg("size"), py::arg("fill_value"), py::kw_only(),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false,
      op_doc("A new tensor of shape `size` (a sequence) filled with "
             "fill_value.",
             OpId::fill,
             "dtype defaults to the value's kind: float32, int64 or bool; the "
             "value must fit the dtype.")
          .c_str());
  for (auto [name, value] : {std::pair{"zeros", 0}, std::pair{"ones", 1}}) {
    int v = value;
    const char *n = name;
    m.def(
        name,
        [=](py::args shape, py::object dtype, py::object device,
            bool requires_grad) {
          return grad_if(requires_grad,
                         full(dims_from_args(n, shape), Scalar::from_int(v),
                              dt(dtype, DType::Float32), dev(device)));
        },
        py::kw_only(), py::arg("dtype") = py::none(),
        py::arg("device") = py::none(), py::arg("requires_grad") = false,
        op_doc(std::string("A new tensor of the given shape (ints or one "
                           "sequence) filled with ") +
                   (v ? "ones." : "zeros."),
               OpId::fill, "dtype defaults to float32.")
            .c_str());
  }
  m.def(
      "arange",
      [=](py::object first, py::object end_arg, py::object step,
          py::object start_arg, py::object dtype, py::object device,
          bool requires_grad) {
        // arange(end), arange(start, end[, step]), arange(end=...) and
        // arange(start=..., end=...). The first positional number is the
        // end when no end follows it, else the start. The unset marker
        // tells an omitted argument from an explicit None, which is
        // refused, as arange(start=2) without an end is (PyTorch's and
        // NumPy's reading).
        auto unset = [](const py::object &o) { return o.is(unset_arg()); };
        if (!unset(first) && !unset(start_arg))
          fail(ErrorKind::Type, "[arange] got start both by position and "
                                "as a keyword");
        py::object s = unset(start_arg) ? first : start_arg, e = end_arg;
        if (unset(e) && unset(start_arg))
          std::swap(s, e);
        if (unset(e))
          fail(ErrorKind::Type, "[arange] missing argument 'end'");
        Scalar start = Scalar::from_int(0), end, st;
        if (!to_scalar(e, &end))
          fail(ErrorKind::Type, "[arange] end must be a number, got ",
               type_name(e));
        if (!unset(s) && !to_scalar(s, &start))
          fail(ErrorKind::Type, "[arange] start must be a number, got ",
               type_name(s));
        if (!to_scalar(step, &st))
          fail(ErrorKind::Type, "[arange] step must be a number, got ",
               type_name(step));
        bool floating = start.kind == Scalar::Float ||
                        end.kind == Scalar::Float || st.kind == Scalar::Float;
        return grad_if(requires_grad, arange(start, end, st,
                                             dt(dtype, floating ? DType::Float32
                                                                : DType::Int64),
                                             dev(device)));
      },
      py::arg_v("start_or_end", unset_arg(), "<unset>"), py::pos_only(),
      py::arg_v("end", unset_arg(), "<unset>"), py::arg("step") = 1,
      py::kw_only(), py::arg_v("start", unset_arg(), "0"),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false,
      op_doc(OpId::arange,
             "arange(end) counts from 0. dtype defaults to float32 when any "
             "of start, end and step is a float, else int64; an integer dtype "
             "truncates start and step.")
          .c_str());
  m.def(
      "linspace",
      [=](py::object start_arg, py::object end_arg, py::object steps_arg,
          py::object dtype, py::object device, bool requires_grad) {
        // steps is an int or a NumPy integer, as PyTorch's. Where there are
        // values, start and end must fit the dtype (uint8 takes -2 as 254,
        // and refuses -1.5 or 300); no steps make an empty tensor whatever
        // they are, as in PyTorch.
        if (!is_index(steps_arg))
          fail(ErrorKind::Type, "[linspace] steps must be an int, got ",
               type_name(steps_arg));
        int overflow = 0;
        const int64_t steps = PyLong_AsLongLongAndOverflow(
            py::reinterpret_steal<py::object>(PyNumber_Index(steps_arg.ptr()))
                .ptr(),
            &overflow);
        if (overflow)
          fail(ErrorKind::Value, "[linspace] steps ",
               py::str(steps_arg).cast<std::string>(),
               " does not fit in int64");
        const DType t = dt(dtype, DType::Float32);
        // Each end the result holds must fit its dtype (one step holds
        // start only, none holds neither), as PyTorch checks them.
        auto end_point = [t](py::handle h, bool held) {
          Scalar s;
          if (!to_scalar(h, &s))
            s = Scalar::from_double(h.cast<double>());
          if (held)
            check_fill_value("linspace", s, t);
          return s.f;
        };
        const double start = end_point(start_arg, steps > 0),
                     end = end_point(end_arg, steps > 1);
        return grad_if(requires_grad,
                       linspace(start, end, steps, t, dev(device)));
      },
      py::arg("start"), py::arg("end"), py::arg("steps"), py::kw_only(),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false,
      "`steps` evenly spaced values from start to end, both included; dtype "
      "defaults to float32, and start and end must fit it.");
  m.def(
      "rand",
      [=](py::args shape, py::object dtype, py::object device,
          bool requires_grad) {
        return grad_if(requires_grad,
                       rand(dims_from_args("rand", shape),
                            dt(dtype, DType::Float32), dev(device)));
      },
      py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      op_doc("A new tensor of the given shape (ints or one sequence) of "
             "uniform values in [0, 1).",
             OpId::random_uniform,
             "Draws from the global generator (manual_seed); dtype defaults "
             "to float32.")
          .c_str());
  m.def(
      "randn",
      [=](py::args shape, py::object dtype, py::object device,
          bool requires_grad) {
        return grad_if(requires_grad,
                       randn(dims_from_args("randn", shape),
                             dt(dtype, DType::Float32), dev(device)));
      },
      py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      op_doc("A new tensor of the given shape (ints or one sequence) of "
             "standard normal values.",
             OpId::random_normal,
             "Draws from the global generator (manual_seed); dtype defaults "
             "to float32.")
          .c_str());
  m.def(
      "randint",
      [=](py::args args, py::object size, py::object dtype, py::object device) {
        // randint(high, size) or randint(low, high, size)
        int64_t low = 0, high;
        py::object shape = size;
        size_t n = args.size();
        if (shape.is_none() && n >= 2) {
          shape = args[n - 1];
          --n;
        }
        if (n == 1) {
          high = args[0].cast<int64_t>();
        } else if (n == 2) {
          low = args[0].cast<int64_t>();
          high = args[1].cast<int64_t>();
        } else {
          fail(ErrorKind::Type,
               "[randint] expected randint(high, size) or randint(low, high, "
               "size)");
        }
        if (shape.is_none())
          fail(ErrorKind::Type, "[randint] missing the size argument");
        return randint(low, high, to_dims("randint", shape),
                       dt(dtype, DType::Int64), dev(device));
      },
      py::kw_only(), py::arg("size") = py::none(),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      op_doc("randint(high, size) or randint(low, high, size): a new tensor "
             "of shape `size` of uniform integers in [low, high), low "
             "defaulting to 0.",
             OpId::random_integers,
             "Draws from the global generator (manual_seed); dtype defaults "
             "to int64.")
          .c_str());
  m.def(
      "manual_seed", [](uint64_t s) { manual_seed(s); }, py::arg("seed"),
      "Restart the global random generator from `seed`.");
  m.def("initial_seed", &initial_seed,
        "The seed the global random generator started from.");
  m.def(
      "_scalar_tensor",
      [](py::handle v, py::object dtype, py::object device) {
        Scalar s;
        if (!to_scalar(v, &s))
          fail(ErrorKind::Type,
               "[tensor] not a number: ", py::repr(v).cast<std::string>());
        std::optional<DType> t = to_optional_dtype("tensor", dtype);
        DType d =
            t ? *t
              : (s.kind == Scalar::Float
                     ? DType::Float32
                     : (s.kind == Scalar::Int ? DType::Int64 : DType::Bool));
        Tensor r = scalar_tensor(s, d, to_device("tensor", device));
        r->wrapped_number = false;
        return r;
      },
      py::arg("value"), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(),
      "A 0-d tensor holding the number `value` (devrt.tensor of a number); "
      "dtype defaults to float32, int64 or bool by the number's kind.");
}

} // namespace devrt::bind
