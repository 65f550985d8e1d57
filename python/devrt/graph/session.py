"""``tf.Session``, ``tf.InteractiveSession``, ``tf.ConfigProto`` and the
default session.

A Session wraps the core's ``_C.Session``, which holds the variables'
values and the execution plans. ``run`` turns fetches and feeds into the
core's lists and its results back into the caller's structure:

- fetches: a Tensor, an Operation (its result is None), a Variable, a name
  ("loss:0" is a tensor, "train" an operation), or nested lists, tuples,
  named tuples and dicts of them; the result has the same structure, with
  NumPy arrays (NumPy scalars for 0-d values, as TF).
- feed_dict: keys are Tensors, Variables or tensor names; values are NumPy
  arrays, scalars, nested lists or devrt Tensors, converted to the fed
  tensor's dtype (a float64 array into a float32 placeholder is fine).

Errors from the core keep their message and become ``tf.errors`` classes
that are also ValueError/RuntimeError (see errors.py).

Differences from TensorFlow: there are no remote targets; ``RunOptions``,
``RunMetadata`` and most ConfigProto fields are accepted and ignored;
bfloat16 values are fetched as float32 arrays (NumPy has no bfloat16).
"""

from __future__ import annotations

import collections
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

import devrt
from devrt import _C
from devrt.graph import dtypes, errors
from devrt.graph import framework as fw
from devrt.graph.tensor import Operation, Tensor

__all__ = [
    "ConfigProto",
    "GPUOptions",
    "GraphOptions",
    "InteractiveSession",
    "RunMetadata",
    "RunOptions",
    "Session",
    "get_default_session",
]


class _Options:
    """An attribute bag standing for a TF protocol buffer message."""

    _defaults: dict[str, Any] = {}

    def __init__(self, **kwargs: Any) -> None:
        for k, v in self._defaults.items():
            setattr(self, k, v() if callable(v) else v)
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class GPUOptions(_Options):
    """``tf.GPUOptions``: accepted; devrt's caching allocator grows as needed."""

    _defaults = {
        "allow_growth": False,
        "per_process_gpu_memory_fraction": 0.0,
        "visible_device_list": "",
    }


class GraphOptions(_Options):
    """``tf.GraphOptions``: accepted and ignored."""


class ConfigProto(_Options):
    """``tf.ConfigProto``: `allow_soft_placement` (run nodes whose device is
    missing on the CPU, noted in ``Session.placement_log``) and
    `log_device_placement` (print those notes) take effect; the other fields
    are kept and ignored."""

    _defaults = {
        "allow_soft_placement": False,
        "log_device_placement": False,
        "gpu_options": GPUOptions,
        "graph_options": GraphOptions,
        "device_count": dict,
        "inter_op_parallelism_threads": 0,
        "intra_op_parallelism_threads": 0,
    }


class RunOptions(_Options):
    """``tf.RunOptions``: accepted and ignored."""

    FULL_TRACE = 3
    NO_TRACE = 0


class RunMetadata(_Options):
    """``tf.RunMetadata``: accepted and left empty."""


def get_default_session() -> Session | None:
    """``tf.get_default_session``: the innermost default session, or None."""
    return fw._stack.sessions[-1] if fw._stack.sessions else None


# --- fetch structures ------------------------------------------------------------------


