"""CUDA benchmarks: devrt's cuda device against CuPy and PyTorch CUDA, in one
process with interleaved rounds, as ratios of time per call.

- SGEMM, n=4096 float32 (TF32 off everywhere), also as TFLOP/s;
- the lecture's two-layer training step (64x1000x100x10) and the small CNN
  step of bench_eager.py (batch 32, 3x32x32), against PyTorch CUDA;
- one channels-last 3x3 convolution with both its gradients (devrt.graph's
  Conv2D, on cuDNN through the conv kernels) in float32 and float16,
  against PyTorch's channels-last conv2d (cuDNN too).

Every timed call ends with a synchronisation of its library's device, so a
time is the work's, not the launch queue's. Run on a GPU machine with
devrt-cuda installed: python bench/bench_cuda.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from bench_eager import small_cnn_step, two_layer_step  # noqa: E402
from common import compare  # noqa: E402


def synced(step, sync):
    def call():
        step()
        sync()

    return call


def sgemm_contenders(n: int, torch, cupy) -> dict:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = {}
    da, db = devrt.from_numpy(a).to("cuda"), devrt.from_numpy(b).to("cuda")
    out["devrt"] = synced(lambda: da @ db, devrt.cuda.synchronize)
    if cupy is not None:
        ca, cb = cupy.asarray(a), cupy.asarray(b)
        out["cupy"] = synced(lambda: ca @ cb, cupy.cuda.Device().synchronize)
    if torch is not None:
        ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        out["torch"] = synced(lambda: ta @ tb, torch.cuda.synchronize)
    # The same product everywhere: a wrong devrt result voids the timing.
    expect = (a[:64].astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    got = (da @ db).cpu().numpy()[:64]
    np.testing.assert_allclose(got, expect, rtol=1e-3, atol=1e-2 * np.sqrt(n))
    return out


def conv_contenders(torch, dtype: str, devrt_device="/gpu:0", torch_device="cuda") -> dict:
    """A 3x3 SAME convolution (batch 64, 32x32, 64 -> 64 channels) and both
    its gradients, the operands already on the device: devrt.graph's Conv2D
    (NHWC input, HWIO filter) run as one Session step, PyTorch's conv2d on
    channels-last tensors."""
    import devrt.graph as tf

    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((64, 32, 32, 64)).astype(np.float32)
    f_np = (rng.standard_normal((3, 3, 64, 64)) * 0.05).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default(), tf.device(devrt_device):
        x = tf.cast(tf.Variable(x_np), dtype)
        f = tf.cast(tf.Variable(f_np), dtype)
        y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
        gx, gf = tf.gradients(tf.reduce_sum(y), [x, f])
        step = tf.group(y, gx, gf)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        got = sess.run(tf.cast(gf, tf.float32))
    sess.run(step)
    out = {"devrt": lambda: sess.run(step)}
    if torch is not None:
        t = getattr(torch, dtype)
        xt = torch.from_numpy(x_np).to(torch_device, t).permute(0, 3, 1, 2)  # NCHW view, NHWC data
        wt = torch.from_numpy(f_np).to(torch_device, t).permute(3, 2, 0, 1)  # OIHW view, HWIO data
        xt, wt = xt.requires_grad_(), wt.requires_grad_()

        def torch_step():
            yt = torch.nn.functional.conv2d(xt, wt, padding=1)
            return torch.autograd.grad(yt.sum(), [xt, wt])

        want = torch_step()[1].permute(2, 3, 1, 0).float().cpu().numpy()
        # The same gradient: a wrong devrt result voids the timing.
        tol = 1e-3 if dtype == "float32" else 5e-2
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())
        out["torch"] = torch_step
    return out


def main() -> int:
    if not devrt.cuda.is_available():
        print(f"bench_cuda: CUDA unavailable: {devrt.cuda.unavailable_reason()}")
        return 1
    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    try:
        import cupy
    except ImportError:
        cupy = None
    devrt.backends.cuda.matmul.allow_tf32 = False
    print(
        f"devrt {devrt.__version__} on {devrt.cuda.get_device_name()}; "
        f"torch {torch.__version__ if torch else 'absent'}; "
        f"cupy {cupy.__version__ if cupy else 'absent'}"
    )
    print("time per call (synchronised); ratio > 1 means devrt is faster\n")

    n = 4096
    times = compare(sgemm_contenders(n, torch, cupy), rounds=9)
    flops = 2 * n**3
    print(f"SGEMM n={n} float32, TF32 off")
    for name, t in times.items():
        ratio = "" if name == "devrt" else f"  devrt speed ratio {t / times['devrt']:.2f}"
        print(f"  {name:<6} {t * 1e3:8.3f} ms  {flops / t / 1e12:6.1f} TFLOP/s{ratio}")

    cases = [
        ("two-layer step (64x1000x100x10)", two_layer_step),
        ("small CNN step (batch 32, 3x32x32)", small_cnn_step),
    ]
    for name, make in cases:
        contenders = {
            "devrt": synced(make(devrt, device="cuda"), devrt.cuda.synchronize),
        }
        if torch is not None:
            contenders["torch"] = synced(make(torch, device="cuda"), torch.cuda.synchronize)
        times = compare(contenders, rounds=9)
        print(f"\n{name}")
        for lib, t in times.items():
            ratio = "" if lib == "devrt" else f"  devrt speed ratio {t / times['devrt']:.2f}"
            print(f"  {lib:<6} {t * 1e3:8.3f} ms/step{ratio}")
    for dtype in ("float32", "float16"):
        contenders = conv_contenders(torch, dtype)
        contenders["devrt"] = synced(contenders["devrt"], devrt.cuda.synchronize)
        if "torch" in contenders:
            contenders["torch"] = synced(contenders["torch"], torch.cuda.synchronize)
        times = compare(contenders, rounds=9)
        print(f"\nNHWC conv 3x3 64->64, batch 64, 32x32, {dtype}: forward and both gradients")
        for lib, t in times.items():
            ratio = "" if lib == "devrt" else f"  devrt speed ratio {t / times['devrt']:.2f}"
            print(f"  {lib:<6} {t * 1e3:8.3f} ms/step{ratio}")
    stats = devrt.cuda.memory_stats()
    print(
        f"\ndevrt cuda:0 memory: peak {stats['peak_allocated'] / 2**20:.1f} MiB allocated, "
        f"{stats['reserved'] / 2**20:.1f} MiB reserved, {stats['cache_hits']} of "
        f"{stats['allocations']} allocations from the cache"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
