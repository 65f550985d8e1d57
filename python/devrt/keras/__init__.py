"""``from devrt import keras``: Keras 3's API on devrt's core.

Layers hold devrt Variables, compute with devrt ops, and train through
devrt's eager autograd; models run on whatever device ``keras.device(...)``
names (``cpu`` by default), third-party backends included. Names and
module layout mirror Keras 3, so ``import keras`` becomes
``from devrt import keras`` and ``from keras import layers`` becomes
``from devrt.keras import layers``.
"""

from __future__ import annotations

import importlib as _importlib

from devrt.keras import (  # noqa: F401  # noqa: F401
    activations,
    backend,
    config,
    constraints,
    initializers,
    layers,  # noqa: F401
    ops,
    regularizers,
    serialization,
)
from devrt.keras.backend import device  # noqa: F401
from devrt.keras.keras_tensor import KerasTensor  # noqa: F401
from devrt.keras.layers import Input, InputSpec, Layer  # noqa: F401
from devrt.keras.variables import Variable  # noqa: F401

__version__ = "3.15.1"
version = __version__

models = _importlib.import_module("devrt.keras.models")
Model = models.Model
Sequential = models.Sequential
losses = _importlib.import_module("devrt.keras.losses")
metrics = _importlib.import_module("devrt.keras.metrics")
optimizers = _importlib.import_module("devrt.keras.optimizers")
callbacks = _importlib.import_module("devrt.keras.callbacks")
utils = _importlib.import_module("devrt.keras.utils")
saving = _importlib.import_module("devrt.keras.saving")
