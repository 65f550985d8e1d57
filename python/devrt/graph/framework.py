"""``tf.Graph``: the default-graph stack, name scopes, device scopes,
control dependencies and collections.

A ``Graph`` wraps the core's ``_C.Graph``; every ``Operation`` wraps one
node of it and every ``Tensor`` names one output ``(node, index)`` (see
tensor.py). The Python side keeps what TensorFlow keeps on its Python
side too: the names in use (so that names are unique as in TF: ``MatMul``,
``MatMul_1``, ``layer1/MatMul``), the scope stacks and the collections.
Shapes and dtypes always come from the core, which infers them when a node
is built.

Difference from TensorFlow: the name, device and control-dependency stacks
belong to the graph, not to the graph and the thread.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

from devrt import _C
from devrt.graph.tensor import Operation, Tensor

__all__ = [
    "Graph",
    "GraphKeys",
    "add_to_collection",
    "add_to_collections",
    "colocate_with",
    "control_dependencies",
    "device",
    "get_collection",
    "get_collection_ref",
    "get_default_graph",
    "init_scope",
    "name_scope",
    "reset_default_graph",
]

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")
# Parts of a TF device string that name a machine; devrt runs in one process.
_JOB_PARTS = re.compile(r"/(job|replica|task):[^/]*")


# The ops that write variables, with how many leading inputs name them.
_WRITES = {"Assign": 1, "AssignAdd": 1, "AssignSub": 1, "ApplyGradientDescent": 1, "ApplyAdam": 3}


class GraphKeys:
    """``tf.GraphKeys``: the names of the standard collections."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    TRAIN_OP = "train_op"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    GLOBAL_STEP = "global_step"
    VARIABLES = GLOBAL_VARIABLES


# --- the graph --------------------------------------------------------------------


