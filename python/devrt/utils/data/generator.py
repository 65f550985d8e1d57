"""Seeded host-side randomness for shuffling and splitting.

Orders of indices are host data (Python ints handed to ``dataset[i]``), so
they come from a host generator (NumPy's PCG64) rather than a device op.
A ``Generator`` plays the part of ``torch.Generator`` for samplers,
``random_split`` and ``DataLoader``; those also accept an int seed or any
object with ``initial_seed()``. Without one, a seed is drawn from devrt's
global generator, so ``devrt.manual_seed`` makes shuffles reproducible.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from devrt import _C

# torch.Generator's default seed, so an unseeded Generator is still deterministic.
_DEFAULT_SEED = 67280421310721


class Generator:
    """A seeded source of random permutations and integers (host side)."""

    def __init__(self, device: Any = "cpu", *, _seed: int = _DEFAULT_SEED) -> None:
        self.device = _C.device(device) if isinstance(device, str) else device
        self.manual_seed(_seed)

    def manual_seed(self, seed: int) -> Generator:
        """Resets the generator to `seed`; returns the generator."""
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"[Generator] seed must fit in 64 bits, got {seed}")
        self._seed = seed % 2**64
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseeds from the operating system's entropy; returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Any:
        """The generator's state as a uint8 tensor (restore with ``set_state``)."""
        state = {"seed": self._seed, "pcg64": self._rng.bit_generator.state}
        raw = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy()
        return _C.from_numpy(raw)

    def set_state(self, new_state: Any) -> Generator:
        try:
            state = json.loads(bytes(new_state.numpy(force=True).tobytes()).decode())
            self._seed = int(state["seed"])
            self._rng.bit_generator.state = state["pcg64"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"[Generator] not a state from Generator.get_state: {exc}") from None
        return self

    # Sampling, as Python ints.
    def randperm(self, n: int) -> list[int]:
        return self.randperm_array(n).tolist()

    def randperm_array(self, n: int) -> np.ndarray:
        """``randperm(n)`` as an int64 array (the same order)."""
        return self._rng.permutation(n).astype(np.int64, copy=False)

    def randint(self, high: int, size: int) -> list[int]:
        return self._rng.integers(0, high, size=size).tolist()

    def random_seed(self) -> int:
        """A fresh 63-bit seed (for worker processes and derived generators)."""
        return int(self._rng.integers(0, 2**63 - 1))


def global_seed() -> int:
    """A 63-bit seed drawn from devrt's global generator (``devrt.manual_seed``)."""
    return int(_C.randint(0, 2**63 - 1, ()).item())


def as_generator(generator: Any) -> Generator | None:
    """`generator` as a Generator: None stays None; an int is a seed; a
    Generator is used as is; an object with ``initial_seed()`` (such as
    ``torch.Generator``) seeds a new one."""
    if generator is None or isinstance(generator, Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return Generator().manual_seed(int(generator))
    initial_seed = getattr(generator, "initial_seed", None)
    if callable(initial_seed):
        return Generator().manual_seed(int(initial_seed()))
    raise TypeError(
        f"[generator] expected an int seed or a Generator (with initial_seed()), got "
        f"{type(generator).__name__}"
    )


def resolve(generator: Generator | None) -> Generator:
    """`generator`, or a new one seeded from devrt's global generator."""
    return generator if generator is not None else Generator(_seed=global_seed())
