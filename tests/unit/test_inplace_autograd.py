"""In-place operations on tensors with autograd history (docs/eager.md,
"In-place writes"): each program runs under devrt and under PyTorch on the
same float64 data, and the values and the gradients of every leaf must
agree. Also the errors: a saved tensor modified in place, in-place ops on
leaves (and views of leaves) that require grad.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import devrt

torch = pytest.importorskip("torch")

SHAPES = {"a": (3, 4), "b": (3, 4), "c": (4,)}


def _run(lib, program, seed=0, shapes=SHAPES, create_graph=False):
    """Runs `program(lib, **leaves)` and backward through a weighted sum of
    its result; returns the result and each leaf's gradient as NumPy."""
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    leaves = {k: lib.tensor(v, dtype=lib.float64, requires_grad=True) for k, v in arrays.items()}
    out = program(lib, **leaves)
    weights = lib.tensor(rng.standard_normal(tuple(out.shape)), dtype=lib.float64)
    loss = (out * weights).sum()
    if create_graph:
        grads = lib.autograd.grad(loss, list(leaves.values()), create_graph=True, allow_unused=True)
        second = sum((g * g).sum() for g in grads if g is not None)
        for leaf in leaves.values():
            leaf.grad = None
        second.backward()
    else:
        loss.backward()
    return (
        np.array(out.detach().numpy()),
        {k: None if v.grad is None else np.array(v.grad.numpy()) for k, v in leaves.items()},
    )


def _same_as_torch(program, **kwargs):
    out, grads = _run(devrt, program, **kwargs)
    t_out, t_grads = _run(torch, program, **kwargs)
    np.testing.assert_allclose(out, t_out, rtol=1e-12, atol=1e-12)
    for k in t_grads:
        if t_grads[k] is None or not np.any(t_grads[k]):
            assert grads[k] is None or not np.any(grads[k]), k
        else:
            assert grads[k] is not None, f"no gradient for {k}"
            np.testing.assert_allclose(grads[k], t_grads[k], rtol=1e-12, atol=1e-12, err_msg=k)


# --- in-place ops on a tensor with history ----------------------------------------------

