"""devrt's conformance suite: every op on every selected device against
NumPy, derivatives by finite differences, and end-to-end workloads.

Run it with ``pytest --pyargs devrt.testing --devrt-device=NAME`` or
``devrt test NAME`` (docs/backends.md, "Conformance suite")."""
