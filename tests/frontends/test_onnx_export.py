"""devrt.onnx.export: models traced at the op level run in onnxruntime with
devrt's outputs (and, for the same weights, PyTorch's computation of the
same math), pass onnx.checker, keep declared dynamic axes dynamic, and an
op the exporter cannot convert is a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest

import devrt
import devrt.nn as nn
import devrt.nn.functional as F
import devrt.onnx
from devrt.nn.parameter import Parameter

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def export(model, args, **kwargs) -> bytes:
    buf = io.BytesIO()
    devrt.onnx.export(model, args, buf, **kwargs)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def run(data: bytes, *inputs) -> list[np.ndarray]:
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})


def op_types(data: bytes) -> list[str]:
    return [n.op_type for n in onnx.load_from_string(data).graph.node]


def assert_close(got, expected, tol=1e-5):
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def torch_twin(torch_model, devrt_model):
    """`torch_model` with `devrt_model`'s weights (through a devrt.save file)."""
    import torch

    buf = io.BytesIO()
    devrt.save(devrt_model.state_dict(), buf)
    buf.seek(0)
    torch_model.load_state_dict(torch.load(buf, weights_only=True))
    return torch_model.eval()


# --- the three models ---------------------------------------------------------------------


def test_mlp():
    devrt.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 3)
    )
    x = devrt.randn(4, 10)
    data = export(
        model,
        (x,),
        input_names=["features"],
        output_names=["logits"],
        dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}},
    )
    assert op_types(data) == ["Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Identity"]
    graph = onnx.load_from_string(data).graph
    assert sorted(i.name for i in graph.initializer) == sorted(dict(model.named_parameters()))
    assert graph.input[0].name == "features" and graph.output[0].name == "logits"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for batch in (4, 7):
        x = devrt.randn(batch, 10)
        (got,) = run(data, x)
        assert_close(got, model(x).numpy())
        h = np.maximum(x.numpy() @ model[0].weight.numpy().T + model[0].bias.numpy(), 0)
        h = np.tanh(h @ model[2].weight.numpy().T + model[2].bias.numpy())
        assert_close(got, h @ model[4].weight.numpy().T + model[4].bias.numpy())


def lenet(nn=nn, F=F):
    """A LeNet-style CNN, built from `nn` and `F` (devrt's or torch's)."""

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.bn = nn.BatchNorm2d(16)
            self.pool = nn.AvgPool2d(2)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = self.pool(F.relu(self.bn(self.conv2(x))))
            x = x.view(x.size(0), -1)
            x = self.drop(F.relu(self.fc1(x)))
            x = F.sigmoid(self.fc2(x)) * 2 - 1
            return F.log_softmax(self.fc3(x), dim=1)

    return LeNet()


def test_lenet_cnn():
    devrt.manual_seed(1)
    model = lenet()
    model.train()
    model(devrt.randn(8, 1, 28, 28))  # moves the batch-norm statistics
    model.eval()
    x = devrt.randn(3, 1, 28, 28)
    model.train()  # export runs the model in eval mode and restores the mode
    data = export(model, x, dynamic_axes={"input_0": [0], "output_0": [0]})
    assert model.training
    with pytest.raises(NotImplementedError, match=r"batch_norm: batch norm in training mode"):
        export(model, x, training="TrainingMode.PRESERVE")  # it stays in training mode
    model.eval()
    types = op_types(data)
    for op in ("Conv", "MaxPool", "BatchNormalization", "AveragePool", "Reshape", "Gemm"):
        assert op in types
    assert "Dropout" not in types
    x = devrt.randn(5, 1, 28, 28)
    (got,) = run(data, x)
    assert_close(got, model(x).numpy())
    torch = pytest.importorskip("torch")
    twin = torch_twin(lenet(torch.nn, torch.nn.functional), model)
    with torch.no_grad():
        assert_close(got, twin(torch.from_numpy(x.numpy())).numpy(), 1e-4)


def decoder(nn=nn):
    """A small convolution-transpose decoder, code -> 1x16x16 image, built
    from `nn` (devrt's or torch's)."""

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 16 * 4 * 4)
            self.up1 = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.up2 = nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1)
            self.act = nn.ReLU()
            self.out = nn.Sigmoid()

        def forward(self, z):
            x = self.fc(z).reshape(-1, 16, 4, 4)
            x = self.act(self.bn(self.up1(x)))
            return self.out(self.up2(x))

    return Decoder()


