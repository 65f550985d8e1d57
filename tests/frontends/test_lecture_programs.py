"""The classic "two-layer network" lecture programs, written for PyTorch and run
unchanged except for the import (``import devrt as torch``): tensors with
hand-written backprop, autograd, a custom autograd.Function, torch.nn with a
manual update, torch.optim (Adam, SGD), a custom nn.Module, and a DataLoader.

Each program trains end to end on random data and must drive the loss down.
Expected values come from NumPy reimplementations of the same loops (same
initial weights, moved over with .numpy() / torch.from_numpy) or, where it is
installed, from PyTorch itself; never from devrt.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import devrt as torch
from devrt.utils.data import DataLoader, TensorDataset

# The lecture's sizes: batch N, input D_in, hidden H, output D_out.
N, D_in, H, D_out = 64, 1000, 100, 10
dtype = torch.float
device = torch.device("cpu")


def np_copy(t) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def lecture_data():
    """The lecture's random inputs and weights, after ``torch.manual_seed(0)``."""
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device, dtype=dtype)
    y = torch.randn(N, D_out, device=device, dtype=dtype)
    w1 = torch.randn(D_in, H, device=device, dtype=dtype)
    w2 = torch.randn(H, D_out, device=device, dtype=dtype)
    return x, y, w1, w2


# Programs 1-3 share the data, the learning rate and the number of steps.
LR_TENSORS = 1e-6
STEPS_TENSORS = 200


@functools.cache
def numpy_two_layer_losses(steps=STEPS_TENSORS, learning_rate=LR_TENSORS):
    """Programs 1-3 as one NumPy loop (float64, from the same float32 start)."""
    x, y, w1, w2 = (np_copy(t).astype(np.float64) for t in lecture_data())
    losses = []
    for _ in range(steps):
        h = x @ w1
        h_relu = np.maximum(h, 0)
        y_pred = h_relu @ w2
        losses.append(float(np.square(y_pred - y).sum()))
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T @ grad_y_pred
        grad_h = grad_y_pred @ w2.T
        grad_h[h < 0] = 0
        grad_w1 = x.T @ grad_h
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return tuple(losses), w1, w2


def assert_trained(losses, factor):
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < factor * losses[0], (losses[0], losses[-1])


# --- 1. tensors, hand-written backprop ---------------------------------------------------------


def test_program_tensors_manual_backprop():
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device, dtype=dtype)
    y = torch.randn(N, D_out, device=device, dtype=dtype)
    w1 = torch.randn(D_in, H, device=device, dtype=dtype)
    w2 = torch.randn(H, D_out, device=device, dtype=dtype)
    # The same loop in NumPy, from the same weights.
    x_np, y_np = x.numpy().copy(), y.numpy().copy()
    w1_np, w2_np = w1.numpy().copy(), w2.numpy().copy()

    learning_rate = LR_TENSORS
    losses = []
    for _t in range(STEPS_TENSORS):
        h = x.mm(w1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(w2)

        loss = (y_pred - y).pow(2).sum().item()
        losses.append(loss)

        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(w2.t())
        grad_h = grad_h_relu.clone()
        grad_h[h < 0] = 0
        grad_w1 = x.t().mm(grad_h)

        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2

    assert isinstance(loss, float)
    assert w1.dtype == torch.float32 and tuple(w1.shape) == (D_in, H)
    assert_trained(losses, 1e-4)

    np_losses = []
    for _t in range(STEPS_TENSORS):
        h = x_np.dot(w1_np)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2_np)
        np_losses.append(float(np.square(y_pred - y_np).sum()))
        grad_y_pred = 2.0 * (y_pred - y_np)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h = grad_y_pred.dot(w2_np.T)
        grad_h[h < 0] = 0
        grad_w1 = x_np.T.dot(grad_h)
        w1_np -= learning_rate * grad_w1
        w2_np -= learning_rate * grad_w2
    assert w1_np.dtype == np.float32
    np.testing.assert_allclose(losses, np_losses, rtol=2e-4)
    np.testing.assert_allclose(w1.numpy(), w1_np, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(w2.numpy(), w2_np, rtol=1e-4, atol=1e-4)
    # ... and with the float64 reference.
    ref_losses, ref_w1, ref_w2 = numpy_two_layer_losses()
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-4)
    np.testing.assert_allclose(w2.numpy(), ref_w2, rtol=1e-4, atol=1e-4)


