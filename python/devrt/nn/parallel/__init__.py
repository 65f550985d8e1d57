"""``devrt.nn.parallel``: the wrappers PyTorch programs put around a model.

devrt runs a module on one device, so DataParallel passes every call
through to the module it wraps (keeping PyTorch's ``module.`` prefix in
state dicts). DistributedDataParallel imports, and raises on construction:
devrt has no process groups.
"""

from __future__ import annotations

from typing import Any

from devrt.nn.modules.module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


class DataParallel(Module):
    """Wraps `module`; forward calls it unchanged on its own device."""

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"[DataParallel] argument 'module' must be an nn.Module, got "
                f"{type(module).__name__}"
            )
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def data_parallel(
    module: Module,
    inputs: Any,
    device_ids: Any = None,
    output_device: Any = None,
    dim: int = 0,
    module_kwargs: Any = None,
) -> Any:
    """Calls `module` on `inputs` (a tensor or a tuple of arguments)."""
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*args, **(module_kwargs or {}))


class DistributedDataParallel(Module):
    """Importable for programs that mention it; constructing one raises, as
    PyTorch does without an initialised process group."""

    def __init__(self, module: Module, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "[DistributedDataParallel] Default process group has not been initialized: "
            "devrt has no distributed process groups; use the module directly (or "
            "DataParallel, which passes through)"
        )