PROGRAMS = {
    "add_": lambda lib, a, b, c: (a * 2).add_(b) * a,
    "add_alpha": lambda lib, a, b, c: (a * 2).add_(b, alpha=0.5) * b,
    "add_broadcast": lambda lib, a, b, c: (a.sin()).add_(c) * a,
    "sub_": lambda lib, a, b, c: (a * b).sub_(c) * 3.0,
    "sub_number": lambda lib, a, b, c: (a * b).sub_(1.5),
    "mul_": lambda lib, a, b, c: (a + 1).mul_(b) * a,
    "mul_number": lambda lib, a, b, c: (a * b).mul_(-2.0),
    "mul_self": lambda lib, a, b, c: (a + 0.5).mul_(a),
    "div_": lambda lib, a, b, c: (a * 3).div_(b * b + 1.0),
    "div_number": lambda lib, a, b, c: (a.sin()).div_(4.0) * b,
    "clamp_": lambda lib, a, b, c: (a * b).clamp_(-0.3, 0.4),
    "clamp_min": lambda lib, a, b, c: (a * b).clamp_(min=0.1) * a,
    "relu_": lambda lib, a, b, c: (a - b).relu_() * a,
    "tanh_": lambda lib, a, b, c: (a * b).tanh_(),
    "copy_": lambda lib, a, b, c: (a * 2).copy_(b.exp()) * a,
    "copy_broadcast": lambda lib, a, b, c: (a * 2).copy_(c * c),
    "fill_": lambda lib, a, b, c: (a * 2).fill_(1.5) * b,
    "zero_": lambda lib, a, b, c: (a * 2).zero_() + b,
    "masked_fill_": lambda lib, a, b, c: (a * b).masked_fill_(a > 0, 0.5) * a,
    "index_put_": lambda lib, a, b, c: (a * 2).index_put_((lib.tensor([0, 2]),), b[1:3] * c),
    "index_put_accumulate": lambda lib, a, b, c: (a * 2).index_put_(
        (lib.tensor([0, 0, 2]),), b * 1.0, accumulate=True
    ),
    "scatter_add_": lambda lib, a, b, c: (
        (a * 2).scatter_add_(0, lib.tensor([[0, 1, 2, 0], [2, 2, 1, 0]]), b[:2] * c) * a
    ),
    "chain": lambda lib, a, b, c: (a * 1).mul_(b).add_(c).mul_(b).relu_(),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_inplace_op_matches_torch(name):
    _same_as_torch(PROGRAMS[name])


def _augmented(op):
    def program(lib, a, b, c):
        x = a * 1.5
        if op == "+=":
            x += b
        elif op == "-=":
            x -= c
        elif op == "*=":
            x *= b
        else:
            x /= c * c + 1.0
        return x * a

    return program


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_augmented_assignment_matches_torch(op):
    _same_as_torch(_augmented(op))


def test_loss_accumulated_with_plus_equals_matches_torch():
    def program(lib, a, b, c):
        loss = 0
        h = a[0] * 0
        for i in range(3):
            h = (h + a[i]).tanh()
            loss += ((h - b[i]) ** 2).mean()
        return loss

    _same_as_torch(program)


def test_inplace_on_buffer_without_history_takes_the_operand_history():
    def program(lib, a, b, c):
        buf = lib.zeros(3, 4, dtype=lib.float64)
        buf.add_(a)
        buf.mul_(b)
        return buf

    _same_as_torch(program)
    buf = devrt.zeros(2)
    assert not buf.requires_grad
    buf.add_(devrt.ones(2, requires_grad=True))
    assert buf.requires_grad and not buf.is_leaf


def test_inplace_result_keeps_its_identity_and_version():
    a = devrt.ones(3, requires_grad=True)
    x = a * 2
    v = x._version
    assert x.add_(1) is x
    assert x._version > v
    assert x.grad_fn is not None and "Add" in type(x.grad_fn).__name__ or x.grad_fn.name()


# --- index assignment and views ---------------------------------------------------------

SETITEM = {
    "row_into_zeros": lambda lib, a, b, c: _fill_rows(lib, a),
    "column": lambda lib, a, b, c: _assign(a * 1, (slice(None), 1), b[:, 0]),
    "row_of_history": lambda lib, a, b, c: _assign(a * 2, 0, b[1] * c) * a,
    "number": lambda lib, a, b, c: _assign(a * 2, (1, 2), 7.0) * b,
    "advanced": lambda lib, a, b, c: _assign(a.sin(), [0, 2], b[:2] * 2),
    "mask": lambda lib, a, b, c: _assign(a * b, a > 0, 0.0) * a,
    # Leading dimensions of size 1 of the value are dropped, as in PyTorch.
    "leading_unit_dims": lambda lib, a, b, c: _assign(a * 1, 1, (b[0:1] * 2)[None]),
    "leading_unit_dims_advanced": lambda lib, a, b, c: _assign(a * 1, [2], (b[0:1] * c)[None]),
    "basic_then_advanced": lambda lib, a, b, c: _assign(a * 1, (slice(None), [1, 3]), b[:, :2]),
}


def _assign(x, key, value):
    x[key] = value
    return x


def _fill_rows(lib, a):
    # The seq2seq tutorial's encoder_outputs[ei] = encoder_output[0, 0].
    out = lib.zeros(5, 4, dtype=lib.float64)
    h = a[0] * 0
    for i in range(3):
        h = (h * 0.5 + a[i]).tanh()
        out[i + 1] = h
    return out


@pytest.mark.parametrize("name", list(SETITEM))
def test_setitem_matches_torch(name):
    _same_as_torch(SETITEM[name])


VIEWS = {
    "row_mul_": lambda lib, a, b, c: _then(a * 1, lambda x: x[0].mul_(2.0)) * b,
    "column_add_": lambda lib, a, b, c: _then(a * b, lambda x: x[:, 1].add_(c[:3])),
    "transpose_mul_": lambda lib, a, b, c: _then(a * 1, lambda x: x.t().mul_(c[:, None])) * a,
    "view_of_view": lambda lib, a, b, c: _then(a.sin(), lambda x: x[1:][0].mul_(b[0])),
    "reshape_relu_": lambda lib, a, b, c: _then(a - b, lambda x: x.reshape(12).relu_()),
    "chunk_activations": lambda lib, a, b, c: _chunk_activations(a * b),
    "sibling_view_read_after": lambda lib, a, b, c: _sibling(a * 1, b),
    "view_into_plain_buffer": lambda lib, a, b, c: _then(
        lib.zeros(3, 4, dtype=lib.float64), lambda x: x[1].copy_(a[0] * c)
    ),
}


def _then(x, write):
    write(x)
    return x


def _chunk_activations(gates):
    # Slices rather than chunk(): PyTorch refuses in-place writes to the
    # views of a function that returns several.
    i, f, g = gates[0:1], gates[1:2], gates[2:3]
    g.mul_(3.0)
    i.add_(f)  # add saves nothing: a later write to gates is fine
    i.tanh_()  # saves its output: no write may follow
    return f * g + i


def _sibling(x, b):
    first = x[0]  # read after its base is rebased through another view
    x[1].mul_(b[1])
    x.mul_(2.0)
    return first * 1 + x


@pytest.mark.parametrize("name", list(VIEWS))
def test_inplace_through_a_view_matches_torch(name):
    _same_as_torch(VIEWS[name])


def test_setitem_value_that_does_not_fit_raises():
    x = devrt.zeros(3, 4)
    with pytest.raises(ValueError, match=r"^\[copy\] source of shape \[2, 4\] does not broadcast"):
        x[0] = devrt.ones(1, 2, 4)
    with pytest.raises(ValueError, match=r"^\[index_put\] values of shape \[2, 4\]"):
        x[[0]] = devrt.ones(2, 4)


def test_inplace_through_view_of_noncontiguous_base_raises():
    z = devrt.from_numpy(np.zeros((4, 3)).T)  # a (3, 4) base, not contiguous
    a = devrt.ones(4, dtype=devrt.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"^\[copy_\] .*non-contiguous .*\[3, 4\]"):
        z[0] = a * 2


def test_graphs_through_view_writes_are_freed_without_backward():
    """A write through a view whose operand is another view of the same base
    (its node saves that view, and the base's history then runs through the
    node) leaves no reference cycle: everything is freed."""

    def build():
        a = devrt.ones(64, 64, dtype=devrt.float64, requires_grad=True)
        x = a * 1.0
        x[0].mul_(x[1])
        x[:, 2] = x[:, 3] * 2.0
        x.sigmoid().sum()

    build()  # the first run may fill caches (the allocator's, the dispatcher's)
    gc.collect()
    before = devrt.memory_stats()["allocated"]
    build()
    gc.collect()
    assert devrt.memory_stats()["allocated"] == before


# --- higher order and grad modes --------------------------------------------------------


@pytest.mark.parametrize("name", ["mul_", "div_", "relu_", "chain", "copy_", "index_put_"])
def test_create_graph_through_inplace_matches_torch(name):
    _same_as_torch(PROGRAMS[name], create_graph=True)


@pytest.mark.parametrize("name", ["row_of_history", "advanced", "row_into_zeros"])
def test_create_graph_through_setitem_matches_torch(name):
    _same_as_torch(SETITEM[name], create_graph=True)


def test_create_graph_through_view_write_matches_torch():
    _same_as_torch(VIEWS["row_mul_"], create_graph=True)
    _same_as_torch(VIEWS["chunk_activations"], create_graph=True)


def test_no_grad_writes_are_not_recorded():
    def program(lib, a, b, c):
        x = a * 2
        with lib.no_grad():
            x.add_(b)  # invisible to autograd: x's gradient is still 2
            x[0] = 5.0
        return x * 1

    _same_as_torch(program)
    a = devrt.ones(2, requires_grad=True)
    with devrt.no_grad():
        a.mul_(3.0)  # a leaf that requires grad: legal under no_grad
        a[0] = 2.0
    assert a.is_leaf and a.requires_grad and a.grad_fn is None
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 6.0])


