"""devrt.graph: a TF1-style static-graph front end (``import devrt.graph as tf``).

A subset of ``tf.compat.v1`` in graph mode: build a graph of placeholders,
variables and ops, then run it with ``tf.Session``. The graph is the core's
IR (docs/graph.md); this package only builds its nodes and converts feeds
and fetches, and every number is computed by the core's ops on the node's
device. Names mirror TensorFlow's so that TF1 programs run after changing
only their import; where devrt differs, the docstring of the function says
so.
"""

from __future__ import annotations

from types import SimpleNamespace as _Namespace

from devrt.graph import candidate_sampling as _candidate_sampling
from devrt.graph import (  # noqa: F401 - namespaces: tf.nn, tf.layers, ...
    contrib,
    data,
    dtypes,
    errors,
    image,
    layers,
    linalg,
    losses,
    metrics,
    nn,
    summary,
    train,
)
from devrt.graph import convolution as _convolution
from devrt.graph import init_ops as _init_ops
from devrt.graph import math_ops as _math_ops
from devrt.graph import random_ops as _random_ops
from devrt.graph import rnn as _rnn
from devrt.graph import rnn_cell as _rnn_cell
from devrt.graph.array_ops import (  # noqa: F401
    boolean_mask,
    cast,
    concat,
    expand_dims,
    gather,
    identity,
    one_hot,
    rank,
    reshape,
    reverse,
    sequence_mask,
    shape,
    size,
    slice,
    split,
    squeeze,
    stack,
    strided_slice,
    tile,
    to_double,
    to_float,
    to_int32,
    to_int64,
    transpose,
    unstack,
    where,
    where_v2,
)
from devrt.graph.constant_ops import (  # noqa: F401
    constant,
    eye,
    fill,
    linspace,
    ones,
    ones_like,
    placeholder,
    placeholder_with_default,
    range,
    zeros,
    zeros_like,
)
from devrt.graph.control_flow_ops import (  # noqa: F401
    cond,
    group,
    no_op,
    tuple,
    while_loop,
)
from devrt.graph.conversion import convert_to_tensor  # noqa: F401
from devrt.graph.dtypes import (  # noqa: F401
    DType,
    as_dtype,
    bfloat16,
    bool,
    double,
    float16,
    float32,
    float64,
    half,
    int32,
    int64,
    uint8,
)
from devrt.graph.framework import (  # noqa: F401
    Graph,
    GraphKeys,
    add_to_collection,
    add_to_collections,
    colocate_with,
    control_dependencies,
    device,
    get_collection,
    get_collection_ref,
    get_default_graph,
    init_scope,
    name_scope,
    reset_default_graph,
)
from devrt.graph.functional_ops import foldl, foldr, map_fn, scan  # noqa: F401
from devrt.graph.gradients import gradients, stop_gradient  # noqa: F401
from devrt.graph.init_ops import (  # noqa: F401
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    uniform_unit_scaling_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)
from devrt.graph.math_ops import (  # noqa: F401
    abs,
    accumulate_n,
    add,
    add_n,
    argmax,
    argmin,
    atan2,
    ceil,
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    cos,
    count_nonzero,
    cumsum,
    div,
    div_no_nan,
    divide,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    global_norm,
    greater,
    greater_equal,
    is_finite,
    is_inf,
    is_nan,
    less,
    less_equal,
    log,
    log1p,
    log_sigmoid,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    matmul,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    norm,
    not_equal,
    pow,
    realdiv,
    reciprocal,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_std,
    reduce_sum,
    reduce_variance,
    round,
    rsqrt,
    scalar_mul,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    squared_difference,
    subtract,
    tan,
    tanh,
    top_k,
    truediv,
)
from devrt.graph.random_ops import (  # noqa: F401
    get_seed,
    random_normal,
    random_shuffle,
    random_uniform,
    set_random_seed,
    truncated_normal,
)
from devrt.graph.rnn import reverse_sequence  # noqa: F401
from devrt.graph.saved_graph import load_graph, save_graph  # noqa: F401
from devrt.graph.session import (  # noqa: F401
    ConfigProto,
    GPUOptions,
    GraphOptions,
    InteractiveSession,
    RunMetadata,
    RunOptions,
    Session,
    get_default_session,
)
from devrt.graph.sort_ops import argsort, sort  # noqa: F401
from devrt.graph.tensor import Operation, Tensor  # noqa: F401
from devrt.graph.tensor_array_ops import TensorArray  # noqa: F401
from devrt.graph.tensor_shape import Dimension, TensorShape, dimension_value  # noqa: F401
from devrt.graph.tensor_util import (  # noqa: F401
    get_static_value,
)
from devrt.graph.variable_scope import (  # noqa: F401
    AUTO_REUSE,
    VariableScope,
    get_variable,
    get_variable_scope,
    variable_scope,
)
from devrt.graph.variables import (  # noqa: F401
    Variable,
    VariableV1,
    all_variables,
    assign,
    assign_add,
    assign_sub,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    initialize_local_variables,
    initialize_variables,
    local_variables,
    local_variables_initializer,
    model_variables,
    moving_average_variables,
    trainable_variables,
    variables_initializer,
)

