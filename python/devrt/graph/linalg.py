"""``tf.linalg``: the matrix functions of devrt.graph under their
``tf.linalg`` names, plus ``band_part``, ``matrix_transpose``, ``trace``
and ``diag_part``, built of graph ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt.graph import framework as fw
from devrt.graph.constant_ops import constant, eye
from devrt.graph.math_ops import matmul, norm
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int, _t

__all__ = [
    "adjoint",
    "band_part",
    "diag_part",
    "eye",
    "matmul",
    "matrix_transpose",
    "norm",
    "trace",
    "transpose",
]


def _matrix_dims(x: Tensor, what: str, known: bool) -> list[Any]:
    if x.shape.rank is None or x.shape.rank < 2:
        raise ValueError(f"[{what}] the input must have rank >= 2, got {x.shape}")
    dims = x.shape.as_list()
    if known and (dims[-1] is None or dims[-2] is None):
        raise ValueError(f"[{what}] the matrix dimensions of {x.shape} must be known")
    return dims


def matrix_transpose(a: Any, name: str = "matrix_transpose", conjugate: bool = False) -> Tensor:
    """``tf.linalg.matrix_transpose`` (``tf.linalg.transpose``): swaps the
    last two dimensions."""
    x = _t(a, "matrix_transpose")
    rank = len(_matrix_dims(x, "matrix_transpose", False))
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    with fw.name_scope(name, "matrix_transpose", [x]) as scope:
        return _apply("Transpose", [x], {"perm": perm}, scope)


transpose = matrix_transpose
adjoint = matrix_transpose  # real dtypes only


def _band_mask(rows: int, cols: int, lower: int, upper: int) -> np.ndarray:
    """The (static) positions that band_part keeps."""
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    keep = np.ones((rows, cols), dtype=bool)
    if lower >= 0:
        keep &= i - j <= lower
    if upper >= 0:
        keep &= j - i <= upper
    return keep


def band_part(input: Any, num_lower: Any, num_upper: Any, name: str | None = None) -> Tensor:
    """``tf.linalg.band_part``: keeps the entries at most `num_lower` below
    and `num_upper` above the diagonal of each matrix (negative: all), the
    rest zero. The matrix dimensions and both bounds must be known."""
    x = _t(input, "band_part")
    dims = _matrix_dims(x, "band_part", True)
    lower = _int(num_lower, "band_part", "num_lower")
    upper = _int(num_upper, "band_part", "num_upper")
    with fw.name_scope(name, "band_part", [x]) as scope:
        keep = constant(_band_mask(dims[-2], dims[-1], lower, upper))
        return _apply("Select", [keep, x, _apply("ZerosLike", [x], {})], {}, scope)


def diag_part(input: Any, name: str = "diag_part", k: int = 0) -> Tensor:
    """``tf.linalg.diag_part`` (main diagonal, ``k`` = 0): the diagonals of
    the last two dimensions, whose sizes must be known."""
    x = _t(input, "diag_part")
    dims = _matrix_dims(x, "diag_part", True)
    if k != 0:
        raise NotImplementedError("[diag_part] only the main diagonal (k=0) is supported")
    n = min(dims[-2], dims[-1])
    with fw.name_scope(name, "diag_part", [x]) as scope:
        keep = constant(_band_mask(dims[-2], dims[-1], 0, 0))
        masked = _apply("Select", [keep, x, _apply("ZerosLike", [x], {})], {})
        summed = _apply("Sum", [masked], {"axes": [len(dims) - 1], "keepdims": False})
        if dims[-2] == n:
            return _apply("Identity", [summed], {}, scope)
        begin = [0] * (len(dims) - 1)
        end = [0] * (len(dims) - 2) + [n]
        attrs = {
            "begin": begin,
            "end": end,
            "strides": [1] * (len(dims) - 1),
            "begin_mask": 0,
            "end_mask": (1 << (len(dims) - 2)) - 1,
            "shrink_axis_mask": 0,
        }
        return _apply("StridedSlice", [summed], attrs, scope)


def trace(x: Any, name: str | None = None) -> Tensor:
    """``tf.linalg.trace``: the sum of each matrix's main diagonal."""
    t = _t(x, "trace")
    with fw.name_scope(name, "Trace", [t]) as scope:
        d = diag_part(t)
        return _apply("Sum", [d], {"axes": [d.shape.rank - 1], "keepdims": False}, scope)
