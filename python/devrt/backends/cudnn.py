"""``devrt.backends.cudnn``: the flags PyTorch programs set on
``torch.backends.cudnn``, kept as plain module attributes.

devrt's CUDA backend picks its convolution algorithms itself; `benchmark`,
`deterministic` and `allow_tf32` are recorded for programs that read them
back, and change no kernel choice.
"""

from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """True when devrt's CUDA backend (built with cuDNN) sees a GPU."""
    import devrt.cuda

    return devrt.cuda.is_available()


def version() -> int | None:
    """None: devrt does not report the cuDNN version."""
    return None
