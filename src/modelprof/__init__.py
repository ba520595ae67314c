"""modelprof: what a neural network costs and where its time goes, layer by layer.

``import modelprof`` stays light: torch, openvino and onnxruntime are imported only by the
frontends and runtimes that need them.
"""

from ._version import __version__
from .api import count, load_graph, load_rules, register_cost_rule
from .costreport import Convention, CostReport, GroupCost, LayerCost, Totals
from .costs import Cost, OpCall
from .errors import ModelprofError
from .graph import Graph, Node, TensorInfo

__all__ = [
    "Convention",
    "Cost",
    "CostReport",
    "Graph",
    "GroupCost",
    "LayerCost",
    "ModelprofError",
    "Node",
    "OpCall",
    "TensorInfo",
    "Totals",
    "__version__",
    "count",
    "load_graph",
    "load_rules",
    "register_cost_rule",
]