class _Fetches:
    """Flattens a fetch structure into unique tensors and operations and
    rebuilds it from the fetched values."""

    def __init__(self, graph: fw.Graph, fetches: Any) -> None:
        self.graph = graph
        self.tensors: list[Tensor] = []
        self.ops: list[Operation] = []
        self._tensor_slot: dict[tuple[int, int], int] = {}
        self._op_slot: dict[int, int] = {}
        self.tree = self._build(fetches)

    def _leaf(self, fetch: Any) -> tuple:
        try:
            elem = self.graph.as_graph_element(fetch)
        except TypeError as exc:
            raise TypeError(
                f"[Session.run] Fetch argument {fetch!r} has invalid type {type(fetch)}, must be "
                f"a string or Tensor. ({exc})"
            ) from None
        except (KeyError, ValueError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise ValueError(
                f"[Session.run] Fetch argument {fetch!r} cannot be interpreted as a Tensor. ({msg})"
            ) from None
        if isinstance(elem, Tensor):
            key = (elem.op._id, elem.value_index)
            if key not in self._tensor_slot:
                self._tensor_slot[key] = len(self.tensors)
                self.tensors.append(elem)
            return ("tensor", self._tensor_slot[key])
        if elem._id not in self._op_slot:
            self._op_slot[elem._id] = len(self.ops)
            self.ops.append(elem)
        return ("op",)

    def _build(self, fetch: Any) -> tuple:
        if fetch is None:
            raise TypeError(f"[Session.run] Fetch argument None has invalid type {type(None)}")
        if isinstance(fetch, tuple) and hasattr(fetch, "_fields"):
            return ("namedtuple", type(fetch), [self._build(f) for f in fetch])
        if isinstance(fetch, (list, tuple)):
            return ("seq", type(fetch), [self._build(f) for f in fetch])
        if isinstance(fetch, dict):
            keys = list(fetch.keys())
            return ("dict", fetch, keys, [self._build(fetch[k]) for k in keys])
        if hasattr(fetch, "_session_fetch"):  # e.g. a tf.summary op: tensors, then a function
            tensors, combine = fetch._session_fetch()
            return ("convert", combine, [self._build(t) for t in tensors])
        return self._leaf(fetch)

    def rebuild(self, values: list[Any], node: tuple | None = None) -> Any:
        node = self.tree if node is None else node
        kind = node[0]
        if kind == "tensor":
            return values[node[1]]
        if kind == "op":
            return None
        if kind == "convert":
            return node[1]([self.rebuild(values, c) for c in node[2]])
        if kind == "namedtuple":
            return node[1](*[self.rebuild(values, c) for c in node[2]])
        if kind == "seq":
            items = [self.rebuild(values, c) for c in node[2]]
            return items if node[1] is list else node[1](items)
        original, keys, children = node[1], node[2], node[3]
        if isinstance(original, collections.defaultdict):
            out = type(original)(original.default_factory)
        else:
            try:
                out = type(original)()
            except TypeError:
                out = {}
        for k, c in zip(keys, children):
            out[k] = self.rebuild(values, c)
        return out


def _to_numpy(t: Any) -> Any:
    if t.dtype == devrt.bfloat16:
        t = t.to(dtype=devrt.float32)
    arr = np.array(t.cpu().numpy(), copy=True)
    return arr[()] if arr.ndim == 0 else arr


# The dtypes whose NumPy arrays a feed takes as they are (bfloat16 has no
# NumPy dtype of its own and converts).
_NUMPY_FEED = {
    name: np.dtype(name)
    for name in (
        "bool",
        "uint8",
        "int8",
        "int16",
        "int32",
        "int64",
        "float16",
        "float32",
        "float64",
    )
}


def _as_devrt(value: Any, dtype: dtypes.DType, what: str, target: Any) -> Any:
    """`value` as a devrt Tensor of `dtype` (NumPy is only the conversion);
    `target` is the fed tensor, named in errors."""
    if isinstance(value, _C.Tensor):
        return (
            value if value.dtype == dtype.as_devrt_dtype else value.to(dtype=dtype.as_devrt_dtype)
        )
    if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
        raise TypeError(
            f"[{what}] The value of a feed cannot be a tf.Tensor object ({target.name}). Acceptable "
            "feed values include Python scalars, lists and NumPy arrays."
        )
    try:
        arr = np.asarray(value, dtype=dtype.as_numpy_dtype)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"[{what}] cannot convert the value for {target.name} to {dtype.name}: {exc}"
        ) from None
    t = devrt.from_numpy(np.require(arr, requirements="C"))  # keeps 0-d arrays 0-d
    if dtype == dtypes.bfloat16:
        t = t.to(dtype=dtype.as_devrt_dtype)
    return t


# --- sessions --------------------------------------------------------------------------


