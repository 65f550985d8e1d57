"""Dropout."""

from __future__ import annotations

import devrt
from devrt.nn import functional as F
from devrt.nn.modules.module import Module


class Dropout(Module):
    """Zeroes elements with probability `p` while training, scaling the rest
    by ``1/(1-p)``; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"[Dropout] probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
