"""Flatten."""

from __future__ import annotations

import devrt
from devrt.nn.modules.module import Module


class Flatten(Module):
    """Flattens dimensions start_dim..end_dim (all but the batch by default)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
