"""Corrupt side inputs: what a command reads besides the model.

- ``profile --inputs``: .npy/.npz arrays truncated, pickled (object arrays: loading them runs
  code), of the wrong dtype or shape, declaring enormous shapes, with extra, missing or
  traversal-named members, encrypted or with an unknown compression method;
- ``--rules``: Python files that register rules returning non-Costs, raising, calling
  ``sys.exit`` at load time or inside a rule, registering twice or over a built-in;
- ``diff``: saved count reports mutated as JSON (wrong types, missing keys, NaN, 1e400, huge
  integers, deep nesting) and as bytes;
- ``check``: pyproject.toml files whose ``[tool.modelprof]`` table is broken.

Why: each of these is parsed by a different library (numpy, zipfile, runpy, json, tomllib)
whose exceptions are not modelprof's; every one that escapes is a traceback or exit 3.
"""

from __future__ import annotations

import io
import json
import pickle
import random
import struct
import zipfile
from typing import Any

import numpy as np
import onnx

from . import gen_onnx, mutate
from .assets import Assets
from .case import Case, Workspace

# -- --inputs ----------------------------------------------------------------------------------


class _Marker:
    """Unpickling this creates the file ``pwned`` (via builtins.open): proof that a pickle ran."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, ("pwned", "w"))


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _npy_header(
    shape: tuple[int, ...],
    descr: str = "<f4",
    fortran: bool = False,
    version: tuple[int, int] = (1, 0),
) -> bytes:
    """A hand-written .npy header (any shape, any version): what np.save would refuse."""
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    header = header.ljust(118) + "\n"
    raw = header.encode("latin1")
    if version == (1, 0):
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw
    return b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(raw)) + raw


def _zip(members: dict[str, bytes], *, flag_bits: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.flag_bits |= flag_bits
            archive.writestr(info, data)
    return buf.getvalue()


def _zip_twice(name: str, first: bytes, second: bytes) -> bytes:
    """Two members of the same name (zipfile warns, and writes both)."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as archive:
        warnings.simplefilter("ignore")
        archive.writestr(name, first)
        archive.writestr(name, second)
    return buf.getvalue()


def _patch_method(data: bytes, method: int) -> bytes:
    """Every member's compression method set to ``method`` (in local and central headers)."""
    buf = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (i := buf.find(sig, start)) >= 0:
            buf[i + offset : i + offset + 2] = struct.pack("<H", method)
            start = i + 4
    return bytes(buf)


def _input_variants(shape: tuple[int, ...]) -> dict[str, Any]:
    """name -> (bytes, suffix) or a callable(rng) giving them; shape is the model's input."""
    good = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    npy = _npy_bytes(good)
    objects = np.empty(shape, dtype=object)
    objects.fill(_Marker())
    return {
        "valid_npy": (npy, ".npy"),
        "valid_npz": (_zip({"x.npy": npy}), ".npz"),
        "truncated_data": (npy[: len(npy) - 7], ".npy"),
        "truncated_header": (npy[:40], ".npy"),
        "object_array": (_npy_bytes(objects), ".npy"),
        "object_array_npz": (_zip({"x.npy": _npy_bytes(objects)}), ".npz"),
        "raw_pickle": (pickle.dumps(_Marker()), ".npy"),
        "int8": (_npy_bytes(good.astype(np.int8)), ".npy"),
        "float64": (_npy_bytes(good.astype(np.float64)), ".npy"),
        "big_endian": (_npy_bytes(good.astype(">f4")), ".npy"),
        "complex": (_npy_bytes(good.astype(np.complex64)), ".npy"),
        "unicode": (_npy_bytes(np.full(shape, "abc")), ".npy"),
        "structured": (_npy_header(shape, "[('a', '<f4')]") + good.tobytes(), ".npy"),
        "wrong_shape": (_npy_bytes(good.reshape(-1)), ".npy"),
        "scalar": (_npy_bytes(np.float32(1.0)), ".npy"),
        "fortran": (_npy_header(shape, fortran=True) + good.tobytes(), ".npy"),
        "version_3": (_npy_header(shape, version=(3, 0)) + good.tobytes(), ".npy"),
        "version_9": (_npy_header(shape, version=(9, 9)) + good.tobytes(), ".npy"),
        "huge_declared": (_npy_header((100000, 100000, 1000)) + b"\0" * 64, ".npy"),
        "negative_shape": (_npy_header((-1, 3)) + b"\0" * 64, ".npy"),
        "bad_header_literal": (b"\x93NUMPY\x01\x00\x10\x00{'descr': __import__}\n", ".npy"),
        "header_len_huge": (b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + b" " * 100, ".npy"),
        "extra_members": (
            _zip({"x.npy": npy, "junk.npy": b"garbage", "dir/": b"", "notes.txt": b"hi"}),
            ".npz",
        ),
        "missing_member": (_zip({"y.npy": npy}), ".npz"),
        "traversal_member": (_zip({"../x.npy": npy, "/abs.npy": npy}), ".npz"),
        "member_twice": (_zip_twice("x.npy", npy, b"\x93NUMPY garbage"), ".npz"),
        "encrypted": (_zip({"x.npy": npy}, flag_bits=0x1), ".npz"),
        "unknown_method": (_patch_method(_zip({"x.npy": npy}), 99), ".npz"),
        "lzma_method_lie": (_patch_method(_zip({"x.npy": npy}), 14), ".npz"),
        "zip_flipped": (mutate.flip(random.Random(1), _zip({"x.npy": npy}), 3), ".npz"),
        "not_a_zip": (b"PK\x03\x04" + b"\x00" * 50, ".npz"),
        "npz_named_npy": (_zip({"x.npy": npy}), ".npy"),
        "npy_named_npz": (npy, ".npz"),
        "empty": (b"", ".npz"),
        "onnx_model": (None, ".npz"),  # the model itself given as --inputs
    }


