"""devrt.optim: optimizers and learning-rate schedules (mirrors ``torch.optim``).

Every update is an in-place core op on whole parameter tensors, run under
``devrt.no_grad()``.
"""

from __future__ import annotations

from devrt.optim import lr_scheduler
from devrt.optim.adagrad import Adadelta, Adagrad
from devrt.optim.adam import Adam, AdamW
from devrt.optim.lbfgs import LBFGS
from devrt.optim.optimizer import Optimizer
from devrt.optim.rmsprop import RMSprop
from devrt.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "LBFGS",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
]
