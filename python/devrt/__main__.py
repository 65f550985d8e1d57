"""The ``devrt`` command line: ``devrt backends`` lists the backends,
``devrt demo`` trains the two-layer network on each of them."""

from __future__ import annotations

import argparse
import sys


def _backends(_args: argparse.Namespace) -> int:
    import devrt
    from devrt import plugins

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devrt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("backends", help="list backends, their devices, load status and op coverage")
    p.add_argument("--strict", action="store_true", help="exit 1 when a plugin failed to load")
    p.set_defaults(func=_backends)
    p = sub.add_parser("demo", help="train the two-layer network on every backend")
    p.add_argument("--steps", type=int, default=500)
    p.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