# --- errors ----------------------------------------------------------------------------


def test_modified_saved_input_raises_naming_the_op():
    a = devrt.ones(3, dtype=devrt.float64, requires_grad=True)
    x = a * 1
    y = x * a  # mul saves x
    x.add_(1.0)
    with pytest.raises(
        RuntimeError,
        match=r"^\[mul\] one of the tensors needed for gradient computation has been "
        r"modified by an in-place operation: the input of shape \[3\] saved by mul "
        r"is at version \d+, it was at version \d+",
    ):
        y.sum().backward()


def test_modified_saved_output_raises_naming_the_op():
    a = devrt.ones(3, dtype=devrt.float64, requires_grad=True)
    y = a.exp()  # exp saves its output
    y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"^\[exp\] one of the tensors .* the output of shape"):
        y.sum().backward()
    # The same program under PyTorch raises too.
    t = torch.ones(3, dtype=torch.float64, requires_grad=True)
    ty = t.exp()
    ty.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()


def test_write_through_view_to_saved_tensor_raises():
    a = devrt.ones(2, 3, dtype=devrt.float64, requires_grad=True)
    x = a * 1
    y = x.sigmoid()  # saves its output, y
    y[0].mul_(2.0)
    with pytest.raises(RuntimeError, match=r"^\[sigmoid\] one of the tensors"):
        y.sum().backward()