class Graph:
    """``tf.Graph``: a graph of the core plus TF's Python-side bookkeeping."""

    def __init__(self) -> None:
        self._c = _C.Graph()
        self._ops: list[Operation] = []
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._device_stack: list[str | None] = []
        # Entries are lists of Operations; None clears the ones below it.
        self._control_stack: list[list[Operation] | None] = []
        self._collections: dict[str, list[Any]] = {}
        self._finalized = False
        self.seed: int | None = None
        # Python objects the graph knows about, keyed by node id or name.
        self._variables: dict[int, Any] = {}
        self._var_store: dict[str, Any] = {}
        self._var_scope_stack: list[Any] = []
        self._var_scope_counts: dict[str, int] = {}
        self._object_uids: dict[str, int] = {}
        # tf.cond branches and while_loop bodies being built, outermost first.
        self._cond_stack: list[_CondBranch] = []
        self._while_stack: list[_WhileFrame] = []

    # --- operations ---------------------------------------------------------------

    def _op_of(self, node: Any) -> Operation:
        return self._ops[node.id]

    def _create_op(
        self,
        op_type: str,
        inputs: list[Tensor],
        attrs: dict[str, Any] | None = None,
        name: str | None = None,
        control_inputs: list[Operation] | None = None,
    ) -> Operation:
        """Adds a node of IR op `op_type`; `name` ending in "/" is taken as is
        (a scope name), any other is made unique in the current name scope."""
        if self._finalized:
            raise RuntimeError("[Graph] Graph is finalized and cannot be modified.")
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"[{op_type}] inputs must be Tensors, got {type(t).__name__}")
            if t.graph is not self:
                raise ValueError(
                    f"[{op_type}] Tensor {t.name} must be from the same graph as the op being built"
                )
        writes = _WRITES.get(op_type, 0)
        if self._while_stack and writes:
            raise NotImplementedError(
                f"[while_loop] {op_type} of {inputs[0].name} inside a while_loop: a loop "
                "cannot write variables"
            )
        if self._cond_stack or self._while_stack:
            # A write names its variables (its leading inputs): not values to capture.
            inputs = inputs[:writes] + [self._capture(t) for t in inputs[writes:]]
        name = name or op_type
        if name.endswith("/"):
            name = name[:-1]
        else:
            if not _VALID_OP_NAME.match(name):
                raise ValueError(f"[{op_type}] '{name}' is not a valid node name")
            name = self.unique_name(name)
        controls: list[Operation] = []
        seen: set[int] = set()
        for op in self._current_control_inputs() + list(control_inputs or []):
            if op._id not in seen:
                seen.add(op._id)
                controls.append(op)
        if self._while_stack:
            controls = self._while_stack[-1].inner_controls(controls)
        node = self._c.add_node(
            op_type,
            [t._as_node_output() for t in inputs],
            dict(attrs or {}),
            name,
            self._current_device(),
            [op._node for op in controls],
        )
        for frame in self._while_stack:
            frame.inside.add(node.id)
        return self._register(node)

    def _capture(self, t: Tensor) -> Tensor:
        """`t` as seen by a node of the control flow being built. A tensor
        made outside the innermost while_loop body enters it through an Arg
        of that loop (the While node reads the tensor and feeds the Arg). A
        tensor made outside a tf.cond branch (within that body) enters it
        through a Switch on the branch's predicate, so that it (and its
        gradient) is live only when the branch is taken."""
        branches = self._cond_stack
        if self._while_stack:
            frame = self._while_stack[-1]
            branches = branches[frame.cond_depth :]
            if t.op._id not in frame.inside:
                t = frame.captured(t)
        for branch in branches:
            if t.op._id < branch.first_id and t is not branch.pred:
                t = branch.switched(t)
        return t

    @contextlib.contextmanager
    def _outside_control_flow(self) -> Iterator[None]:
        """Nodes built inside are outside every while_loop being built (and
        the tf.cond branches within them), as variables are: a variable made
        while a loop body is built (an RNN cell called in the body) is made
        once, outside the loop, and read by the body as a capture."""
        loops, branches = self._while_stack, self._cond_stack
        if loops:
            self._while_stack, self._cond_stack = [], branches[: loops[0].cond_depth]
        try:
            yield
        finally:
            self._while_stack, self._cond_stack = loops, branches

    def _register(self, node: Any) -> Operation:
        op = Operation(self, node)
        if node.id != len(self._ops):
            raise RuntimeError(
                f"[Graph] node '{node.name}' has id {node.id}, expected {len(self._ops)}"
            )
        self._ops.append(op)
        return op

    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(
                f"[Graph] Operation names are strings (or similar), not {type(name).__name__}"
            )
        try:
            return self._op_of(self._c.get(name))
        except KeyError:
            raise KeyError(
                f"[Graph] The name {name!r} refers to an Operation not in the graph."
            ) from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(
                f"[Graph] Tensor names are strings (or similar), not {type(name).__name__}"
            )
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(
        self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True
    ) -> Tensor | Operation:
        """The Tensor or Operation that `obj` (one of them, a Variable, or a
        name "op" / "op:i") stands for in this graph."""
        if hasattr(obj, "_graph_element"):
            obj = obj._graph_element()
        if isinstance(obj, str):
            if ":" in obj:
                op_name, _, index = obj.rpartition(":")
                if not allow_tensor:
                    raise ValueError(f"[Graph] Can not convert {obj!r} to an Operation")
                try:
                    i = int(index)
                except ValueError:
                    raise ValueError(
                        f"[Graph] The name {obj!r} looks like a Tensor name, but is not a valid one. "
                        'Tensor names must be of the form "<op_name>:<output_index>".'
                    ) from None
                try:
                    op = self._op_of(self._c.get(op_name))
                except KeyError:
                    raise KeyError(
                        f"[Graph] The name {obj!r} refers to a Tensor which does not exist. "
                        f"The operation, {op_name!r}, does not exist in the graph."
                    ) from None
                if not 0 <= i < len(op._outputs):
                    raise KeyError(
                        f"[Graph] The name {obj!r} refers to a Tensor which does not exist. The "
                        f"operation, {op_name!r}, exists but only has {len(op._outputs)} outputs."
                    )
                return op._outputs[i]
            if not allow_operation:
                raise ValueError(
                    f"[Graph] The name {obj!r} refers to an Operation, not a Tensor. Tensor names "
                    'must be of the form "<op_name>:<output_index>".'
                )
            return self.get_operation_by_name(obj)
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError(f"[Graph] Tensor {obj} is not an element of this graph.")
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj.graph is not self:
                raise ValueError(f"[Graph] Operation {obj} is not an element of this graph.")
            return obj
        kinds = " or ".join(
            k for k, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok
        )
        raise TypeError(f"[Graph] Can not convert a {type(obj).__name__} into a {kinds}.")

    @property
    def version(self) -> int:
        return len(self._ops)

    @property
    def _last_id(self) -> int:
        return len(self._ops)

    def finalize(self) -> None:
        """Makes the graph read-only (new ops raise RuntimeError)."""
        self._finalized = True

    @property
    def finalized(self) -> bool:
        return self._finalized

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    # --- default graph --------------------------------------------------------------

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Makes this the default graph inside the ``with`` block."""
        _stack.graphs.append(self)
        try:
            yield self
        finally:
            _remove_last(_stack.graphs, self)

    # --- names ----------------------------------------------------------------------

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """`name` prefixed by the current name scope and suffixed "_<n>" when
        taken, compared case-insensitively, exactly as TF does."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = key
            while key in self._names_in_use:
                key = f"{base}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{i - 1}"
        return name

    def _mark_name_used(self, name: str) -> None:
        """Marks `name` and the scopes above it as taken (for imported nodes)."""
        parts = name.split("/")
        for k in range(1, len(parts) + 1):
            key = "/".join(parts[:k]).lower()
            self._names_in_use[key] = max(self._names_in_use.get(key, 0), 1)

    def get_name_scope(self) -> str:
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """``Graph.name_scope``: a new (unique) scope under the current one;
        a name ending in "/" is re-entered as is, None or "" resets to the
        root. Yields the scope with its trailing "/"."""
        if name:
            pattern = _VALID_SCOPE_NAME if self._name_stack else _VALID_OP_NAME
            if not pattern.match(name):
                raise ValueError(f"[name_scope] '{name}' is not a valid scope name")
        old = self._name_stack
        if not name:
            new, returned = "", ""
        elif name.endswith("/"):
            new, returned = name[:-1], name
        else:
            new = self.unique_name(name)
            returned = new + "/"
        self._name_stack = new
        try:
            yield returned
        finally:
            self._name_stack = old

    # --- devices ----------------------------------------------------------------------

    @contextlib.contextmanager
    def device(self, device_name: str | None) -> Iterator[None]:
        """``Graph.device``: nodes built inside get `device_name` ("/cpu:0",
        "/gpu:0", "/device:GPU:1", "/device:<name>:0"); None clears the
        enclosing scopes, "" keeps them. Job, replica and task parts are
        dropped. Device functions are not supported."""
        if callable(device_name):
            raise NotImplementedError("[device] device functions are not supported by devrt")
        if device_name is not None:
            if not isinstance(device_name, str):
                device_name = str(device_name)
            device_name = _JOB_PARTS.sub("", device_name)
        self._device_stack.append(device_name)
        try:
            yield
        finally:
            self._device_stack.pop()

    def _current_device(self) -> str:
        for spec in reversed(self._device_stack):
            if spec is None:
                return ""
            if spec:
                return spec
        return ""

    @contextlib.contextmanager
    def colocate_with(self, op: Any, ignore_existing: bool = False) -> Iterator[None]:
        """Accepted for compatibility; devrt places a node without a device on
        its first input's device, which colocates most ops already."""
        yield

    # --- control dependencies -------------------------------------------------------

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: Any) -> Iterator[None]:
        """Nodes built inside run after `control_inputs` (Operations, Tensors,
        Variables); None clears the enclosing control dependencies."""
        if control_inputs is None:
            self._control_stack.append(None)
        else:
            ops = []
            for c in control_inputs:
                elem = self.as_graph_element(c)
                ops.append(elem.op if isinstance(elem, Tensor) else elem)
            self._control_stack.append(ops)
        try:
            yield
        finally:
            self._control_stack.pop()

    def _current_control_inputs(self) -> list[Operation]:
        out: list[Operation] = []
        for entry in reversed(self._control_stack):
            if entry is None:
                break
            out[:0] = entry
        return out

    # --- collections ------------------------------------------------------------------

    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        if isinstance(names, str):
            names = [names]
        for name in set(names):
            self.add_to_collection(name, value)

    def get_collection_ref(self, name: str) -> list[Any]:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list[Any]:
        """A copy of collection `name`; with `scope`, only the items whose
        ``name`` matches it (``re.match``)."""
        items = list(self._collections.get(name, []))
        if scope is None:
            return items
        pattern = re.compile(scope)
        return [x for x in items if hasattr(x, "name") and pattern.match(x.name)]

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    # --- devrt extras -------------------------------------------------------------

    @property
    def core(self) -> Any:
        """The core's ``_C.Graph`` (devrt only)."""
        return self._c

    def __repr__(self) -> str:
        return f"<devrt.graph.Graph with {len(self._ops)} ops>"


