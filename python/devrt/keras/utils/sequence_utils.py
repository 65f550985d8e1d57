"""``keras.utils.pad_sequences``: ragged lists of token ids as one array.

Data preparation on the host, as Keras does it: the result is a NumPy
array that ``fit`` then reads like any other input.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """``keras.utils.pad_sequences``: a ``(len(sequences), maxlen)`` array of
    the sequences, each cut to `maxlen` (its start dropped for
    ``truncating="pre"``, its end for ``"post"``) and filled with `value`
    before (``padding="pre"``) or after (``"post"``) it. `maxlen` defaults
    to the longest sequence."""
    if padding not in ("pre", "post"):
        raise ValueError(f'[pad_sequences] padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'[pad_sequences] truncating must be "pre" or "post", got {truncating!r}')
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"[pad_sequences] sequences must be a list of sequences, got {type(sequences).__name__}"
        )
    rows = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(
                f"[pad_sequences] sequence {i} is not a sequence: {type(s).__name__} {s!r}"
            )
        rows.append(np.asarray(s))
    if maxlen is None:
        maxlen = max((len(r) for r in rows), default=0)
    if int(maxlen) < 0:
        raise ValueError(f"[pad_sequences] maxlen must be at least 0, got {maxlen}")
    maxlen = int(maxlen)
    inner = next((r.shape[1:] for r in rows if len(r)), ())
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.object_)
    if isinstance(value, str) and not is_text:
        raise ValueError(
            f"[pad_sequences] value {value!r} is a string but dtype {dtype} is not text"
        )
    out = np.full((len(rows), maxlen, *inner), value, dtype=dtype)
    for i, r in enumerate(rows):
        if not len(r) or not maxlen:
            continue
        cut = r[-maxlen:] if truncating == "pre" else r[:maxlen]
        if cut.shape[1:] != inner:
            raise ValueError(
                f"[pad_sequences] sequence {i} has elements of shape {cut.shape[1:]}, "
                f"the others {inner}"
            )
        if padding == "post":
            out[i, : len(cut)] = cut
        else:
            out[i, -len(cut) :] = cut
    return out