class Session:
    """``tf.Session(target='', graph=None, config=None)``: runs `graph` (the
    default graph by default). ``with Session() as sess:`` makes it the
    default session and its graph the default graph, and closes it after."""

    def __init__(self, target: Any = "", graph: fw.Graph | None = None, config: Any = None):
        if isinstance(target, fw.Graph) and graph is None:
            target, graph = "", target
        if target:
            raise NotImplementedError(f"[Session] remote targets are not supported: {target!r}")
        self._graph = graph if graph is not None else fw.get_default_graph()
        if not isinstance(self._graph, fw.Graph):
            raise TypeError(f"[Session] graph must be a tf.Graph, got {type(self._graph).__name__}")
        self._config = config if config is not None else ConfigProto()
        soft = bool(getattr(self._config, "allow_soft_placement", False))
        self._c = _C.Session(self._graph._c, allow_soft_placement=soft)
        self._log_printed = 0
        self._contexts: list[contextlib.ExitStack] = []
        self._plans: dict[Any, _Fetches] = {}
        self._feed_targets: dict[Tensor, tuple] = {}

    # --- properties --------------------------------------------------------------------

    @property
    def graph(self) -> fw.Graph:
        return self._graph

    @property
    def graph_def(self) -> Any:
        """The graph's nodes as TF-like dicts (see Operation.node_def)."""
        return {"node": [op.node_def for op in self._graph.get_operations()]}

    @property
    def sess_str(self) -> str:
        return ""

    @property
    def closed(self) -> bool:
        return self._c.closed

    @property
    def placement_log(self) -> list[str]:
        """The core's notes on where nodes ran (soft placement) (devrt only)."""
        return list(self._c.placement_log)

    @property
    def stats(self) -> dict[str, Any]:
        """The core's counters: runs, plans, fetched_bytes, fused (the
        Conv2D + bias + Relu chains its plans run as one step) and fused_pools
        (those of them that take in their 2x2 MaxPool); devrt only."""
        return dict(self._c.stats)

    # --- running -------------------------------------------------------------------------

    def run(
        self, fetches: Any, feed_dict: Any = None, options: Any = None, run_metadata: Any = None
    ):
        """``Session.run``: the values of `fetches` (same structure), after
        running every operation they need with `feed_dict` fed."""
        if self._c.closed:
            raise RuntimeError("[Session.run] Attempted to use a closed Session.")
        plan = self._plan(fetches)
        feeds = self._feeds(feed_dict)
        if not plan.tensors and not plan.ops:
            return plan.rebuild([])
        if getattr(self._graph, "_data_registry", None) is not None:
            feeds += self._iterator_feeds(plan, feeds)
        try:
            results = self._c.run(
                [t._as_node_output() for t in plan.tensors],
                [op._node for op in plan.ops],
                feeds,
            )
        except (ValueError, IndexError, RuntimeError) as exc:
            new = errors.translate(exc)
            if new is exc:
                raise
            # A kernel's own exception stays the cause (None otherwise).
            raise new.with_traceback(exc.__traceback__) from exc.__cause__
        self._print_placement()
        return plan.rebuild([_to_numpy(t) for t in results])

    def _plan(self, fetches: Any) -> _Fetches:
        """The flattened fetch structure; the plan of a single tensor or
        operation, the training loop's fetch, is kept (a few at most)."""
        if not isinstance(fetches, (Tensor, Operation)):
            return _Fetches(self._graph, fetches)
        plans = self._plans
        plan = plans.get(fetches)
        if plan is None:
            plan = _Fetches(self._graph, fetches)
            if len(plans) >= 16:
                plans.clear()
            plans[fetches] = plan
        return plan

    def _feeds(self, feed_dict: Any) -> list[tuple[tuple[Any, int], Any]]:
        if not feed_dict:
            return []
        out: dict[tuple[int, int], tuple[tuple[Any, int], Any]] = {}
        for key, value in feed_dict.items():
            target = self._feed_targets.get(key) if isinstance(key, Tensor) else None
            if target is None:
                target = self._feed_target(key)
            t, slot, node_output, dtype, array_dtype = target
            if array_dtype is not None and type(value) is np.ndarray:
                # The common feed, an array of the placeholder's dtype: no copy.
                if value.dtype == array_dtype and value.flags.c_contiguous:
                    out[slot] = (node_output, devrt.from_numpy(value))
                    continue
            out[slot] = (node_output, _as_devrt(value, dtype, "Session.run", t))
        return list(out.values())

    def _feed_target(self, key: Any) -> tuple:
        """What feeding `key` needs: the tensor, its slot, node output and
        dtype, and the NumPy dtype an array fed as it is has (None when it
        converts); kept for tensor keys."""
        try:
            t = self._graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
        except (TypeError, ValueError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise TypeError(
                f"[Session.run] Cannot interpret feed_dict key as Tensor: {msg}"
            ) from None
        dtype = t.dtype
        target = (
            t,
            (t.op._id, t.value_index),
            t._as_node_output(),
            dtype,
            _NUMPY_FEED.get(dtype.name),
        )
        if isinstance(key, Tensor):
            if len(self._feed_targets) >= 64:
                self._feed_targets.clear()
            self._feed_targets[key] = target
        return target

    def _iterator_feeds(self, plan: _Fetches, feeds: list) -> list:
        """The values of the tf.data iterators' ``get_next()`` tensors that
        this run needs (see data.py)."""
        from devrt.graph import data

        fed = {(node.id, index) for (node, index), _ in feeds}

        def feed_values() -> dict:
            return {(node.id, index): _to_numpy(t) for (node, index), t in feeds}

        pairs = data._session_feeds(self, plan.tensors, plan.ops, fed, feed_values)
        return [(t._as_node_output(), _as_devrt(v, t.dtype, "Session.run", t)) for t, v in pairs]

    def _print_placement(self) -> None:
        if not getattr(self._config, "log_device_placement", False):
            return
        log = self._c.placement_log
        for line in log[self._log_printed :]:
            print(line, file=sys.stderr)
        self._log_printed = len(log)

    def make_callable(self, fetches: Any, feed_list: Any = None, accept_options: bool = False):
        """``Session.make_callable``: a function of the `feed_list` values that
        runs `fetches`."""
        feed_list = list(feed_list or [])

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) != len(feed_list):
                raise ValueError(
                    f"[Session.make_callable] expected {len(feed_list)} arguments, got {len(args)}"
                )
            return self.run(fetches, dict(zip(feed_list, args)))

        return call

    # --- variables (devrt) ------------------------------------------------------------

    def _variable_node(self, var: Any, what: str) -> Any:
        elem = var._graph_element() if hasattr(var, "_graph_element") else var
        if not isinstance(elem, Tensor) or elem.op.type != "Variable":
            raise TypeError(f"[{what}] expected a Variable, got {var!r}")
        if elem.graph is not self._graph:
            raise ValueError(f"[{what}] {elem.name} is not an element of this session's graph")
        return elem

    def _variable_value(self, var: Any, what: str) -> Any:
        """The devrt Tensor of `var` in this session, or None when unset."""
        return self._c.variable(self._variable_node(var, what).op._node)

    def _set_variable(self, var: Any, value: Any, what: str) -> None:
        elem = self._variable_node(var, what)
        t = _as_devrt(value, elem.dtype, what, elem)
        want = elem.shape.as_list()
        if list(t.shape) != want:
            raise ValueError(
                f"[{what}] {elem.op.name}: cannot set a value of shape {list(t.shape)} to a "
                f"variable of shape {want}"
            )
        self._c.set_variable(elem.op._node, t)

    # --- lifetime and defaults ----------------------------------------------------------

    def close(self) -> None:
        """Frees the session's variables and plans; later runs raise RuntimeError."""
        self._c.close()

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        """Makes this the default session (for ``Tensor.eval``, ``Operation.run``)."""
        fw._stack.sessions.append(self)
        try:
            yield self
        finally:
            fw._remove_last(fw._stack.sessions, self)

    def __enter__(self) -> Session:
        stack = contextlib.ExitStack()
        stack.enter_context(self._graph.as_default())
        stack.enter_context(self.as_default())
        self._contexts.append(stack)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._contexts.pop().close()
        self.close()

    @staticmethod
    def reset(target: Any, containers: Any = None, config: Any = None) -> None:
        """Accepted for compatibility: there are no remote resources to reset."""

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<devrt.graph.Session ({state}) on {self._graph!r}>"


