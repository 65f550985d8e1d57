"""keras.utils: to_categorical, normalize, PyDataset and set_random_seed,
against NumPy (and Keras 3 where installed)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import devrt
from devrt.keras import backend, utils


@pytest.mark.parametrize(
    "labels, num_classes",
    [([0, 2, 1, 2], None), ([[1], [0], [3]], None), ([[0, 1], [2, 0]], 4), (np.arange(5), 7)],
)
def test_to_categorical_matches_numpy(labels, num_classes):
    out = utils.to_categorical(labels, num_classes)
    array = np.asarray(labels)
    if array.ndim > 1 and array.shape[-1] == 1:
        array = array[..., 0]
    depth = num_classes or int(array.max()) + 1
    expected = (array[..., None] == np.arange(depth)).astype(np.float64)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)


def test_to_categorical_same_as_keras(keras3):
    for labels, num_classes in (([3, 0, 1], None), ([[2], [1]], 5)):
        ours = utils.to_categorical(labels, num_classes)
        theirs = keras3.utils.to_categorical(labels, num_classes)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_of_a_tensor_and_bad_labels(kdevice):
    out = utils.to_categorical(backend.convert_to_tensor(np.array([[2], [0]])), 3)
    assert isinstance(out, devrt.Tensor) and tuple(out.shape) == (2, 3)
    np.testing.assert_array_equal(backend.convert_to_numpy(out), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="class index 3 is out of range for num_classes=3"):
        utils.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="non-negative, got -1"):
        utils.to_categorical([0, -1])


def _numpy_normalize(x, axis, order):
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


@pytest.mark.parametrize("order", [1, 2, 3, math.inf])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_normalize_matches_numpy(order, axis, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    x[1] = 0  # a zero row stays zero
    out = utils.normalize(x, axis=axis, order=order)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, _numpy_normalize(x, axis, order), rtol=1e-5, atol=1e-6)


def test_normalize_on_device(kdevice, rng):
    x = rng.standard_normal((3, 6)).astype(np.float32)
    out = utils.normalize(backend.convert_to_tensor(x), axis=-1, order=2)
    assert isinstance(out, devrt.Tensor) and str(out.device) == str(backend.current_device())
    np.testing.assert_allclose(
        backend.convert_to_numpy(out), _numpy_normalize(x, -1, 2), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="order` must be an int >= 1. Received: order=0"):
        utils.normalize(x, order=0)


def test_normalize_same_as_keras(keras3, rng):
    x = rng.standard_normal((2, 3, 4))
    for axis, order in ((-1, 2), (1, 1), (2, 3)):
        np.testing.assert_allclose(
            utils.normalize(x, axis, order), keras3.utils.normalize(x, axis, order), rtol=1e-6
        )


class Squares(utils.PyDataset):
    def __init__(self, n, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = np.arange(n, dtype=np.float32)
        self.batch_size = batch_size
        self.epochs_ended = 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        batch = self.x[index * self.batch_size : (index + 1) * self.batch_size]
        return batch, batch**2

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_protocol():
    data = Squares(10, 4, workers=2, max_queue_size=3)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (2, False, 3)
    assert len(data) == data.num_batches == 3
    batches = list(data)
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), np.arange(10) ** 2)
    data.on_epoch_begin()
    data.on_epoch_end()
    assert data.epochs_ended == 1
    assert utils.Sequence is utils.PyDataset


def test_py_dataset_without_super_init_and_without_len():
    class NoSuper(utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert NoSuper().workers == 1

    class Endless(utils.PyDataset):
        def __getitem__(self, index):
            return index

    with pytest.raises(NotImplementedError, match="num_batches"):
        _ = Endless().num_batches
    taken = []
    for item in Endless():
        taken.append(item)
        if len(taken) == 5:
            break
    assert taken == [0, 1, 2, 3, 4]
    with pytest.raises(NotImplementedError, match="must implement __getitem__"):
        utils.PyDataset()[0]


def test_py_dataset_is_what_the_data_adapter_accepts():
    from devrt.keras.models import data_adapter

    adapter = data_adapter.adapter_for(Squares(10, 4), op="fit")
    assert len(adapter) == 3
    xs = [bx for bx, _, _ in adapter.epoch()]
    assert [tuple(x.shape) for x in xs] == [(4,), (4,), (2,)]


def test_set_random_seed_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), devrt.randn(3).numpy().tolist()

    utils.set_random_seed(7)
    first = draw()
    utils.set_random_seed(7)
    assert draw() == first
    assert utils.get_random_seed() == 7
    utils.set_random_seed(8)
    assert draw() != first
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer"):
        utils.set_random_seed(1.5)


def test_reexports():
    from devrt.keras import serialization

    for name in (
        "register_keras_serializable",
        "custom_object_scope",
        "CustomObjectScope",
        "get_custom_objects",
        "serialize_keras_object",
        "deserialize_keras_object",
    ):
        assert getattr(utils, name) is getattr(serialization, name)
    assert utils.Progbar.__module__ == "devrt.keras.utils.progbar"


PAD_CASES = [
    ([[1, 2, 3], [4, 5], [6]], {}),
    ([[1, 2, 3], [4, 5], [6]], {"maxlen": 2}),
    ([[1, 2, 3], [4, 5], [6]], {"maxlen": 2, "truncating": "post", "padding": "post"}),
    ([[1, 2, 3], [4, 5]], {"maxlen": 5, "dtype": "float32", "value": -1.0}),
    ([[], [7]], {}),
    ([[[1, 2], [3, 4]], [[5, 6]]], {"padding": "post"}),
]


@pytest.mark.parametrize("seqs, kwargs", PAD_CASES)
def test_pad_sequences_same_as_keras(keras3, seqs, kwargs):
    got = utils.pad_sequences(seqs, **kwargs)
    expected = keras3.utils.pad_sequences(seqs, **kwargs)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_pad_sequences_by_hand_and_errors():
    got = utils.pad_sequences([[1, 2, 3], [4]], maxlen=2)
    np.testing.assert_array_equal(got, [[2, 3], [0, 4]])
    with pytest.raises(ValueError, match=r"^\[pad_sequences\] padding"):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match=r"^\[pad_sequences\] sequence 1 is not a sequence"):
        utils.pad_sequences([[1], 2])
    with pytest.raises(ValueError, match=r"^\[pad_sequences\] sequence 1 has elements"):
        utils.pad_sequences([[[1, 2]], [[1, 2, 3]]])
