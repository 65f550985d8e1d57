"""Conv1d, Conv2d and ConvTranspose2d."""

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


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) inputs, as torch.nn.Conv2d."""

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
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"[Conv2d] padding_mode={padding_mode!r} is not supported; use 'zeros'"
            )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"[Conv2d] groups={groups} must divide in_channels ({in_channels}) "
                f"and out_channels ({out_channels})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.padding_mode = padding_mode
        kw = {"dtype": dtype or devrt.float32, "device": device}
        self.weight = Parameter(
            devrt.empty(out_channels, in_channels // groups, *self.kernel_size, **kw)
        )
        self.bias = Parameter(devrt.empty(out_channels, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's default: kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), ..)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(Module):
    """1-D convolution over (N, C, L) inputs, as torch.nn.Conv1d."""

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
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"[Conv1d] padding_mode={padding_mode!r} is not supported; use 'zeros'"
            )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"[Conv1d] groups={groups} must divide in_channels ({in_channels}) "
                f"and out_channels ({out_channels})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (F._single(kernel_size),)
        self.stride = (F._single(stride),)
        self.padding = padding if isinstance(padding, str) else (F._single(padding),)
        self.dilation = (F._single(dilation),)
        self.groups = groups
        self.padding_mode = padding_mode
        kw = {"dtype": dtype or devrt.float32, "device": device}
        self.weight = Parameter(
            devrt.empty(out_channels, in_channels // groups, self.kernel_size[0], **kw)
        )
        self.bias = Parameter(devrt.empty(out_channels, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: devrt.Tensor) -> devrt.Tensor:
        return F.conv1d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose2d(Module):
    """Transposed 2-D convolution, as torch.nn.ConvTranspose2d; weight
    (in_channels, out_channels/groups, kH, kW)."""

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
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(
                f'[ConvTranspose2d] Only "zeros" padding mode is supported, got {padding_mode!r}'
            )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"[ConvTranspose2d] groups={groups} must divide in_channels ({in_channels}) "
                f"and out_channels ({out_channels})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.output_padding = _pair(output_padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.padding_mode = padding_mode
        kw = {"dtype": dtype or devrt.float32, "device": device}
        self.weight = Parameter(
            devrt.empty(in_channels, out_channels // groups, *self.kernel_size, **kw)
        )
        self.bias = Parameter(devrt.empty(out_channels, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's fan_in for this weight layout is out_channels/groups * kH * kW.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

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

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