class InteractiveSession(Session):
    """``tf.InteractiveSession``: a Session that makes itself (and its graph)
    the default from creation until ``close()``, for ``Tensor.eval()`` in
    shells and notebooks."""

    def __init__(self, target: Any = "", graph: fw.Graph | None = None, config: Any = None):
        super().__init__(target, graph, config)
        fw._stack.graphs.append(self._graph)
        fw._stack.sessions.append(self)
        self._installed = True

    def close(self) -> None:
        if getattr(self, "_installed", False):
            self._installed = False
            fw._remove_last(fw._stack.sessions, self)
            fw._remove_last(fw._stack.graphs, self._graph)
        super().close()


def _run_with_default(element: Any, feed_dict: Any, session: Any, what: str) -> Any:
    """Runs `element` in `session` or the default session, for eval/run."""
    sess = session if session is not None else get_default_session()
    if sess is None:
        raise ValueError(
            f"[{what}] Cannot evaluate tensor using `eval()`: No default session is registered. "
            "Use `with sess.as_default()` or pass an explicit session to `eval(session=sess)`"
        )
    if sess.graph is not element.graph:
        raise ValueError(
            f"[{what}] Cannot use the given session to evaluate tensor: the tensor's graph is "
            "different from the session's graph."
        )
    return sess.run(element, feed_dict)
