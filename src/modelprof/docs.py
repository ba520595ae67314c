"""Generate docs/supported-ops.md from the registry: ``python -m modelprof.docs``.

The table is built from the rules themselves (their module and docstring), so the docs cannot
drift from the code; a test checks the committed page is current.
"""

from __future__ import annotations

import inspect

from .costs import REGISTRY


def supported_ops_markdown() -> str:
    lines = [
        "# Supported ops",
        "",
        "Generated from the cost-rule registry by `python -m modelprof.docs`; do not edit.",
        "Ops not listed here are reported as *unsupported* (never counted as zero); register",
        "a rule for them with `modelprof.register_cost_rule` or `--rules file.py`.",
        "",
        "| op | family | cost |",
        "|---|---|---|",
    ]
    for op, rule in REGISTRY.op_types().items():
        if rule is None:
            family, text = "data movement", "0 (no arithmetic: moves or reinterprets data)"
        else:
            family = rule.__module__.rsplit(".", 1)[-1]
            doc = inspect.getdoc(rule) or ""
            text = " ".join(doc.split("\n\n")[0].split())
        lines.append(f"| {op} | {family} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(supported_ops_markdown(), end="")