# --- the default graph ----------------------------------------------------------------


class _ThreadStacks(threading.local):
    def __init__(self) -> None:
        self.graphs: list[Graph] = []
        self.sessions: list[Any] = []


class _CondBranch:
    """One branch of a tf.cond while it is built: nodes made before
    `first_id` are outside it."""

    def __init__(self, graph: Graph, pred: Tensor, taken_when: bool, first_id: int) -> None:
        self.graph, self.pred, self.index = graph, pred, int(taken_when)
        self.first_id = first_id
        self._switches: dict[tuple[int, int], Tensor] = {}

    def switched(self, t: Tensor) -> Tensor:
        key = (t.op._id, t.value_index)
        if key not in self._switches:
            g = self.graph
            stack, g._cond_stack = g._cond_stack, []
            try:
                with g.control_dependencies(None):
                    op = g._create_op("Switch", [t, self.pred], {}, "Switch")
            finally:
                g._cond_stack = stack
            self._switches[key] = op.outputs[self.index]
        return self._switches[key]


class _WhileFrame:
    """A while_loop's cond and body while they are built: `inside` holds the
    ids of their nodes (nodes made meanwhile outside the loop, such as the
    variables of an RNN cell called in the body, are not in it). The body
    sees each loop variable, and each
    tensor it reads from outside, through an Arg node (`args`, loop
    variables first); `captures` are the outside tensors, in the order of
    their Args, and `controls` the outside control inputs of the body's
    nodes, which the While node takes instead."""

    def __init__(self, graph: Graph, scope: str) -> None:
        self.graph, self.scope = graph, scope
        self.inside: set[int] = set()
        self.cond_depth = len(graph._cond_stack)
        self.args: list[Tensor] = []
        self.captures: list[Tensor] = []
        self.controls: list[Operation] = []
        self._captured: dict[tuple[int, int], Tensor] = {}

    def arg(self, dtype: Any, shape: Any, name: str, device: str = "") -> Tensor:
        """A new Arg of `dtype` and `shape` (a TensorShape: the shape
        invariant), placed on `device` (that of the tensor it stands for)
        or else in the enclosing device scope: the body's nodes without a
        device of their own run where their inputs are."""
        g = self.graph
        dims = shape.as_list() if shape.ndims is not None else None
        with g.name_scope(self.scope), g.control_dependencies(None), g.device(device):
            op = g._create_op("Arg", [], {"dtype": dtype.as_devrt_dtype, "shape": dims}, name)
        self.inside.add(op._id)
        self.args.append(op.outputs[0])
        return op.outputs[0]

    def captured(self, t: Tensor) -> Tensor:
        key = (t.op._id, t.value_index)
        if key not in self._captured:
            self._captured[key] = self.arg(t.dtype, t.shape, "captured", t.device)
            self.captures.append(t)
        return self._captured[key]

    def inner_controls(self, controls: list[Operation]) -> list[Operation]:
        """The control inputs among `controls` made inside the loop; the
        While node takes the others."""
        for op in controls:
            if op._id not in self.inside and op not in self.controls:
                self.controls.append(op)
        return [op for op in controls if op._id in self.inside]


