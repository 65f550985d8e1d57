"""``keras.utils``: data preparation, the progress bar, seeding, and the
serialization registry."""

from __future__ import annotations

import random

import numpy as np

import devrt
from devrt.keras.config import (  # noqa: F401
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from devrt.keras.serialization import (  # noqa: F401
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    register_keras_serializable,
    serialize_keras_object,
)
from devrt.keras.utils.numerical_utils import normalize, to_categorical  # noqa: F401
from devrt.keras.utils.progbar import Progbar  # noqa: F401
from devrt.keras.utils.py_dataset import PyDataset  # noqa: F401
from devrt.keras.utils.sequence_utils import pad_sequences  # noqa: F401

# Keras 3 keeps the old name of PyDataset.
Sequence = PyDataset

_RANDOM_SEED: int | None = None


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy's global generator and devrt's
    generator, so that weight initialisation, dropout and shuffling repeat."""
    global _RANDOM_SEED
    if not isinstance(seed, int):
        raise ValueError(
            "Expected `seed` argument to be an integer. "
            f"Received: seed={seed} (of type {type(seed)})"
        )
    _RANDOM_SEED = seed
    random.seed(seed)
    np.random.seed(seed)
    devrt.manual_seed(seed)


def get_random_seed() -> int | None:
    """The seed last given to `set_random_seed`, or None."""
    return _RANDOM_SEED