LEAF_WRITES = {
    "add_": ("add", lambda t: t.add_(1.0)),
    "iadd": ("add", lambda t: t.__iadd__(1.0)),
    "mul_": ("mul", lambda t: t.mul_(2.0)),
    "div_": ("div", lambda t: t.div_(2.0)),
    "clamp_": ("clamp_", lambda t: t.clamp_(min=0.0)),
    "relu_": ("relu_", lambda t: t.relu_()),
    "copy_": ("copy_", lambda t: t.copy_(devrt.zeros(2, dtype=devrt.float64))),
    "fill_": ("fill_", lambda t: t.fill_(1.0)),
    "zero_": ("fill_", lambda t: t.zero_()),
    "masked_fill_": ("masked_fill_", lambda t: t.masked_fill_(t > 0, 0.0)),
    "index_put_": ("index_put_", lambda t: t.index_put_((devrt.tensor([0]),), devrt.tensor(1.0))),
    "mask_setitem": ("index_put_", lambda t: t.__setitem__(t > -100.0, 0.0)),
}


@pytest.mark.parametrize("name", list(LEAF_WRITES))
def test_inplace_on_leaf_requiring_grad_raises(name):
    op, write = LEAF_WRITES[name]
    a = devrt.tensor([1.0, 2.0], dtype=devrt.float64, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=rf"^\[{op}\] a leaf tensor that requires grad is being used in an in-place operation",
    ):
        write(a)
    np.testing.assert_array_equal(a.detach().numpy(), [1.0, 2.0])
    assert a.is_leaf and a.grad_fn is None


@pytest.mark.parametrize(
    "write",
    [lambda t: t[0].mul_(2.0), lambda t: t.__setitem__(0, 3.0), lambda t: t.view(2).add_(1.0)],
)
def test_inplace_on_view_of_leaf_requiring_grad_raises(write):
    a = devrt.tensor([1.0, 2.0], dtype=devrt.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^\[\w+\] a view of a leaf tensor that requires grad"):
        write(a)
    np.testing.assert_array_equal(a.detach().numpy(), [1.0, 2.0])


def test_second_backward_through_freed_index_put_raises():
    a = devrt.ones(3, dtype=devrt.float64, requires_grad=True)
    z = devrt.zeros(4, dtype=devrt.float64)
    z[devrt.tensor([0, 2, 3])] = a * 2
    loss = z.sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"^\[backward\] trying to backward through the graph"):
        loss.backward()


