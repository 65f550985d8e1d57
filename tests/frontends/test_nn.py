"""devrt.nn modules: Parameter, the Module machinery (registration,
traversal, state_dict, modes, conversions, hooks, repr), the layers against
NumPy formulas and against PyTorch with copied weights, containers, and
end-to-end training of small networks.

Expected values come from NumPy or PyTorch, never from devrt itself.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import devrt
import devrt.nn as nn
import devrt.nn.functional as F


def np_of(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


def d64(a, requires_grad=False):
    t = devrt.from_numpy(np.array(a, dtype=np.float64))
    return t.requires_grad_(True) if requires_grad else t


def close(t, expected, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np_of(t), np.asarray(expected), rtol=rtol, atol=atol)


def torch_copy(module, torch_module):
    """Loads `module`'s state into `torch_module` (same names) and returns it."""
    torch = pytest.importorskip("torch")
    state = {k: torch.from_numpy(np_of(v)) for k, v in module.state_dict().items()}
    torch_module.load_state_dict(state)
    return torch_module


class TwoLayerNet(nn.Module):
    def __init__(self, d_in, h, d_out):
        super().__init__()
        self.linear1 = nn.Linear(d_in, h)
        self.linear2 = nn.Linear(h, d_out)

    def forward(self, x):
        return self.linear2(self.linear1(x).clamp(min=0))


# --- Parameter ---------------------------------------------------------------------------