def gen_inputs(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    ws.write("m.onnx", assets.onnx_a.read_bytes())
    shape = _input_shape(assets)
    variants = _input_variants(shape)
    name = rng.choice(sorted(variants))
    data, suffix = variants[name]
    feed: dict[str, bytes] = {}
    path = "in" + suffix
    special = rng.random()
    if name == "onnx_model":
        path = "m.onnx"
    elif special < 0.08:
        path = ws.fifo("in_fifo" + suffix)
        feed[path] = data
        name += "@fifo"
    elif special < 0.12 and ws.chardev("zero" + suffix, "zero"):
        path = "zero" + suffix
        name = "zero_device"
    elif special < 0.15:
        (ws.work / "folder.npz").mkdir()
        path, name = "folder.npz", "folder"
    else:
        ws.write(path, data)
        if rng.random() < 0.2:
            data2, how = mutate.mutate(rng, data)
            ws.write(path, data2)
            name += f"+{how}"
    runtime = rng.choice(["onnxruntime", "onnxruntime", "openvino"])
    argv = [
        "profile",
        "m.onnx",
        "--runtime",
        runtime,
        "--iterations",
        "3",
        "--warmup",
        "1",
        "--inputs",
        path,
        "--format",
        rng.choice(["json", "table"]),
    ]
    return Case("inputs", f"--inputs {name} ({runtime})", argv, feed=feed, marker="pwned")


def _input_shape(assets: Assets) -> tuple[int, ...]:
    model = onnx.load(str(assets.onnx_a), load_external_data=False)
    return tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)


# -- --rules -----------------------------------------------------------------------------------

_HEAD = "import modelprof\nfrom modelprof import Cost\nimport sys\n"
_REG = "modelprof.register_cost_rule('FuzzOp', {rule})\n"

