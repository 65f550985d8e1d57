"""devrt.nn: PyTorch-style modules, functional ops, losses and initializers.

Everything here is composed from devrt tensor ops, so it runs on every
device and gets its gradients from the core's derivative rules.
"""

from devrt.nn import functional, init, modules, parallel, utils
from devrt.nn.modules import *  # noqa: F403  (the layer classes; their list is modules.__all__)
from devrt.nn.parallel import DataParallel
from devrt.nn.parameter import Parameter

__all__ = [
    *modules.__all__,
    "DataParallel",
    "Parameter",
    "functional",
    "init",
    "parallel",
    "utils",
]