def test_parameter_is_a_tensor_that_aliases_its_data():
    data = devrt.randn(3, 4)
    p = nn.Parameter(data)
    assert isinstance(p, devrt.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert p._is_view_of(data)
    with devrt.no_grad():
        p.fill_(2.0)
    close(data, np.full((3, 4), 2.0))
    assert not nn.Parameter(devrt.zeros(2), requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    # Ops on a Parameter give plain tensors, as in torch.
    assert type(p * 2) is devrt.Tensor


def test_parameter_repr_grad_and_copies():
    p = nn.Parameter(devrt.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert str(p) == repr(p)
    (p * p).sum().backward()
    close(p.grad, [2.0, 4.0])
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is nn.Parameter and q.requires_grad
        assert not q._is_view_of(p)
        close(q, [1.0, 2.0])
    with pytest.raises(TypeError, match="devrt.Tensor"):
        nn.Parameter([1.0, 2.0])


# --- registration and traversal ---------------------------------------------------------


def test_setattr_registers_parameters_buffers_and_modules():
    m = nn.Module()
    m.w = nn.Parameter(devrt.zeros(2))
    m.register_buffer("stat", devrt.ones(2))
    m.register_buffer("scratch", devrt.ones(1), persistent=False)
    m.child = nn.Linear(2, 3)
    m.plain = devrt.zeros(1)  # a plain tensor is just an attribute
    assert list(m._parameters) == ["w"]
    assert list(m._buffers) == ["stat", "scratch"]
    assert list(m._modules) == ["child"]
    assert "plain" in m.__dict__
    assert m.w is m._parameters["w"] and m.child is m._modules["child"]
    # Assigning a tensor to a registered buffer name keeps it a buffer.
    m.stat = devrt.zeros(2)
    assert "stat" in m._buffers and "stat" not in m.__dict__
    # A parameter name takes only a Parameter or None.
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = devrt.zeros(2)
    m.w = None
    assert m.w is None and "w" in m._parameters
    # Rebinding a name to another kind moves it between tables.
    m.child = nn.Parameter(devrt.zeros(1))
    assert "child" in m._parameters and "child" not in m._modules
    del m.child
    assert "child" not in m._parameters
    with pytest.raises(AttributeError, match="child"):
        m.child  # noqa: B018


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match=r"\."):
        m.register_parameter("a.b", nn.Parameter(devrt.zeros(1)))
    with pytest.raises(KeyError, match="empty"):
        m.register_buffer("", devrt.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("p", devrt.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("b", [1.0])
    with pytest.raises(TypeError, match="Module subclass"):
        m.add_module("m", object())
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", devrt.zeros(1))

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(devrt.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_traversal_names_order_and_no_duplicates():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(OrderedDict(a=shared, act=nn.ReLU(), b=shared, bn=nn.BatchNorm1d(2)))
    assert [n for n, _ in net.named_parameters()] == ["a.weight", "a.bias", "bn.weight", "bn.bias"]
    assert len(list(net.parameters())) == 4
    assert [n for n, _ in net.named_buffers()] == [
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_children()] == ["a", "act", "bn"]
    assert [n for n, _ in net.named_modules()] == ["", "a", "act", "bn"]
    assert [n for n, _ in net.named_modules(prefix="top")] == ["top", "top.a", "top.act", "top.bn"]
    assert [n for n, _ in net.named_parameters(prefix="m")][0] == "m.a.weight"
    assert list(net.parameters(recurse=False)) == []
    assert len(list(net.modules())) == 4
    assert net.get_submodule("bn") is net.bn
    assert net.get_parameter("a.bias") is shared.bias
    assert [n for n, _ in net.named_parameters(remove_duplicate=False)][:4] == [
        "a.weight",
        "a.bias",
        "b.weight",
        "b.bias",
    ]


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert isinstance(ours.state_dict(), OrderedDict)


def test_state_dict_values_are_detached_aliases():
    m = TwoLayerNet(3, 4, 2)
    m.register_buffer("scratch", devrt.zeros(1), persistent=False)
    sd = m.state_dict()
    assert list(sd) == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]
    assert not sd["linear1.weight"].requires_grad
    assert type(sd["linear1.weight"]) is devrt.Tensor
    assert sd["linear1.weight"]._is_view_of(m.linear1.weight)
    kept = m.state_dict(keep_vars=True)
    assert kept["linear1.weight"] is m.linear1.weight
    assert list(m.state_dict(prefix="net."))[0] == "net.linear1.weight"


def test_load_state_dict_round_trip():
    src = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    src(devrt.randn(8, 3))  # moves the running statistics
    dst = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    weight = dst[0].weight
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert dst[0].weight is weight and weight.requires_grad and weight.is_leaf
    assert not weight._is_view_of(src[0].weight)  # copied, not shared
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
        np.testing.assert_array_equal(np_of(a), np_of(b), err_msg=k)
    x = devrt.randn(5, 3)
    src.eval(), dst.eval()
    np.testing.assert_array_equal(np_of(src(x)), np_of(dst(x)))


def test_load_state_dict_errors():
    m = TwoLayerNet(3, 4, 2)
    sd = m.state_dict()
    missing = {k: v for k, v in sd.items() if k != "linear2.bias"}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "linear2.bias"'):
        m.load_state_dict(missing)
    extra = dict(sd, **{"linear1.extra": devrt.zeros(1), "other.weight": devrt.zeros(1)})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\).*"other.weight", "linear1.extra"'):
        m.load_state_dict(extra)
    result = m.load_state_dict({**missing, "junk": devrt.zeros(1)}, strict=False)
    assert result.missing_keys == ["linear2.bias"]
    assert result.unexpected_keys == ["junk"]
    bad = dict(sd, **{"linear1.weight": devrt.zeros(3, 4)})
    with pytest.raises(RuntimeError, match=r"size mismatch for linear1.weight.*\(3, 4\).*\(4, 3\)"):
        m.load_state_dict(bad)
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(bad, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([1, 2])


def test_load_state_dict_assign_takes_the_checkpoint_tensors():
    src, dst = (
        nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)),
        nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)),
    )
    sd = src.state_dict()
    dst.load_state_dict(sd, assign=True)
    w = dst[0].weight
    assert isinstance(w, nn.Parameter) and w.requires_grad and w._is_view_of(src[0].weight)
    assert dst[1].running_mean is sd["1.running_mean"]


def test_load_state_dict_casts_and_keeps_old_batchnorm_checkpoints():
    bn = nn.BatchNorm1d(3)
    sd = {k: v.double() if v.is_floating_point() else v for k, v in bn.state_dict().items()}
    sd["running_mean"] = d64([1.0, 2.0, 3.0])
    del sd["num_batches_tracked"]  # checkpoints from before it existed
    bn.load_state_dict(sd)
    assert bn.running_mean.dtype is devrt.float32
    close(bn.running_mean, [1.0, 2.0, 3.0])


