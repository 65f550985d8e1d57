"""Composite math written once for every front end.

``protocol`` defines the primitives a composite uses and ``ops_for``;
``eager`` and ``graph`` implement them. The composites, one module per
family, take the implementation as their first argument:
``activations`` (softplus, log-sigmoid, softsign, elu), ``normalization``
(batch and layer norm, moving averages), ``losses`` (cross-entropies),
``optimizers`` (the update rules) and ``initializers`` (fans and the
variance-scaling rule). See docs/design.md, "Composites".
"""

from devrt._composite.protocol import Ops, ops_for

__all__ = ["Ops", "ops_for"]