#: name -> rules file text (the FuzzOp rule is what the custom model's middle node needs)
RULES: dict[str, str | bytes] = {
    "valid": _HEAD + _REG.format(rule="lambda c: Cost(flops=c.in_numel())"),
    "returns_int": _HEAD + _REG.format(rule="lambda c: 5"),
    "returns_none": _HEAD + _REG.format(rule="lambda c: None"),
    "returns_tuple": _HEAD + _REG.format(rule="lambda c: (1, 2, 3)"),
    "returns_str": _HEAD + _REG.format(rule="lambda c: 'many'"),
    "negative": _HEAD + _REG.format(rule="lambda c: Cost(flops=-1)"),
    "nan": _HEAD + _REG.format(rule="lambda c: Cost(macs=float('nan'))"),
    "float": _HEAD + _REG.format(rule="lambda c: Cost(flops=1.5)"),
    "bool": _HEAD + _REG.format(rule="lambda c: Cost(flops=True)"),
    "numpy_int": _HEAD + "import numpy as np\n" + _REG.format(rule="lambda c: Cost(np.int64(3))"),
    "numpy_negative": _HEAD
    + "import numpy as np\n"
    + _REG.format(rule="lambda c: Cost(flops=np.int64(-3))"),
    "overflow": _HEAD + _REG.format(rule="lambda c: Cost(flops=2**80)"),
    "raises": _HEAD + _REG.format(rule="lambda c: 1 / 0"),
    "raises_keyerror": _HEAD + _REG.format(rule="lambda c: c.attrs['nope']"),
    "recursion": _HEAD + "def r(c):\n    return r(c)\n" + _REG.format(rule="r"),
    "exit_in_rule": _HEAD + _REG.format(rule="lambda c: sys.exit(0)"),
    "exit3_in_rule": _HEAD + _REG.format(rule="lambda c: sys.exit(3)"),
    "memoryerror_in_rule": _HEAD + "def k(c):\n    raise MemoryError\n" + _REG.format(rule="k"),
    "bad_repr": _HEAD
    + "class Bad:\n    def __repr__(self):\n        raise ValueError('no repr')\n"
    + _REG.format(rule="lambda c: Bad()"),
    "huge_repr": _HEAD
    + "class Big:\n    def __repr__(self):\n        return 'x\\n[/x]' * 1000000\n"
    + _REG.format(rule="lambda c: Big()"),
    "cost_subclass": _HEAD
    + "class Sneaky(Cost):\n    def __iter__(self):\n        raise RuntimeError('no')\n"
    + _REG.format(rule="lambda c: Sneaky(1, 2, 0)"),
    "not_callable": _HEAD + _REG.format(rule="'not a function'"),
    "wrong_arity": _HEAD + _REG.format(rule="lambda: Cost()"),
    "op_type_not_str": _HEAD + "modelprof.register_cost_rule(5, lambda c: Cost())\n",
    "register_twice": _HEAD + _REG.format(rule="lambda c: Cost()") * 2,
    "register_builtin": _HEAD + "modelprof.register_cost_rule('Conv', lambda c: Cost())\n",
    "replace_builtin_garbage": _HEAD
    + "modelprof.register_cost_rule('MatMul', lambda c: -7, replace=True)\n"
    + _REG.format(rule="lambda c: Cost()"),
    "raise_at_load": _HEAD + "raise ValueError('rules file says no')\n",
    "exit_at_load": _HEAD + "sys.exit(0)\n",
    "exit_str_at_load": _HEAD + "sys.exit('bye\\nsecond line')\n",
    "systemexit_none": _HEAD + "raise SystemExit\n",
    "syntax_error": _HEAD + "def (:\n",
    "null_bytes": (_HEAD + "x = 1\n").encode() + b"\x00\x00",
    "invalid_utf8": _HEAD.encode() + b"# \xff\xfe\n" + b"x = '\xc3\x28'\n",
    "binary": bytes(range(256)) * 4,
    "empty": "",
    "multiline_error": _HEAD + "raise RuntimeError('first\\nsecond\\n[/x]')\n",
    "exception_bad_str": _HEAD
    + "class E(Exception):\n    def __str__(self):\n        raise TypeError('no str')\n"
    + "raise E()\n",
    "base_exception": _HEAD + "raise GeneratorExit\n",
}


def gen_rules(rng: random.Random, ws: Workspace) -> Case:
    ws.write("m.onnx", gen_onnx.custom_op(rng).model.SerializeToString())
    name = rng.choice(sorted(RULES))
    ws.write("rules.py", RULES[name])
    rules = ["--rules", "rules.py"]
    if rng.random() < 0.1:
        rules += ["--rules", "rules.py"]  # the same file twice: its rules register twice
        name += " x2"
    roll = rng.random()
    if roll < 0.6:
        argv = ["count", "m.onnx", *rules, "--format", rng.choice(["json", "table", "csv"])]
        if rng.random() < 0.3:
            argv.append("--strict")
    elif roll < 0.8:
        argv = ["check", "m.onnx", *rules, "--max-flops", "1G"]
    else:
        argv = ["diff", "m.onnx", "m.onnx", *rules, "--format", "json"]
    return Case("rules", f"rules {name}", argv)


# -- diff reports ------------------------------------------------------------------------------

_HOSTILE_VALUES: list[Any] = [
    None,
    -1,
    -(10**30),
    0.5,
    "12",
    "[/x]",
    [],
    {},
    True,
    [1, 2],
    {"a": 1},
    10**30,
    2**63,
    float("nan"),
    float("inf"),
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*prefix, i))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