def test_deepcopy_and_pickle_keep_structure_and_sharing():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.BatchNorm1d(2), shared)
    net(devrt.randn(4, 2))
    net.eval()
    x = devrt.randn(3, 2)
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert type(twin[0].weight) is nn.Parameter and twin[0].weight.requires_grad
        assert twin[0] is twin[2] and twin[0].weight is not shared.weight
        assert len(list(twin.parameters())) == 4 and not twin.training
        np.testing.assert_array_equal(np_of(twin(x)), np_of(net(x)))


# --- modes, conversions, gradients, hooks --------------------------------------------


def test_train_eval_propagate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.ReLU()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_to_dtype_keeps_parameter_identity():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    w = net[0].weight
    net(devrt.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert net[0].weight is w and isinstance(w, nn.Parameter)
    assert w.dtype is devrt.float64 and w.grad.dtype is devrt.float64 and w.requires_grad
    assert net[1].running_mean.dtype is devrt.float64
    assert net[1].num_batches_tracked.dtype is devrt.int64  # integers are not cast
    net.to(devrt.float32)
    assert w.dtype is devrt.float32
    net.to("cpu", dtype=devrt.float64)
    assert w.dtype is devrt.float64
    net.to(devrt.zeros(1))  # a tensor's device and dtype
    assert w.dtype is devrt.float32
    assert net.cpu() is net and net.float() is net
    with pytest.raises(TypeError, match="floating point"):
        net.to(devrt.int64)


def test_to_device_moves_parameters_and_forward_runs_there(device, need):
    need("matmul", "add", "relu", "sum", dtype="float32")
    devrt.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = devrt.randn(5, 4)
    expected = np_of(net(x))
    w = net[0].weight
    net.to(device)
    assert net[0].weight is w and w.device.type == devrt.device(device).type
    out = net(x.to(device))
    assert out.device.type == devrt.device(device).type
    np.testing.assert_allclose(np_of(out), expected, rtol=1e-5, atol=1e-6)


def test_zero_grad_and_requires_grad():
    net = TwoLayerNet(3, 4, 2)
    net(devrt.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(np_of(p.grad) == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)

    net.apply(init_weights)
    close(net[0].weight, np.ones((2, 2)))


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(devrt.ones(3, 2))
    close(out, np.broadcast_to(np_of(lin.bias) + 1, (3, 2)), rtol=1e-6)
    assert calls == [(3, 2)]
    pre.remove(), post.remove()
    close(lin(devrt.zeros(1, 2)), np_of(lin.bias)[None], rtol=1e-6)


def test_forward_missing_and_call():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(devrt.zeros(1))
    with pytest.raises(TypeError, match="unexpected"):
        nn.Module(3)


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def build(ns, extra):
        net = ns.Sequential(
            ns.Linear(3, 4, bias=False),
            ns.BatchNorm1d(4, momentum=None),
            ns.BatchNorm1d(4, bias=False),
            ns.LeakyReLU(0.2),
            ns.Dropout(0.25),
            ns.ModuleList([ns.ReLU(), ns.ReLU(), ns.Tanh(), ns.GELU(approximate="tanh")]),
            ns.ModuleDict({"emb": ns.Embedding(10, 3, padding_idx=0), "flat": ns.Flatten()}),
            ns.Softmax(dim=1),
            ns.ReLU(inplace=True),
            ns.Identity(),
            ns.LogSoftmax(dim=-1),
            ns.Sigmoid(),
            ns.BatchNorm2d(3, affine=False, track_running_stats=False),
            ns.ModuleList(),
        )
        net.add_module("loss", extra)
        return net

    ours = build(nn, nn.CrossEntropyLoss())
    theirs = build(tnn, tnn.CrossEntropyLoss())
    assert repr(ours) == repr(theirs)
    assert repr(TwoLayerNet(2, 3, 1)) == (
        "TwoLayerNet(\n"
        "  (linear1): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (linear2): Linear(in_features=3, out_features=1, bias=True)\n"
        ")"
    )


# --- layers ------------------------------------------------------------------------------------


def test_linear_forward_backward_against_numpy():
    lin = nn.Linear(3, 2).double()
    w, b = np_of(lin.weight), np_of(lin.bias)
    x = np.random.default_rng(0).standard_normal((4, 3))
    xt = d64(x, requires_grad=True)
    y = lin(xt)
    close(y, x @ w.T + b)
    g = np.arange(8.0).reshape(4, 2)
    y.backward(d64(g))
    close(lin.weight.grad, g.T @ x)
    close(lin.bias.grad, g.sum(0))
    close(xt.grad, g @ w)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=devrt.float64).weight.dtype is devrt.float64


def test_linear_default_init_bounds():
    devrt.manual_seed(0)
    lin = nn.Linear(400, 300)
    w, b = np_of(lin.weight), np_of(lin.bias)
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): std bound/sqrt(3), and it fills the interval.
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert not np.array_equal(np_of(nn.Linear(400, 300).weight), w)