# --- 2. autograd ----------------------------------------------------------------------------------


def two_layer_autograd(x, y, w1, w2, learning_rate, steps):
    """The autograd program's training loop; returns the losses."""
    losses = []
    for _t in range(steps):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)

        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())

        loss.backward()

        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad

            w1.grad.zero_()
            w2.grad.zero_()
    return losses


def test_program_autograd():
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device, dtype=dtype)
    y = torch.randn(N, D_out, device=device, dtype=dtype)
    w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
    w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)

    losses = two_layer_autograd(x, y, w1, w2, LR_TENSORS, STEPS_TENSORS)

    assert w1.is_leaf and w2.is_leaf and w1.requires_grad and w2.requires_grad
    assert w1.grad is not None and not w1.grad.numpy().any()
    assert_trained(losses, 1e-4)
    ref_losses, ref_w1, ref_w2 = numpy_two_layer_losses()
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-4)
    np.testing.assert_allclose(np_copy(w1), ref_w1, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np_copy(w2), ref_w2, rtol=1e-4, atol=1e-4)


# --- 3. a custom autograd.Function --------------------------------------------------------------


class MyReLU(torch.autograd.Function):
    """
    We can implement our own custom autograd Functions by subclassing
    torch.autograd.Function and implementing the forward and backward passes
    which operate on Tensors.
    """

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def test_program_custom_autograd_function():
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device, dtype=dtype)
    y = torch.randn(N, D_out, device=device, dtype=dtype)
    w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
    w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)

    learning_rate = LR_TENSORS
    losses = []
    for _t in range(STEPS_TENSORS):
        relu = MyReLU.apply

        y_pred = relu(x.mm(w1)).mm(w2)

        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())

        loss.backward()

        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad

            w1.grad.zero_()
            w2.grad.zero_()

    assert y_pred.requires_grad and y_pred.grad_fn is not None
    assert_trained(losses, 1e-4)
    ref_losses, ref_w1, ref_w2 = numpy_two_layer_losses()
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-4)
    np.testing.assert_allclose(np_copy(w1), ref_w1, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np_copy(w2), ref_w2, rtol=1e-4, atol=1e-4)


# --- 4. torch.nn with a manual update -----------------------------------------------------------


def test_program_nn_sequential_manual_update():
    torch.manual_seed(0)
    x = torch.randn(N, D_in)
    y = torch.randn(N, D_out)

    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    loss_fn = torch.nn.MSELoss(reduction="sum")

    # NumPy copies of the initial parameters (PyTorch layout: weight is (out, in)).
    w1, b1, w2, b2 = (np_copy(p).astype(np.float64) for p in model.parameters())
    x_np, y_np = np_copy(x).astype(np.float64), np_copy(y).astype(np.float64)

    learning_rate = 1e-4
    steps = 200
    losses = []
    for _t in range(steps):
        y_pred = model(x)

        loss = loss_fn(y_pred, y)
        losses.append(loss.item())

        model.zero_grad()

        loss.backward()

        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad

    assert len(list(model.parameters())) == 4
    assert tuple(y_pred.shape) == (N, D_out)
    assert_trained(losses, 1e-3)

    np_losses = []
    for _t in range(steps):
        h = x_np @ w1.T + b1
        h_relu = np.maximum(h, 0)
        y_pred = h_relu @ w2.T + b2
        np_losses.append(float(np.square(y_pred - y_np).sum()))
        g = 2.0 * (y_pred - y_np)
        gw2, gb2 = g.T @ h_relu, g.sum(0)
        gh = (g @ w2) * (h > 0)
        gw1, gb1 = gh.T @ x_np, gh.sum(0)
        for p, gp in ((w1, gw1), (b1, gb1), (w2, gw2), (b2, gb2)):
            p -= learning_rate * gp
    np.testing.assert_allclose(losses, np_losses, rtol=2e-4)
    for p, ref in zip(model.parameters(), (w1, b1, w2, b2), strict=True):
        np.testing.assert_allclose(np_copy(p), ref, rtol=1e-4, atol=1e-5)