def mutate_report(rng: random.Random, text: str) -> tuple[bytes, str]:
    """A count report mutated as JSON (values, keys) or as text."""
    how = rng.randrange(10)
    if how <= 5:
        doc = json.loads(text)
        names = []
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(_paths(doc))
            if rng.random() < 0.7:
                value = rng.choice(_HOSTILE_VALUES)
                doc = _set(doc, path, value)
                names.append(f"{'.'.join(map(str, path[-2:]))}={value!r}"[:40])
            else:
                doc = _delete(doc, path)
                names.append(f"del {'.'.join(map(str, path[-2:]))}"[:40])
        return json.dumps(doc, allow_nan=True).encode(), "; ".join(names)
    if how == 6:
        special = rng.choice(
            [
                ("deep_nesting", "[" * 100000 + "]" * 100000),
                ("huge_int", text.replace('"params": ', '"params": ' + "9" * 5000, 1)),
                ("exponent_overflow", text.replace('"flops": ', '"flops": 1e400', 1)),
                ("nan_literal", text.replace('"macs": ', '"macs": NaN', 1)),
                ("duplicate_keys", text.replace("{", '{"kind": "profile", ', 1)),
                ("bom", "\ufeff" + text),
                ("schema_version_2", text.replace('"schema_version": 1', '"schema_version": 2')),
                ("not_object", "[1, 2, 3]"),
                ("bare_string", '"count"'),
                ("layers_dict", text.replace('"layers": [', '"layers": {"a": [', 1)),
                ("hostile_layer_name", text.replace('"name": "', '"name": "[/x]\\u001b[31m\\n', 1)),
            ]
        )
        name, new = special
        return new.encode("utf-8"), name
    data, how_bytes = mutate.mutate(rng, text.encode())
    return data, f"bytes:{how_bytes}"


