"""The caching allocator seen through devrt.memory_stats(): counts, reuse,
peak, empty_cache, and recovery from out-of-memory.

Other tests share the process (and so the allocator): every check works on
differences between two snapshots.
"""

from __future__ import annotations

import gc
import re

import numpy as np
import pytest

import devrt
from devrt.testing import pydev

KEYS = {
    "allocated",
    "reserved",
    "peak_allocated",
    "allocations",
    "cache_hits",
    "device_allocations",
}
MiB = 1 << 20


def stats(device=None) -> dict:
    gc.collect()
    return devrt.memory_stats() if device is None else devrt.memory_stats(device)


def test_memory_stats_keys_and_types():
    s = devrt.memory_stats()
    assert set(s) >= KEYS
    for k in KEYS:
        assert isinstance(s[k], int) and s[k] >= 0, k
    assert s["reserved"] >= s["allocated"]
    assert s["peak_allocated"] >= s["allocated"]
    assert s["allocations"] >= s["cache_hits"]
    assert s["allocations"] >= s["device_allocations"]


def test_memory_stats_accepts_device_forms():
    for dev in (None, "cpu", devrt.device("cpu")):
        assert set(devrt.memory_stats(dev)) >= KEYS
    assert set(devrt.memory_stats(pydev.NAME)) >= KEYS


