"""devrt.einsum against NumPy's einsum (values) and PyTorch's (values and
gradients); errors. Expected values never come from devrt itself."""

from __future__ import annotations

import numpy as np
import pytest

import devrt

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ij", [(3, 3, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,ij", [(3, 4), (3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("ij,kj->ikj", [(2, 3), (4, 3)]),
    ("ijk,jl,lm->ikm", [(2, 3, 4), (3, 5), (5, 6)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("...ij,...jk->...ik", [(2, 5, 3, 4), (5, 4, 6)]),
    ("...i->...", [(2, 3, 4)]),
    ("ab...,b->a...", [(2, 3, 4, 5), (3,)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ba", [(3, 4)]),
    ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]),
]


def arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes]


@pytest.mark.parametrize(("equation", "shapes"), CASES)
def test_einsum_matches_numpy(equation, shapes):
    arrs = arrays(shapes)
    got = devrt.einsum(equation, *[devrt.tensor(a, dtype=devrt.float64) for a in arrs])
    want = np.einsum(equation.replace(" ", ""), *arrs)
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("equation", "shapes"), CASES)
def test_einsum_gradients_match_torch(equation, shapes):
    torch = pytest.importorskip("torch")
    arrs = arrays(shapes, seed=1)
    t_ops = [torch.tensor(a, requires_grad=True) for a in arrs]
    d_ops = [devrt.tensor(a, dtype=devrt.float64, requires_grad=True) for a in arrs]
    t_out = torch.einsum(equation, *t_ops)
    d_out = devrt.einsum(equation, d_ops)  # the operands as one list
    w = np.random.default_rng(2).normal(size=tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (d_out * devrt.tensor(w, dtype=devrt.float64)).sum().backward()
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    for a, b in zip(t_ops, d_ops):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_broadcasts_size_one_batch_dims():
    a, b = arrays([(1, 3, 4), (5, 4, 2)])
    got = devrt.einsum("bij,bjk->bik", devrt.tensor(a), devrt.tensor(b))
    np.testing.assert_allclose(got.numpy(), np.matmul(a, b), rtol=1e-5, atol=1e-6)


def test_einsum_errors():
    x = devrt.zeros(3, 4)
    with pytest.raises(ValueError, match=r"^\[einsum\] the equation 'ij,jk->ik' names 2"):
        devrt.einsum("ij,jk->ik", x)
    with pytest.raises(ValueError, match=r"^\[einsum\] the subscript 'ijk' has 3 dimensions"):
        devrt.einsum("ijk->i", x)
    with pytest.raises(ValueError, match=r"^\[einsum\] output subscript 'q'"):
        devrt.einsum("ij->q", x)
    with pytest.raises(ValueError, match=r"^\[einsum\] operands do not broadcast"):
        devrt.einsum("ij,jk->ik", x, devrt.zeros(5, 2))
    with pytest.raises(TypeError, match=r"^\[einsum\] operand 1 must be a Tensor"):
        devrt.einsum("ij,jk->ik", x, [[1.0]])
