"""The ``devrt`` command line: ``devrt backends`` lists the backends (and
with ``--ops`` the op x dtype x backend matrix), ``devrt demo`` trains the
two-layer network on each of them, ``devrt test`` runs the conformance
suite on devices, ``devrt needs`` says which ops each workload needs and
``devrt bench`` times matmul, a convolution and two training steps on every
device (and on PyTorch, NumPy and CuPy where installed), with a chart."""

from __future__ import annotations

import argparse
import sys

# Short dtype names for the op matrix, in devrt's order.
_SHORT = {
    "bool": "b",
    "uint8": "u8",
    "int32": "i32",
    "int64": "i64",
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
}


def op_matrix() -> str:
    """The catalogue as a markdown table: one row per op, one column per
    registered backend, each cell the dtypes that backend declares for it,
    and last what the op computes (its catalogue doc line)."""
    import devrt

    names = [b["name"] for b in devrt.backends() if b["registered"]]
    lines = [
        "| op | family | " + " | ".join(names) + " | computes |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " | --- |",
    ]
    for op in devrt.catalogue():
        if op["family"] in ("composite", "view"):
            what = "built by the core" if op["family"] == "composite" else "a view, no kernel"
            cells = [what] * len(names)
        else:
            cells = []
            for name in names:
                dtypes = op["kernels"].get(name, [])
                cells.append(" ".join(_SHORT.get(d, d) for d in dtypes) or "-")
        doc = op["doc"].replace("|", "\\|")
        lines.append(f"| {op['name']} | {op['family']} | " + " | ".join(cells) + f" | {doc} |")
    key = ", ".join(f"{v} {k}" for k, v in _SHORT.items())
    return "\n".join(lines) + f"\n\ndtypes: {key}; - none."


def _backends(args: argparse.Namespace) -> int:
    import devrt
    from devrt import plugins

    if args.ops:
        print(op_matrix())
        return 0

    total = len(devrt.catalogue())
    by_name = {b["name"]: b for b in devrt.backends()}
    described = plugins.describe()
    print(f"devrt {devrt.__version__}: {total} ops in the catalogue\n")
    print(f"{'plugin':<12} {'status':<8} {'device type':<12} {'devices':>7} {'ops':>9}")
    shown = set()
    failed = False
    for status in devrt.plugin_status():
        if not status.loaded:
            failed = True
            print(f"{status.name:<12} {'FAILED':<8} {'-':<12} {'-':>7} {'-':>9}")
            print(f"    error: {status.error}")
            if status.rolled_back:
                print(f"    rolled back: {', '.join(status.rolled_back)}")
            continue
        for name in status.backends or ["-"]:
            b = by_name.get(name)
            shown.add(name)
            if b is None:
                print(f"{status.name:<12} {'loaded':<8} {name:<12} {'-':>7} {'-':>9}")
                continue
            ops = f"{b['kernel_count']}/{total}"
            print(f"{status.name:<12} {'loaded':<8} {name:<12} {b['device_count']:>7} {ops:>9}")
        for key, value in described.get(status.name, {}).items():
            print(f"    {key}: {value}")
    for name, b in by_name.items():
        if name not in shown and not b["registered"]:
            print(
                f"{'(core)':<12} {'no backend':<8} {name:<12} {b['device_count']:>7} {'0/' + str(total):>9}"
            )
    try:
        import devrt.cuda as cuda

        if not cuda.is_available():
            print(f"\ncuda: not available ({cuda.unavailable_reason()})")
    except ImportError:
        pass
    return 1 if failed and "--strict" in sys.argv else 0


def _demo(args: argparse.Namespace) -> int:
    from devrt import demo

    return demo.main(args.steps)


def _test(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    if importlib.util.find_spec("pytest") is None:
        print("devrt test runs the conformance suite with pytest: pip install 'devrt[test]'")
        return 2
    devices = [f"--devrt-device={name}" for name in args.devices]
    # A process of its own: this one has imported devrt already, before
    # pytest could rewrite its asserts.
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "devrt.testing", *devices]
    return subprocess.call(cmd + args.pytest_args)


def _needs(args: argparse.Namespace) -> int:
    import devrt
    from devrt.testing import fixtures, needs

    if args.device is not None:
        known = [b["name"] for b in devrt.backends() if b["registered"]]
        if args.device.split(":")[0] == "pydev":
            fixtures.register_pydev()
        elif args.device.split(":")[0] not in known:
            print(
                f"[needs] no backend registered for {args.device}; registered: {', '.join(known)}",
                file=sys.stderr,
            )
            return 2
    print(needs.report(args.device))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from devrt.demo import devices
    from devrt.utils import benchmark

    known = devices()
    for device in args.devices or []:
        if device not in known:
            print(f"[bench] no device {device}; devices here: {', '.join(known)}", file=sys.stderr)
            return 2
    if any(n < 1 for n in args.sizes):
        print(f"[bench] sizes must be positive, got {args.sizes}", file=sys.stderr)
        return 2
    return benchmark.main(args.sizes, args.devices, args.rounds, args.out, not args.devrt_only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devrt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("backends", help="list backends, their devices, load status and op coverage")
    p.add_argument("--strict", action="store_true", help="exit 1 when a plugin failed to load")
    p.add_argument(
        "--ops",
        action="store_true",
        help="print the op x dtype x backend matrix, with what each op computes (markdown)",
    )
    p.set_defaults(func=_backends)
    p = sub.add_parser("demo", help="train the two-layer network on every backend")
    p.add_argument("--steps", type=int, default=500)
    p.set_defaults(func=_demo)
    p = sub.add_parser(
        "test",
        help="run the conformance suite on devices (pytest --pyargs devrt.testing)",
        description="Run the conformance suite on each NAME (default: every available "
        "device); arguments after -- go to pytest, e.g. devrt test cpu -- -x -k matmul",
    )
    p.add_argument("devices", nargs="*", metavar="NAME")
    p.set_defaults(func=_test, pytest_args=[])
    p = sub.add_parser(
        "needs",
        help="which ops each workload needs, forward and backward (markdown)",
        description="Run each workload on a recording device and list the catalogue ops "
        "it dispatched, with their dtypes; with --device, those the device lacks.",
    )
    p.add_argument("--device", metavar="NAME", help="also list the ops NAME lacks")
    p.set_defaults(func=_needs)
    p = sub.add_parser(
        "bench",
        help="time matmul, a convolution and training steps on every device, with a chart",
        description="Time n x n float32 matmul over SIZES, a 3x3 convolution, the two-layer "
        "network's and the small CNN's training steps on each device (default: every device "
        "of every backend), and in the same process on PyTorch (CPU, CUDA), NumPy and CuPy "
        "where installed; print a table and save a chart (matplotlib: pip install 'devrt[bench]').",
    )
    p.add_argument("devices", nargs="*", metavar="DEVICE", help="e.g. cpu cuda:0")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per workload")
    p.add_argument("--out", default="devrt_bench.png", help="the chart's file ('' for none)")
    p.add_argument("--devrt-only", action="store_true", help="time devrt's devices only")
    p.set_defaults(func=_bench)
    argv = sys.argv[1:] if argv is None else list(argv)
    rest = []
    if "--" in argv:
        argv, rest = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = parser.parse_args(argv)
    if rest:
        if args.command != "test":
            parser.error("arguments after -- go to pytest, for devrt test only")
        args.pytest_args = rest
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