# --- 5. torch.optim.Adam --------------------------------------------------------------------------


def sequential_adam(x, y, model, learning_rate, steps):
    """The optim program's training loop; returns the losses."""
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _t in range(steps):
        y_pred = model(x)

        loss = loss_fn(y_pred, y)
        losses.append(loss.item())

        optimizer.zero_grad()

        loss.backward()

        optimizer.step()
    return losses


def test_program_optim_adam():
    torch.manual_seed(0)
    x = torch.randn(N, D_in)
    y = torch.randn(N, D_out)

    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    before = [np_copy(p) for p in model.parameters()]

    losses = sequential_adam(x, y, model, learning_rate=1e-3, steps=50)

    assert_trained(losses, 1e-2)
    # Every parameter got a gradient and was moved by the optimizer.
    for p, p0 in zip(model.parameters(), before, strict=True):
        assert p.grad is not None and tuple(p.grad.shape) == p0.shape
        assert not np.allclose(np_copy(p), p0)


def test_program_optim_adam_lecture_learning_rate():
    """lr=1e-4 as in the lecture: slower, still a steady drop."""
    torch.manual_seed(0)
    x = torch.randn(N, D_in)
    y = torch.randn(N, D_out)
    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    losses = sequential_adam(x, y, model, learning_rate=1e-4, steps=50)
    assert_trained(losses, 0.5)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


# --- 6. a custom nn.Module with torch.optim.SGD ------------------------------------------------


class TwoLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        """
        In the constructor we instantiate two nn.Linear modules and assign them as
        member variables.
        """
        super().__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)

    def forward(self, x):
        """
        In the forward function we accept a Tensor of input data and we must return
        a Tensor of output data.
        """
        h_relu = self.linear1(x).clamp(min=0)
        y_pred = self.linear2(h_relu)
        return y_pred


def test_program_custom_module_sgd():
    torch.manual_seed(0)
    x = torch.randn(N, D_in)
    y = torch.randn(N, D_out)

    model = TwoLayerNet(D_in, H, D_out)

    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    # Plain SGD is the manual update of program 4: check it against the same loop by hand.
    twin = TwoLayerNet(D_in, H, D_out)
    twin.load_state_dict(model.state_dict())

    losses, twin_losses = [], []
    for _t in range(200):
        y_pred = model(x)

        loss = criterion(y_pred, y)
        losses.append(loss.item())

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        twin_loss = criterion(twin(x), y)
        twin_losses.append(twin_loss.item())
        twin.zero_grad()
        twin_loss.backward()
        with torch.no_grad():
            for param in twin.parameters():
                param -= 1e-4 * param.grad

    assert [name for name, _ in model.named_parameters()] == [
        "linear1.weight",
        "linear1.bias",
        "linear2.weight",
        "linear2.bias",
    ]
    assert_trained(losses, 1e-3)
    np.testing.assert_allclose(losses, twin_losses, rtol=1e-6)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(np_copy(p), np_copy(q), rtol=1e-6, atol=1e-7)


# --- 7. a DataLoader over a TensorDataset ----------------------------------------------------