def test_conv_transpose_decoder():
    devrt.manual_seed(2)
    model = decoder()
    model.train()
    model(devrt.randn(6, 8))
    model.eval()
    z = devrt.randn(2, 8)
    data = export(model, (z,), dynamic_axes={"input_0": {0: "n"}, "output_0": {0: "n"}})
    assert op_types(data).count("ConvTranspose") == 2
    z = devrt.randn(3, 8)
    (got,) = run(data, z)
    assert got.shape == (3, 1, 16, 16)
    assert_close(got, model(z).numpy())
    torch = pytest.importorskip("torch")
    twin = torch_twin(decoder(torch.nn), model)
    with torch.no_grad():
        assert_close(got, twin(torch.from_numpy(z.numpy())).numpy(), 1e-4)


# --- more ops -----------------------------------------------------------------------------------


class Mixed(nn.Module):
    """Embedding, LayerNorm, Conv1d, GELU, Softmax, permute, cat, matmul and
    arithmetic with Python numbers and parameters on either side."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.norm = nn.LayerNorm(8)
        self.conv = nn.Conv1d(8, 8, 3, padding="same")
        self.gelu = nn.GELU()
        self.scale = Parameter(devrt.tensor(0.5))
        self.proj = nn.Linear(16, 4)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, tokens, extra):
        h = self.norm(self.embed(tokens))  # (N, L, 8)
        c = self.gelu(self.conv(h.permute(0, 2, 1))).transpose(1, 2)  # (N, L, 8)
        both = devrt.cat([h, c], dim=-1)  # (N, L, 16)
        attn = self.softmax(h @ c.transpose(-2, -1) / 8**0.5)  # (N, L, L)
        mixed = devrt.matmul(attn, both)
        y = self.proj(mixed).mean(dim=1)  # (N, 4)
        y = 1.0 - self.scale * y + extra.unsqueeze(0).squeeze(0)
        return F.tanh(y), devrt.flatten(attn, 1)


def test_mixed_ops_and_two_outputs():
    devrt.manual_seed(3)
    model = Mixed().eval()
    tokens = devrt.randint(0, 20, (2, 6))
    extra = devrt.randn(4)
    data = export(model, (tokens, extra), input_names=["tokens", "extra"])
    types = set(op_types(data))
    assert {"Gather", "LayerNormalization", "Conv", "Softmax", "Concat", "MatMul"} <= types
    got = run(data, tokens, extra)
    expected = model(tokens, extra)
    assert len(got) == 2
    for g, e in zip(got, expected):
        assert_close(g, e.numpy())


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_across_opsets(opset, approximate):
    model = nn.Sequential(nn.Linear(5, 5), nn.GELU(approximate=approximate))
    x = devrt.randn(3, 5)
    data = export(model, (x,), opset_version=opset)
    onnx_model = onnx.load_from_string(data)
    assert onnx_model.opset_import[0].version == opset
    assert onnx_model.ir_version == {17: 8, 20: 9}[opset]
    assert ("Gelu" in op_types(data)) == (opset >= 20)
    assert_close(run(data, x)[0], model(x).numpy())


def test_pooling_and_flatten_module():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.MaxPool2d(2, stride=2),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Linear(16, 2),
        nn.LogSoftmax(dim=1),
    ).eval()
    x = devrt.randn(2, 3, 8, 8)
    data = export(model, x, dynamic_axes={"input_0": [0], "output_0": [0]})
    x = devrt.randn(4, 3, 8, 8)
    assert_close(run(data, x)[0], model(x).numpy())
    global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert op_types(export(global_pool, x))[0] == "GlobalAveragePool"
    unbatched = nn.Sequential(nn.Conv1d(3, 2, 3, stride=2, dilation=2), nn.ReLU())
    signal = devrt.randn(3, 20)  # (C, L): no batch dimension
    data = export(unbatched.eval(), signal)
    assert op_types(data)[:3] == ["Unsqueeze", "Conv", "Squeeze"]
    assert_close(run(data, signal)[0], unbatched(signal).numpy())


# --- errors and cleanliness ----------------------------------------------------------------------


class UsesCumsum(nn.Module):
    def forward(self, x):
        return x.cumsum(1) + 1


def test_unsupported_op_is_named():
    with pytest.raises(
        NotImplementedError, match=r"^\[onnx\.export\] the op cumsum is not supported"
    ):
        export(UsesCumsum(), devrt.randn(2, 3))
    with pytest.raises(
        NotImplementedError, match=r"^\[onnx\.export\] the op sort .*float32 tensor"
    ):
        export(lambda x: devrt.sort(x)[0], devrt.randn(3))
    with pytest.raises(
        NotImplementedError, match=r"^\[onnx\.export\] dropout: dropout in training"
    ):
        export(nn.Dropout(0.5), devrt.randn(3), training="TrainingMode.TRAINING")
    with pytest.raises(NotImplementedError, match=r"adaptive_avg_pool2d: an output size"):
        export(nn.AdaptiveAvgPool2d(3), devrt.randn(1, 1, 4, 4))


def test_bad_arguments():
    model = nn.Linear(2, 2)
    x = devrt.randn(1, 2)
    with pytest.raises(ValueError, match=r"^\[onnx\.export\] opset_version 12 .* 17 to"):
        export(model, x, opset_version=12)
    with pytest.raises(TypeError, match=r"^\[onnx\.export\] args must be a tensor"):
        export(model, [x])
    with pytest.raises(ValueError, match=r"^\[onnx\.export\] dynamic_axes names 'x'"):
        export(model, x, dynamic_axes={"x": [0]})
    with pytest.raises(ValueError, match=r"^\[onnx\.export\] 2 output_names for 1 outputs"):
        export(model, x, output_names=["a", "b"])
    with pytest.raises(TypeError, match=r"^\[onnx\.export\] the model must return a tensor"):
        export(lambda x: {"y": x * 2}, x)


def test_the_surface_is_restored():
    Tensor = devrt.Tensor
    before = (Tensor.view, Tensor.add, F.relu, F.linear, devrt.relu, devrt.cat)
    export(lenet().eval(), devrt.randn(1, 1, 28, 28))
    with pytest.raises(NotImplementedError):
        export(UsesCumsum(), devrt.randn(2, 3))
    assert (Tensor.view, Tensor.add, F.relu, F.linear, devrt.relu, devrt.cat) == before
    assert "__add__" not in vars(Parameter) and "__matmul__" not in vars(Parameter)
    assert not devrt.onnx.is_in_onnx_export()
    assert type(devrt.ones(2) + devrt.ones(2)) is Tensor


class Indexing(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls = Parameter(devrt.randn(1, 1, 4))

    def forward(self, x):
        y = devrt.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        return y[:, 0], y[..., 1:3], y[:, None, -1], y[1:, ::2], y[-1], y[:, -3:-1, 2]


def test_basic_indexing_and_expand():
    model = Indexing()
    x = devrt.randn(3, 5, 4)
    data = export(model, x)
    assert {"Slice", "Squeeze", "Unsqueeze", "Expand"} <= set(op_types(data))
    got = run(data, x)
    expected = model(x)
    assert len(got) == 6
    for g, e in zip(got, expected):
        assert g.shape == tuple(e.shape)
        assert_close(g, e.numpy())
    index = devrt.tensor([0, 2])
    with pytest.raises(
        NotImplementedError, match=r"^\[onnx\.export\] __getitem__: indexing with a Tensor"
    ):
        export(lambda x: x[index], x)


def test_more_refusals():
    x = devrt.randn(1, 2)
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"^\[onnx\.export\] 2 input_names for 1 inputs"):
        export(model, x, input_names=["a", "b"])
    with pytest.raises(TypeError, match=r"^\[onnx\.export\] every model input must be a tensor"):
        export(model, (x, 3))
    with pytest.raises(
        TypeError, match=r"^\[onnx\.export\] unexpected keyword arguments \['colour'\]"
    ):
        export(model, x, colour="red")
    with pytest.raises(NotImplementedError, match=r"^\[onnx\.export\] export_params=False"):
        export(model, x, export_params=False)
    with pytest.raises(NotImplementedError, match=r"batch_norm: batch norm in training mode"):
        export(nn.BatchNorm1d(2), devrt.randn(3, 2), training="TrainingMode.TRAINING")
    embed = nn.Embedding(5, 2, max_norm=0.1)
    weight = embed.weight.numpy().copy()
    with pytest.raises(NotImplementedError, match=r"embedding: max_norm"):
        export(embed, devrt.tensor([1, 2]))
    np.testing.assert_array_equal(embed.weight.numpy(), weight)  # refused before it ran
    bn = nn.BatchNorm1d(2)
    with pytest.raises(NotImplementedError, match=r"batch_norm: batch norm in training mode"):
        export(bn, devrt.randn(3, 2) + 5, training=True)
    assert bn.running_mean.tolist() == [0.0, 0.0]


class ExportsItself(nn.Module):
    def forward(self, x):
        devrt.onnx.export(nn.ReLU(), x, io.BytesIO())
        return x


def test_nested_export_and_dtype_views_are_refused():
    with pytest.raises(RuntimeError, match=r"^\[onnx\.export\] an export is already running"):
        export(ExportsItself(), devrt.randn(2))
    with pytest.raises(NotImplementedError, match=r"^\[onnx\.export\] view: a view as devrt.int32"):
        export(lambda x: x.view(devrt.int32), devrt.randn(2))
    assert not devrt.onnx.is_in_onnx_export()