__version__ = "1.15.0+devrt"

newaxis = None
sub = subtract
mul = multiply
neg = negative
sparse_softmax_cross_entropy_with_logits = nn.sparse_softmax_cross_entropy_with_logits


# --- namespaces of tf.compat.v1 -------------------------------------------------------

initializers = _Namespace(
    zeros=_init_ops.Zeros,
    ones=_init_ops.Ones,
    constant=_init_ops.Constant,
    random_normal=_init_ops.RandomNormal,
    random_uniform=_init_ops.RandomUniform,
    truncated_normal=_init_ops.TruncatedNormal,
    variance_scaling=_init_ops.VarianceScaling,
    glorot_uniform=_init_ops.GlorotUniform,
    glorot_normal=_init_ops.GlorotNormal,
    he_normal=_init_ops.he_normal,
    he_uniform=_init_ops.he_uniform,
    lecun_normal=_init_ops.lecun_normal,
    lecun_uniform=_init_ops.lecun_uniform,
    global_variables=global_variables_initializer,
    local_variables=local_variables_initializer,
    variables=variables_initializer,
)
keras = _Namespace(initializers=initializers)

random = _Namespace(
    normal=_random_ops.random_normal,
    uniform=_random_ops.random_uniform,
    truncated_normal=_random_ops.truncated_normal,
    set_random_seed=_random_ops.set_random_seed,
    get_seed=_random_ops.get_seed,
    shuffle=_random_ops.random_shuffle,
)

math = _Namespace(
    **{name: getattr(_math_ops, name) for name in _math_ops.__all__},
    softplus=nn.softplus,
    log_softmax=nn.log_softmax,
    softmax=nn.softmax,
    in_top_k=nn.in_top_k,
    divide_no_nan=div_no_nan,
    l2_normalize=nn.l2_normalize,
    softsign=nn.softsign,
)
linalg.global_norm = global_norm
linalg.l2_normalize = nn.l2_normalize

dtypes.as_dtype = as_dtype

# Parts of tf.nn that live in modules of their own.
nn.rnn_cell = _rnn_cell
nn.dynamic_rnn = _rnn.dynamic_rnn
nn.static_rnn = _rnn.static_rnn
nn.bidirectional_dynamic_rnn = _rnn.bidirectional_dynamic_rnn
nn.static_bidirectional_rnn = _rnn.static_bidirectional_rnn
nn.conv2d_transpose = _convolution.conv2d_transpose
nn.conv1d = _convolution.conv1d
nn.log_uniform_candidate_sampler = _candidate_sampling.log_uniform_candidate_sampler
nn.uniform_candidate_sampler = _candidate_sampling.uniform_candidate_sampler
nn.nce_loss = _candidate_sampling.nce_loss
nn.sampled_softmax_loss = _candidate_sampling.sampled_softmax_loss


def disable_v2_behavior() -> None:
    """``tf.compat.v1.disable_v2_behavior``: nothing to do (devrt.graph is TF1)."""


def disable_eager_execution() -> None:
    """``tf.compat.v1.disable_eager_execution``: nothing to do (always graph mode)."""


def enable_eager_execution(*args, **kwargs) -> None:
    """Not supported: use ``import devrt`` for eager execution."""
    raise NotImplementedError(
        "[enable_eager_execution] devrt.graph is graph-only; use `import devrt` for eager code"
    )


def executing_eagerly() -> bool:
    """``tf.executing_eagerly``: always False."""
    return False


def _log(*args, **kwargs) -> None:
    pass


logging = _Namespace(
    DEBUG=10,
    INFO=20,
    WARN=30,
    WARNING=30,
    ERROR=40,
    FATAL=50,
    set_verbosity=_log,
    get_verbosity=lambda: 30,
    debug=_log,
    info=_log,
    warn=_log,
    warning=_log,
    error=_log,
)

import sys as _sys  # noqa: E402 - the module object itself, for tf.compat.v1

compat = _Namespace(v1=_sys.modules[__name__], dimension_value=dimension_value)
del _sys

# tf.contrib.data: TF 1.3's name of tf.data, still used by tutorials.
contrib.data = data