def test_program_dataloader_minibatches():
    torch.manual_seed(0)
    x = torch.randn(N, D_in)
    y = torch.randn(N, D_out)

    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)

    model = TwoLayerNet(D_in, H, D_out)
    criterion = torch.nn.MSELoss(reduction="sum")
    # A batch of 8 sums an eighth of the squared errors: a larger step than full batch.
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    with torch.no_grad():
        initial_loss = criterion(model(x), y).item()

    x_np = np_copy(x)
    epoch_orders, epoch_losses = [], []
    for _epoch in range(10):
        seen = []
        n_batches = 0
        for x_batch, y_batch in loader:
            assert tuple(x_batch.shape) == (8, D_in) and tuple(y_batch.shape) == (8, D_out)
            assert x_batch.dtype == torch.float32 and y_batch.dtype == torch.float32
            n_batches += 1
            # Each batch holds rows of the dataset, x and y paired.
            rows = [int(np.flatnonzero((x_np == r).all(axis=1))[0]) for r in np_copy(x_batch)]
            np.testing.assert_array_equal(np_copy(y_batch), np_copy(y)[rows])
            seen += rows

            y_pred = model(x_batch)
            loss = criterion(y_pred, y_batch)

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert n_batches == len(loader) == N // 8
        assert sorted(seen) == list(range(N))  # every sample once per epoch
        epoch_orders.append(seen)
        with torch.no_grad():
            epoch_losses.append(criterion(model(x), y).item())
    assert epoch_orders[0] != list(range(N))  # shuffled
    assert epoch_orders[0] != epoch_orders[1]  # reshuffled every epoch

    assert all(b < a for a, b in zip([initial_loss, *epoch_losses], epoch_losses)), epoch_losses
    assert epoch_losses[-1] < 1e-2 * initial_loss, (initial_loss, epoch_losses)


# --- the same programs under PyTorch ------------------------------------------------------------


def test_programs_match_pytorch():
    """Programs 2 (autograd) and 5 (nn + Adam) give PyTorch's losses from the same start."""
    torch_ref = pytest.importorskip("torch")

    # Program 2, weights created in NumPy and loaded into both.
    rng = np.random.default_rng(0)
    X, Y, W1, W2 = (
        rng.standard_normal(s).astype(np.float32)
        for s in ((N, D_in), (N, D_out), (D_in, H), (H, D_out))
    )
    w1 = torch.from_numpy(W1.copy()).requires_grad_()
    w2 = torch.from_numpy(W2.copy()).requires_grad_()
    losses = two_layer_autograd(torch.from_numpy(X), torch.from_numpy(Y), w1, w2, 1e-6, 40)

    x_ref, y_ref = torch_ref.from_numpy(X), torch_ref.from_numpy(Y)
    w1_ref = torch_ref.from_numpy(W1.copy()).requires_grad_()
    w2_ref = torch_ref.from_numpy(W2.copy()).requires_grad_()
    ref_losses = []
    for _t in range(40):
        loss = (x_ref.mm(w1_ref).clamp(min=0).mm(w2_ref) - y_ref).pow(2).sum()
        ref_losses.append(loss.item())
        loss.backward()
        with torch_ref.no_grad():
            w1_ref -= 1e-6 * w1_ref.grad
            w2_ref -= 1e-6 * w2_ref.grad
            w1_ref.grad.zero_()
            w2_ref.grad.zero_()
    assert ref_losses[-1] < 1e-2 * ref_losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)
    np.testing.assert_allclose(np_copy(w1), w1_ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np_copy(w2), w2_ref.detach().numpy(), rtol=1e-4, atol=1e-4)

    # Program 5, PyTorch's model loaded with devrt's initial parameters.
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    model_ref = torch_ref.nn.Sequential(
        torch_ref.nn.Linear(D_in, H),
        torch_ref.nn.ReLU(),
        torch_ref.nn.Linear(H, D_out),
    )
    model_ref.load_state_dict(
        {k: torch_ref.from_numpy(np_copy(v)) for k, v in model.state_dict().items()}
    )
    losses = sequential_adam(torch.from_numpy(X), torch.from_numpy(Y), model, 1e-3, 30)

    loss_fn = torch_ref.nn.MSELoss(reduction="sum")
    optimizer = torch_ref.optim.Adam(model_ref.parameters(), lr=1e-3)
    ref_losses = []
    for _t in range(30):
        loss = loss_fn(model_ref(x_ref), y_ref)
        ref_losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)
    for (k, v), (k_ref, v_ref) in zip(
        model.state_dict().items(), model_ref.state_dict().items(), strict=True
    ):
        assert k == k_ref
        np.testing.assert_allclose(np_copy(v), v_ref.numpy(), rtol=1e-3, atol=1e-5)
