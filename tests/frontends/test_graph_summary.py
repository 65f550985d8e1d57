"""devrt.graph's tf.summary: summary ops fetched as serialized Summary protos,
and FileWriter event files read back with tensorboard's own readers."""

from __future__ import annotations

import glob
import sys
import warnings

import numpy as np
import pytest

import devrt.graph as tf
from devrt.graph import summary as summary_module

summary_pb2 = pytest.importorskip("tensorboard.compat.proto.summary_pb2")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.backend.event_processing.event_file_loader import (  # noqa: E402
    LegacyEventFileLoader,
)
from tensorboard.compat.proto import graph_pb2  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _numpy_histogram(values):
    """The statistics and bucket counts tf.summary.histogram promises, in NumPy."""
    v = np.asarray(values, np.float64).ravel()
    n = summary_module.HISTOGRAM_BUCKETS
    limits = v.min() + (v.max() - v.min()) * np.arange(1, n + 1) / n
    limits[-1] = v.max()
    cumulative = np.array([(v <= lim).sum() for lim in limits], np.float64)
    cumulative[-1] = v.size
    return v, limits, np.diff(cumulative, prepend=0.0)


def test_summary_ops_evaluate_to_serialized_summaries():
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.name_scope("train"):
        loss = tf.summary.scalar("loss", tf.reduce_mean(x))
    hist = tf.summary.histogram("activations", x * 2.0)
    steps = tf.summary.scalar("steps", tf.constant(7, tf.int32), family="counters")
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [loss, hist, steps]
    merged = tf.summary.merge_all()
    pair = tf.summary.merge([loss, steps])
    xv = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    with tf.Session() as sess:
        got_loss, got_all, got_pair = sess.run([loss, merged, pair], {x: xv})
    assert isinstance(got_loss, bytes)
    (value,) = summary_pb2.Summary.FromString(got_loss).value
    assert value.tag == "train/loss"
    np.testing.assert_allclose(value.simple_value, xv.mean(), rtol=1e-6)
    parsed = summary_pb2.Summary.FromString(got_all)
    assert [v.tag for v in parsed.value] == ["train/loss", "activations", "counters/steps"]
    assert parsed.value[2].simple_value == 7
    histo = parsed.value[1].histo
    v, limits, counts = _numpy_histogram(xv * 2.0)
    np.testing.assert_allclose(
        [histo.min, histo.max, histo.num, histo.sum, histo.sum_squares],
        [v.min(), v.max(), v.size, v.sum(), (v**2).sum()],
        rtol=1e-6,
    )
    np.testing.assert_allclose(histo.bucket_limit, limits, rtol=1e-12)
    np.testing.assert_array_equal(histo.bucket, counts)
    assert sum(histo.bucket) == v.size
    # The wire format written here is what the protobuf library writes.
    assert parsed.SerializeToString() == got_all
    assert [v.tag for v in summary_pb2.Summary.FromString(got_pair).value] == [
        "train/loss",
        "counters/steps",
    ]


def test_file_writer_writes_events_that_tensorboard_reads(tmp_path):
    x = tf.placeholder(tf.float32, [None])
    w = tf.Variable(1.0, name="w")
    loss = tf.reduce_mean(tf.square(x * w))
    tf.summary.scalar("loss", loss)
    tf.summary.histogram("w", w)
    merged = tf.summary.merge_all()
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    xv = np.array([1.0, 2.0, 3.0], np.float32)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with tf.summary.FileWriter(str(tmp_path), sess.graph) as writer:
            for i in range(4):
                got, value, _ = sess.run([merged, loss, step], {x: xv})
                writer.add_summary(got, global_step=i)
                losses.append(value)
            writer.flush()
    (path,) = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    events = list(LegacyEventFileLoader(path).Load())
    assert events[0].file_version == "brain.Event:2"
    graph_def = graph_pb2.GraphDef.FromString(events[1].graph_def)
    nodes = {n.name: n for n in graph_def.node}
    assert nodes["w"].op == "Variable" and "Placeholder" in nodes
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    # As in TensorFlow, a tag is its name scope: "w" is taken by the variable.
    assert acc.Tags()["scalars"] == ["loss"] and acc.Tags()["histograms"] == ["w_1"]
    scalars = acc.Scalars("loss")
    assert [s.step for s in scalars] == [0, 1, 2, 3]
    np.testing.assert_allclose([s.value for s in scalars], losses, rtol=1e-6)
    assert losses[-1] < losses[0]
    assert acc.Histograms("w_1")[0].histogram_value.num == 1


def test_illegal_summary_names_are_cleaned_with_a_warning():
    w = tf.Variable(tf.ones([3]), name="W")
    with pytest.warns(
        UserWarning, match=r"^\[histogram\] summary name 'W:0' is illegal; using 'W_0'"
    ):
        hist = tf.summary.histogram(w.name, w)
    with pytest.warns(UserWarning, match=r"^\[scalar\] .*'/a b' is illegal; using 'a_b'"):
        tf.summary.scalar("/a b", tf.constant(1.0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        (value,) = summary_pb2.Summary.FromString(sess.run(hist)).value
    assert value.tag == "W_0" and value.histo.num == 3 and value.histo.sum == 3


def test_summary_errors(tmp_path):
    with pytest.raises(ValueError, match=r"^\[scalar\] .*scalar.*\(2,\)"):
        tf.summary.scalar("bad", tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"^\[merge\] .*Tensor"):
        tf.summary.merge([tf.constant(1.0)])
    assert tf.summary.merge_all() is None
    vector = tf.placeholder(tf.float32)
    fetched = tf.summary.scalar("dynamic", vector)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=r"^\[scalar\] .*'dynamic' must be a scalar.*\(2,\)"):
            sess.run(fetched, {vector: [1.0, 2.0]})
    with pytest.raises(TypeError, match=r"^\[FileWriter.add_summary\] .*int"):
        tf.summary.FileWriter(str(tmp_path)).add_summary(3)


def test_file_writer_without_tensorboard_warns_once_and_writes_nothing(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    monkeypatch.setattr(summary_module, "_warned_missing", False)
    s = tf.summary.scalar("loss", tf.constant(1.5))
    with tf.Session() as sess:
        got = sess.run(s)  # summaries still serialize without tensorboard
    with pytest.warns(RuntimeWarning, match=r"^\[FileWriter\] the tensorboard package"):
        writer = tf.summary.FileWriter(str(tmp_path / "a"), tf.get_default_graph())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = tf.summary.FileWriter(str(tmp_path / "b"))
    for w in (writer, second):
        w.add_summary(got, 1)
        w.add_graph(tf.get_default_graph())
        w.flush()
        w.close()
    assert not list(tmp_path.iterdir())