@pytest.mark.parametrize(
    "make",
    [
        lambda ns: ns.ReLU(),
        lambda ns: ns.LeakyReLU(0.1),
        lambda ns: ns.GELU(),
        lambda ns: ns.GELU(approximate="tanh"),
        lambda ns: ns.Sigmoid(),
        lambda ns: ns.Tanh(),
        lambda ns: ns.Softmax(dim=1),
        lambda ns: ns.LogSoftmax(dim=0),
        lambda ns: ns.Flatten(),
        lambda ns: ns.Flatten(0, 1),
        lambda ns: ns.Identity(3, unused=True),
    ],
)
def test_activations_match_torch(make):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    xt = d64(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ours, theirs = make(nn)(xt), make(torch.nn)(tx)
    close(ours, theirs.detach().numpy())
    g = np.random.default_rng(2).standard_normal(tuple(theirs.shape))
    ours.backward(d64(g))
    theirs.backward(torch.tensor(g))
    close(xt.grad, tx.grad.numpy())


def test_activation_formulas_against_numpy():
    from math import erf

    x = np.linspace(-3, 3, 13)
    xt = d64(x)
    close(nn.ReLU()(xt), np.maximum(x, 0))
    close(nn.LeakyReLU(0.2)(xt), np.where(x > 0, x, 0.2 * x))
    close(nn.GELU()(xt), x * 0.5 * (1 + np.vectorize(erf)(x / math.sqrt(2))))
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    close(nn.GELU("tanh")(xt), 0.5 * x * (1 + np.tanh(inner)))
    close(nn.Sigmoid()(xt), 1 / (1 + np.exp(-x)))
    close(nn.Tanh()(xt), np.tanh(x))
    e = np.exp(x - x.max())
    close(nn.Softmax(dim=0)(xt), e / e.sum())
    close(nn.LogSoftmax(dim=0)(xt), np.log(e / e.sum()))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_relu_inplace():
    x = d64([-1.0, 2.0])
    out = nn.ReLU(inplace=True)(x)
    assert out is x
    close(x, [0.0, 2.0])
    # A tensor that requires grad is not written in place; the result is the same.
    y = d64([-1.0, 2.0], requires_grad=True)
    out = nn.ReLU(inplace=True)(y * 1)
    out.sum().backward()
    close(out, [0.0, 2.0])
    close(y.grad, [0.0, 1.0])


def test_dropout_train_and_eval():
    devrt.manual_seed(3)
    drop = nn.Dropout(p=0.3)
    x = devrt.ones(200, 500, dtype=devrt.float64).requires_grad_()
    y = drop(x)
    values = np_of(y)
    kept = values != 0
    assert set(np.unique(values)) == {0.0, 1 / 0.7}
    assert abs(1 - kept.mean() - 0.3) < 0.01
    y.sum().backward()
    close(x.grad, kept / 0.7)
    assert not np.array_equal(np_of(drop(x)) != 0, kept)  # a fresh mask per call
    drop.eval()
    assert drop(x) is x
    assert np.all(np_of(nn.Dropout(1.0)(x)) == 0)
    assert nn.Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def _batchnorm_pair(torch, cls_name, shape, **kwargs):
    ours = getattr(nn, cls_name)(shape[1], **kwargs).double()
    theirs = getattr(torch.nn, cls_name)(shape[1], **kwargs).double()
    if ours.affine:
        with devrt.no_grad():
            ours.weight.copy_(devrt.rand(shape[1], dtype=devrt.float64) + 0.5)
            ours.bias.copy_(devrt.randn(shape[1], dtype=devrt.float64))
    return ours, torch_copy(ours, theirs)


@pytest.mark.parametrize(
    "cls_name, shape, kwargs",
    [
        ("BatchNorm1d", (8, 3), {}),
        ("BatchNorm1d", (4, 3, 5), {"momentum": 0.3}),
        ("BatchNorm2d", (4, 3, 2, 5), {}),
        ("BatchNorm2d", (2, 3, 2, 2), {"momentum": None}),
        ("BatchNorm1d", (6, 2), {"affine": False}),
        ("BatchNorm2d", (3, 2, 2, 2), {"track_running_stats": False}),
    ],
)
def test_batchnorm_matches_torch(cls_name, shape, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _batchnorm_pair(torch, cls_name, shape, **kwargs)
    rng = np.random.default_rng(5)
    for step in range(3):  # training steps move the running statistics
        x = rng.standard_normal(shape) * 2 + step
        xt = d64(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y, ty = ours(xt), theirs(tx)
        close(y, ty.detach().numpy(), rtol=1e-9, atol=1e-10)
        g = rng.standard_normal(shape)
        y.backward(d64(g))
        ty.backward(torch.tensor(g))
        close(xt.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
        if ours.affine:
            close(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-8, atol=1e-10)
            close(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-8, atol=1e-10)
    for k, v in theirs.state_dict().items():
        close(ours.state_dict()[k], v.numpy(), rtol=1e-9, atol=1e-12)
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape)
    close(ours(d64(x)), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-9, atol=1e-10)


def test_batchnorm_against_numpy_formulas():
    bn = nn.BatchNorm1d(3, momentum=0.2).double()
    x = np.random.default_rng(6).standard_normal((10, 3)) * 3 + 1
    y = bn(d64(x))
    mean, var = x.mean(0), x.var(0)
    close(y, (x - mean) / np.sqrt(var + 1e-5))
    close(bn.running_mean, 0.2 * mean)
    close(bn.running_var, 0.8 + 0.2 * x.var(0, ddof=1))  # unbiased for the running value
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    x2 = np.random.default_rng(7).standard_normal((2, 3))
    close(bn(d64(x2)), (x2 - 0.2 * mean) / np.sqrt(np_of(bn.running_var) + 1e-5))
    assert int(bn.num_batches_tracked) == 1  # eval does not count
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn.train()(d64(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="2D or 3D"):
        bn(d64(np.zeros((2, 3, 1, 1))))
    with pytest.raises(ValueError, match="4D"):
        nn.BatchNorm2d(3)(d64(np.zeros((2, 3))))


def test_embedding_lookup_padding_and_gradient():
    emb = nn.Embedding(5, 3, padding_idx=1).double()
    w = np_of(emb.weight)
    assert np.all(w[1] == 0)
    idx = devrt.tensor([[0, 1, 4], [4, 4, 1]])
    out = emb(idx)
    assert tuple(out.shape) == (2, 3, 3)
    close(out, w[np_of(idx)])
    g = np.random.default_rng(8).standard_normal((2, 3, 3))
    out.backward(d64(g))
    expected = np.zeros((5, 3))
    np.add.at(expected, np_of(idx), g)
    expected[1] = 0  # the padding row gets no gradient
    close(emb.weight.grad, expected)
    assert nn.Embedding(4, 2, padding_idx=-1).padding_idx == 3
    with pytest.raises(TypeError, match="integer"):
        emb(devrt.zeros(2))


def test_embedding_matches_torch_and_from_pretrained():
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(6, 4, padding_idx=2).double()
    theirs = torch_copy(ours, torch.nn.Embedding(6, 4, padding_idx=2).double())
    idx = np.array([[2, 3, 5, 3], [0, 2, 1, 1]])
    y, ty = ours(devrt.from_numpy(idx)), theirs(torch.from_numpy(idx))
    close(y, ty.detach().numpy())
    g = np.random.default_rng(9).standard_normal(y.shape)
    y.backward(d64(g))
    ty.backward(torch.tensor(g))
    close(ours.weight.grad, theirs.weight.grad.numpy())

    table = d64(np.arange(6.0).reshape(3, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight._is_view_of(table)
    close(frozen(devrt.tensor([2, 0])), [[4.0, 5.0], [0.0, 1.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_max_norm_renormalizes_rows():
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(4, 3, max_norm=1.0).double()
    with devrt.no_grad():
        ours.weight.copy_(d64(np.arange(12.0).reshape(4, 3)))
    theirs = torch_copy(ours, torch.nn.Embedding(4, 3, max_norm=1.0).double())
    idx = np.array([0, 2, 2])
    close(ours(devrt.from_numpy(idx)), theirs(torch.from_numpy(idx)).detach().numpy(), rtol=1e-7)
    close(ours.weight, theirs.weight.detach().numpy(), rtol=1e-7)


# --- containers --------------------------------------------------------------------------------


def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    sub = seq[1:]
    assert type(sub) is nn.Sequential and list(sub) == [b, c] and list(sub._modules) == ["1", "2"]
    x = devrt.randn(4, 2)
    close(seq(x), np_of(c(b(a(x)))))
    d = nn.Tanh()
    seq.append(d)
    assert seq[3] is d and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq) == [a, c, d] and list(seq._modules) == ["0", "1", "2"]
    seq[1] = b
    assert seq[1] is b
    seq.insert(0, c)
    assert list(seq) == [c, a, b, d]
    with pytest.raises(IndexError):
        seq[7]
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert named.fc is a and list(named._modules) == ["fc", "act"]
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert len(nn.Sequential(a) + nn.Sequential(b)) == 2


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert isinstance(layers[-1], nn.Tanh) and len(layers) == 5
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    layers.insert(1, nn.Sigmoid())
    assert isinstance(layers[1], nn.Sigmoid)
    layers += [nn.Identity()]
    assert len(layers) == 6
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(nn.ReLU())

    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    heads["c"] = nn.ReLU()
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert isinstance(heads.pop("c"), nn.ReLU) and list(heads.keys()) == ["a", "b"]
    heads.update([("d", nn.Tanh())])
    assert [k for k, _ in heads.items()] == ["a", "b", "d"]
    heads.clear()
    assert len(heads) == 0


# --- end to end ------------------------------------------------------------------------------------


def _train(model, x, y, steps, lr):
    loss_fn = nn.MSELoss(reduction="sum")
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with devrt.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return losses


def test_two_layer_sequential_mlp_trains():
    devrt.manual_seed(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = devrt.randn(N, D_in), devrt.randn(N, D_out)
    model = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
    losses = _train(model, x, y, steps=150, lr=1e-4)
    assert losses[0] > 100
    assert losses[-1] < losses[0] / 1000
    assert all(np.isfinite(losses))


def test_custom_module_two_layer_net_trains():
    devrt.manual_seed(1)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = devrt.randn(N, D_in), devrt.randn(N, D_out)
    model = TwoLayerNet(D_in, H, D_out)
    assert len(list(model.parameters())) == 4
    losses = _train(model, x, y, steps=150, lr=1e-4)
    assert losses[-1] < losses[0] / 1000


def test_training_matches_torch_step_for_step():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    theirs = torch_copy(
        ours,
        torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double(),
    )
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    for _ in range(5):
        loss = F.cross_entropy(ours(d64(x)), devrt.from_numpy(y))
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.from_numpy(y))
        assert abs(loss.item() - tloss.item()) < 1e-10
        ours.zero_grad(), theirs.zero_grad()
        loss.backward(), tloss.backward()
        with devrt.no_grad():
            for p in ours.parameters():
                p -= 0.5 * p.grad
        with torch.no_grad():
            for p in theirs.parameters():
                p -= 0.5 * p.grad
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True):
        close(a, b.numpy(), rtol=1e-9, atol=1e-12)