_stack = _ThreadStacks()
_global_graph: Graph | None = None
_global_lock = threading.Lock()


def _remove_last(stack: list[Any], item: Any) -> None:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is item:
            del stack[i]
            return


def get_default_graph() -> Graph:
    """``tf.get_default_graph``: the innermost ``as_default`` graph, or the
    global default graph."""
    global _global_graph
    if _stack.graphs:
        return _stack.graphs[-1]
    with _global_lock:
        if _global_graph is None:
            _global_graph = Graph()
        return _global_graph


def reset_default_graph() -> None:
    """``tf.reset_default_graph``: a new, empty global default graph. Raises
    AssertionError inside a ``with g.as_default()`` block, as TF does."""
    global _global_graph
    if _stack.graphs:
        raise AssertionError(
            "[reset_default_graph] Do not use tf.reset_default_graph() to clear nested "
            "graphs. If you need a "
            "cleared graph, exit the nesting and create a new graph."
        )
    with _global_lock:
        _global_graph = Graph()


def _graph_of(values: Any) -> Graph:
    """The graph of the tensor-like `values` (all must share it), else the
    default graph, as TF's ``_get_graph_from_inputs``."""
    graph = None
    first = None
    for v in values:
        if isinstance(v, (Tensor, Operation)) or hasattr(v, "_to_tensor"):
            g = v.graph
            if graph is None:
                graph, first = g, v
            elif g is not graph:
                raise ValueError(f"[Graph] {v!r} must be from the same graph as {first!r}.")
    return graph if graph is not None else get_default_graph()


