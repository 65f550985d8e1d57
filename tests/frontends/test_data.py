"""devrt.utils.data: datasets, splits, samplers, collation and the DataLoader,
in the main process and with worker processes.

Expected values are written out or computed with NumPy / plain Python.
"""

from __future__ import annotations

import collections
import os
import time

import numpy as np
import pytest

import devrt
from devrt.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    Generator,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)


def np_of(t) -> np.ndarray:
    return np.array(t.numpy(), copy=True)


def make_tensor_dataset(n=10):
    x = devrt.arange(n * 3, dtype=devrt.float32).reshape(n, 3)
    y = devrt.arange(n)
    return TensorDataset(x, y)


class Squares(Dataset):
    """Sample i is {"i": i, "sq": float(i * i), "vec": np.full(2, i)}."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"i": i, "sq": float(i * i), "vec": np.full(2, i, dtype=np.int64)}


class Failing(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> int:
        if i == 5:
            raise ValueError("sample 5 is broken")
        return i


class Dying(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> int:
        if get_worker_info() is not None and i == 3:
            os._exit(3)
        return i


class WorkerReport(Dataset):
    """Sample i tells which process loaded it, and a random draw made there."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple:
        info = get_worker_info()
        worker = -1 if info is None else info.id
        return i, worker, os.getpid(), devrt.rand(1).item(), float(np.random.rand())


