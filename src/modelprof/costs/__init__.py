"""Cost rules, one module per op family, all registered in :data:`registry.REGISTRY`.

Importing this package registers every built-in rule exactly once. :mod:`.backward` holds the
backward-pass constants ``count --training`` applies on top of the forward rules.
"""

from . import conv, elementwise, matmul, norm, pool, quant  # noqa: F401  (registration side effect)
from .registry import (
    REGISTRY,
    Cost,
    CostRule,
    OpCall,
    Registry,
    flop_cost,
    int_mac_cost,
    mac_cost,
)

__all__ = [
    "REGISTRY",
    "Cost",
    "CostRule",
    "OpCall",
    "Registry",
    "flop_cost",
    "int_mac_cost",
    "mac_cost",
]
