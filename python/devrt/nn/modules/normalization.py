"""Layer normalization over the trailing dimensions."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.nn import functional as F
from devrt.nn import init
from devrt.nn.modules.module import Module
from devrt.nn.parameter import Parameter


class LayerNorm(Module):
    """Normalizes each sample over its trailing `normalized_shape`
    dimensions, with a learnt per-element scale and shift (ones and zeros at
    first) when `elementwise_affine`."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(d) for d in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(devrt.empty(self.normalized_shape, dtype=dtype, device=device))
            self.bias = (
                Parameter(devrt.empty(self.normalized_shape, dtype=dtype, device=device))
                if bias
                else None
            )
        else:
            self.weight = None
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