def gen_diff(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    a_text = assets.report_a.read_text()
    ws.write("b.json", assets.report_b.read_bytes())
    data, how = mutate_report(rng, a_text)
    ws.write("a.json", data)
    ws.write("m.onnx", assets.onnx_b.read_bytes())
    other = rng.choice(["b.json", "b.json", "m.onnx", "a.json"])
    pair = ["a.json", other] if rng.random() < 0.7 else [other, "a.json"]
    argv = ["diff", *pair, "--format", rng.choice(["json", "table", "md"])]
    if rng.random() < 0.3:
        argv += rng.choice([["--sort", "flops"], ["--top", "1"], ["--all"], ["--count-bias"]])
    return Case("diff", f"diff report {how}", argv)


# -- check's pyproject.toml --------------------------------------------------------------------

CONFIGS: dict[str, str | bytes] = {
    "valid": '[tool.modelprof]\nmax-params = "5M"\nmax-flops = "1.2G"\n',
    "negative": "[tool.modelprof]\nmax-params = -5\n",
    "text_garbage": '[tool.modelprof]\nmax-flops = "lots"\n',
    "inf": "[tool.modelprof]\nmax-flops = inf\n",
    "nan": "[tool.modelprof]\nmax-macs = nan\n",
    "float": "[tool.modelprof]\nmax-params = 1.5\n",
    "huge_float": "[tool.modelprof]\nmax-params = 1e308\n",
    "huge_int": "[tool.modelprof]\nmax-params = 9223372036854775807\n",
    "bool": "[tool.modelprof]\nmax-params = true\n",
    "list": "[tool.modelprof]\nmax-params = [1, 2]\n",
    "table": "[tool.modelprof]\nmax-params = {a = 1}\n",
    "date": "[tool.modelprof]\nmax-params = 1979-05-27\n",
    "unknown_key": '[tool.modelprof]\nmax-bananas = "5"\nmax-params = "5M"\n',
    "tool_not_table": "tool = 3\n",
    "modelprof_not_table": '[tool]\nmodelprof = "x"\n',
    "modelprof_array": "[[tool.modelprof]]\nmax-params = 5\n",
    "empty_table": "[tool.modelprof]\n",
    "no_tool": '[project]\nname = "x"\n',
    "invalid_toml": "[tool.modelprof\nmax-params = \n",
    "invalid_utf8": b'[tool.modelprof]\nmax-params = "\xff\xfe"\n',
    "bom": "\ufeff[tool.modelprof]\nmax-params = 5\n",
    "nul": '[tool.modelprof]\nmax-params = "5\x00"\n',
    "units_odd": '[tool.modelprof]\nmax-weight-bytes = "20XB"\nmax-params = "1e3M"\n',
    "weird_sizes": '[tool.modelprof]\nmax-params = "-0"\nmax-flops = "0x10"\n',
    "unicode_digits": '[tool.modelprof]\nmax-params = "\u0665M"\n',
    "deep": "[tool.modelprof]\nmax-params = " + "[" * 5000 + "]" * 5000 + "\n",
    "markup_key": '[tool.modelprof]\n"max-[/x]" = "5"\n',
}


def gen_config(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    ws.write("m.onnx", assets.onnx_a.read_bytes())
    name = rng.choice(sorted(CONFIGS))
    ws.write("pyproject.toml", CONFIGS[name])
    flags = rng.choice([[], [], ["--max-params", "10M"], ["--allow-unsupported"], ["-q"]])
    how = rng.random()
    if how < 0.5:
        argv = ["check", "m.onnx", "--config", "pyproject.toml", *flags]
    elif how < 0.8:
        argv = ["check", "m.onnx", *flags]  # found as the nearest pyproject.toml
    else:
        special = rng.choice(["folder", "fifo", "zero", "missing", "loop"])
        target = "special.toml"
        feed = {}
        if special == "folder":
            (ws.work / target).mkdir()
        elif special == "fifo":
            ws.fifo(target)
            feed[target] = (
                CONFIGS[name] if isinstance(CONFIGS[name], bytes) else CONFIGS[name].encode()
            )  # type: ignore[union-attr]
        elif special == "zero":
            if ws.chardev(target, "zero") is None:
                special = "missing"
        elif special == "loop":
            ws.symlink(target, target)
        return Case(
            "config",
            f"config {name} as {special}",
            ["check", "m.onnx", "--config", target, *flags],
            feed=feed,
        )
    return Case("config", f"config {name}", argv)


# -- llm ---------------------------------------------------------------------------------------

#: a tiny Llama that transformers builds in a moment; each case breaks something about it
_LLM_CONFIG: dict[str, Any] = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "max_position_embeddings": 64,
}
_LLM_VALUES = [0, -1, 3, 1.5, "64", None, True, [], {}, 10**12, 2**63, float("nan"), "x" * 300]


def _llm_config(rng: random.Random) -> bytes:
    doc: Any = dict(_LLM_CONFIG)
    how = rng.random()
    if how < 0.45:  # one value wrong
        doc[rng.choice(sorted(doc))] = rng.choice(_LLM_VALUES)
    elif how < 0.55:
        del doc[rng.choice(sorted(doc))]
    elif how < 0.62:
        doc["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
    elif how < 0.7:
        doc["model_type"] = rng.choice(["vit", "bert", "no-such-type", "", "../llama"])
    elif how < 0.75:
        doc = rng.choice([[], "llama", 3, None])
    elif how < 0.82:  # the decoder flavours: MoE, a sliding window, tied embeddings
        doc.update(
            rng.choice(
                [
                    {"model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2},
                    {"model_type": "mistral", "sliding_window": rng.choice([1, 4, 0, -1])},
                    {"tie_word_embeddings": True},
                ]
            )
        )
    text = json.dumps(doc, allow_nan=True)
    if how > 0.9:  # bytes that are not quite JSON
        return mutate.mutate(rng, text.encode())[0]
    return text.encode()


def gen_llm(rng: random.Random, ws: Workspace) -> Case:
    data = _llm_config(rng)
    where = rng.random()
    if where < 0.6:
        model = ws.write("config.json", data)
    elif where < 0.8:  # a snapshot folder (with or without its config.json)
        (ws.work / "snap").mkdir()
        if rng.random() < 0.8:
            ws.write("snap/config.json", data)
        model = "snap"
    elif where < 0.9:
        model = rng.choice(["llama-2-7b", "gpt2", "mixtral-8x7b", "no-such-model", ""])
    else:
        ws.fifo("config.json")
        argv = ["llm", "config.json", "--prompt", "4", "--generate", "2"]
        return Case("llm", "llm config as a fifo", argv, feed={"config.json": data})
    small = ["1", "4", "8", "2"]
    argv: list[Any] = ["llm", model]
    argv += ["--prompt", rng.choice([*small, *small, "0", "-3", "nan", "99999999999999999999"])]
    if rng.random() < 0.8:
        argv += ["--generate", rng.choice([*small, "0", "-1", "1e3"])]
    if rng.random() < 0.3:
        argv += ["--batch", rng.choice(["1", "2", "0", "-2"])]
    if rng.random() < 0.3:
        argv += ["--dtype", rng.choice(["f16", "bf16", "f32", "f8", ""])]
    if rng.random() < 0.2:
        argv += ["--kv-dtype", rng.choice(["f16", "fp8", "int8", "int4"])]
    if rng.random() < 0.2:
        argv += ["--logits", rng.choice(["all", "last", "some"])]
    if rng.random() < 0.2:
        argv += rng.choice(
            [["--training"], ["--peak-tflops", "nan"], ["--bandwidth-gbs", "-1"], ["--every-step"]]
        )
    if rng.random() < 0.3:
        argv += ["--format", "json"]
    return Case("llm", f"llm {model} ({len(data)} bytes of config)", argv)