# --- a whole program ---------------------------------------------------------------------


def _seq2seq_losses(lib, state, steps, teacher):
    """The seq2seq tutorial's encoder, attention decoder and train() (with
    `loss += criterion(...)` and `encoder_outputs[ei] = ...`), small and
    without dropout, from the weights `state`; the loss of each step and the
    trained weights."""
    nn, F = lib.nn, lib.nn.functional
    hidden, max_length = 8, 5

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(7, hidden)
            self.gru = nn.GRU(hidden, hidden)

        def forward(self, input, h):
            return self.gru(self.embedding(input).view(1, 1, -1), h)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(6, hidden)
            self.attn = nn.Linear(hidden * 2, max_length)
            self.attn_combine = nn.Linear(hidden * 2, hidden)
            self.gru = nn.GRU(hidden, hidden)
            self.out = nn.Linear(hidden, 6)

        def forward(self, input, h, encoder_outputs):
            embedded = self.embedding(input).view(1, 1, -1)
            attn_weights = F.softmax(self.attn(lib.cat((embedded[0], h[0]), 1)), dim=1)
            attn_applied = lib.bmm(attn_weights.unsqueeze(0), encoder_outputs.unsqueeze(0))
            output = self.attn_combine(lib.cat((embedded[0], attn_applied[0]), 1)).unsqueeze(0)
            output, h = self.gru(F.relu(output), h)
            return F.log_softmax(self.out(output[0]), dim=1), h

    encoder, decoder = Encoder().double(), Decoder().double()
    if state is None:
        state = {k: v.detach().numpy().copy() for k, v in encoder.state_dict().items()}
        state.update(
            {"dec." + k: v.detach().numpy().copy() for k, v in decoder.state_dict().items()}
        )
    encoder.load_state_dict({k: lib.tensor(v) for k, v in state.items() if "dec." not in k})
    decoder.load_state_dict({k[4:]: lib.tensor(v) for k, v in state.items() if "dec." in k})
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = lib.optim.SGD(params, lr=0.1)
    criterion = nn.NLLLoss()
    rng = np.random.default_rng(3)
    losses = []
    for _ in range(steps):
        source = lib.tensor(rng.integers(2, 7, size=(4, 1)))
        target = lib.tensor(rng.integers(2, 6, size=(3, 1)))
        optimizer.zero_grad()
        h = lib.zeros(1, 1, hidden, dtype=lib.float64)
        encoder_outputs = lib.zeros(max_length, hidden, dtype=lib.float64)
        for ei in range(source.size(0)):
            out, h = encoder(source[ei], h)
            encoder_outputs[ei] = out[0, 0]
        decoder_input = lib.tensor([[0]])
        loss = 0
        for di in range(target.size(0)):
            output, h = decoder(decoder_input, h, encoder_outputs)
            loss += criterion(output, target[di])
            decoder_input = target[di] if teacher else output.topk(1)[1].squeeze().detach()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, state, [p.detach().numpy() for p in params]


@pytest.mark.parametrize("teacher", [True, False], ids=["teacher_forcing", "own_predictions"])
def test_seq2seq_training_matches_torch_from_the_same_weights(teacher):
    torch.manual_seed(0)
    t_losses, state, t_params = _seq2seq_losses(torch, None, 12, teacher)
    losses, _, params = _seq2seq_losses(devrt, state, 12, teacher)
    np.testing.assert_allclose(losses, t_losses, rtol=1e-9)
    moved = [np.abs(p - s).max() for p, s in zip(t_params, state.values(), strict=True)]
    assert min(moved) > 1e-3  # every weight was trained
    for p, tp in zip(params, t_params, strict=True):
        np.testing.assert_allclose(p, tp, rtol=1e-8, atol=1e-10)
