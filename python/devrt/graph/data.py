"""``tf.data``: input pipelines whose elements the Session feeds.

A ``Dataset`` is a recipe run on the host: it holds the given arrays and
yields elements (flat lists of NumPy arrays, one per component of the
element's structure) by slicing them, batching (stacking) them, repeating,
skipping, taking and reordering them in a shuffle buffer. None of that is
arithmetic on the data. ``Dataset.map(fn)`` is: `fn` is built once, on
placeholders of the element's dtypes and shapes, in a graph of its own, and
each element runs through that graph in a Session of it, so the math of
`fn` is graph ops run by the core like any other (docs/graph.md, "tf.data").

An iterator's ``get_next()`` returns Placeholder tensors. ``Session.run``
asks this module (``_session_feeds``) which of them the run needs: each
needed ``get_next()`` group takes the next element of its iterator's state
in that session and is fed with it, and at the end of the data the run
raises ``tf.errors.OutOfRangeError``. An iterator's ``initializer`` is a
NoOp whose presence in a run restarts the iterator in that session.
"""

from __future__ import annotations

import builtins
import itertools
import weakref
from collections import abc as _abc
from collections.abc import Callable
from typing import Any

import numpy as np

from devrt.graph import dtypes, errors
from devrt.graph import framework as fw
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.tensor_shape import TensorShape

__all__ = ["Dataset", "Iterator", "make_initializable_iterator", "make_one_shot_iterator"]

AUTOTUNE = -1


# --- element structures --------------------------------------------------------------
# A structure is a leaf (None), a tuple of structures or a dict of them (keys
# sorted, as TF's nest sorts them); elements are flat lists in that order.


def _flatten(value: Any) -> tuple[Any, list[Any]]:
    if isinstance(value, tuple):
        parts = [_flatten(v) for v in value]
        return (tuple, type(value), [s for s, _ in parts]), [x for _, f in parts for x in f]
    if isinstance(value, dict):
        keys = sorted(value)
        parts = [_flatten(value[k]) for k in keys]
        return (dict, keys, [s for s, _ in parts]), [x for _, f in parts for x in f]
    return None, [value]


def _pack(structure: Any, flat: list[Any]) -> Any:
    it = iter(flat)

    def build(s: Any) -> Any:
        if s is None:
            return next(it)
        if s[0] is tuple:
            items = [build(c) for c in s[2]]
            return s[1](*items) if hasattr(s[1], "_fields") else s[1](items)
        return {k: build(c) for k, c in zip(s[1], s[2])}

    return build(structure)


class _Fed:
    """A component given as a placeholder: its value is the one fed in the
    run of the iterator's initializer (TF's "feedable" datasets)."""

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor
        self.key = (tensor.op._id, tensor.value_index)
        self.dtype, self.shape = tensor.dtype, tensor.shape


def _component(value: Any, what: str) -> np.ndarray | _Fed:
    """A component as a NumPy array, or a placeholder to read at start."""
    if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
        from devrt.graph.tensor_util import get_static_value

        t = value._to_tensor() if hasattr(value, "_to_tensor") else value
        static = get_static_value(t)
        if static is not None:
            return np.asarray(static, dtype=t.dtype.as_numpy_dtype)
        if t.op.type != "Placeholder":
            raise TypeError(
                f"[{what}] {t.name} is not known when the graph is built; tf.data in devrt "
                "takes NumPy arrays, Python values, constants and placeholders (fed when the "
                "iterator's initializer runs)"
            )
        return _Fed(t)
    return _as_array(value, what)


def _resolve(components: list, ctx: dict, what: str) -> list[np.ndarray]:
    """The arrays of `components`, placeholders read from the feeds of the
    run that started the iterator."""
    out = []
    for c in components:
        if isinstance(c, _Fed):
            feeds = ctx.get("feeds") or {}
            if c.key not in feeds:
                raise errors.InvalidArgumentError(
                    f"[{what}] the placeholder {c.tensor.name} must be fed in the run of the "
                    "iterator's initializer"
                )
            c = feeds[c.key]
        out.append(c)
    return out