# --- module-level scopes ------------------------------------------------------------


@contextlib.contextmanager
def name_scope(name: str | None, default_name: str | None = None, values: Any = None):
    """``tf.name_scope(name, default_name=None, values=None)`` (TF1): opens a
    scope in the graph of `values` (else the default graph), named `name`,
    or `default_name` when `name` is None."""
    if name is None and default_name is None and values is not None:
        raise ValueError("[name_scope] At least one of name and default_name must be provided.")
    g = _graph_of(values or [])
    with g.name_scope(name if name is not None else default_name) as scope:
        yield scope


def device(device_name_or_function: Any):
    """``tf.device``: the default graph's device scope."""
    return get_default_graph().device(device_name_or_function)


def control_dependencies(control_inputs: Any):
    """``tf.control_dependencies``: the default graph's control dependencies."""
    return get_default_graph().control_dependencies(control_inputs)


def colocate_with(op: Any, ignore_existing: bool = False):
    """``tf.colocate_with``: accepted, does nothing (see Graph.colocate_with)."""
    return get_default_graph().colocate_with(op, ignore_existing)


@contextlib.contextmanager
def init_scope() -> Iterator[None]:
    """``tf.init_scope``: clears the control dependencies for the block, as
    variable initialisers need (devrt has no functions or eager contexts to
    lift out of)."""
    with get_default_graph().control_dependencies(None):
        yield


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: Any, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key: str, scope: str | None = None) -> list[Any]:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list[Any]:
    return get_default_graph().get_collection_ref(key)