def test_first_allocation_of_new_size_goes_to_the_device():
    devrt.empty_cache()
    s0 = stats()
    x = devrt.empty(3 * MiB // 4 + 123)  # an odd size class
    s1 = stats()
    assert s1["allocations"] == s0["allocations"] + 1
    assert s1["device_allocations"] == s0["device_allocations"] + 1
    assert s1["cache_hits"] == s0["cache_hits"]
    assert s1["allocated"] - s0["allocated"] >= x.nbytes
    assert s1["reserved"] - s0["reserved"] >= x.nbytes
    del x


def test_freed_block_is_reused_for_same_size():
    x = devrt.empty(10_000)
    nbytes = x.nbytes
    s0 = stats()
    del x
    s1 = stats()
    assert s0["allocated"] - s1["allocated"] >= nbytes  # allocated goes down
    assert s1["reserved"] == s0["reserved"]  # ... into the cache
    y = devrt.empty(10_000)
    s2 = stats()
    assert s2["allocations"] == s1["allocations"] + 1
    assert s2["cache_hits"] == s1["cache_hits"] + 1
    assert s2["device_allocations"] == s1["device_allocations"]
    assert s2["allocated"] == s0["allocated"]
    assert s2["reserved"] == s0["reserved"]
    del y


def test_allocated_goes_back_after_del():
    s0 = stats()
    tensors = [devrt.ones(1000 + i) for i in range(5)]
    s1 = stats()
    assert s1["allocated"] - s0["allocated"] >= sum(t.nbytes for t in tensors)
    del tensors
    assert stats()["allocated"] == s0["allocated"]


def test_views_do_not_allocate_and_keep_the_block():
    x = devrt.empty(256, 256)
    s0 = stats()
    v = x.t()[1:, ::2]
    w = x.view(-1)
    s1 = stats()
    assert s1["allocations"] == s0["allocations"]
    del x
    assert stats()["allocated"] == s0["allocated"]  # views hold the storage
    del v, w
    assert stats()["allocated"] < s0["allocated"]


def test_peak_allocated():
    devrt.reset_peak_memory_stats()
    s0 = stats()
    assert s0["peak_allocated"] == s0["allocated"]
    x = devrt.empty(4 * MiB // 4)  # 4 MiB of float32
    s1 = stats()
    assert s1["peak_allocated"] >= s0["allocated"] + 4 * MiB
    assert s1["peak_allocated"] == s1["allocated"]
    del x
    s2 = stats()
    assert s2["allocated"] == s0["allocated"]
    assert s2["peak_allocated"] == s1["peak_allocated"]  # the peak stays
    devrt.reset_peak_memory_stats()
    assert stats()["peak_allocated"] == s0["allocated"]


def test_empty_cache_reduces_reserved():
    x = devrt.empty(8 * MiB // 4)
    del x
    s0 = stats()
    assert s0["reserved"] - s0["allocated"] >= 8 * MiB  # cached
    devrt.empty_cache()
    s1 = stats()
    assert s1["reserved"] <= s0["reserved"] - 8 * MiB
    assert s1["reserved"] == s1["allocated"]  # nothing cached any more
    assert s1["allocated"] == s0["allocated"]


def test_empty_cache_then_reallocation_goes_to_the_device():
    x = devrt.empty(5 * MiB // 4)
    del x
    devrt.empty_cache("cpu")
    s0 = stats()
    y = devrt.empty(5 * MiB // 4)
    s1 = stats()
    assert s1["device_allocations"] == s0["device_allocations"] + 1
    assert s1["cache_hits"] == s0["cache_hits"]
    del y


def test_block_sizes_follow_the_documented_size_classes():
    # Requests under 1 MiB round up to 512 bytes; larger ones to a quarter
    # of their power of two.
    for nbytes, block in [(1, 512), (1000, 1024), (4096, 4096), (MiB + 1, MiB + MiB // 4)]:
        s0 = stats()
        x = devrt.empty(nbytes, dtype=devrt.uint8)
        s1 = stats()
        assert s1["allocated"] - s0["allocated"] == block, nbytes
        del x


def test_same_shaped_adds_make_no_new_device_allocations():
    a = devrt.rand(128, 128)
    b = devrt.rand(128, 128)
    for _ in range(10):  # warm-up
        c = a + b
        d = c * 2.0
    s0 = stats()
    for _ in range(1000):
        c = a + b
        d = c * 2.0
    s1 = stats()
    assert s1["device_allocations"] == s0["device_allocations"]
    assert s1["reserved"] == s0["reserved"]
    assert s1["allocations"] - s0["allocations"] >= 2000
    assert s1["cache_hits"] - s0["cache_hits"] == s1["allocations"] - s0["allocations"]
    assert s1["allocated"] == s0["allocated"]
    del c, d


def test_in_place_adds_allocate_nothing():
    a = devrt.zeros(256)
    b = devrt.ones(256)
    a.add_(b)
    s0 = stats()
    for _ in range(200):
        a.add_(b)
    s1 = stats()
    assert s1["device_allocations"] == s0["device_allocations"]
    assert s1["allocated"] == s0["allocated"]
    assert a[0].item() == 201.0


# --- out of memory -----------------------------------------------------------------


def _numbers_after(word: str, message: str) -> int:
    m = re.search(word + r"\D{0,3}(\d+)", message)
    assert m, f"{word!r} with a number not in {message!r}"
    return int(m.group(1))


def test_out_of_memory_carries_stats_and_frees_the_cache():
    keep = devrt.ones(1000)
    cached = devrt.empty(2 * MiB)
    del cached  # now in the cache
    s0 = stats()
    assert s0["reserved"] > s0["allocated"]
    with pytest.raises(devrt.OutOfMemoryError) as info:
        devrt.empty(1 << 50)
    err = info.value
    del info
    assert isinstance(err, MemoryError)
    msg = str(err)
    assert msg.startswith("[")
    assert str(1 << 52) in msg  # the bytes asked for (2^50 float32)
    assert _numbers_after("allocated", msg) == s0["allocated"]
    assert "reserved" in msg and "peak" in msg
    s1 = stats()
    # The cache was emptied before the retry; nothing leaked or was counted
    # as allocated.
    assert s1["allocated"] == s0["allocated"]
    assert s1["reserved"] == s1["allocated"]
    assert keep.sum().item() == 1000.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: devrt.empty(1 << 50),
        lambda: devrt.ones(1 << 48, dtype=devrt.float64),
        lambda: devrt.zeros(1 << 25, 1 << 25),
        lambda: devrt.rand(1 << 49),
        lambda: devrt.arange(0, 1 << 52, dtype=devrt.int64),
    ],
    ids=["empty", "ones", "zeros-2d", "rand", "arange"],
)
def test_out_of_memory_from_creation_functions(make):
    s0 = stats()
    with pytest.raises(devrt.OutOfMemoryError):
        make()
    s1 = stats()
    assert s1["allocated"] == s0["allocated"]


def test_out_of_memory_on_python_backend():
    with pytest.raises(devrt.OutOfMemoryError, match=pydev.NAME):
        devrt.empty(1 << 50, device=pydev.NAME)


def test_process_keeps_working_after_repeated_out_of_memory():
    for _ in range(20):
        with pytest.raises(MemoryError):
            devrt.empty(1 << 50)
    n = np.arange(100, dtype=np.float64).reshape(10, 10)
    x = devrt.tensor(n)
    np.testing.assert_allclose((x @ x.t()).numpy(), n @ n.T)
    assert (x + 1).sum().item() == 5050.0
    s = stats()
    y = devrt.empty(10_000)
    assert stats()["allocations"] == s["allocations"] + 1
    del y