def _as_array(value: Any, what: str) -> np.ndarray:
    """A component given by the user as a NumPy array, as TF converts it
    (Python floats are float32, Python ints int32; arrays keep their dtype)."""
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
    else:
        arr = np.asarray(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        elif arr.dtype == np.int64:
            arr = arr.astype(np.int32)
    if arr.dtype.kind in "OUSV":
        raise TypeError(f"[{what}] components of dtype {arr.dtype} are not supported by devrt")
    dtypes.as_dtype(arr.dtype)  # refuses dtypes devrt has not
    return arr


class _Spec:
    """The dtype and (partial) shape of each component of an element."""

    def __init__(self, structure: Any, types: list[dtypes.DType], shapes: list[TensorShape]):
        self.structure, self.types, self.shapes = structure, types, shapes


# --- datasets ---------------------------------------------------------------------------


class Dataset:
    """``tf.data.Dataset``: an input pipeline. Build one with
    ``from_tensor_slices``, ``from_tensors``, ``range`` or
    ``from_generator`` and chain transformations; read it with an iterator."""

    def __init__(self, spec: _Spec, source: Callable[[dict], _abc.Iterator[list]]):
        self._spec = spec
        self._source = source

    def _elements(self, ctx: dict) -> _abc.Iterator[list[np.ndarray]]:
        return self._source(ctx)

    # --- sources -------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors: Any) -> Dataset:
        """One element per row of the given arrays (all of the same length);
        a placeholder component takes the value fed when the iterator's
        initializer runs."""
        what = "Dataset.from_tensor_slices"
        structure, flat = _flatten(tensors)
        comps = [_component(v, what) for v in flat]
        shapes = [TensorShape(c.shape) for c in comps]
        if any(s.rank == 0 for s in shapes):
            raise ValueError(
                f"[{what}] components must have at least one dimension, got shapes "
                f"{[str(s) for s in shapes]}"
            )
        _check_lengths([s[0] if s.rank else None for s in shapes], what, shapes)
        spec = _Spec(
            structure,
            [dtypes.as_dtype(c.dtype) for c in comps],
            [s[1:] if s.rank is not None else TensorShape(None) for s in shapes],
        )

        def source(ctx: dict) -> _abc.Iterator[list]:
            arrays = _resolve(comps, ctx, what)
            shapes = [TensorShape(a.shape) for a in arrays]
            if any(a.ndim == 0 for a in arrays):
                raise errors.InvalidArgumentError(
                    f"[{what}] fed components must have at least one dimension, got shapes "
                    f"{[str(s) for s in shapes]}"
                )
            _check_lengths([a.shape[0] for a in arrays], what, shapes, errors.InvalidArgumentError)
            for i in builtins.range(arrays[0].shape[0]):
                yield [a[i] for a in arrays]

        return Dataset(spec, source)

    @staticmethod
    def from_tensors(tensors: Any) -> Dataset:
        """A dataset of one element: the given arrays (placeholders as in
        ``from_tensor_slices``)."""
        structure, flat = _flatten(tensors)
        comps = [_component(v, "Dataset.from_tensors") for v in flat]
        spec = _Spec(
            structure,
            [dtypes.as_dtype(c.dtype) for c in comps],
            [TensorShape(c.shape) for c in comps],
        )
        return Dataset(spec, lambda ctx: iter([_resolve(comps, ctx, "Dataset.from_tensors")]))

    @staticmethod
    def range(*args: Any, output_type: Any = dtypes.int64) -> Dataset:
        """``Dataset.range(stop)``, ``(start, stop[, step])``: int64 scalars."""
        r = builtins.range(*[int(a) for a in args])
        dt = dtypes.as_dtype(output_type)
        spec = _Spec(None, [dt], [TensorShape([])])
        return Dataset(spec, lambda ctx: ([np.array(i, dt.as_numpy_dtype)] for i in r))

    @staticmethod
    def from_generator(
        generator: Callable[[], Any], output_types: Any, output_shapes: Any = None, args: Any = None
    ) -> Dataset:
        """Elements from calling `generator()` (with `args`); each is converted
        to `output_types` and checked against `output_shapes`."""
        structure, types = _flatten(output_types)
        types = [dtypes.as_dtype(t) for t in types]
        if output_shapes is None:
            shapes = [TensorShape(None) for _ in types]
        else:
            shapes = _flatten_shapes(structure, output_shapes)
        spec = _Spec(structure, types, shapes)

        def source(ctx: dict) -> _abc.Iterator[list]:
            for value in generator(*(args or ())):
                _, flat = _flatten(value)
                if len(flat) != len(types):
                    raise errors.InvalidArgumentError(
                        f"[Dataset.from_generator] the generator yielded {len(flat)} components, "
                        f"expected {len(types)}"
                    )
                out = []
                for v, t, s in zip(flat, types, shapes):
                    a = np.asarray(v, dtype=t.as_numpy_dtype)
                    if not s.is_compatible_with(TensorShape(a.shape)):
                        raise errors.InvalidArgumentError(
                            f"[Dataset.from_generator] the generator yielded a value of shape "
                            f"{list(a.shape)}, expected {s}"
                        )
                    out.append(a)
                yield out

        return Dataset(spec, source)

    @staticmethod
    def zip(datasets: Any) -> Dataset:
        """``Dataset.zip((a, b))``: elements of the given datasets side by side."""
        structure, flat = _flatten(datasets)
        for d in flat:
            if not isinstance(d, Dataset):
                raise TypeError(f"[Dataset.zip] expected Datasets, got {type(d).__name__}")
        spec = _Spec(
            _nest_structures(structure, [d._spec.structure for d in flat]),
            [t for d in flat for t in d._spec.types],
            [s for d in flat for s in d._spec.shapes],
        )

        def source(ctx: dict) -> _abc.Iterator[list]:
            for parts in zip(*[d._elements(ctx) for d in flat]):
                yield [x for p in parts for x in p]

        return Dataset(spec, source)

    # --- transformations ---------------------------------------------------------------

    def batch(self, batch_size: Any, drop_remainder: bool = False) -> Dataset:
        """Stacks `batch_size` consecutive elements; the last batch is smaller
        unless `drop_remainder`. The batch dimension is None unless
        `drop_remainder`, as in TF."""
        n = _positive(batch_size, "Dataset.batch", "batch_size")
        spec = _Spec(
            self._spec.structure,
            self._spec.types,
            [
                TensorShape([n if drop_remainder else None]).concatenate(s)
                for s in self._spec.shapes
            ],
        )

        def source(ctx: dict) -> _abc.Iterator[list]:
            it = self._elements(ctx)
            while True:
                chunk = list(itertools.islice(it, n))
                if not chunk or (drop_remainder and len(chunk) < n):
                    return
                out = []
                for parts in zip(*chunk):
                    shapes = {p.shape for p in parts}
                    if len(shapes) > 1:
                        raise errors.InvalidArgumentError(
                            "[Dataset.batch] cannot batch components of different shapes "
                            f"{sorted(list(s) for s in shapes)}"
                        )
                    out.append(np.stack(parts))
                yield out

        return Dataset(spec, source)

    def shuffle(
        self, buffer_size: Any, seed: Any = None, reshuffle_each_iteration: bool = True
    ) -> Dataset:
        """Reorders elements as TF does: a buffer of `buffer_size` elements,
        from which a random one is taken and replaced by the next element.
        With `seed` (or a graph seed) the order is the same in every session;
        unless `reshuffle_each_iteration` is False, each pass of a
        ``repeat`` draws a new order."""
        size = _positive(buffer_size, "Dataset.shuffle", "buffer_size")
        graph_seed = fw.get_default_graph().seed
        base = seed if seed is not None else graph_seed
        if seed is not None and graph_seed is not None:
            base = hash((graph_seed, seed)) & 0x7FFFFFFF
        fixed = np.random.SeedSequence(base).generate_state(1)[0] if base is not None else None
        passes = object()  # keys this shuffle's pass count in an iteration's context

        def source(ctx: dict) -> _abc.Iterator[list]:
            k = (
                next(ctx.setdefault(id(passes), itertools.count()))
                if reshuffle_each_iteration
                else 0
            )
            if fixed is not None:
                order_rng = np.random.default_rng([int(fixed), k])
            elif reshuffle_each_iteration:
                order_rng = np.random.default_rng()
            else:
                order_rng = np.random.default_rng(_unseeded_state(self))
            buffer: list[list] = []
            for e in self._elements(ctx):
                buffer.append(e)
                if len(buffer) == size:
                    i = int(order_rng.integers(len(buffer)))
                    buffer[i], buffer[-1] = buffer[-1], buffer[i]
                    yield buffer.pop()
            while buffer:
                i = int(order_rng.integers(len(buffer)))
                buffer[i], buffer[-1] = buffer[-1], buffer[i]
                yield buffer.pop()

        return Dataset(self._spec, source)

    def repeat(self, count: Any = None) -> Dataset:
        """The elements `count` times (forever when None or -1)."""
        n = None if count is None or int(count) < 0 else int(count)

        def source(ctx: dict) -> _abc.Iterator[list]:
            for _ in itertools.count() if n is None else builtins.range(n):
                empty = True
                for e in self._elements(ctx):
                    empty = False
                    yield e
                if empty:
                    return

        return Dataset(self._spec, source)

    def take(self, count: Any) -> Dataset:
        """The first `count` elements (all when -1)."""
        n = int(count)
        return Dataset(
            self._spec,
            lambda ctx: self._elements(ctx) if n < 0 else itertools.islice(self._elements(ctx), n),
        )

    def skip(self, count: Any) -> Dataset:
        """The elements after the first `count` (none when -1)."""
        n = int(count)
        return Dataset(
            self._spec,
            lambda ctx: iter(()) if n < 0 else itertools.islice(self._elements(ctx), n, None),
        )

    def prefetch(self, buffer_size: Any = None) -> Dataset:
        """Accepted: elements are made when a run needs them."""
        return self

    def cache(self, filename: str = "") -> Dataset:
        """Accepted: the dataset's arrays already live in memory."""
        return self

    def filter(self, predicate: Callable[..., Any]) -> Dataset:
        """The elements for which `predicate` (built on graph tensors, as
        ``map``'s function) is True."""
        fn = _GraphFunction(predicate, self._spec, "Dataset.filter")
        if len(fn.out_spec.types) != 1 or fn.out_spec.types[0] != dtypes.bool:
            raise TypeError("[Dataset.filter] the predicate must return one bool tensor")

        def source(ctx: dict) -> _abc.Iterator[list]:
            for e in self._elements(ctx):
                if bool(fn(e)[0]):
                    yield e

        return Dataset(self._spec, source)

    def map(self, map_func: Callable[..., Any], num_parallel_calls: Any = None) -> Dataset:
        """Applies `map_func` to each element. The function is built once on
        placeholders of the element's components (a tuple element is passed
        as separate arguments, as in TF) in a graph of its own, and every
        element runs through that graph, so its math is graph ops."""
        fn = _GraphFunction(map_func, self._spec, "Dataset.map")

        def source(ctx: dict) -> _abc.Iterator[list]:
            for e in self._elements(ctx):
                yield fn(e)

        return Dataset(fn.out_spec, source)

    def apply(self, transformation_func: Callable[[Dataset], Dataset]) -> Dataset:
        return transformation_func(self)

    def concatenate(self, dataset: Dataset) -> Dataset:
        """The elements of this dataset, then those of `dataset` (same dtypes)."""
        if self._spec.types != dataset._spec.types:
            raise TypeError(
                f"[Dataset.concatenate] dtypes differ: {[t.name for t in self._spec.types]} and "
                f"{[t.name for t in dataset._spec.types]}"
            )
        shapes = [
            a.most_specific_compatible_shape(b)
            for a, b in zip(self._spec.shapes, dataset._spec.shapes)
        ]
        spec = _Spec(self._spec.structure, self._spec.types, shapes)
        return Dataset(
            spec, lambda ctx: itertools.chain(self._elements(ctx), dataset._elements(ctx))
        )

    # --- iterators ----------------------------------------------------------------------

    def make_one_shot_iterator(self) -> Iterator:
        """An iterator that starts at the first element in each session."""
        return Iterator._make(self, initializable=False)

    def make_initializable_iterator(self, shared_name: Any = None) -> Iterator:
        """An iterator that must be started by running its ``initializer``."""
        return Iterator._make(self, initializable=True)

    # --- structure ----------------------------------------------------------------------

    @property
    def output_types(self) -> Any:
        return _pack(self._spec.structure, list(self._spec.types))

    @property
    def output_shapes(self) -> Any:
        return _pack(self._spec.structure, list(self._spec.shapes))

    @property
    def output_classes(self) -> Any:
        return _pack(self._spec.structure, [Tensor] * len(self._spec.types))

    def __iter__(self):
        raise TypeError(
            "[Dataset] a Dataset is iterated through an iterator in graph mode: "
            "use make_one_shot_iterator() and Session.run"
        )

    def __repr__(self) -> str:
        return f"<devrt.graph.data.Dataset types={self.output_types} shapes={self.output_shapes}>"


def _check_lengths(lengths: list, what: str, shapes: list, error: type = ValueError) -> None:
    known = {n for n in lengths if n is not None}
    if len(known) > 1:
        raise error(
            f"[{what}] all components must have the same first dimension, got shapes "
            f"{[str(s) for s in shapes]}"
        )


def _positive(value: Any, what: str, arg: str) -> int:
    n = int(value)
    if n <= 0:
        raise ValueError(f"[{what}] `{arg}` must be greater than zero, got {value}")
    return n


def _unseeded_state(ds: Dataset) -> int:
    """A seed drawn once per dataset, for reshuffle_each_iteration=False
    without a seed: the same order in each pass."""
    if not hasattr(ds, "_once_seed"):
        ds._once_seed = int(np.random.SeedSequence().generate_state(1)[0])
    return ds._once_seed


def _flatten_shapes(structure: Any, shapes: Any) -> list[TensorShape]:
    out: list[TensorShape] = []

    def walk(s: Any, v: Any) -> None:
        if s is None:
            out.append(TensorShape(v))
        elif s[0] is tuple:
            for c, x in zip(s[2], v):
                walk(c, x)
        else:
            for k, c in zip(s[1], s[2]):
                walk(c, v[k])

    walk(structure, shapes)
    return out


def _nest_structures(outer: Any, inner: list[Any]) -> Any:
    it = iter(inner)

    def build(s: Any) -> Any:
        if s is None:
            return next(it)
        if s[0] is tuple:
            return (tuple, s[1], [build(c) for c in s[2]])
        return (dict, s[1], [build(c) for c in s[2]])

    return build(outer)


class _GraphFunction:
    """A function of graph tensors built once in a graph of its own and run
    on each element's arrays in a Session of that graph."""

    def __init__(self, func: Callable[..., Any], spec: _Spec, what: str) -> None:
        from devrt.graph import constant_ops
        from devrt.graph.conversion import _convert
        from devrt.graph.session import Session

        self.what = what
        self.graph = fw.Graph()
        with self.graph.as_default():
            self.inputs = [
                constant_ops.placeholder(t, s.as_list() if s.rank is not None else None)
                for t, s in zip(spec.types, spec.shapes)
            ]
            args = _pack(spec.structure, list(self.inputs))
            try:
                if isinstance(args, tuple) and not hasattr(args, "_fields"):
                    result = func(*args)
                else:
                    result = func(args)
                if isinstance(result, list):
                    result = tuple(result)
                structure, flat = _flatten(result)
                self.outputs = [_convert(v, None, None, None, self.graph, what) for v in flat]
            except ValueError as exc:
                if "same graph" not in str(exc):
                    raise
                raise ValueError(
                    f"[{what}] the function must build its tensors from its arguments "
                    f"(tensors of another graph, such as placeholders, are not supported): {exc}"
                ) from None
        self.out_spec = _Spec(
            structure, [t.dtype for t in self.outputs], [t.shape for t in self.outputs]
        )
        self.session = Session(graph=self.graph)
        if any(op.type == "Variable" for op in self.graph.get_operations()):
            raise ValueError(f"[{what}] the function must not create variables")

    def __call__(self, element: list[np.ndarray]) -> list[np.ndarray]:
        values = self.session.run(self.outputs, dict(zip(self.inputs, element)))
        return [np.asarray(v) for v in values]


# --- iterators ----------------------------------------------------------------------------


class _State:
    """Where one iterator stands in one session."""

    def __init__(self, dataset: Dataset, feeds: dict | None = None) -> None:
        self.elements = dataset._elements({"feeds": feeds})


class Iterator:
    """``tf.data.Iterator``: reads a dataset in a session. ``get_next()``
    returns tensors that take the next element each time a run needs them."""

    def __init__(self, graph: fw.Graph, spec: _Spec, dataset: Dataset | None, initializable: bool):
        self._graph = graph
        self._spec = spec
        self._dataset = dataset
        self._initializable = initializable
        self._states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._initializers: dict[int, Dataset] = {}  # NoOp id -> the dataset it starts
        self._initializer: Operation | None = None
        self._name = graph.unique_name("Iterator")
        registry = _registry(graph)
        registry.iterators.append(self)
        if dataset is not None and initializable:
            self._initializer = self._make_initializer(dataset, "initializer")

    @staticmethod
    def _make(dataset: Dataset, initializable: bool) -> Iterator:
        return Iterator(fw.get_default_graph(), dataset._spec, dataset, initializable)

    @staticmethod
    def from_structure(
        output_types: Any, output_shapes: Any = None, shared_name: Any = None, output_classes=None
    ) -> Iterator:
        """A reinitializable iterator: ``make_initializer(dataset)`` gives the
        op that starts it on `dataset` (of these types)."""
        structure, types = _flatten(output_types)
        types = [dtypes.as_dtype(t) for t in types]
        shapes = (
            [TensorShape(None) for _ in types]
            if output_shapes is None
            else _flatten_shapes(structure, output_shapes)
        )
        return Iterator(fw.get_default_graph(), _Spec(structure, types, shapes), None, True)

    def _make_initializer(self, dataset: Dataset, name: str) -> Operation:
        if dataset._spec.types != self._spec.types:
            raise TypeError(
                f"[Iterator.make_initializer] the dataset's dtypes "
                f"{[t.name for t in dataset._spec.types]} differ from the iterator's "
                f"{[t.name for t in self._spec.types]}"
            )
        for have, want in zip(dataset._spec.shapes, self._spec.shapes):
            if not have.is_compatible_with(want):
                raise TypeError(
                    f"[Iterator.make_initializer] the dataset's shapes "
                    f"{dataset._spec.shapes} are not compatible with the iterator's {self._spec.shapes}"
                )
        with self._graph.name_scope(self._name + "/"):
            op = self._graph._create_op("NoOp", [], {}, name)
        self._initializers[op._id] = dataset
        _registry(self._graph).initializers[op._id] = self
        return op

    @property
    def initializer(self) -> Operation:
        if self._initializer is None:
            raise ValueError(
                "[Iterator.initializer] this iterator has no initializer (a one-shot iterator "
                "starts by itself; one from from_structure is started by make_initializer)"
            )
        return self._initializer

    def make_initializer(self, dataset: Dataset, name: str | None = None) -> Operation:
        return self._make_initializer(dataset, name or "make_initializer")

    def get_next(self, name: str | None = None) -> Any:
        """The next element, as tensors (the structure of the dataset's elements)."""
        from devrt.graph import constant_ops

        with self._graph.as_default(), self._graph.name_scope(self._name + "/"):
            with self._graph.name_scope(name or "IteratorGetNext"):
                tensors = [
                    constant_ops.placeholder(
                        t, s.as_list() if s.rank is not None else None, "component"
                    )
                    for t, s in zip(self._spec.types, self._spec.shapes)
                ]
        registry = _registry(self._graph)
        group = _GetNext(self, tensors)
        for t in tensors:
            registry.get_next[t.op._id] = group
        return _pack(self._spec.structure, tensors)

    @property
    def output_types(self) -> Any:
        return _pack(self._spec.structure, list(self._spec.types))

    @property
    def output_shapes(self) -> Any:
        return _pack(self._spec.structure, list(self._spec.shapes))

    def _start(self, session: Any, dataset: Dataset, feeds: dict) -> None:
        self._states[session] = _State(dataset, feeds)

    def _next(self, session: Any) -> list[np.ndarray]:
        state = self._states.get(session)
        if state is None:
            if self._initializable:
                raise errors.FailedPreconditionError(
                    "[IteratorGetNext] GetNext() failed because the iterator has not been "
                    "initialized. Ensure that you have run the initializer operation for this "
                    "iterator before getting the next element."
                )
            state = self._states[session] = _State(self._dataset)
        try:
            return next(state.elements)
        except StopIteration:
            raise errors.OutOfRangeError("[IteratorGetNext] End of sequence") from None


class _GetNext:
    def __init__(self, iterator: Iterator, tensors: list[Tensor]) -> None:
        self.iterator, self.tensors = iterator, tensors


class _Registry:
    def __init__(self) -> None:
        self.iterators: list[Iterator] = []
        self.get_next: dict[int, _GetNext] = {}  # Placeholder id -> its group
        self.initializers: dict[int, Iterator] = {}  # NoOp id -> its iterator
        self.needed: dict[Any, tuple[list[Iterator], list[_GetNext]]] = {}


def _registry(graph: fw.Graph) -> _Registry:
    reg = getattr(graph, "_data_registry", None)
    if reg is None:
        reg = graph._data_registry = _Registry()
    return reg


def _session_feeds(
    session: Any,
    tensors: list[Tensor],
    ops: list[Operation],
    fed: set[tuple[int, int]],
    feed_values: Callable[[], dict],
) -> list[tuple[Tensor, np.ndarray]]:
    """Starts the iterators whose initializer the run includes (reading the
    run's feeds, from `feed_values()`, for datasets of placeholders) and
    takes the next element of each ``get_next()`` group it needs: the
    (tensor, value) pairs to feed. Called by ``Session.run`` when the graph
    has iterators."""
    reg = _registry(session.graph)
    key = (
        session.graph.version,
        tuple((t.op._id, t.value_index) for t in tensors),
        tuple(op._id for op in ops),
        tuple(sorted(fed)),
    )
    needed = reg.needed.get(key)
    if needed is None:
        needed = reg.needed[key] = _needed(session.graph, tensors, ops, fed, reg)
    inits, groups = needed
    values = feed_values() if inits else {}
    for op_id in inits:
        iterator = reg.initializers[op_id]
        iterator._start(session, iterator._initializers[op_id], values)
    out = []
    for group in groups:
        element = group.iterator._next(session)
        out.extend(zip(group.tensors, element))
    return out


def _needed(graph: fw.Graph, tensors, ops, fed, reg: _Registry):
    """The initializers and get_next groups a run reaches from its fetches,
    through data and control inputs, stopping at fed values."""
    seen: set[int] = set()
    stack = [t.op for t in tensors if (t.op._id, t.value_index) not in fed] + list(ops)
    while stack:
        op = stack.pop()
        if op._id in seen:
            continue
        seen.add(op._id)
        for n, i in op._node.inputs:
            if (n.id, i) not in fed:
                stack.append(graph._ops[n.id])
        stack.extend(graph._ops[n.id] for n in op._node.control_inputs)
    inits = sorted(i for i in reg.initializers if i in seen)
    groups: list[_GetNext] = []
    for op_id, group in reg.get_next.items():
        if op_id in seen and all(g is not group for g in groups):
            groups.append(group)
    return inits, groups


def make_one_shot_iterator(dataset: Dataset) -> Iterator:
    """``tf.data.make_one_shot_iterator(dataset)``."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset: Dataset, shared_name: Any = None) -> Iterator:
    """``tf.data.make_initializable_iterator(dataset)``."""
    return dataset.make_initializable_iterator()


def get_output_types(dataset_or_iterator: Any) -> Any:
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator: Any) -> Any:
    return dataset_or_iterator.output_shapes
