"""``tf.image``: resizing (``resize_images``, ``resize``,
``resize_bilinear``, ``resize_nearest_neighbor``).

The source rows and columns each output pixel reads, and the bilinear
weights, depend only on the (static) sizes, so they are constants computed
when the graph is built; the pixels are read with ``GatherV2`` and mixed
with ``Mul``/``Add``, so ``tf.gradients`` flows back to the input. The
conventions are TF1's: ``align_corners=False`` and
``half_pixel_centers=False`` unless given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.constant_ops import constant
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int_list, _t

__all__ = [
    "ResizeMethod",
    "resize",
    "resize_bilinear",
    "resize_images",
    "resize_nearest_neighbor",
]


class ResizeMethod:
    """``tf.image.ResizeMethod`` (TF1's numbers; TF2's strings are accepted too)."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


_METHODS = {0: "bilinear", 1: "nearest", "bilinear": "bilinear", "nearest": "nearest"}


def _scale(n_in: int, n_out: int, align_corners: bool) -> float:
    if align_corners and n_out > 1:
        return (n_in - 1) / (n_out - 1)
    return n_in / n_out


def _nearest_index(n_in: int, n_out: int, align: bool, half: bool) -> np.ndarray:
    scale = _scale(n_in, n_out, align)
    x = np.arange(n_out, dtype=np.float64)
    if half:
        src = np.floor((x + 0.5) * scale)
    elif align:
        src = np.floor(x * scale + 0.5)  # rounds halves up, as TensorFlow
    else:
        src = np.floor(x * scale)
    return np.clip(src, 0, n_in - 1).astype(np.int32)


def _bilinear_terms(n_in: int, n_out: int, align: bool, half: bool):
    """(lower index, upper index, weight of the upper) per output position."""
    scale = _scale(n_in, n_out, align)
    x = np.arange(n_out, dtype=np.float64)
    src = (x + 0.5) * scale - 0.5 if half else x * scale
    floor = np.floor(src)
    lower = np.clip(floor, 0, n_in - 1).astype(np.int32)
    upper = np.clip(np.ceil(src) if half else floor + 1, 0, n_in - 1).astype(np.int32)
    return lower, upper, (src - floor).astype(np.float32)


def _resize(
    images: Any, size: Any, method: str, align_corners: bool, half_pixel_centers: bool, name: Any
) -> Tensor:
    what = f"resize_{method}"
    x = _t(images, what)
    if align_corners and half_pixel_centers:
        raise ValueError(f"[{what}] align_corners and half_pixel_centers cannot both be True")
    rank = x.shape.rank
    if rank not in (3, 4):
        raise ValueError(f"[{what}] images must be 3-D or 4-D (NHWC), got {x.shape}")
    sizes = _int_list(size, what, "size")
    if len(sizes) != 2 or min(sizes) <= 0:
        raise ValueError(
            f"[{what}] size must be two positive ints (new_height, new_width), got {size!r}"
        )
    out_h, out_w = sizes
    dims = x.shape.as_list()
    in_h, in_w = dims[-3], dims[-2]
    if in_h is None or in_w is None:
        raise ValueError(f"[{what}] the height and width of {x.shape} must be known")
    h_axis, w_axis = rank - 3, rank - 2
    with fw.name_scope(name, what, [x]) as scope:
        if method == "nearest":
            rows = constant(_nearest_index(in_h, out_h, align_corners, half_pixel_centers))
            cols = constant(_nearest_index(in_w, out_w, align_corners, half_pixel_centers))
            y = _apply("GatherV2", [x, rows], {"axis": h_axis})
            return _apply("GatherV2", [y, cols], {"axis": w_axis}, scope)
        if not x.dtype.is_floating or x.dtype != dtypes.float32:
            x = _apply("Cast", [x], {"dtype": dtypes.float32.as_devrt_dtype})

        def mix(v: Tensor, axis: int, n_in: int, n_out: int, last_name: Any) -> Tensor:
            lo, hi, frac = _bilinear_terms(n_in, n_out, align_corners, half_pixel_centers)
            shape = [1] * rank
            shape[axis] = n_out
            a = _apply("GatherV2", [v, constant(lo)], {"axis": axis})
            b = _apply("GatherV2", [v, constant(hi)], {"axis": axis})
            w = constant(frac.reshape(shape))
            diff = _apply("Mul", [_apply("Sub", [b, a], {}), w], {})
            return _apply("Add", [a, diff], {}, last_name)

        return mix(mix(x, w_axis, in_w, out_w, None), h_axis, in_h, out_h, scope)


def resize_images(
    images: Any,
    size: Any,
    method: Any = ResizeMethod.BILINEAR,
    align_corners: bool = False,
    preserve_aspect_ratio: bool = False,
    name: str | None = None,
) -> Tensor:
    """``tf.image.resize_images`` (``tf.compat.v1.image.resize``): bilinear
    (float32 result) or nearest-neighbour (the input's dtype) resizing to
    `size`, with TF1's pixel conventions (no half-pixel centers)."""
    kind = _METHODS.get(method)
    if kind is None:
        raise NotImplementedError(
            f"[resize_images] method {method!r} is not supported (bilinear and nearest are)"
        )
    if preserve_aspect_ratio:
        raise NotImplementedError("[resize_images] preserve_aspect_ratio is not supported")
    return _resize(images, size, kind, align_corners, False, name)


resize = resize_images


def resize_bilinear(
    images: Any,
    size: Any,
    align_corners: bool = False,
    name: str | None = None,
    half_pixel_centers: bool = False,
) -> Tensor:
    """``tf.image.resize_bilinear``."""
    return _resize(images, size, "bilinear", align_corners, half_pixel_centers, name)


def resize_nearest_neighbor(
    images: Any,
    size: Any,
    align_corners: bool = False,
    name: str | None = None,
    half_pixel_centers: bool = False,
) -> Tensor:
    """``tf.image.resize_nearest_neighbor``."""
    return _resize(images, size, "nearest", align_corners, half_pixel_centers, name)
