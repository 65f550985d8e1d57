"""``tf.train``: optimizers, the global step, learning-rate schedules,
``Saver`` and checkpoints, and the meta-graph functions."""

from __future__ import annotations

from devrt.graph.learning_rate_decay import (
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    piecewise_constant,
    polynomial_decay,
)
from devrt.graph.optimizers import (
    AdadeltaOptimizer,
    AdagradOptimizer,
    AdamOptimizer,
    GradientDescentOptimizer,
    MomentumOptimizer,
    Optimizer,
    RMSPropOptimizer,
    create_global_step,
    get_global_step,
    get_or_create_global_step,
    global_step,
)
from devrt.graph.saved_graph import export_meta_graph, import_meta_graph
from devrt.graph.saver import (
    CheckpointState,
    Saver,
    checkpoint_exists,
    get_checkpoint_state,
    latest_checkpoint,
    list_variables,
    load_checkpoint,
    load_variable,
)

__all__ = [
    "AdadeltaOptimizer",
    "AdagradOptimizer",
    "AdamOptimizer",
    "CheckpointState",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "Optimizer",
    "RMSPropOptimizer",
    "Saver",
    "checkpoint_exists",
    "cosine_decay",
    "create_global_step",
    "exponential_decay",
    "export_meta_graph",
    "get_checkpoint_state",
    "get_global_step",
    "get_or_create_global_step",
    "global_step",
    "import_meta_graph",
    "inverse_time_decay",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "piecewise_constant",
    "polynomial_decay",
]
