"""Synthetic stand-ins for the datasets the corpus programs download.

Each function returns NumPy arrays with the shapes and dtypes of the real
dataset after the tutorial's own preprocessing (images as float32 in [0, 1],
labels as int64, token ids as int64), with labels that depend learnably on
the inputs so that the programs' losses fall. Everything is drawn from a
``numpy.random.RandomState`` seeded by the caller, so a program run on devrt
and the same program run on the reference framework see the same data.

This is test input, not part of any front end: the programs hand these
arrays to the framework under test, which does all the math on them.
"""

from __future__ import annotations

import string

import numpy as np


def _templates(rng, num_classes, shape):
    """One smooth random image per class: the class signal of the images."""
    coarse = rng.rand(num_classes, *shape[:-2], shape[-2] // 4 + 1, shape[-1] // 4 + 1)
    fine = coarse.repeat(4, axis=-2).repeat(4, axis=-1)
    return fine[..., : shape[-2], : shape[-1]]


def images(n, shape, num_classes=10, seed=0, signal=0.6):
    """``n`` images of ``shape`` in [0, 1] (float32) and int64 labels: each
    image mixes its class's template with uniform noise."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, num_classes, size=n).astype(np.int64)
    templates = _templates(rng, num_classes, shape)
    noise = rng.rand(n, *shape)
    x = signal * templates[labels] + (1.0 - signal) * noise
    return x.astype(np.float32), labels


def mnist(n, seed=0):
    """MNIST after ``ToTensor()``: (n, 1, 28, 28) float32 and (n,) int64."""
    return images(n, (1, 28, 28), 10, seed)


def mnist_hwc(n, seed=0):
    """MNIST as Keras loads it and scales it: (n, 28, 28, 1) float32."""
    x, y = mnist(n, seed)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y


def cifar10(n, seed=0):
    """CIFAR-10 after ``ToTensor()``: (n, 3, 32, 32) float32 and (n,) int64."""
    return images(n, (3, 32, 32), 10, seed)


def one_hot(labels, num_classes=10):
    """The one-hot float32 rows that TF1's ``read_data_sets(one_hot=True)`` gives."""
    out = np.zeros((len(labels), num_classes), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def token_classes(n, seq_len, vocab, num_classes=2, seed=0):
    """Token sequences (n, seq_len) int64 in [1, vocab) and int64 labels:
    half of each sequence's tokens come from its class's part of the
    vocabulary, the rest from anywhere (id 0 is left for padding)."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, num_classes, size=n).astype(np.int64)
    band = (vocab - 1) // num_classes
    own = 1 + labels[:, None] * band + rng.randint(0, band, size=(n, seq_len))
    anywhere = rng.randint(1, vocab, size=(n, seq_len))
    pick = rng.rand(n, seq_len) < 0.5
    return np.where(pick, own, anywhere).astype(np.int64), labels


def token_stream(length, vocab, seed=0):
    """A corpus as one stream of int64 token ids from a sparse Markov chain
    (each token has three likely successors), so a language model can learn
    it below the uniform loss log(vocab)."""
    rng = np.random.RandomState(seed)
    successors = rng.randint(0, vocab, size=(vocab, 3))
    out = np.empty(length, np.int64)
    out[0] = 0
    choice = rng.randint(0, 3, size=length)
    jump = rng.rand(length) < 0.1
    anywhere = rng.randint(0, vocab, size=length)
    for i in range(1, length):
        out[i] = anywhere[i] if jump[i] else successors[out[i - 1], choice[i]]
    return out


def names_by_language(n_per_language, languages, seed=0):
    """Name lists per language, like the tutorial's ``data/names/*.txt``:
    each language spells its names mostly from eight letters of its own."""
    rng = np.random.RandomState(seed)
    letters = np.array(list(string.ascii_lowercase))
    out = {}
    for language in languages:
        own = rng.choice(letters, size=8, replace=False)
        names = []
        for _ in range(n_per_language):
            length = rng.randint(3, 9)
            chars = [
                own[rng.randint(8)] if rng.rand() < 0.8 else letters[rng.randint(26)]
                for _ in range(length)
            ]
            names.append("".join(chars).capitalize())
        out[language] = names
    return out


def sentence_pairs(n, seed=0):
    """(source, target) sentence pairs for a word-for-word "translation":
    each source word has one target word, so the mapping is learnable."""
    rng = np.random.RandomState(seed)
    source_words = ["je", "suis", "tu", "es", "il", "est", "elle", "nous", "sommes", "vous"]
    source_words += ["content", "fatigue", "grand", "petit", "ici", "la", "tres", "pas"]
    target_words = ["i", "am", "you", "are", "he", "is", "she", "we", "are", "you"]
    target_words += ["happy", "tired", "tall", "small", "here", "there", "very", "not"]
    pairs = []
    for _ in range(n):
        idx = rng.randint(0, len(source_words), size=rng.randint(3, 7))
        pairs.append(
            (" ".join(source_words[i] for i in idx), " ".join(target_words[i] for i in idx))
        )
    return pairs


class _DataSet:
    """One split of TF1's ``input_data.read_data_sets`` result."""

    def __init__(self, images, labels, seed):
        self.images = images
        self.labels = labels
        self.num_examples = len(images)
        self._rng = np.random.RandomState(seed)
        self._order = self._rng.permutation(self.num_examples)
        self._at = 0

    def next_batch(self, batch_size, fake_data=False):
        if self._at + batch_size > self.num_examples:
            self._order = self._rng.permutation(self.num_examples)
            self._at = 0
        idx = self._order[self._at : self._at + batch_size]
        self._at += batch_size
        return self.images[idx], self.labels[idx]


class MnistDataSets:
    """What ``input_data.read_data_sets(path, one_hot=True)`` returns:
    ``train`` and ``test`` splits (and ``validation`` when `n_validation`
    is given) of flat float32 (n, 784) images and one-hot float32 (n, 10)
    labels, with ``next_batch``."""

    def __init__(self, n_train=2000, n_test=500, seed=0, one_hot_labels=True, n_validation=0):
        x, y = mnist(n_train + n_test + n_validation, seed)
        x = x.reshape(len(x), 784)
        labels = one_hot(y) if one_hot_labels else y
        self.train = _DataSet(x[:n_train], labels[:n_train], seed)
        end = n_train + n_test
        self.test = _DataSet(x[n_train:end], labels[n_train:end], seed + 1)
        if n_validation:
            self.validation = _DataSet(x[end:], labels[end:], seed + 2)


def mnist_load_data(n_train=1000, n_test=200, seed=0):
    """What ``keras.datasets.mnist.load_data()`` returns: ((x_train, y_train),
    (x_test, y_test)) with uint8 (n, 28, 28) images in 0..255 and uint8 labels."""
    x, y = mnist(n_train + n_test, seed)
    x = np.round(x[:, 0] * 255).astype(np.uint8)
    y = y.astype(np.uint8)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def imdb_load_data(n_train=320, n_test=80, num_words=20000, seed=0):
    """What ``keras.datasets.imdb.load_data(num_words=...)`` returns: reviews
    as object arrays of int lists of varying length (40 to 120 words, ids
    from 1), and int64 0/1 sentiment labels."""
    rng = np.random.RandomState(seed + 1)
    tokens, labels = token_classes(n_train + n_test, 120, num_words, 2, seed)
    lengths = rng.randint(40, 121, size=len(tokens))
    reviews = np.empty(len(tokens), dtype=object)
    for i, (row, n) in enumerate(zip(tokens, lengths)):
        reviews[i] = [int(t) for t in row[:n]]
    return (reviews[:n_train], labels[:n_train]), (reviews[n_train:], labels[n_train:])
