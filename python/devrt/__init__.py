"""devrt: a deep-learning runtime with a C++ core and plugin device backends.

``import devrt`` gives PyTorch-style tensors; every numeric operation runs
as an op of the core's catalogue on the tensor's device.
"""

from __future__ import annotations

import importlib as _importlib

from devrt import (  # noqa: F401
    _C,
    _pyops,
    autograd,
    return_types,
)
from devrt._C import (  # noqa: F401 - the public surface
    OutOfMemoryError,
    Tensor,
    abs,
    add,
    all,
    amax,
    amin,
    any,
    arange,
    argmax,
    argmin,
    bfloat16,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    bmm,
    bool,  # noqa: F401,A004 - devrt.bool mirrors torch.bool
    broadcast_shapes,
    cat,
    ceil,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    conv2d,
    cos,
    device,
    div,
    divide,
    dtype,
    dtype_from_name,
    empty,
    empty_cache,
    eq,
    erf,
    exp,
    expm1,
    flatten,
    float16,
    float32,
    float64,
    floor,
    floor_divide,
    from_dlpack,
    from_numpy,
    full,
    gather,
    ge,
    gt,
    index_select,
    initial_seed,
    int32,
    int64,
    le,
    linspace,
    log,
    log1p,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    manual_seed,
    masked_fill,
    matmul,
    maximum,
    mean,
    memory_stats,
    minimum,
    mm,
    mul,
    multiply,
    ne,
    neg,
    negative,
    nonzero,
    ones,
    permute,
    pow,
    prod,
    rand,
    randint,
    randn,
    reciprocal,
    relu,
    remainder,
    reset_peak_memory_stats,
    reshape,
    round,
    rsqrt,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    subtract,
    sum,
    synchronize,
    t,
    tan,
    tanh,
    transpose,
    true_divide,
    uint8,
    unsqueeze,
    var,
    zeros,
)
from devrt._einsum import einsum  # noqa: F401
from devrt._errors import public_op as _public_op
from devrt._pyops import _max as max  # noqa: F401,A004 - torch.max
from devrt._pyops import _min as min  # noqa: F401,A004 - torch.min
from devrt._pyops import (  # noqa: F401
    addmm,
    allclose,
    argsort,
    cumsum,
    dot,
    equal,
    eye,
    flip,
    inference_mode,
    isclose,
    isfinite,
    isinf,
    isnan,
    logsumexp,
    outer,
    randperm,
    roll,
    select,
    sort,
    topk,
    tril,
    triu,
    unbind,
    where,
)
from devrt._tensor import (  # noqa: F401
    as_tensor,
    empty_like,
    full_like,
    ones_like,
    rand_like,
    randn_like,
    tensor,
    zeros_like,
)
from devrt.autograd.grad_mode import (  # noqa: F401
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from devrt.fallback import (  # noqa: F401
    get_fallback,
    placement_report,
    reset_placement_report,
    set_fallback,
)
from devrt.hookspecs import hookimpl  # noqa: F401
from devrt.native_api import get_cmake_dir, get_include, get_library  # noqa: F401
from devrt.plugins import plugin_status, register_plugin  # noqa: F401

# The bindings define every elementwise op of the catalogue under its name
# (python/src/ops.cpp); those not listed above are devrt functions too.
_ELEMENTWISE = (
    "unary",
    "unary_float",
    "unary_round",
    "unary_logical",
    "unary_bitwise",
    "binary",
    "binary_float",
    "binary_bitwise",
    "compare",
)
for _op in _C.catalogue():
    if _op["family"] in _ELEMENTWISE and hasattr(_C, _op["name"]):
        globals().setdefault(_op["name"], getattr(_C, _op["name"]))
arctan2 = globals()["atan2"]
del _op

__version__ = "0.1.0"

long = int64
half = float16
double = float64
float = float32  # noqa: A001 - torch.float is float32
int = int32  # noqa: A001 - torch.int is int32


@_public_op
def is_tensor(obj: object) -> bool:
    """True for devrt tensors."""
    return isinstance(obj, Tensor)


@_public_op
def numel(input: Tensor) -> int:
    """The number of elements of `input`."""
    return input.numel()


@_public_op
def get_num_threads() -> int:
    """The threads devrt's CPU kernels split work over (the caller
    included): ``DEVRT_NUM_THREADS``, else the CPUs this process may use."""
    return _C.num_threads()


@_public_op
def set_num_threads(n: int) -> None:
    """Use `n` threads (at least 1) for the CPU kernels from now on."""
    _C.set_num_threads(_pyops._operator_index("set_num_threads", n))


@_public_op
def catalogue() -> list[dict]:
    """Every op of the core's catalogue, one dict each, in declaration order:

    - ``name``: the op's name (``"add"``, ``"matmul"``, ``"im2col"``), as
      kernels are registered for it and graph nodes refer to it;
    - ``family``: its op family (``"unary"``, ``"binary"``, ``"reduce"``,
      ``"matmul"``, ...). ``"composite"`` ops are built by the core from
      other ops and ``"view"`` ops only make views: neither takes kernels;
    - ``num_inputs``, ``num_outputs``: how many tensors its kernel receives
      and writes (-1 for a variable count);
    - ``attrs``: the names of its attributes, in the order a kernel gets
      them (docs/kernels.md gives their types);
    - ``doc``: what the op computes, in a sentence or two (its line in
      ``core/include/devrt/ops.def``; the docstrings of the functions that
      run it start with the same words);
    - ``kernels``: ``{device type: [dtype names]}``, the dtypes each
      registered backend declared for it: the capability manifest.

    The table is read anew on each call, so it shows backends registered
    since. ``devrt backends --ops`` prints it as a markdown matrix."""
    return _C.catalogue()


def _bootstrap() -> None:
    from devrt import _tensor, plugins

    _tensor._install()
    plugins.load_plugins()


_bootstrap()
del _bootstrap

# The front-end packages build on the names above, so they load last.
nn = _importlib.import_module("devrt.nn")
optim = _importlib.import_module("devrt.optim")
utils = _importlib.import_module("devrt.utils")
save = _importlib.import_module("devrt.serialization").save
load = _importlib.import_module("devrt.serialization").load
onnx = _importlib.import_module("devrt.onnx")  # (imports the onnx package only to export)
cuda = _importlib.import_module("devrt.cuda")
# Called, the device types the core knows; its submodules hold torch.backends' flags.
backends = _importlib.import_module("devrt.backends")
accelerator = _importlib.import_module("devrt.accelerator")
Generator = utils.data.Generator
