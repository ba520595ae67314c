"""PyTorch inputs: ``.pt`` pickles and ``file.py:factory`` specs.

Why: a pickle runs code when it is loaded, so without ``--trust-pickle`` nothing may be
unpickled at all (a pickle here creates a marker file when it runs, and the runner checks the
marker is absent); with it, what the pickle holds (a dict, a tensor, a state_dict, garbage, a
call to ``sys.exit``) must still end in one line. Factories are user code too: they return the
wrong thing, raise, exit, or build modules whose forward fails.
"""

from __future__ import annotations

import io
import pickle
import random
import sys
from typing import Any

from . import mutate
from .case import Case, Workspace


class _Call:
    """Unpickling this calls ``func(*args)``: the pickle's payload, referenced by name."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args)


def _torch_save(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _module() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten())


def _payloads() -> dict[str, Any]:
    """name -> a thunk making the file's bytes (torch is imported only when one is drawn)."""
    return {
        "random_bytes": lambda rng: bytes(rng.randrange(256) for _ in range(rng.randint(0, 400))),
        "empty": lambda rng: b"",
        "dict": lambda rng: _torch_save({"a": 1, "b": [1, 2]}),
        "tensor": lambda rng: _torch_save(__import__("torch").zeros(3)),
        "int": lambda rng: _torch_save(5),
        "state_dict": lambda rng: _torch_save(_module().state_dict()),
        "module": lambda rng: _torch_save(_module()),
        "module_mutated": lambda rng: mutate.mutate(rng, _torch_save(_module()))[0],
        "module_truncated": lambda rng: mutate.truncate(rng, _torch_save(_module())),
        "marker_pickle": lambda rng: pickle.dumps(_Call(open, "pwned", "w"), protocol=2),
        "marker_in_zip": lambda rng: _torch_save({"x": _Call(open, "pwned", "w")}),
        "sys_exit_pickle": lambda rng: pickle.dumps(_Call(sys.exit, 0), protocol=2),
        "exec_raises": lambda rng: pickle.dumps(
            _Call(exec, "raise ValueError('from the pickle\\n[/x]')"), protocol=2
        ),
        "missing_module": lambda rng: b"\x80\x02cnonexistent_mod_fuzz\nThing\nq\x00)\x81q\x01.",
        "missing_torch_class": lambda rng: b"\x80\x02ctorch.nn\nNoSuchLayer\nq\x00)\x81q\x01.",
        "onnx_bytes": lambda rng: b"\x08\x08\x12\x04fuzz",
    }


def gen_pt(rng: random.Random, ws: Workspace) -> Case:
    payloads = _payloads()
    name = rng.choice(sorted(payloads))
    data = payloads[name](rng)
    trust = rng.random() < 0.6
    feed: dict[str, bytes] = {}
    where = rng.choices(
        ["plain", "pth", "upper", "folder", "fifo", "zero"], weights=[80, 6, 5, 3, 3, 3]
    )[0]
    path = {
        "plain": "m.pt",
        "pth": "m.pth",
        "upper": "M.PT",
        "folder": "d.pt",
        "fifo": "f.pt",
        "zero": "z.pt",
    }[where]
    if where == "folder":
        (ws.work / path).mkdir()
    elif where == "fifo":
        ws.fifo(path)
        feed[path] = data
    elif where == "zero":
        if ws.chardev(path, "zero") is None:
            path = ws.write("m.pt", data)
    else:
        ws.write(path, data)
    argv = ["count", path, "--format", rng.choice(["json", "table"])]
    if rng.random() < 0.6:
        argv += ["--input-shape", rng.choice(["input=1x3x8x8", "x=1x3x8x8", "input=1x3x1x1"])]
    if trust:
        argv.append("--trust-pickle")
    if rng.random() < 0.15:
        argv[0] = "check"
        argv[2:4] = ["--max-params", "1M"]
    title = f".pt {name}{'' if where == 'plain' else ' as ' + where}" + (
        " --trust-pickle" if trust else ""
    )
    # with --trust-pickle the user allowed code to run: the marker proves nothing then
    return Case("pickle", title, argv, feed=feed, marker=None if trust else "pwned")


_FACTORY_HEAD = "import sys\nimport torch\n"
_NET = "torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())"

FACTORIES: dict[str, str | bytes] = {
    "valid": _FACTORY_HEAD + f"def build():\n    return {_NET}\n",
    "returns_int": _FACTORY_HEAD + "def build():\n    return 5\n",
    "returns_class": _FACTORY_HEAD + "def build():\n    return torch.nn.Linear\n",
    "raises": _FACTORY_HEAD + "def build():\n    raise ValueError('factory says no')\n",
    "needs_args": _FACTORY_HEAD + "def build(width):\n    return torch.nn.Linear(width, 2)\n",
    "not_callable": _FACTORY_HEAD + "build = 5\n",
    "exit_in_factory": _FACTORY_HEAD + "def build():\n    sys.exit(0)\n",
    "exit_at_import": _FACTORY_HEAD + "sys.exit(4)\n",
    "raise_at_import": _FACTORY_HEAD + "raise ImportError('no such thing\\n[/x]')\n",
    "syntax_error": _FACTORY_HEAD + "def build(:\n",
    "invalid_utf8": _FACTORY_HEAD.encode() + b"x = '\xff'\n",
    "forward_raises": _FACTORY_HEAD
    + "class M(torch.nn.Module):\n    def forward(self, x):\n        raise RuntimeError('fwd')\n"
    + "def build():\n    return M()\n",
    "forward_exits": _FACTORY_HEAD
    + "class M(torch.nn.Module):\n    def forward(self, x):\n        sys.exit(0)\n"
    + "def build():\n    return M()\n",
    "forward_recursion": _FACTORY_HEAD
    + "class M(torch.nn.Module):\n    def forward(self, x):\n        return self(x)\n"
    + "def build():\n    return M()\n",
    "forward_returns_str": _FACTORY_HEAD
    + "class M(torch.nn.Module):\n    def forward(self, x):\n        return 'tensor'\n"
    + "def build():\n    return M()\n",
    "forward_shape_error": _FACTORY_HEAD + "def build():\n    return torch.nn.Linear(5, 2)\n",
}


def gen_factory(rng: random.Random, ws: Workspace) -> Case:
    name = rng.choice(sorted(FACTORIES))
    ws.write("net.py", FACTORIES[name])
    attr = rng.choices(["build", "missing", "sys", ""], weights=[85, 5, 5, 5])[0]
    argv = ["count", f"net.py:{attr}", "--format", rng.choice(["json", "table"])]
    if rng.random() < 0.8:
        argv += ["--input-shape", rng.choice(["input=1x3x8x8", "x=1x3x8x8", "input=1x3x2x2"])]
    return Case("factory", f"factory {name}:{attr}", argv)
