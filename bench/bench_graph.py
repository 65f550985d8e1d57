"""Graph front-end benchmark: a Session training step of the two-layer
network (N=64, D_in=1000, H=100, D_out=10, GradientDescentOptimizer)
against PyTorch's eager step for the same network and, where TensorFlow is
installed, TensorFlow's own tf.compat.v1 Session step. One process,
interleaved rounds, ratios of step time. Run: python bench/bench_graph.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from bench_eager import two_layer_step  # noqa: E402
from common import blas_setting, compare, try_import_tf, try_import_torch  # noqa: E402
from devrt.demo import D_IN, D_OUT, N, two_layer_graph  # noqa: E402


def session_step(tf, lr=1e-6):
    """The lecture's graph: placeholders, variables, MSE-style loss and
    GradientDescentOptimizer(...).minimize, fed the same data every step."""
    g = tf.Graph()
    with g.as_default():
        x, y, _, loss = two_layer_graph(tf)
        train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init)
    rng = np.random.default_rng(0)
    feed = {
        x: rng.standard_normal((N, D_IN), dtype=np.float32),
        y: rng.standard_normal((N, D_OUT), dtype=np.float32),
    }

    def step():
        sess.run(train, feed_dict=feed)

    return step


def main() -> None:
    import devrt.graph as dtf

    torch = try_import_torch()
    tf = try_import_tf()
    tf1 = tf.compat.v1 if tf is not None else None
    if tf1 is not None:
        tf1.disable_eager_execution()
    print(
        f"devrt {devrt.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
        f"tensorflow {'installed' if tf1 else 'not installed'}"
    )
    print(blas_setting())
    print("time per training step; a ratio < 1 means devrt's Session step is faster\n")
    contenders = {"devrt Session": session_step(dtf)}
    if torch is not None:
        contenders["torch eager"] = two_layer_step(torch)
    if tf1 is not None:
        contenders["tf Session"] = session_step(tf1)
    t = compare(contenders, rounds=15)
    mine = t["devrt Session"]
    print(f"{'devrt Session':<14} {mine * 1e3:8.3f} ms")
    for name, other in t.items():
        if name != "devrt Session":
            print(
                f"{name:<14} {other * 1e3:8.3f} ms   devrt/{name.split()[0]} time {mine / other:5.2f}x"
            )


if __name__ == "__main__":
    main()
