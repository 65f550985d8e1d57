"""Named tuples returned by ops with several results (as torch.return_types)."""

from typing import Any, NamedTuple


class max(NamedTuple):  # noqa: A001 - mirrors torch.return_types.max
    values: Any
    indices: Any


class min(NamedTuple):  # noqa: A001 - mirrors torch.return_types.min
    values: Any
    indices: Any


class sort(NamedTuple):
    values: Any
    indices: Any


class topk(NamedTuple):
    values: Any
    indices: Any
