"""Training steps of the corpus's convolutional programs (tests/programs/).

Each program's own model definitions are taken from its file, once as
written (devrt) and once with the imports turned back (PyTorch, or Keras 3
on its torch backend), and one training step of the program (its optimizer,
loss and batch size) is timed for each, in one process with interleaved
rounds. The TF1 convolutional network's Session step runs against
TensorFlow's tf.compat.v1 where TensorFlow is installed (the `bench`
extra), else alone.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_programs.py
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "tests" / "programs"
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, str(PROGRAMS))

import synthetic  # noqa: E402
from _runner import reference_source  # noqa: E402

from common import blas_setting, compare, try_import_tf, try_import_torch  # noqa: E402


def program_namespace(
    name: str, mode: str, until: str | None = None, functions: bool = False
) -> dict:
    """Runs the top of a program: its imports and class definitions (and,
    with `functions`, its function definitions), or, with `until`, every
    statement up to and including the first whose source starts with
    `until` (building the model without training it)."""
    path = PROGRAMS / name
    source = path.read_text()
    if mode == "reference":
        source = reference_source(source)
    tree = ast.parse(source)
    if until is None:
        kinds = (ast.Import, ast.ImportFrom, ast.ClassDef)
        if functions:
            kinds += (ast.FunctionDef,)
        body = [node for node in tree.body if isinstance(node, kinds)]
    else:
        lines = source.splitlines()
        body = []
        for node in tree.body:
            body.append(node)
            if lines[node.lineno - 1].startswith(until):
                break
    namespace = {"__name__": "corpus_bench", "__file__": str(path)}
    with contextlib.redirect_stdout(io.StringIO()):  # the programs' own prints
        exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def eager_step(name, mode, make_model, make_optimizer, loss_name, x, y):
    ns = program_namespace(name, mode)
    torch = ns["torch"]
    torch.manual_seed(0)
    model = make_model(ns)
    optimizer = make_optimizer(torch.optim, model.parameters())
    loss_fn = getattr(torch.nn.functional, loss_name)
    xb, yb = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()

    return step


EAGER = {
    # program: (model, optimizer, loss, batch of inputs and labels), as the program trains
    "pt_examples_mnist.py": (
        lambda ns: ns["Net"](),
        lambda optim, p: optim.Adadelta(p, lr=1.0),
        "nll_loss",
        synthetic.mnist(64),
    ),
    "pt_tutorial_cifar10.py": (
        lambda ns: ns["Net"](),
        lambda optim, p: optim.SGD(p, lr=0.001, momentum=0.9),
        "cross_entropy",
        synthetic.cifar10(4),
    ),
    "yunjey_cnn.py": (
        lambda ns: ns["ConvNet"](10),
        lambda optim, p: optim.Adam(p, lr=0.001),
        "cross_entropy",
        synthetic.mnist(100),
    ),
}


def keras_step(mode):
    ns = program_namespace("keras_mnist_convnet.py", mode, until="model.compile(")
    model, x, y = ns["model"], ns["x_train"][:128], ns["y_train"][:128]
    return lambda: model.train_on_batch(x, y)


def graph_step(mode):
    if mode == "reference":  # TensorFlow builds graphs only with eager execution off
        import tensorflow as real_tf

        real_tf.compat.v1.disable_eager_execution()
    ns = program_namespace("tf_convnet.py", mode, until="init = ")
    tf = ns["tf"]
    sess = tf.Session()
    sess.run(ns["init"])
    batch_x, batch_y = ns["mnist"].train.next_batch(ns["batch_size"])
    feed = {ns["X"]: batch_x, ns["Y"]: batch_y, ns["keep_prob"]: 0.8}
    return lambda: sess.run(ns["train_op"], feed_dict=feed)


def report(title, times):
    ours = times["devrt"]
    line = f"{title:<44} devrt {ours * 1e3:8.2f} ms"
    for name, t in times.items():
        if name != "devrt":
            line += f"   {name} {t * 1e3:8.2f} ms   speed vs {name}: {t / ours:5.2f}x"
    print(line, flush=True)


def main():
    print("devrt", blas_setting())
    torch = try_import_torch()
    try:
        import keras  # noqa: F401
    except Exception:
        keras = None
    print("speed above 1x: devrt's step is faster")
    for name, (make_model, make_optimizer, loss_name, (x, y)) in EAGER.items():
        contenders = {
            "devrt": eager_step(name, "devrt", make_model, make_optimizer, loss_name, x, y)
        }
        if torch is not None:
            contenders["PyTorch"] = eager_step(
                name, "reference", make_model, make_optimizer, loss_name, x, y
            )
        report(f"{name} (batch {len(x)})", compare(contenders, rounds=7))
    contenders = {"devrt": keras_step("devrt")}
    if keras is not None:
        contenders["Keras 3 (torch)"] = keras_step("reference")
    report("keras_mnist_convnet.py train_on_batch (128)", compare(contenders, rounds=7))
    contenders = {"devrt": graph_step("devrt")}
    if try_import_tf() is not None:
        contenders["TensorFlow"] = graph_step("reference")
    report("tf_convnet.py Session step (batch 32)", compare(contenders, rounds=7))


if __name__ == "__main__":
    main()
