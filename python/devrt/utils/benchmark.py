"""``devrt.utils.benchmark``: timing in one process, and ``devrt bench``.

The timing helpers measure contenders in interleaved rounds (every round
runs each contender once, so that machine noise hits them alike) and report
the median time per call. The workloads are written once against a library
module (``devrt`` or ``torch``) and a device, so the same program runs on
every contender. ``devrt bench`` times them on every device devrt has, and,
in the same process, on PyTorch (CPU and CUDA), NumPy and CuPy where
installed; it prints a table and draws a chart (with matplotlib).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# --- timing ------------------------------------------------------------------------


def per_call(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of fn over `number` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], object], target: float = 0.02) -> int:
    """How many calls of fn take about `target` seconds."""
    fn()
    n = 1
    while True:
        t = per_call(fn, n) * n
        if t >= target or n >= 1 << 22:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 4


def compare(
    contenders: dict[str, Callable[[], object]],
    rounds: int = 15,
    settle: float = 0.0,
    target: float = 0.02,
) -> dict[str, float]:
    """Median seconds per call of each contender, measured in interleaved
    rounds so that machine noise hits all of them alike.

    `settle` sleeps between contenders: each library brings its own BLAS
    thread pool, whose threads spin for a while after a call and would steal
    the cores from the next contender. After the pause one call runs
    untimed, since the first call after idling is slower for everyone
    (sleeping workers, clocks and caches warming up). `target` is the time
    one contender's turn in a round takes (seconds)."""
    numbers = {name: calibrate(fn, target) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            if settle:
                time.sleep(settle)
                fn()  # untimed: the first call after a pause runs cold
            samples[name].append(per_call(fn, numbers[name]))
    return {name: statistics.median(s) for name, s in samples.items()}


# --- workloads: one program for every library --------------------------------------


def two_layer_step(lib, n=64, d_in=1000, h=100, d_out=10, lr=1e-6, device="cpu"):
    """The lecture's network: autograd, manual SGD under no_grad."""
    rng = np.random.default_rng(0)

    def make(*shape):
        return lib.from_numpy(rng.standard_normal(shape, dtype=np.float32)).to(device)

    x, y = make(n, d_in), make(n, d_out)
    w1, w2 = make(d_in, h).requires_grad_(), make(h, d_out).requires_grad_()

    def step():
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with lib.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
            w1.grad = None
            w2.grad = None

    return step


def small_cnn_step(lib, device="cpu"):
    """Batch 32 of 3x32x32: conv3x3 3->32, relu, conv3x3 32->64, relu,
    maxpool 2, linear to 10, cross-entropy, SGD."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 16 * 16, 10),
    ).to(device)
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((32, 3, 32, 32), dtype=np.float32)).to(device)
    target = lib.from_numpy(rng.integers(0, 10, 32)).to(device)
    loss_fn = nn.CrossEntropyLoss()
    params = list(model.parameters())

    def step():
        loss = loss_fn(model(x), target)
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in params:
                p.sub_(0.01 * p.grad)

    return step


def conv_call(lib, device="cpu"):
    """One 3x3 convolution forward: batch 32, 64 -> 64 channels, 32x32."""
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((32, 64, 32, 32), dtype=np.float32)).to(device)
    w = lib.from_numpy(rng.standard_normal((64, 64, 3, 3), dtype=np.float32)).to(device)
    conv2d = lib.nn.functional.conv2d
    return lambda: conv2d(x, w, padding=1)


def matmul_call(lib, n: int, device="cpu"):
    """An n x n float32 matrix product (``lib.matmul``; NumPy and CuPy too)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if lib.__name__ in ("numpy", "cupy"):
        a, b = lib.asarray(a), lib.asarray(b)
    else:
        a, b = lib.from_numpy(a).to(device), lib.from_numpy(b).to(device)
    return lambda: lib.matmul(a, b)


# --- devrt bench --------------------------------------------------------------------


@dataclass
class Contender:
    """One library on one device: how to build each workload and to wait
    for its work to finish."""

    name: str
    lib: Any
    device: str = "cpu"
    sync: Callable[[], object] = lambda: None
    steps: bool = True  # runs the autograd workloads (NumPy and CuPy do not)

    def timed(self, fn: Callable[[], object]) -> Callable[[], None]:
        def call():
            fn()
            self.sync()

        return call


@dataclass
class Results:
    sizes: list[int]
    matmul: dict[str, dict[int, float]] = field(default_factory=dict)  # seconds
    steps: dict[str, dict[str, float]] = field(default_factory=dict)  # workload -> seconds


STEPS = {
    "conv 3x3, 32x64x32x32": conv_call,
    "two-layer step": two_layer_step,
    "small CNN step": small_cnn_step,
}


def contenders(devices: list[str] | None = None, others: bool = True) -> list[Contender]:
    """devrt on each of `devices` (every device of every registered backend
    by default), then PyTorch, NumPy and CuPy where installed."""
    import devrt
    from devrt import _C
    from devrt.demo import devices as all_devices

    out = []
    for device in devices or all_devices():
        sync = (lambda d=device: _C.synchronize(d)) if device != "cpu" else (lambda: None)
        out.append(Contender(f"devrt {device}", devrt, device, sync))
    if not others:
        return out
    try:
        import torch

        out.append(Contender("torch cpu", torch))
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            out.append(Contender("torch cuda", torch, "cuda", torch.cuda.synchronize))
    except ImportError:
        pass
    out.append(Contender("numpy", np, steps=False))
    try:
        import cupy

        out.append(Contender("cupy", cupy, "cuda", cupy.cuda.Device().synchronize, False))
    except ImportError:
        pass
    return out


def run(
    sizes: list[int], devices: list[str] | None = None, rounds: int = 5, others: bool = True
) -> tuple[list[Contender], Results]:
    """Times every workload on every contender, interleaved per workload."""
    import devrt

    who = contenders(devices, others)
    if devrt.cuda.is_available():
        devrt.backends.cuda.matmul.allow_tf32 = False
    results = Results(sizes)
    for n in sizes:
        calls = {c.name: c.timed(matmul_call(c.lib, n, c.device)) for c in who}
        for name, t in compare(calls, rounds=rounds, settle=0.05).items():
            results.matmul.setdefault(name, {})[n] = t
    # A pause before each contender's turn: every library's thread pool
    # spins a while after its last call and would slow the next one.
    for workload, make in STEPS.items():
        calls = {c.name: c.timed(make(c.lib, device=c.device)) for c in who if c.steps}
        for name, t in compare(calls, rounds=rounds, settle=0.05).items():
            results.steps.setdefault(name, {})[workload] = t
    return who, results


def table(who: list[Contender], results: Results) -> str:
    """The results as text: matmul in GFLOP/s, steps in ms, each with its
    speed relative to devrt on the CPU."""
    base = "devrt cpu"
    names = [c.name for c in who]
    width = max(12, *(len(n) for n in names)) + 2
    lines = ["matmul, float32 (GFLOP/s; x: speed against devrt cpu)"]
    lines.append(f"{'n':>6}" + "".join(f"{n:>{width + 8}}" for n in names))
    for n in results.sizes:
        row = f"{n:>6}"
        for name in names:
            t = results.matmul[name][n]
            speed = results.matmul[base][n] / t if base in results.matmul else 1.0
            row += f"{2 * n**3 / t / 1e9:>{width}.1f} {speed:5.2f}x "
        lines.append(row)
    stepped = [n for n in names if n in results.steps]
    lines.append("")
    lines.append("steps (ms per call; x: speed against devrt cpu)")
    lines.append(f"{'':<24}" + "".join(f"{n:>{width + 8}}" for n in stepped))
    for workload in STEPS:
        row = f"{workload:<24}"
        for name in stepped:
            t = results.steps[name][workload]
            speed = results.steps[base][workload] / t if base in results.steps else 1.0
            row += f"{t * 1e3:>{width}.3f} {speed:5.2f}x "
        lines.append(row)
    return "\n".join(lines)


def chart(who: list[Contender], results: Results, path: str) -> None:
    """Draws the results to `path` (a PNG): matmul throughput over the sizes
    and the time of each step, one colour per contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c.name for c in who]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name in names:
        sizes = results.sizes
        left.plot(
            sizes, [2 * n**3 / results.matmul[name][n] / 1e9 for n in sizes], "o-", label=name
        )
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xlabel("n (n x n float32 matmul)")
    left.set_ylabel("GFLOP/s")
    left.set_title("matmul throughput")
    left.legend()
    stepped = [n for n in names if n in results.steps]
    workloads = list(STEPS)
    width = 0.8 / max(len(stepped), 1)
    for i, name in enumerate(stepped):
        xs = [j + i * width for j in range(len(workloads))]
        right.bar(xs, [results.steps[name][w] * 1e3 for w in workloads], width, label=name)
    right.set_xticks([j + width * (len(stepped) - 1) / 2 for j in range(len(workloads))])
    right.set_xticklabels(workloads)
    right.set_yscale("log")
    right.set_ylabel("ms per call")
    right.set_title("training steps and a convolution")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(
    sizes: list[int],
    devices: list[str] | None,
    rounds: int,
    out: str | None,
    others: bool = True,
) -> int:
    import devrt

    who, results = run(sizes, devices, rounds, others)
    print(f"devrt {devrt.__version__}; contenders: {', '.join(c.name for c in who)}")
    print(table(who, results))
    if out:
        try:
            chart(who, results, out)
        except ImportError:
            print(
                f"\nno chart: matplotlib is not installed (pip install 'devrt[bench]'); {out} not written"
            )
            return 0
        print(f"\nchart written to {out}")
    return 0