class Range(IterableDataset):
    """The integers [0, n); with workers, each yields every num_workers-th."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


# --- datasets ---------------------------------------------------------------------------


def test_tensor_dataset():
    ds = make_tensor_dataset(4)
    assert len(ds) == 4
    x, y = ds[2]
    np.testing.assert_array_equal(np_of(x), [6.0, 7.0, 8.0])
    assert y.item() == 2
    with pytest.raises(ValueError, match=r"\[TensorDataset\] size mismatch"):
        TensorDataset(devrt.zeros(3), devrt.zeros(4))


def test_subset_and_concat():
    base = Squares(10)
    sub = Subset(base, [7, 2, 9])
    assert len(sub) == 3 and sub[0]["i"] == 7 and sub[2]["i"] == 9
    cat = base + Squares(3)
    assert isinstance(cat, ConcatDataset)
    assert len(cat) == 13
    assert [cat[i]["i"] for i in (0, 9, 10, 12, -1)] == [0, 9, 0, 2, 2]


def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(i for p in parts for i in p.indices)
    assert seen == list(range(10))
    # Fractions: floor(10 * f), the remainder round-robin from the first.
    parts = random_split(ds, [0.35, 0.35, 0.3], generator=5)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sorted(i for p in parts for i in p.indices) == list(range(10))


def test_random_split_is_reproducible():
    ds = Squares(50)
    a = random_split(ds, [0.5, 0.5], generator=Generator().manual_seed(7))
    b = random_split(ds, [0.5, 0.5], generator=7)
    c = random_split(ds, [0.5, 0.5], generator=8)
    assert a[0].indices == b[0].indices
    assert a[0].indices != c[0].indices
    devrt.manual_seed(3)
    d = random_split(ds, [25, 25])
    devrt.manual_seed(3)
    e = random_split(ds, [25, 25])
    assert d[1].indices == e[1].indices


def test_random_split_errors():
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(Squares(10), [3, 3])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(Squares(10), [1.5, -0.5])


# --- samplers ---------------------------------------------------------------------------


def test_sequential_and_random_samplers():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    sampler = RandomSampler(range(20), generator=Generator().manual_seed(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(20)) and sorted(second) == list(range(20))
    assert first != second  # a new order each pass
    again = RandomSampler(range(20), generator=0)
    assert list(again) == first
    drawn = list(RandomSampler(range(4), replacement=True, num_samples=50, generator=1))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2, 3}
    more = list(RandomSampler(range(4), num_samples=10, generator=1))
    assert len(more) == 10 and sorted(more[:4]) == [0, 1, 2, 3]
    sub = list(SubsetRandomSampler([10, 20, 30], generator=2))
    assert sorted(sub) == [10, 20, 30]


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: BatchSampler(range(3), 0, False), "batch_size should be a positive integer"),
        (lambda: BatchSampler(range(3), 2, 1), "drop_last should be a boolean"),
        (lambda: RandomSampler(range(3), replacement=1), "replacement should be a boolean"),
        (lambda: RandomSampler(range(3), num_samples=0), "num_samples should be a positive"),
        (lambda: RandomSampler(range(3), generator="x"), r"\[generator\] expected an int"),
    ],
)
def test_sampler_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_generator_state():
    g = Generator().manual_seed(11)
    assert g.initial_seed() == 11
    state = g.get_state()
    a = g.randperm(10)
    g.set_state(state)
    assert g.randperm(10) == a
    with pytest.raises(ValueError, match=r"\[Generator\]"):
        g.set_state(devrt.zeros(3, dtype=devrt.uint8))


def test_torch_generator_is_accepted():
    torch = pytest.importorskip("torch")
    a = list(RandomSampler(range(10), generator=torch.Generator().manual_seed(4)))
    b = list(RandomSampler(range(10), generator=4))
    assert a == b


# --- collation ----------------------------------------------------------------------------


def test_collate_stacks_tensors():
    batch = [devrt.tensor([[1.0, 2.0]]), devrt.tensor([[3.0, 4.0]]), devrt.tensor([[5.0, 6.0]])]
    out = default_collate(batch)
    assert out.shape == (3, 1, 2) and out.dtype == devrt.float32
    np.testing.assert_array_equal(np_of(out), [[[1, 2]], [[3, 4]], [[5, 6]]])
    scalars = default_collate([devrt.tensor(1), devrt.tensor(2)])
    assert scalars.shape == (2,) and scalars.tolist() == [1, 2]
    # Non-contiguous samples are gathered correctly.
    base = devrt.arange(12).reshape(3, 4)
    out = default_collate([base.t(), base.t() * 2])
    np.testing.assert_array_equal(np_of(out)[1], np.arange(12).reshape(3, 4).T * 2)


def test_collate_numbers_strings_and_arrays():
    out = default_collate([1, 2, 3])
    assert out.dtype == devrt.int64 and out.tolist() == [1, 2, 3]
    out = default_collate([0.5, 1.5])
    assert out.dtype == devrt.float64 and out.tolist() == [0.5, 1.5]
    assert default_collate([True, False]).dtype == devrt.bool
    assert default_collate(["a", "b"]) == ["a", "b"]
    arrays = default_collate([np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)])
    assert arrays.shape == (2, 2, 2) and arrays.dtype == devrt.float32
    assert default_collate([np.float32(1), np.float32(2)]).dtype == devrt.float32


def test_collate_nested_structures():
    Point = collections.namedtuple("Point", "x y")
    batch = [
        {"a": (1, devrt.tensor([1.0])), "p": Point(1, 2.0), "l": [1, 2]},
        {"a": (2, devrt.tensor([2.0])), "p": Point(3, 4.0), "l": [3, 4]},
    ]
    out = default_collate(batch)
    assert set(out) == {"a", "p", "l"}
    assert isinstance(out["a"], list)  # tuples collate to lists, as in PyTorch
    assert out["a"][0].tolist() == [1, 2] and out["a"][1].tolist() == [[1.0], [2.0]]
    assert isinstance(out["p"], Point) and out["p"].y.tolist() == [2.0, 4.0]
    assert [t.tolist() for t in out["l"]] == [[1, 3], [2, 4]]
    ordered = default_collate([collections.OrderedDict(b=1, a=2)] * 2)
    assert isinstance(ordered, collections.OrderedDict) and list(ordered) == ["b", "a"]


def test_collate_errors():
    with pytest.raises(RuntimeError, match=r"\[default_collate\] stack expects each tensor"):
        default_collate([devrt.zeros(2), devrt.zeros(3)])
    with pytest.raises(RuntimeError, match="one dtype"):
        default_collate([devrt.zeros(2), devrt.zeros(2, dtype=devrt.float64)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert({"x": np.arange(3), "s": "text", "t": (np.float64(1.5), 2)})
    assert out["x"].tolist() == [0, 1, 2] and out["s"] == "text"
    assert isinstance(out["t"], list) and out["t"][0].dtype == devrt.float64


# --- DataLoader, main process ---------------------------------------------------------------


def test_loader_batches_in_order():
    loader = DataLoader(make_tensor_dataset(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    np.testing.assert_array_equal(np_of(batches[2][0]), np.arange(24, 30).reshape(2, 3))
    dropped = DataLoader(make_tensor_dataset(10), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[1].tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_loader_dict_samples():
    batch = next(iter(DataLoader(Squares(6), batch_size=3)))
    assert batch["i"].tolist() == [0, 1, 2]
    assert batch["sq"].dtype == devrt.float64 and batch["sq"].tolist() == [0.0, 1.0, 4.0]
    assert batch["vec"].tolist() == [[0, 0], [1, 1], [2, 2]]


def test_loader_shuffle_is_seeded():
    def order(**kw):
        return [
            i
            for b in DataLoader(Squares(30), batch_size=7, shuffle=True, **kw)
            for i in b["i"].tolist()
        ]

    a = order(generator=Generator().manual_seed(3))
    assert sorted(a) == list(range(30)) and a != list(range(30))
    assert order(generator=3) == a
    assert order(generator=4) != a
    devrt.manual_seed(12)
    b = order()
    devrt.manual_seed(12)
    assert order() == b
    # One loader shuffles differently each epoch, reproducibly.
    loader = DataLoader(Squares(30), batch_size=30, shuffle=True, generator=9)
    epochs = [next(iter(loader))["i"].tolist() for _ in range(2)]
    assert epochs[0] != epochs[1]


def test_loader_custom_sampler_batch_sampler_and_collate():
    ds = make_tensor_dataset(6)
    loader = DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b[1].tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(ds, batch_sampler=[[0, 5], [1]])
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 5], [1]]
    loader = DataLoader(ds, batch_size=3, collate_fn=lambda samples: len(samples))
    assert list(loader) == [3, 3]
    unbatched = list(DataLoader(Squares(3), batch_size=None))
    assert len(unbatched) == 3 and unbatched[2]["vec"].tolist() == [2, 2]
    assert unbatched[2]["i"] == 2  # not batched: Python values stay as they are


def test_loader_iterable_dataset():
    loader = DataLoader(Range(10), batch_size=4)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(loader) == 3
    assert [b.tolist() for b in DataLoader(Range(10), batch_size=4, drop_last=True)] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables"),
        ({"timeout": -1}, "timeout option should be non-negative"),
    ],
)
def test_loader_option_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Squares(4), **kwargs)


def test_loader_iterable_dataset_option_errors():
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Range(4), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler"):
        DataLoader(Range(4), sampler=[0])


# --- DataLoader, worker processes ---------------------------------------------------------------


def test_workers_give_the_same_batches():
    ds = make_tensor_dataset(23)
    kw = {"batch_size": 4, "shuffle": True, "generator": 5}
    single = [(np_of(x), np_of(y)) for x, y in DataLoader(ds, **kw)]
    multi = [(np_of(x), np_of(y)) for x, y in DataLoader(ds, num_workers=2, **kw)]
    assert len(multi) == len(single) == 6
    for (a, b), (c, d) in zip(single, multi):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def check_worker_id(worker_id):
    assert get_worker_info().id == worker_id


def failing_init(worker_id):
    raise KeyError(f"no config for worker {worker_id}")


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(0.6)
        return i


def test_workers_are_processes_with_info_and_seeds():
    seen = []
    for _ in range(2):
        loader = DataLoader(
            WorkerReport(), batch_size=2, num_workers=2, worker_init_fn=check_worker_id, generator=1
        )
        seen.append(list(loader))
    index, worker, pid, draw, np_draw = seen[0][0]
    assert index.tolist() == [0, 1]
    workers = {w for batch in seen[0] for w in batch[1].tolist()}
    pids = {p for batch in seen[0] for p in batch[2].tolist()}
    assert workers == {0, 1} and os.getpid() not in pids and len(pids) == 2
    # Batches alternate between the workers, whose seeds differ...
    assert seen[0][0][3].tolist() != seen[0][1][3].tolist()
    assert seen[0][0][4].tolist() != seen[0][1][4].tolist()
    # ...and are reproducible from the loader's generator.
    for a, b in zip(seen[0], seen[1]):
        assert a[3].tolist() == b[3].tolist() and a[4].tolist() == b[4].tolist()


def test_worker_exception_is_reraised():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0") as e:
        list(loader)
    assert "sample 5 is broken" in str(e.value)


def test_worker_init_fn_exception_is_reraised():
    with pytest.raises(KeyError, match="no config for worker"):
        list(DataLoader(Squares(4), num_workers=1, worker_init_fn=failing_init))


def test_worker_death_is_detected():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"\[DataLoader\] worker \(pid\(s\) \d+"):
        list(DataLoader(Dying(), batch_size=1, num_workers=2))
    assert time.monotonic() - start < 5


def test_iterable_dataset_with_workers():
    loader = DataLoader(Range(10), batch_size=2, num_workers=3)
    got = sorted(i for b in loader for i in b.tolist())
    assert got == list(range(10))


def test_persistent_workers_survive_epochs():
    loader = DataLoader(
        WorkerReport(), batch_size=4, num_workers=2, persistent_workers=True, generator=2
    )
    pids = []
    for epoch in range(3):
        batches = list(loader)
        assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        pids.append({p for b in batches for p in b[2].tolist()})
        if epoch == 1:
            next(iter(loader))  # an abandoned epoch leaves results behind
    assert pids[0] == pids[1] == pids[2]
    iterable = DataLoader(Range(6), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert sorted(i for b in iterable for i in b.tolist()) == list(range(6))


def test_loader_timeout():
    with pytest.raises(RuntimeError, match=r"\[DataLoader\] timed out after 0.2 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.2))


def test_unpicklable_batch_becomes_an_error():
    # A batch that cannot travel back is reported, not lost in the queue.
    # (fork: the lambda collate_fn reaches the worker without pickling.)
    collate = lambda b: lambda: b  # noqa: E731
    loader = DataLoader(
        Squares(2), num_workers=1, collate_fn=collate, multiprocessing_context="fork"
    )
    with pytest.raises(Exception, match="DataLoader worker process 0"):
        list(loader)
