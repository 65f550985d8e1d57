"""Conv1d, Conv2d and ConvTranspose2d, over one shared `_ConvNd` base."""

from __future__ import annotations

import math
from typing import Any

import devrt
from devrt.nn import functional as F
from devrt.nn import init
from devrt.nn.modules.module import Module
from devrt.nn.parameter import Parameter


def _pair(x: Any) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else tuple(x)


def _single(x: Any) -> tuple[int]:
    return (F._single(x),)


class _ConvNd(Module):
    """What the convolution layers share: the constructor's checks, the
    weight and bias, their initialization and the repr. A subclass names its
    op (for errors), how to turn a size argument into a tuple, and whether
    its weight has the transposed (in, out/groups, *k) layout. The
    constructor's signature is Conv1d's and Conv2d's."""

    _op: str
    _transposed = False

    @staticmethod
    def _ntuple(x: Any) -> tuple[int, ...]:
        raise NotImplementedError

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self._check_padding_mode(padding_mode)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"[{self._op}] groups={groups} must divide in_channels ({in_channels}) "
                f"and out_channels ({out_channels})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = self._ntuple(kernel_size)
        self.stride = self._ntuple(stride)
        if isinstance(padding, str) and not self._transposed:
            self.padding = padding
        else:
            self.padding = self._ntuple(padding)
        self.dilation = self._ntuple(dilation)
        self.groups = groups
        self.padding_mode = padding_mode
        if self._transposed:
            channels = (in_channels, out_channels // groups)
        else:
            channels = (out_channels, in_channels // groups)
        kw = {"dtype": dtype or devrt.float32, "device": device}
        self.weight = Parameter(devrt.empty(*channels, *self.kernel_size, **kw))
        self.bias = Parameter(devrt.empty(out_channels, **kw)) if bias else None
        self.reset_parameters()

    def _check_padding_mode(self, padding_mode: str) -> None:
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"[{self._op}] padding_mode={padding_mode!r} is not supported; use 'zeros'"
            )

    def reset_parameters(self) -> None:
        # torch's default: kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), ..),
        # fan_in being weight.shape[1] * prod(kernel_size) in either weight layout.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        zeros = (0,) * len(self.kernel_size)
        ones = (1,) * len(self.kernel_size)
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self._transposed and self.output_padding != zeros:
            s += f", output_padding={self.output_padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) inputs, as torch.nn.Conv2d."""

    _op = "Conv2d"
    _ntuple = staticmethod(_pair)

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs, as torch.nn.Conv1d."""

    _op = "Conv1d"
    _ntuple = staticmethod(_single)

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return F.conv1d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution, as torch.nn.ConvTranspose2d; weight
    (in_channels, out_channels/groups, kH, kW)."""

    _op = "ConvTranspose2d"
    _ntuple = staticmethod(_pair)
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self.output_padding = _pair(output_padding)

    def _check_padding_mode(self, padding_mode: str) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'[ConvTranspose2d] Only "zeros" padding mode is supported, got {padding_mode!r}'
            )

    def forward(self, input: devrt.Tensor, output_size: Any = None) -> devrt.Tensor:
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(input, list(output_size)[-2:])
        return F.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )

    def _output_padding(self, input: devrt.Tensor, size: list[int]) -> tuple[int, int]:
        pads = []
        for k in range(2):
            smallest = (
                (input.shape[-2 + k] - 1) * self.stride[k]
                - 2 * self.padding[k]
                + self.dilation[k] * (self.kernel_size[k] - 1)
                + 1
            )
            extra = size[k] - smallest
            if not 0 <= extra < self.stride[k]:
                raise ValueError(
                    f"[ConvTranspose2d] requested an output size of {size}, but valid sizes "
                    f"range from {smallest} to {smallest + self.stride[k] - 1} in dimension {k}"
                )
            pads.append(extra)
        return pads[0], pads[1]
