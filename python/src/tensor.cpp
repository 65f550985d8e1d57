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
      py::arg("data"));
  cls.def_property_readonly(
         "shape", [](const Tensor &t) { return dims_tuple(t->shape); })
      .def_property_readonly(
          "dtype", [](const Tensor &t) { return dtype_object(t->dtype); })
      .def_property_readonly(
          "device", [](const Tensor &t) { return device_object(t->device); })
      .def_property_readonly("ndim", [](const Tensor &t) { return t->ndim(); })
      .def_property_readonly("is_cuda",
                             [](const Tensor &t) {
                               return backends()[t->device.type].name == "cuda";
                             })
      .def_property_readonly("itemsize",
                             [](const Tensor &t) { return itemsize(t->dtype); })
      .def_property_readonly(
          "nbytes",
          [](const Tensor &t) { return t->numel() * itemsize(t->dtype); })
      .def_property_readonly(
          "_version",
          [](const Tensor &t) { return t->storage->version.load(); })
      .def("dim", [](const Tensor &t) { return t->ndim(); })
      .def("numel", [](const Tensor &t) { return t->numel(); })
      .def("element_size", [](const Tensor &t) { return itemsize(t->dtype); })
      .def(
          "size",
          [](const Tensor &t, py::object dim) -> py::object {
            if (dim.is_none())
              return dims_tuple(t->shape);
            return py::int_(t->shape[dim_arg("size", t, dim.cast<int64_t>())]);
          },
          py::arg("dim") = py::none())
      .def(
          "stride",
          [](const Tensor &t, py::object dim) -> py::object {
            if (dim.is_none())
              return dims_tuple(t->strides);
            return py::int_(
                t->strides[dim_arg("stride", t, dim.cast<int64_t>())]);
          },
          py::arg("dim") = py::none())
      .def("storage_offset", [](const Tensor &t) { return t->offset; })
      .def("data_ptr",
           [](const Tensor &t) {
             return reinterpret_cast<uintptr_t>(t->data_ptr());
           })
      .def("is_contiguous", [](const Tensor &t) { return t->is_contiguous(); })
      .def("_is_view_of",
           [](const Tensor &a, const Tensor &b) {
             return a->storage == b->storage;
           })
      // views
      .def("view",
           [](const Tensor &t, py::args shape) {
             if (shape.size() == 1 && !is_index(shape[0]) &&
                 !py::isinstance<py::sequence>(shape[0]))
               return view_dtype(t, to_dtype("view", shape[0]));
             return view(t, dims_from_args("view", shape));
           })
      .def("reshape",
           [](const Tensor &t, py::args shape) {
             return reshape(t, dims_from_args("reshape", shape));
           })
      .def("transpose", &transpose, py::arg("dim0"), py::arg("dim1"))
      .def("t", &devrt::t)
      .def_property_readonly("T",
                             [](const Tensor &x) {
                               Dims p;
                               for (int64_t i = x->ndim(); i-- > 0;)
                                 p.push_back(i);
                               return permute(x, p);
                             })
      .def_property_readonly(
          "mT", [](const Tensor &x) { return transpose(x, -2, -1); })
      .def("permute",
           [](const Tensor &t, py::args dims) {
             return permute(t, dims_from_args("permute", dims));
           })
      .def("expand",
           [](const Tensor &t, py::args shape) {
             return expand(t, dims_from_args("expand", shape));
           })
      .def(
          "expand_as",
          [](const Tensor &t, const Tensor &o) { return expand(t, o->shape); },
          py::arg("other"))
      .def(
          "squeeze",
          [](const Tensor &t, py::object dim) {
            return squeeze(t, to_axes("squeeze", dim));
          },
          py::arg("dim") = py::none())
      .def("unsqueeze", &unsqueeze, py::arg("dim"))
      .def("flatten", &flatten, py::arg("start_dim") = 0,
           py::arg("end_dim") = -1)
      .def("narrow", &narrow, py::arg("dim"), py::arg("start"),
           py::arg("length"))
      .def("contiguous", &contiguous)
      .def("clone", &clone)
      .def("detach", &detach)
      .def("_slice", &slice, py::arg("dim"), py::arg("start"), py::arg("stop"),
           py::arg("step"))
      .def("_select", &select, py::arg("dim"), py::arg("index"))
      // conversions
      .def("to", &to)
      .def("cpu", [](const Tensor &t) { return to_device(t, kCPU); })
      .def(
          "cuda",
          [](const Tensor &t, int index) {
            return to_device(t, parse_device("cuda:" + std::to_string(index)));
          },
          py::arg("device") = 0)
      .def("float", [](const Tensor &t) { return cast(t, DType::Float32); })
      .def("double", [](const Tensor &t) { return cast(t, DType::Float64); })
      .def("half", [](const Tensor &t) { return cast(t, DType::Float16); })
      .def("bfloat16", [](const Tensor &t) { return cast(t, DType::BFloat16); })
      .def("int", [](const Tensor &t) { return cast(t, DType::Int32); })
      .def("long", [](const Tensor &t) { return cast(t, DType::Int64); })
      .def("bool", [](const Tensor &t) { return cast(t, DType::Bool); })
      .def(
          "type_as",
          [](const Tensor &t, const Tensor &o) { return cast(t, o->dtype); },
          py::arg("other"))
      .def("is_floating_point",
           [](const Tensor &t) { return is_floating(t->dtype); })
      .def("item",
           [](const Tensor &t) -> py::object {
             Scalar s = item(t);
             if (s.kind == Scalar::Bool)
               return py::bool_(s.i != 0);
             if (s.kind == Scalar::Int)
               return py::int_(s.i);
             return py::float_(s.f);
           })
      .def(
          "copy_",
          [](const Tensor &t, py::handle src) {
            copy_(t, as_tensor("copy_", src, t));
            return t;
          },
          py::arg("src"))
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
          py::arg("value"))
      .def("zero_", [](const Tensor &t) {
        fill_(t, Scalar::from_int(0));
        return t;
      });

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
      py::arg("device") = py::none(), py::arg("requires_grad") = false);
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
      py::arg("requires_grad") = false);
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
        py::arg("device") = py::none(), py::arg("requires_grad") = false);
  }
  m.def(
      "arange",
      [=](py::object a, py::object b, py::object step, py::object dtype,
          py::object device, bool requires_grad) {
        Scalar start, end, st;
        if (b.is_none()) {
          start = Scalar::from_int(0);
          if (!to_scalar(a, &end))
            fail(ErrorKind::Type, "[arange] end must be a number");
        } else if (!to_scalar(a, &start) || !to_scalar(b, &end)) {
          fail(ErrorKind::Type, "[arange] start and end must be numbers");
        }
        if (!to_scalar(step, &st))
          fail(ErrorKind::Type, "[arange] step must be a number");
        bool floating = start.kind == Scalar::Float ||
                        end.kind == Scalar::Float || st.kind == Scalar::Float;
        return grad_if(requires_grad, arange(start, end, st,
                                             dt(dtype, floating ? DType::Float32
                                                                : DType::Int64),
                                             dev(device)));
      },
      py::arg("start"), py::arg("end") = py::none(), py::arg("step") = 1,
      py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def(
      "linspace",
      [=](py::object start_arg, py::object end_arg, py::object steps_arg,
          py::object dtype, py::object device, bool requires_grad) {
        // As PyTorch, start and end must fit the dtype (uint8 takes -2 as
        // 254, and refuses -1.5 or 300).
        const DType t = dt(dtype, DType::Float32);
        auto end_point = [t](py::handle h) {
          Scalar s;
          if (!to_scalar(h, &s))
            s = Scalar::from_double(h.cast<double>());
          check_fill_value("linspace", s, t);
          return s.f;
        };
        const double start = end_point(start_arg), end = end_point(end_arg);
        if (py::isinstance<py::bool_>(steps_arg) ||
            !py::isinstance<py::int_>(steps_arg))
          fail(ErrorKind::Type, "[linspace] steps must be an int, got ",
               py::type::of(steps_arg).attr("__name__").cast<std::string>());
        const int64_t steps = steps_arg.cast<int64_t>();
        return grad_if(requires_grad,
                       linspace(start, end, steps, t, dev(device)));
      },
      py::arg("start"), py::arg("end"), py::arg("steps"), py::kw_only(),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false);
  m.def(
      "rand",
      [=](py::args shape, py::object dtype, py::object device,
          bool requires_grad) {
        return grad_if(requires_grad,
                       rand(dims_from_args("rand", shape),
                            dt(dtype, DType::Float32), dev(device)));
      },
      py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def(
      "randn",
      [=](py::args shape, py::object dtype, py::object device,
          bool requires_grad) {
        return grad_if(requires_grad,
                       randn(dims_from_args("randn", shape),
                             dt(dtype, DType::Float32), dev(device)));
      },
      py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false);
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
      py::arg("dtype") = py::none(), py::arg("device") = py::none());
  m.def("manual_seed", [](uint64_t s) { manual_seed(s); }, py::arg("seed"));
  m.def("initial_seed", &initial_seed);
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
      py::arg("device") = py::none());
}

} // namespace devrt::bind
