"""``devrt.backends.cuda``: the switches PyTorch programs set on
``torch.backends.cuda``.

``matmul.allow_tf32`` (False by default) lets float32 matmuls on the CUDA
backend use TF32 tensor cores (cuBLAS's ``CUBLAS_COMPUTE_32F_FAST_TF32``):
faster, with a 10-bit mantissa for the products. The value lives in the
``devrt-cuda`` plugin; without it the switch is kept here and does nothing.
"""

from __future__ import annotations


class _Matmul:
    def __init__(self) -> None:
        self._allow_tf32 = False

    @property
    def allow_tf32(self) -> bool:
        from devrt import cuda

        plugin = cuda._plugin()
        return plugin.get_allow_tf32() if plugin is not None else self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        from devrt import cuda

        self._allow_tf32 = bool(value)
        plugin = cuda._plugin()
        if plugin is not None:
            plugin.set_allow_tf32(self._allow_tf32)


matmul = _Matmul()
