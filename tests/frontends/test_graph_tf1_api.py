"""The TF1 API that tutorials use: tf.data, tf.metrics, and the functions
in_top_k, sequence_mask, boolean_mask, tf.linalg, sort/argsort,
random_shuffle, weighted_cross_entropy_with_logits, natural_exp_decay, lrn,
image resizing, nce_loss and sampled_softmax_loss.

Behaviour tests run always; the comparisons build the same graph on
devrt.graph and on TensorFlow 2's tf.compat.v1 (where installed) and check
values and tf.gradients on the same inputs.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import devrt.graph as dtf

HAS_TF_KERAS = importlib.util.find_spec("tf_keras") is not None
if HAS_TF_KERAS:  # tf.layers of TF1 live on in tf_keras
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


@pytest.fixture(scope="module")
def tf1():
    tf = pytest.importorskip("tensorflow")
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    v1 = tf.compat.v1
    v1.disable_v2_behavior()
    yield v1
    # Graph mode is process-wide; later tests (Keras 3's layers check for
    # TensorFlow graphs) expect TensorFlow as it was.
    v1.enable_v2_behavior()


def run_graph(tf, build, feeds=None, grads=False):
    """Builds `build(tf)` -> (outputs, inputs) in a new graph and returns the
    outputs' values and, with `grads`, tf.gradients of sum(outputs[0] * w)
    with respect to each input (w a fixed weighting, so each entry counts)."""
    g = tf.Graph()
    with g.as_default():
        outputs, inputs = build(tf)
        fetches = list(outputs)
        if grads:
            y = outputs[0]
            if y.shape.is_fully_defined():
                n = int(np.prod(y.shape.as_list()))
                w = np.linspace(0.5, 1.5, n).reshape(y.shape.as_list()).astype(np.float32)
                objective = tf.reduce_sum(y * w)
            else:
                objective = tf.reduce_sum(y * y)
            # TensorFlow gives a gather's gradient as IndexedSlices: made dense here.
            fetches += [tf.convert_to_tensor(d) for d in tf.gradients(objective, inputs)]
        init = tf.global_variables_initializer()
        local = tf.local_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run([init, local])
        return sess.run(fetches, feed_dict=feeds(inputs) if feeds else None)


def assert_same(tf1, build, grads=False, rtol=1e-5, atol=1e-6):
    ours = run_graph(dtf, build, grads=grads)
    theirs = run_graph(tf1, build, grads=grads)
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (k, a.shape, b.shape)
        assert a.dtype == b.dtype, (k, a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"fetch {k}")


def drain(sess, fetch):
    out = []
    while True:
        try:
            out.append(sess.run(fetch))
        except dtf.errors.OutOfRangeError:
            return out


# --- tf.data -----------------------------------------------------------------------------


def test_dataset_batches_repeat_and_end_of_data():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10, dtype=np.int64)
    with dtf.Graph().as_default():
        ds = dtf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat(2)
        assert ds.output_shapes[0].as_list() == [None, 2]
        assert ds.output_types == (dtf.float32, dtf.int64)
        features, labels = ds.make_one_shot_iterator().get_next()
        doubled = features * 2.0
        with dtf.Session() as sess:
            got = drain(sess, [doubled, labels])
    assert [len(b[1]) for b in got] == [4, 4, 2, 4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), np.r_[y, y])
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), 2 * np.r_[x, x])
    assert isinstance(dtf.errors.OutOfRangeError("m"), IndexError)


def test_dataset_sources_and_transformations():
    with dtf.Graph().as_default():
        d = {"a": np.arange(6, dtype=np.int32), "b": np.ones((6, 3), np.float32)}
        ds = dtf.data.Dataset.from_tensor_slices(d).skip(1).take(4).batch(3, drop_remainder=True)
        el = dtf.data.make_one_shot_iterator(ds).get_next()
        assert el["b"].shape.as_list() == [3, 3]
        r = dtf.data.Dataset.range(2, 8, 2).make_one_shot_iterator().get_next()
        assert r.dtype == dtf.int64
        t = dtf.data.Dataset.from_tensors([1.0, 2.0]).repeat(3).make_one_shot_iterator().get_next()
        with dtf.Session() as sess:
            batches = drain(sess, el)
            assert len(batches) == 1
            np.testing.assert_array_equal(batches[0]["a"], [1, 2, 3])
            assert drain(sess, r) == [2, 4, 6]
            got = drain(sess, t)
            assert len(got) == 3 and got[0].dtype == np.float32


def test_dataset_one_shot_iterator_restarts_per_session():
    with dtf.Graph().as_default() as g:
        nxt = dtf.data.Dataset.range(3).make_one_shot_iterator().get_next()
        for _ in range(2):
            with dtf.Session(graph=g) as sess:
                assert drain(sess, nxt) == [0, 1, 2]


def test_dataset_element_taken_only_by_runs_that_need_it():
    with dtf.Graph().as_default():
        nxt = dtf.data.Dataset.range(5).make_one_shot_iterator().get_next()
        other = dtf.constant(1.0) + 1.0
        both = nxt * 10
        with dtf.Session() as sess:
            assert sess.run(nxt) == 0
            sess.run(other)
            # One get_next group per run, however many tensors read it.
            assert sess.run([nxt, both]) == [1, 10]
            assert sess.run(nxt, feed_dict={nxt: 42}) == 42  # fed: the iterator is untouched
            assert sess.run(nxt) == 2


def test_dataset_shuffle_seeded_and_reshuffled():
    data = np.arange(50)
    with dtf.Graph().as_default() as g:
        ds = dtf.data.Dataset.from_tensor_slices(data).shuffle(20, seed=3).repeat(2)
        nxt = ds.make_one_shot_iterator().get_next()
        fixed = dtf.data.Dataset.from_tensor_slices(data).shuffle(
            50, seed=4, reshuffle_each_iteration=False
        )
        nxt_fixed = fixed.repeat(2).make_one_shot_iterator().get_next()
        runs = []
        for _ in range(2):
            with dtf.Session(graph=g) as sess:
                runs.append((drain(sess, nxt), drain(sess, nxt_fixed)))
    order, order_fixed = runs[0]
    assert runs[1] == runs[0]  # the same seed gives the same order in each session
    first, second = order[:50], order[50:]
    assert sorted(first) == list(data) and sorted(second) == list(data)
    assert first != list(data) and first != second  # reshuffled in the second pass
    assert order_fixed[:50] == order_fixed[50:] and order_fixed[:50] != list(data)


def test_dataset_map_and_filter_are_graph_functions():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    with dtf.Graph().as_default():
        ds = (
            dtf.data.Dataset.from_tensor_slices((x, np.arange(6)))
            .map(lambda f, label: (dtf.reduce_sum(f * f), label * 2))
            .filter(lambda s, label: s > 10.0)
            .batch(2)
        )
        assert ds.output_shapes[0].as_list() == [None]
        s, label = ds.make_one_shot_iterator().get_next()
        with dtf.Session() as sess:
            got = drain(sess, (s, label))
    sums = (x * x).sum(1)
    keep = sums > 10
    np.testing.assert_allclose(np.concatenate([g[0] for g in got]), sums[keep])
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), 2 * np.arange(6)[keep])


def test_dataset_initializable_and_reinitializable_iterators():
    with dtf.Graph().as_default():
        train = dtf.data.Dataset.range(3)
        valid = dtf.data.Dataset.range(10, 12)
        it = train.make_initializable_iterator()
        nxt = it.get_next()
        shared = dtf.data.Iterator.from_structure(train.output_types, train.output_shapes)
        shared_next = shared.get_next()
        init_train = shared.make_initializer(train)
        init_valid = shared.make_initializer(valid)
        with dtf.Session() as sess:
            with pytest.raises(dtf.errors.FailedPreconditionError, match="IteratorGetNext"):
                sess.run(nxt)
            sess.run(it.initializer)
            assert sess.run(nxt) == 0
            sess.run(it.initializer)
            assert drain(sess, nxt) == [0, 1, 2]
            sess.run(init_valid)
            assert drain(sess, shared_next) == [10, 11]
            sess.run(init_train)
            assert drain(sess, shared_next) == [0, 1, 2]
        with pytest.raises(TypeError, match="make_initializer"):
            shared.make_initializer(dtf.data.Dataset.from_tensor_slices(np.ones(3, np.float32)))
        with pytest.raises(ValueError, match="initializer"):
            _ = train.make_one_shot_iterator().initializer


def test_dataset_of_placeholders_fed_at_initialization():
    with dtf.Graph().as_default():
        features = dtf.placeholder(dtf.float32, [None, 2])
        labels = dtf.placeholder(dtf.int64, [None])
        ds = dtf.data.Dataset.from_tensor_slices((features, labels)).batch(2)
        assert ds.output_shapes[0].as_list() == [None, 2]
        it = ds.make_initializable_iterator()
        x, y = it.get_next()
        one_shot = dtf.data.Dataset.from_tensors(features).make_one_shot_iterator().get_next()
        with dtf.Session() as sess:
            for n in (3, 5):
                data = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
                sess.run(it.initializer, {features: data, labels: np.arange(n)})
                got = drain(sess, (x * 2.0, y))
                np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), 2 * data)
                np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), np.arange(n))
            sess.run(it.initializer, {features: np.ones((3, 2)), labels: np.arange(4)})
            with pytest.raises(dtf.errors.InvalidArgumentError, match="same first dimension"):
                sess.run(x)
            with pytest.raises(dtf.errors.InvalidArgumentError, match="must be fed"):
                sess.run(one_shot)
        with pytest.raises(TypeError, match=r"\[Dataset.from_tensor_slices\].*placeholders"):
            dtf.data.Dataset.from_tensor_slices(features + 1.0)


def test_dataset_bad_input():
    with dtf.Graph().as_default():
        with pytest.raises(ValueError, match=r"\[Dataset.from_tensor_slices\].*first dimension"):
            dtf.data.Dataset.from_tensor_slices((np.ones(3), np.ones(4)))
        with pytest.raises(ValueError, match=r"\[Dataset.from_tensor_slices\].*one dimension"):
            dtf.data.Dataset.from_tensor_slices(np.float32(1.0))
        with pytest.raises(TypeError, match=r"\[Dataset.from_tensor_slices\].*dtype"):
            dtf.data.Dataset.from_tensor_slices(np.array(["a", "b"]))
        with pytest.raises(ValueError, match=r"\[Dataset.batch\].*batch_size"):
            dtf.data.Dataset.range(3).batch(0)
        with pytest.raises(ValueError, match=r"\[Dataset.shuffle\].*buffer_size"):
            dtf.data.Dataset.range(3).shuffle(0)
        outside = dtf.placeholder(dtf.int64, [])
        with pytest.raises(ValueError, match=r"\[Dataset.map\]"):
            dtf.data.Dataset.range(3).map(lambda v: v + outside)
        with pytest.raises(TypeError, match=r"\[Dataset.filter\]"):
            dtf.data.Dataset.range(3).filter(lambda v: v + 1)
        with pytest.raises(TypeError, match=r"\[Dataset\]"):
            iter(dtf.data.Dataset.range(3))
        ragged = dtf.data.Dataset.from_generator(
            lambda: iter([np.ones(2), np.ones(3)]), dtf.float32, [None]
        ).batch(2)
        nxt = ragged.make_one_shot_iterator().get_next()
        with dtf.Session() as sess:
            with pytest.raises(dtf.errors.InvalidArgumentError, match=r"\[Dataset.batch\]"):
                sess.run(nxt)


def test_dataset_matches_tensorflow(tf1):
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10, dtype=np.int64) % 3

    def pipeline(tf):
        ds = tf.data.Dataset.from_tensor_slices({"x": x, "y": y})
        ds = ds.map(lambda d: (tf.sqrt(d["x"]) * 2.0, tf.one_hot(d["y"], 3)))
        ds = ds.skip(1).take(8).batch(3).repeat(2).prefetch(1)
        return ds

    def collect(tf):
        g = tf.Graph()
        with g.as_default():
            ds = pipeline(tf)
            shapes = [s.as_list() for s in ds.output_shapes]
            a, b = tf.data.make_one_shot_iterator(ds).get_next()
            out = []
            with tf.Session(graph=g) as sess:
                while True:
                    try:
                        out.append(sess.run((a, b)))
                    except tf.errors.OutOfRangeError:
                        return shapes, out

    ours_shapes, ours = collect(dtf)
    theirs_shapes, theirs = collect(tf1)
    assert ours_shapes == theirs_shapes
    assert len(ours) == len(theirs)
    for (a, b), (c, d) in zip(ours, theirs):
        np.testing.assert_allclose(a, c, rtol=1e-6)
        np.testing.assert_array_equal(b, d)
        assert a.dtype == c.dtype and b.dtype == d.dtype


# --- tf.metrics ----------------------------------------------------------------------------


def metric_steps(tf, batches):
    g = tf.Graph()
    with g.as_default():
        labels = tf.placeholder(tf.int64, [None])
        preds = tf.placeholder(tf.int64, [None])
        probs = tf.placeholder(tf.float32, [None])
        weights = tf.placeholder(tf.float32, [None])
        metrics = [
            tf.metrics.accuracy(labels, preds),
            tf.metrics.accuracy(labels, preds, weights=weights, name="weighted_acc"),
            tf.metrics.mean(probs),
            tf.metrics.mean(probs, weights=weights, name="weighted_mean"),
            tf.metrics.precision(labels, preds),
            tf.metrics.recall(labels, preds),
            tf.metrics.auc(labels, probs),
            tf.metrics.auc(labels, probs, curve="PR", num_thresholds=50, name="pr"),
            tf.metrics.mean_squared_error(probs, tf.cast(labels, tf.float32)),
            tf.metrics.root_mean_squared_error(probs, tf.cast(labels, tf.float32)),
            tf.metrics.mean_absolute_error(probs, tf.cast(labels, tf.float32)),
            tf.metrics.true_positives(labels, preds),
            tf.metrics.false_negatives(labels, preds),
        ]
        names = sorted(v.name for v in tf.local_variables())
        assert not tf.trainable_variables() and not tf.global_variables()
        init = tf.local_variables_initializer()
    steps = []
    with tf.Session(graph=g) as sess:
        for _epoch in range(2):
            sess.run(init)
            for b in batches:
                feed = {labels: b[0], preds: b[1], probs: b[2], weights: b[3]}
                updates = sess.run([m[1] for m in metrics], feed)
                steps.append((updates, sess.run([m[0] for m in metrics])))
    return names, steps


def metric_batches():
    rng = np.random.default_rng(1)
    return [
        (
            rng.integers(0, 2, n),
            rng.integers(0, 2, n),
            rng.random(n).astype(np.float32),
            rng.random(n).astype(np.float32),
        )
        for n in (7, 12, 5)
    ]


def test_metrics_values_and_local_variables():
    batches = metric_batches()
    names, steps = metric_steps(dtf, batches)
    assert "accuracy/total:0" in names and "accuracy/count:0" in names
    assert "precision/true_positives/count:0" in names
    seen = [np.concatenate([b[k] for b in batches[: i + 1]]) for i in range(3) for k in range(4)]
    for i in range(3):
        lab, pred, prob, w = seen[4 * i : 4 * i + 4]
        updates, values = steps[i]
        np.testing.assert_allclose(values, updates, rtol=1e-6)
        np.testing.assert_allclose(values[0], np.mean(lab == pred), rtol=1e-6)
        np.testing.assert_allclose(values[1], np.sum((lab == pred) * w) / w.sum(), rtol=1e-5)
        np.testing.assert_allclose(values[2], prob.mean(), rtol=1e-5)
        np.testing.assert_allclose(values[3], np.sum(prob * w) / w.sum(), rtol=1e-5)
        tp = np.sum((lab == 1) & (pred == 1))
        np.testing.assert_allclose(values[4], tp / max(np.sum(pred == 1), 1), rtol=1e-6)
        np.testing.assert_allclose(values[5], tp / max(np.sum(lab == 1), 1), rtol=1e-6)
        np.testing.assert_allclose(values[8], np.mean((prob - lab) ** 2), rtol=1e-5)
        np.testing.assert_allclose(values[9], np.sqrt(np.mean((prob - lab) ** 2)), rtol=1e-5)
        assert values[11] == tp
    # local_variables_initializer starts the sums again.
    np.testing.assert_allclose(steps[3][1], steps[0][1], rtol=1e-6)


def test_metrics_bad_input():
    with dtf.Graph().as_default():
        with pytest.raises(ValueError, match=r"\[metrics.accuracy\].*same shape"):
            dtf.metrics.accuracy(dtf.constant([1, 2]), dtf.constant([1, 2, 3]))
        with pytest.raises(ValueError, match=r"\[metrics.auc\].*curve"):
            dtf.metrics.auc(dtf.constant([1]), dtf.constant([0.5]), curve="XY")
        with pytest.raises(ValueError, match=r"\[metrics\].*list or tuple"):
            dtf.metrics.mean(dtf.constant([1.0]), metrics_collections="m")
        v, _ = dtf.metrics.mean(dtf.constant([1.0]))
        with dtf.Session() as sess:
            with pytest.raises(dtf.errors.FailedPreconditionError):
                sess.run(v)


def test_metrics_match_tensorflow(tf1):
    batches = metric_batches()
    ours_names, ours = metric_steps(dtf, batches)
    theirs_names, theirs = metric_steps(tf1, batches)
    assert ours_names == theirs_names
    for (u1, v1), (u2, v2) in zip(ours, theirs):
        np.testing.assert_allclose(u1, u2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v1, v2, rtol=1e-5, atol=1e-6)


# --- functions, checked always against NumPy ------------------------------------------------


def evaluate(fetches, feed=None):
    with dtf.Session() as sess:
        return sess.run(fetches, feed)


def test_where_sequence_mask_boolean_mask():
    with dtf.Graph().as_default():
        x = dtf.placeholder(dtf.float32, [None, 3])
        value = np.array([[1, -1, 2], [-3, 4, 5], [6, 7, -8]], np.float32)
        lengths = dtf.placeholder(dtf.int32, [None])
        rows = dtf.boolean_mask(x, x[:, 0] > 0)
        entries = dtf.boolean_mask(x, x > 0)
        cols = dtf.boolean_mask(x, [True, False, True], axis=1)
        grad = dtf.gradients(dtf.reduce_sum(entries * entries), x)[0]
        out = evaluate(
            [
                dtf.where(x > 0),
                dtf.sequence_mask(lengths),
                dtf.sequence_mask(lengths, 4, dtf.float32),
                rows,
                entries,
                cols,
                grad,
            ],
            {x: value, lengths: [1, 3, 0]},
        )
    np.testing.assert_array_equal(out[0], np.argwhere(value > 0))
    assert out[0].dtype == np.int64
    np.testing.assert_array_equal(out[1], np.arange(3)[None, :] < np.array([1, 3, 0])[:, None])
    np.testing.assert_array_equal(out[2], (np.arange(4) < np.array([[1], [3], [0]])).astype("f4"))
    np.testing.assert_array_equal(out[3], value[value[:, 0] > 0])
    np.testing.assert_array_equal(out[4], value[value > 0])
    np.testing.assert_array_equal(out[5], value[:, [0, 2]])
    np.testing.assert_array_equal(out[6], np.where(value > 0, 2 * value, 0))


def test_sort_argsort_in_top_k_shuffle():
    value = np.array([[3.0, 1.0, 2.0, 1.0], [0.5, 4.0, 4.0, -1.0]], np.float32)
    with dtf.Graph().as_default():
        x = dtf.constant(value)
        out = evaluate(
            [
                dtf.sort(x),
                dtf.sort(x, axis=0, direction="DESCENDING"),
                dtf.argsort(x),
                dtf.argsort(x, direction="DESCENDING"),
                dtf.nn.in_top_k(x, [2, 2], 1),
                dtf.math.in_top_k(x, dtf.constant([2, 0], dtf.int64), 2),
                dtf.nn.in_top_k(x, [7, -1], 4),
            ]
        )
    np.testing.assert_array_equal(out[0], np.sort(value, 1))
    np.testing.assert_array_equal(out[1], -np.sort(-value, 0))
    np.testing.assert_array_equal(out[2], np.argsort(value, 1, kind="stable"))
    np.testing.assert_array_equal(out[3], np.argsort(-value, 1, kind="stable"))
    assert out[2].dtype == np.int32
    np.testing.assert_array_equal(out[4], [False, True])  # 4.0 tied with the largest counts
    np.testing.assert_array_equal(out[5], [True, False])
    np.testing.assert_array_equal(out[6], [False, False])  # targets out of range
    rows = np.arange(40, dtype=np.float32).reshape(20, 2)
    with dtf.Graph().as_default():
        dtf.set_random_seed(1)
        known = dtf.random_shuffle(rows)
        p = dtf.placeholder(dtf.float32, [None, 2])
        unknown = dtf.random.shuffle(p)
        with dtf.Session() as sess:
            a, b = sess.run([known, unknown], {p: rows})
            a2 = sess.run(known)
    for s in (a, b, a2):
        assert sorted(map(tuple, s)) == sorted(map(tuple, rows)) and not np.array_equal(s, rows)
    assert not np.array_equal(a, a2)  # a new order each run


def test_functions_bad_input():
    with dtf.Graph().as_default():
        x = dtf.placeholder(dtf.float32, [None, 3])
        with pytest.raises(TypeError, match=r"\[sequence_mask\].*integers"):
            dtf.sequence_mask(dtf.constant([1.0]))
        with pytest.raises(TypeError, match=r"\[boolean_mask\].*bool"):
            dtf.boolean_mask(x, dtf.constant([1, 0, 1]))
        with pytest.raises(ValueError, match=r"\[boolean_mask\].*shape"):
            dtf.boolean_mask(x, dtf.constant([True, False]), axis=1)
        with pytest.raises(ValueError, match=r"\[sort\].*direction"):
            dtf.sort(x, direction="UP")
        with pytest.raises(ValueError, match=r"\[sort\].*must be known"):
            dtf.sort(x, axis=0)
        with pytest.raises(TypeError, match=r"\[argsort\].*dtype"):
            dtf.argsort(dtf.constant([True, False]))
        with pytest.raises(ValueError, match=r"\[in_top_k\]"):
            dtf.nn.in_top_k(dtf.constant([1.0, 2.0]), [0], 1)
        with pytest.raises(TypeError, match=r"\[in_top_k\].*int"):
            dtf.nn.in_top_k(x, dtf.constant([0.0]), 1)
        with pytest.raises(ValueError, match=r"\[lrn\].*4-D"):
            dtf.nn.lrn(x)
        with pytest.raises(ValueError, match=r"\[resize_bilinear\].*size"):
            dtf.image.resize_images(dtf.zeros([1, 4, 4, 1]), [0, 3])
        with pytest.raises(NotImplementedError, match=r"\[resize_images\].*method"):
            dtf.image.resize_images(dtf.zeros([1, 4, 4, 1]), [2, 2], method=2)
        with pytest.raises(ValueError, match=r"\[band_part\].*rank"):
            dtf.linalg.band_part(dtf.zeros([3]), 1, 1)
        with pytest.raises(ValueError, match=r"\[where\]"):
            dtf.where(x > 0, x)
        with pytest.raises(ValueError, match=r"\[log_uniform_candidate_sampler\].*distinct"):
            dtf.nn.log_uniform_candidate_sampler(dtf.constant([[1]], dtf.int64), 1, 5, True, 4)
        with pytest.raises(ValueError, match=r"\[nce_loss\].*last dimension"):
            dtf.nn.nce_loss(
                dtf.zeros([10, 4]),
                dtf.zeros([10]),
                dtf.constant([[1]], dtf.int64),
                dtf.zeros([1, 3]),
                2,
                10,
            )
        limit = dtf.placeholder(dtf.int32)
        r = dtf.sequence_mask(dtf.constant([1, 2]), limit)
        with dtf.Session() as sess, pytest.raises(ValueError, match="Range"):
            sess.run(r, {limit: [3, 4]})


def test_linalg_matches_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10
    with dtf.Graph().as_default():
        x = dtf.constant(a)
        out = evaluate(
            [
                dtf.linalg.band_part(x, 1, 0),
                dtf.linalg.band_part(x, -1, 1),
                dtf.linalg.transpose(x),
                dtf.linalg.matmul(x, dtf.linalg.matrix_transpose(x)),
                dtf.linalg.trace(x[:, :, :3]),
                dtf.linalg.diag_part(x),
                dtf.linalg.eye(3),
                dtf.linalg.norm(x, axis=-1),
            ]
        )
    i, j = np.arange(3)[:, None], np.arange(4)[None, :]
    np.testing.assert_array_equal(out[0], np.where((i - j <= 1) & (j - i <= 0), a, 0))
    np.testing.assert_array_equal(out[1], np.where(j - i <= 1, a, 0))
    np.testing.assert_array_equal(out[2], a.transpose(0, 2, 1))
    np.testing.assert_allclose(out[3], a @ a.transpose(0, 2, 1))
    np.testing.assert_array_equal(out[4], np.trace(a[:, :, :3], axis1=1, axis2=2))
    np.testing.assert_array_equal(out[5], np.diagonal(a, axis1=1, axis2=2))
    np.testing.assert_array_equal(out[6], np.eye(3))
    np.testing.assert_allclose(out[7], np.linalg.norm(a, axis=-1), rtol=1e-6)


def test_candidate_sampler_distribution():
    with dtf.Graph().as_default():
        dtf.set_random_seed(0)
        true = dtf.constant([[0], [5]], dtf.int64)
        sampled, true_count, sampled_count = dtf.nn.log_uniform_candidate_sampler(
            true, 1, 2000, False, 10
        )
        unique = dtf.nn.log_uniform_candidate_sampler(true, 1, 6, True, 10)
        uniform = dtf.nn.uniform_candidate_sampler(true, 1, 4, True, 4)
        with dtf.Session() as sess:
            s, tc, sc = sess.run([sampled, true_count, sampled_count])
            uniq = [sess.run(unique[0]) for _ in range(3)]
            perm = sess.run(uniform[0])
    p = np.log((np.arange(10) + 2) / (np.arange(10) + 1)) / np.log(11)
    freq = np.bincount(s, minlength=10) / len(s)
    np.testing.assert_allclose(freq, p, atol=0.04)
    np.testing.assert_allclose(tc[:, 0], 2000 * p[[0, 5]], rtol=1e-5)
    np.testing.assert_allclose(sc, 2000 * p[s], rtol=1e-5)
    assert s.dtype == np.int64 and tc.dtype == np.float32
    for u in uniq:
        assert len(set(u.tolist())) == 6 and u.min() >= 0 and u.max() < 10
    assert sorted(perm.tolist()) == [0, 1, 2, 3]


def skipgram_step_losses(loss_fn, steps=60):
    """A word2vec-style skip-gram trained with `loss_fn` on a corpus where
    each word predicts its successor: returns the losses."""
    rng = np.random.default_rng(0)
    vocab, dim, batch = 40, 8, 32
    with dtf.Graph().as_default():
        dtf.set_random_seed(0)
        inputs = dtf.placeholder(dtf.int32, [batch])
        labels = dtf.placeholder(dtf.int64, [batch, 1])
        embeddings = dtf.Variable(dtf.random_uniform([vocab, dim], -1.0, 1.0))
        embed = dtf.nn.embedding_lookup(embeddings, inputs)
        weights = dtf.Variable(dtf.truncated_normal([vocab, dim], stddev=1.0 / np.sqrt(dim)))
        biases = dtf.Variable(dtf.zeros([vocab]))
        loss = dtf.reduce_mean(
            loss_fn(
                weights=weights,
                biases=biases,
                labels=labels,
                inputs=embed,
                num_sampled=8,
                num_classes=vocab,
            )
        )
        train = dtf.train.GradientDescentOptimizer(1.0).minimize(loss)
        losses = []
        with dtf.Session() as sess:
            sess.run(dtf.global_variables_initializer())
            for _ in range(steps):
                words = rng.integers(0, vocab, batch)
                feed = {inputs: words, labels: ((words + 1) % vocab)[:, None]}
                losses.append(sess.run([loss, train], feed)[0])
    return losses


@pytest.mark.parametrize("name", ["nce_loss", "sampled_softmax_loss"])
def test_sampled_losses_train_a_skipgram(name):
    losses = skipgram_step_losses(getattr(dtf.nn, name))
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])


# --- functions against TensorFlow: values and gradients ----------------------------------------

RNG = np.random.default_rng(7)
IMAGES = RNG.standard_normal((2, 5, 7, 3)).astype(np.float32)


def test_in_top_k_sequence_mask_boolean_mask_vs_tf(tf1):
    preds = np.array([[0.1, 0.5, 0.5, 0.2], [1.0, -2.0, 3.0, np.inf]], np.float32)

    def build(tf):
        x = tf.constant(IMAGES[0, :, :, 0])
        mask = tf.constant(IMAGES[0, :, :, 1] > 0)
        out = [
            tf.boolean_mask(x, mask),
            tf.cast(tf.nn.in_top_k(tf.constant(preds), tf.constant([2, 0]), 1), tf.int32),
            tf.cast(tf.nn.in_top_k(tf.constant(preds), tf.constant([1, 3]), 2), tf.int32),
            tf.sequence_mask(tf.constant([2, 0, 5]), dtype=tf.float32),
            tf.sequence_mask(tf.constant([[1, 2], [3, 0]]), 4),
            tf.where(mask),
            tf.boolean_mask(x, tf.constant(IMAGES[0, :, 0, 1] > 0), axis=0),
        ]
        return out, [x]

    assert_same(tf1, build, grads=True)


def test_sort_argsort_shuffle_vs_tf(tf1):
    def build(tf):
        x = tf.constant(IMAGES[0, :, :, 0])
        out = [
            tf.sort(x),
            tf.sort(x, axis=0, direction="DESCENDING"),
            tf.argsort(x, axis=0),
            tf.argsort(x, direction="DESCENDING"),
            tf.shape(tf.random.shuffle(x)),
        ]
        return out, [x]

    assert_same(tf1, build, grads=True)


def test_losses_and_schedules_vs_tf(tf1):
    logits = RNG.standard_normal((4, 3)).astype(np.float32) * 3
    labels = (RNG.random((4, 3)) > 0.5).astype(np.float32)

    def build(tf):
        x = tf.constant(logits)
        step = tf.constant(37, tf.int64)
        out = [
            tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=x, pos_weight=2.5),
            tf.nn.weighted_cross_entropy_with_logits(
                labels=labels, logits=x, pos_weight=tf.constant(0.5)
            ),
            tf.train.natural_exp_decay(0.1, step, 10, 0.5),
            tf.train.natural_exp_decay(0.1, step, 10, 0.5, staircase=True),
        ]
        return out, [x]

    assert_same(tf1, build, grads=True)


@pytest.mark.parametrize(
    "kwargs", [{}, {"depth_radius": 2, "bias": 2.0, "alpha": 1e-1, "beta": 0.75}]
)
def test_lrn_vs_tf(tf1, kwargs):
    def build(tf):
        x = tf.constant(IMAGES)
        return [tf.nn.lrn(x, **kwargs), tf.nn.local_response_normalization(x * 2.0)], [x]

    assert_same(tf1, build, grads=True, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("size", [(9, 4), (3, 14), (5, 7)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_resize_images_vs_tf(tf1, size, align_corners):
    def build(tf):
        x = tf.constant(IMAGES)
        out = [
            tf.image.resize_images(x, size, align_corners=align_corners),
            tf.image.resize_images(
                x, size, method=tf.image.ResizeMethod.NEAREST_NEIGHBOR, align_corners=align_corners
            ),
            tf.image.resize(x[0], size),
        ]
        if not align_corners:
            out += [
                tf.image.resize_bilinear(x, size, half_pixel_centers=True),
                tf.image.resize_nearest_neighbor(x, size, half_pixel_centers=True),
            ]
        return out, [x]

    assert_same(tf1, build, grads=True, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("num_true", [1, 2])
def test_sampled_losses_vs_tf(tf1, num_true):
    vocab, dim, batch, n_sampled = 12, 5, 4, 6
    weights = RNG.standard_normal((vocab, dim)).astype(np.float32)
    biases = RNG.standard_normal(vocab).astype(np.float32)
    inputs = RNG.standard_normal((batch, dim)).astype(np.float32)
    labels = RNG.integers(0, vocab, (batch, num_true))
    # Distinct classes (as a unique sampler draws them), one of them a label of row 0.
    others = [c for c in (3, 7, 0, 11, 5, 9) if c not in labels[0]]
    sampled = np.array(others[:5] + [labels[0, 0]], np.int64)
    true_count = RNG.random((batch, num_true)).astype(np.float32) + 0.1
    sampled_count = RNG.random(n_sampled).astype(np.float32) + 0.1

    def build(tf):
        w, b, x = tf.constant(weights), tf.constant(biases), tf.constant(inputs)
        values = (tf.constant(sampled), tf.constant(true_count), tf.constant(sampled_count))
        common = dict(
            weights=w,
            biases=b,
            labels=tf.constant(labels),
            inputs=x,
            num_sampled=n_sampled,
            num_classes=vocab,
            num_true=num_true,
            sampled_values=values,
        )
        out = [
            tf.nn.nce_loss(**common),
            tf.nn.nce_loss(**common, remove_accidental_hits=True),
            tf.nn.sampled_softmax_loss(**common),
            tf.nn.sampled_softmax_loss(**common, remove_accidental_hits=False),
        ]
        return out, [w, b, x]

    assert_same(tf1, build, grads=True, rtol=2e-5, atol=2e-5)
    # The gradients of the other losses too.
    for k in (1, 2, 3):

        def build_k(tf, k=k):
            out, xs = build(tf)
            return [out[k]], xs

        assert_same(tf1, build_k, grads=True, rtol=2e-5, atol=2e-5)


def test_log_uniform_expected_counts_vs_tf(tf1):
    true = np.array([[0, 3], [9, 1]], np.int64)

    def build(tf):
        _, tc, _ = tf.nn.log_uniform_candidate_sampler(tf.constant(true), 2, 7, False, 10)
        return [tc], []

    assert_same(tf1, build)


# --- variable scopes re-entered with reuse (tf_dataset_api.py builds its network twice) ----


def reused_layer_names(tf):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 4])

        def net(reuse):
            with tf.variable_scope("Net", reuse=reuse):
                h = tf.layers.dense(x, 3)
                return tf.layers.dense(h, 2)

        a, b = net(False), net(True)
        with tf.variable_scope("Other"):
            tf.layers.dense(x, 1)
        with tf.variable_scope("Other", reuse=True):
            tf.layers.dense(x, 1)
        return [v.name for v in tf.trainable_variables()], a, b


def test_reentered_variable_scope_reuses_layers():
    names, a, b = reused_layer_names(dtf)
    assert names == [
        "Net/dense/kernel:0",
        "Net/dense/bias:0",
        "Net/dense_1/kernel:0",
        "Net/dense_1/bias:0",
        "Other/dense/kernel:0",
        "Other/dense/bias:0",
    ]
    with dtf.Session(graph=a.graph) as sess:
        sess.run(dtf.global_variables_initializer())
        value = np.ones((2, 4), np.float32)
        x = a.graph.get_tensor_by_name("Placeholder:0")
        np.testing.assert_array_equal(*sess.run([a, b], {x: value}))


@pytest.mark.skipif(not HAS_TF_KERAS, reason="TensorFlow's tf.layers need tf_keras")
def test_reentered_variable_scope_names_vs_tf(tf1):
    assert reused_layer_names(dtf)[0] == reused_layer_names(tf1)[0]


def test_math_and_linalg_hold_the_functions_devrt_has(tf1):
    """Every tf.math / tf.linalg name that devrt.graph has somewhere is also
    under tf.math / tf.linalg, as in TensorFlow."""
    for space, ours in ((tf1.math, dtf.math), (tf1.linalg, dtf.linalg)):
        names = [n for n in dir(space) if not n.startswith("_")]
        elsewhere = [n for n in names if hasattr(dtf, n) or hasattr(dtf.nn, n)]
        assert [n for n in elsewhere if not hasattr(ours, n)] == []
