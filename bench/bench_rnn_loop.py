"""TensorArray writes in a while_loop: a Session training step of an Elman
RNN (batch 32, 16 inputs, 64 hidden units, a mean squared error on every
output, GradientDescentOptimizer) over a time dimension unknown when the
graph is built, at 25 and 200 time steps, the outputs collected in a
TensorArray.

Contenders, in one process and interleaved rounds:
- "in place": the loop as tf.nn.dynamic_rnn builds it; each write is the
  array's last reader and updates it in place;
- "copying": the same loop with one more read of the array after each
  write (an element, added times zero), which keeps the old array alive,
  so every write copies the whole array and its derivative makes a
  full-size gradient: the cost of every write before in-place writes;
- "dynamic_rnn": tf.nn.dynamic_rnn itself on [None, None, 16] inputs;
- "unrolled": tf.nn.dynamic_rnn over a time dimension known when built;
- "torch eager": PyTorch's step for the same network, where installed.
Run: python bench/bench_rnn_loop.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from common import blas_setting, compare, try_import_torch  # noqa: E402

B, D, H = 32, 16, 64


def _data(steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, steps, D)).astype(np.float32)
    y = rng.standard_normal((B, steps, H)).astype(np.float32) * 0.5
    w = (rng.standard_normal((D + H, H)) * 0.1).astype(np.float32)
    return x, y, w


def graph_step(tf, steps, kind):
    xv, yv, wv = _data(steps)
    g = tf.Graph()
    with g.as_default():
        known = steps if kind == "unrolled" else None
        x = tf.placeholder(tf.float32, [None, known, D])
        y = tf.placeholder(tf.float32, [None, known, H])
        cell = tf.nn.rnn_cell.BasicRNNCell(H)
        if kind in ("dynamic_rnn", "unrolled"):
            out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        else:
            xt = tf.transpose(x, [1, 0, 2])
            n = tf.shape(xt)[0]
            flow = tf.zeros_like(xt[:, :, :1]) + tf.zeros([H])

            def body(t, array, h):
                _, h = cell(tf.gather(xt, t), h)
                new = array.write(t, h)
                if kind == "copying":  # the old array is read after the write
                    h = h + 0.0 * array.read(t)
                return t + 1, new, h

            _, array, _ = tf.while_loop(
                lambda t, a, h: t < n,
                body,
                (
                    0,
                    tf.TensorArray(tf.float32, flow=flow),
                    cell.zero_state(tf.shape(x)[0], tf.float32),
                ),
            )
            out = tf.transpose(array.stack(), [1, 0, 2])
        loss = tf.reduce_mean(tf.square(out - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
        set_kernel = tf.trainable_variables()[0].assign(wv)
    sess = tf.Session(graph=g)
    sess.run(init)
    sess.run(set_kernel)
    feed = {x: xv, y: yv}

    def step():
        sess.run(train, feed_dict=feed)

    return step


def torch_step(torch, steps):
    xv, yv, wv = _data(steps)
    x, y = torch.from_numpy(xv), torch.from_numpy(yv)
    w = torch.tensor(wv, requires_grad=True)
    b = torch.zeros(H, requires_grad=True)

    def step():
        h = torch.zeros(B, H)
        outs = []
        for t in range(steps):
            h = torch.tanh(torch.cat([x[:, t, :], h], 1) @ w + b)
            outs.append(h)
        loss = ((torch.stack(outs, 1) - y) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w.sub_(0.1 * gw)
            b.sub_(0.1 * gb)

    return step


def main() -> None:
    import devrt.graph as dtf

    torch = try_import_torch()
    print(f"devrt {devrt.__version__}, torch {torch.__version__ if torch else 'not installed'}")
    print(blas_setting())
    print("time per training step and per time step; ratios of step time\n")
    per_time_step = {}
    for steps in (25, 200):
        contenders = {
            kind: graph_step(dtf, steps, kind)
            for kind in ("in place", "copying", "dynamic_rnn", "unrolled")
        }
        if torch is not None:
            contenders["torch eager"] = torch_step(torch, steps)
        t = compare(contenders, rounds=7)
        mine = t["in place"]
        print(f"{steps} time steps")
        for name, other in t.items():
            ratio = "" if name == "in place" else f"   {name}/in place {other / mine:5.2f}x"
            print(
                f"  {name:<12} {other * 1e3:8.2f} ms  {other / steps * 1e6:7.1f} us/time step{ratio}"
            )
        per_time_step[steps] = {name: v / steps for name, v in t.items()}
    print("\ncost per time step at 200 steps / at 25 steps (1.0: linear in the length)")
    for name in per_time_step[25]:
        print(f"  {name:<12} {per_time_step[200][name] / per_time_step[25][name]:5.2f}x")


if __name__ == "__main__":
    main()
