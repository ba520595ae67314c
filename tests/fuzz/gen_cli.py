"""CLI abuse: option values, model paths and output paths a user (or a script) can get wrong.

Why: click checks types, but what a value means (a batch of 0, a device named ``[/x]``, 10**6
threads, a sweep of 300 points) is modelprof's to refuse, and where a report goes is where
data gets lost: an output that is the model itself (by name, ``./`` spelling, symlink or hard
link), a device node, a FIFO, a socket, a dangling link, a folder, a missing folder, a trailing
slash, a full disk (a /dev/full-like node). Device nodes are made with mknod in the case's own
folder, never the real /dev: the check that none is replaced would otherwise be a risk to the
machine. Environment variations (COLUMNS=0, a C locale) ride along now and then.
"""

from __future__ import annotations

import random
from typing import Any

from .assets import Assets
from .case import Case, Workspace

#: values for integer options: fine, zero, negative, huge, not integers, empty, odd digits
INTS = ["0", "-1", "1", "3", "999999999999999999999", "nan", "1.5", "", " 2", "١", "２", "0x10"]
SIZES = [
    "5M",
    "0",
    "-1",
    "nan",
    "inf",
    "1e400",
    "5MiB",
    "20XB",
    "",
    "1.2G",
    "0.5",
    "１０M",
    "٥",
    "5 M",
    "99999999999999999999999999",
    "1e-3",
    "-0",
    "1_000",
    "5m",
    "5Mi",
]
FLOATS = ["nan", "inf", "-inf", "-1", "0", "1e-9", "0.01", "0.2", "1e308", "", "NaN", "0x1p-3"]
SHAPES = [
    "x=1x3x8x8",
    "x=0x3x8x8",
    "x=-1x3x8x8",
    "x=1x3x8",
    "x=nanx3",
    "x=1x3x8x8:float99",
    "=1x3x8x8",
    "x=",
    "x",
    "x=1e9x1",
    "x=１x３x８x８",
    "x=٣x3x8x8",
    "bogus=1x3x8x8",
    "x=1x3x8x8:int64",
    "x=1x3x8x8:bool",
    "x:1x3x8x8",
    "x=1x3x100000x100000",
    "x=99999999999999999999x3x8x8",
    "x=1x3x8x8,x=2x3x8x8",
    "x=1 x 3 x 8 x 8",
    "x=1x3x8x8:",
    "[/x]=1x3x8x8",
    "x=1x3x8x8x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1",
    "x=2147483648x3x8x8",
]
SWEEPS = [
    "N=1,2",
    "N=0",
    "N=-1",
    "N=1000000000",
    "N=",
    "=1,2",
    "x=1x16,2x16",
    "x:0=1,2",
    "x:9=1",
    "N=1,,2",
    "N=nan",
    "N=99999999999999999999",
    "N=" + ",".join(["1"] * 300),
    "batch=1,2",
    "x:-1=4,8",
    "N=2,1,2",
    "x=1x16",
    "x:0=0",
]
SYMBOLICS = [
    "N",
    "N=L",
    "x:0",
    "x:0=b",
    "x:5",
    "bogus",
    "",
    "N=[/x]",
    "x:0,1=S",
    "x:-1",
    "N=1",
    "x:1=F",
    "batch",
    "N=N=N",
]
DEVICES = [
    "CPU",
    "GPU",
    "NPU",
    "",
    "AUTO",
    "HETERO:CPU",
    "[/x]",
    "cpu",
    "CUDA",
    "TensorRT",
    "MULTI:GPU,CPU",
    "CPU\n",
    "AUTO:NPU",
    "TPU",
]
STREAMS = ["0", "-1", "1,2", "a", "", "1,,2", "64", "1"]


def _maybe(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def count_options(rng: random.Random, dynamic: bool) -> list[str]:
    """A random bag of count options and values (some contradictory on purpose)."""
    argv: list[str] = []
    if _maybe(rng, 0.5):
        argv += ["--input-shape", rng.choice(SHAPES)]
    if _maybe(rng, 0.6):
        argv += ["--format", rng.choice(["json", "table", "csv", "md", "JSON", "", "xml"])]
    if _maybe(rng, 0.2):
        argv += ["--depth", rng.choice(INTS)]
    if _maybe(rng, 0.2):
        argv += ["--top", rng.choice(INTS)]
    if _maybe(rng, 0.2):
        argv += ["--sort", rng.choice(["flops", "name", "training_flops", "bogus", ""])]
    if _maybe(rng, 0.25 if dynamic else 0.1):
        argv += ["--sweep", rng.choice(SWEEPS)]
    if _maybe(rng, 0.2 if dynamic else 0.08):
        argv += ["--symbolic", rng.choice(SYMBOLICS)]
    for flag in ("--training", "--count-bias", "--strict", "--by-op", "-q", "--force"):
        if _maybe(rng, 0.12):
            argv.append(flag)
    if _maybe(rng, 0.06):
        argv.append(rng.choice(["--bogus", "-x", "--format=json=json", "--", "--input-shape"]))
    return argv


def profile_options(rng: random.Random) -> list[str]:
    """Measuring options: the iteration counts stay small, or are refused, so a legitimate run
    never takes long (a 10**9-iteration request is the user's to wait for, not a bug)."""
    argv = [
        "--iterations",
        rng.choice(["0", "-1", "1", "3", "nan", "1e3", "", "2"]),
        "--warmup",
        rng.choice(["0", "-1", "1", "nan", ""]),
    ]
    if _maybe(rng, 0.8):
        argv = [
            a if a not in ("", "nan", "1e3", "-1", "0") or _maybe(rng, 0.3) else "1" for a in argv
        ]
    argv += ["--runtime", rng.choice(["onnxruntime", "openvino", "ort", "ov", "tensorflow"])]
    pool: list[tuple[str, list[str]]] = [
        ("--time", FLOATS),
        ("--threads", ["0", "-1", "1", "2", "100000", "999999999999", "nan"]),
        ("--device", DEVICES),
        ("--precision", ["f32", "bf16", "f16", "int8"]),
        ("--optimization", ["all", "disable", "basic", "bogus"]),
        ("--mode", ["latency", "throughput", "bogus"]),
        ("--streams", STREAMS),
        ("--requests", ["0", "-1", "2", "64", "nan"]),
        ("--sweep", ["batch=1,2", "batch=0", "batch=-1", "batch=", "x=1", "batch=10000000"]),
        ("--top", INTS),
        ("--sort", ["time", "flops", "bogus"]),
        ("--format", ["json", "table", "csv"]),
        ("--input-shape", SHAPES),
    ]
    for name, values in pool:
        if _maybe(rng, 0.12):
            argv += [name, rng.choice(values)]
    if "--time" in argv and "--iterations" not in argv:
        argv += ["--iterations", "2"]
    return argv


def check_options(rng: random.Random) -> list[str]:
    argv: list[str] = []
    for name in (
        "--max-params",
        "--max-macs",
        "--max-flops",
        "--max-weight-bytes",
        "--max-peak-activation-bytes",
    ):
        if _maybe(rng, 0.35):
            argv += [name, rng.choice(SIZES)]
    for flag in ("--allow-unsupported", "--count-bias", "-q"):
        if _maybe(rng, 0.15):
            argv.append(flag)
    if _maybe(rng, 0.3):
        argv += ["--input-shape", rng.choice(SHAPES)]
    if _maybe(rng, 0.15):
        argv += ["--config", rng.choice(["missing.toml", "", "m.onnx", "."])]
    return argv


def gen_options(rng: random.Random, ws: Workspace) -> Case:
    """Random option combinations and values on a valid model (static or dynamic)."""
    assets: Assets = ws.assets  # type: ignore[assignment]
    dynamic = _maybe(rng, 0.4)
    source = assets.onnx_dyn if dynamic else assets.onnx_a
    ws.write("m.onnx", source.read_bytes())
    command = rng.choices(
        ["count", "profile", "check", "diff", "zoo", "global"], weights=[50, 18, 14, 8, 3, 7]
    )[0]
    if command == "count":
        argv = ["count", "m.onnx", *count_options(rng, dynamic)]
    elif command == "profile":
        argv = ["profile", "m.onnx", *profile_options(rng)]
    elif command == "check":
        argv = ["check", "m.onnx", *check_options(rng)]
    elif command == "diff":
        ws.write("b.json", assets.report_b.read_bytes())
        argv = ["diff", "m.onnx", "b.json", "--format", rng.choice(["json", "table", "md"])]
        for name, values in (
            ("--sort", ["flops", "params", "bogus"]),
            ("--top", INTS),
            ("--input-shape", SHAPES),
        ):
            if _maybe(rng, 0.25):
                argv += [name, rng.choice(values)]
        if _maybe(rng, 0.2):
            argv.append("--all")
    elif command == "zoo":
        argv = ["zoo", "--format", rng.choice(["json", "table", "yaml"])]
    else:
        argv = rng.choice(
            [
                ["--version"],
                ["-h"],
                [""],
                ["bogus-command"],
                ["count"],
                ["count", "--help"],
                ["count", ""],
                ["--", "count", "m.onnx"],
                ["COUNT", "m.onnx"],
                ["count", "-"],
                ["count", "m.onnx", "m.onnx"],
                ["diff", "m.onnx"],
                ["check"],
            ]
        )
    env = _env(rng)
    title = f"{command} options {' '.join(a for a in argv[2:] if a.startswith('-'))[:60]}"
    return Case("cli-options", title.strip(), argv, outputs={"cache"}, env=env)


def _env(rng: random.Random) -> dict[str, str]:
    if not _maybe(rng, 0.15):
        return {}
    return rng.choice(
        [
            {"COLUMNS": "0"},
            {"COLUMNS": "-5"},
            {"COLUMNS": "100000"},
            {"COLUMNS": "abc"},
            {"LC_ALL": "C", "LANG": "C"},
            {"PYTHONIOENCODING": "ascii"},
            {"TERM": "dumb"},
            {"NO_COLOR": "1"},
            {"FORCE_COLOR": "1"},
            {"LINES": "0"},
        ]
    )


# -- model paths -------------------------------------------------------------------------------


def _model_path(
    rng: random.Random, ws: Workspace, data: bytes
) -> tuple[Any, str, dict[str, bytes]]:
    """The MODEL argument: some special file or odd spelling standing for (or not) a model."""
    kind = rng.choice(
        [
            "symlink",
            "dangling",
            "loop",
            "trailing_slash",
            "folder",
            "missing_folder",
            "empty_arg",
            "dot",
            "root",
            "long_name",
            "newline_name",
            "markup_name",
            "invalid_utf8_name",
            "fifo",
            "null_device",
            "zero_device",
            "urandom_device",
            "socket",
            "zero_length",
            "suffix_only",
            "uppercase",
            "onnx_spec",
            "py_spec",
            "zoo_typo",
            "dotdot",
            "hardlink",
            "relative_up",
        ]
    )
    feed: dict[str, bytes] = {}
    ws.write("m.onnx", data)
    arg: Any = "m.onnx"
    if kind == "symlink":
        arg = ws.symlink("link.onnx", "m.onnx")
    elif kind == "dangling":
        arg = ws.symlink("dangling.onnx", "nowhere/m.onnx")
    elif kind == "loop":
        arg = ws.symlink("loop.onnx", "loop.onnx")
    elif kind == "trailing_slash":
        arg = "m.onnx/"
    elif kind == "folder":
        (ws.work / "d.onnx").mkdir()
        arg = "d.onnx"
    elif kind == "missing_folder":
        arg = "missing/m.onnx"
    elif kind == "empty_arg":
        arg = ""
    elif kind == "dot":
        arg = "."
    elif kind == "root":
        arg = "/"
    elif kind == "dotdot":
        arg = ".."
    elif kind == "long_name":
        arg = "a" * 300 + ".onnx"
    elif kind == "newline_name":
        arg = ws.write("m\nx.onnx", data)
    elif kind == "markup_name":
        arg = ws.write("[bold]x[/x].onnx", data)
    elif kind == "invalid_utf8_name":
        name = b"m\xff\xfe.onnx"
        (ws.work / name.decode("utf-8", "surrogateescape")).write_bytes(data)
        arg = name
    elif kind == "fifo":
        arg = ws.fifo("f.onnx")
        feed[arg] = data
    elif kind in ("null_device", "zero_device", "urandom_device"):
        arg = ws.chardev(f"{kind}.onnx", kind.split("_")[0]) or "m.onnx"
    elif kind == "socket":
        arg = ws.unix_socket("s.onnx") or "m.onnx"
    elif kind == "zero_length":
        arg = ws.write("zero.onnx", b"")
    elif kind == "suffix_only":
        arg = ws.write(".onnx", data)
    elif kind == "uppercase":
        arg = ws.write("M.ONNX", data)
    elif kind == "onnx_spec":
        arg = "m.onnx:build"
    elif kind == "py_spec":
        arg = rng.choice(
            [
                "x.py:",
                ":",
                "a:b:c",
                "missing.py:build",
                "os:getcwd",
                "json:loads",
                "math:pi",
                "modelprof:count",
                ":build",
                "m.onnx.py:build",
            ]
        )
    elif kind == "zoo_typo":
        arg = rng.choice(["seed-cn", "SEED-CNN", "seed-cnn ", "resnet", "seed_cnn"])
    elif kind == "hardlink":
        arg = ws.hardlink("hard.onnx", "m.onnx")
    elif kind == "relative_up":
        arg = "../w/m.onnx"
    return arg, kind, feed


def gen_model_path(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    arg, kind, feed = _model_path(rng, ws, assets.onnx_a.read_bytes())
    command = rng.choices(["count", "check", "profile", "diff"], weights=[70, 10, 12, 8])[0]
    if command == "count":
        argv = ["count", arg, "--format", rng.choice(["json", "table"])]
    elif command == "check":
        argv = ["check", arg, "--max-params", "1M"]
    elif command == "profile":
        argv = ["profile", arg, "--runtime", "onnxruntime", "--iterations", "2", "--warmup", "0"]
    else:
        argv = ["diff", arg, "m.onnx"]
    return Case("cli-model-path", f"{command} MODEL={kind}", argv, feed=feed)


# -- output paths ------------------------------------------------------------------------------

OUTPUT_KINDS = [
    "model",
    "dot_model",
    "symlink_to_model",
    "hardlink_to_model",
    "existing",
    "new",
    "missing_folder",
    "trailing_slash",
    "folder",
    "fifo",
    "null_device",
    "full_device",
    "zero_device",
    "socket",
    "dangling",
    "loop",
    "stdout",
    "empty",
    "markup_name",
    "long_name",
    "outside",
    "rules_file",
    "symlink_to_fifo",
    "report_input",
    "stdout_full_device",
    "stdout_fifo",
]


def gen_output_path(rng: random.Random, ws: Workspace) -> Case:
    """Where a report (or a saved model, or an HTML page) goes."""
    assets: Assets = ws.assets  # type: ignore[assignment]
    ws.write("m.onnx", assets.onnx_a.read_bytes())
    ws.write("rules.py", "# no rules\n")
    ws.write("b.json", assets.report_b.read_bytes())
    kind = rng.choice(OUTPUT_KINDS)
    force = _maybe(rng, 0.5)
    outputs: set[str] = set()
    drain: list[str] = []
    stdout_to = None
    target: str | None = "out.json"
    if kind == "model":
        target = "m.onnx"
    elif kind == "dot_model":
        target = rng.choice(["./m.onnx", "sub/../m.onnx", "../w/m.onnx"])
        (ws.work / "sub").mkdir()
    elif kind == "symlink_to_model":
        target = ws.symlink("link.json", "m.onnx")
    elif kind == "hardlink_to_model":
        target = ws.hardlink("hard.json", "m.onnx")
    elif kind == "existing":
        target = ws.write("old.json", b"keep me\n")
        if force:
            outputs.add(target)
    elif kind == "new":
        outputs.add(target)
    elif kind == "missing_folder":
        target = "missing/out.json"
    elif kind == "trailing_slash":
        target = "out.json/"
    elif kind == "folder":
        (ws.work / "outdir").mkdir()
        target = "outdir"
    elif kind == "fifo":
        target = ws.fifo("pipe.json")
        drain.append(target)
    elif kind in ("null_device", "full_device", "zero_device"):
        target = ws.chardev(f"{kind}.json", kind.split("_")[0])
        if target is None:
            target, kind = "out.json", "new"
            outputs.add(target)
    elif kind == "socket":
        target = ws.unix_socket("sock.json") or "out.json"
        outputs.add("out.json")
    elif kind == "dangling":
        target = ws.symlink("dangle.json", "nowhere/x.json")
        if force:
            outputs.add("dangle.json")
    elif kind == "loop":
        target = ws.symlink("loop.json", "loop.json")
    elif kind == "stdout":
        target = "-"
    elif kind == "empty":
        target = ""
    elif kind == "markup_name":
        target = rng.choice(["[/x].json", "a\nb.json", "\x1b[31m.json", " .json"])
        outputs.add(target)
    elif kind == "long_name":
        target = "o" * 300 + ".json"
    elif kind == "outside":
        target = "../outside.json"
        outputs.add(target)
    elif kind == "rules_file":
        target = "rules.py"
    elif kind == "symlink_to_fifo":
        ws.fifo("pipe2.json")
        drain.append("pipe2.json")
        target = ws.symlink("to_pipe.json", "pipe2.json")
    elif kind == "report_input":
        target = "b.json"
    elif kind == "stdout_full_device":
        stdout_to = ws.chardev("full_stdout", "full")
        target = None
    elif kind == "stdout_fifo":
        stdout_to = ws.fifo("stdout_pipe")
        drain.append(stdout_to)
        target = None
    if kind in ("stdout_full_device",) and stdout_to is None:
        target, kind = "-", "stdout"
    command = rng.choices(
        ["count", "diff", "profile_html", "profile", "separable", "check"],
        weights=[45, 12, 12, 10, 13, 8],
    )[0]
    flags = ["--force"] if force else []
    out = ["-o", target] if target is not None else []
    if command == "count":
        argv = ["count", "m.onnx", "--format", rng.choice(["json", "table", "csv"]), *out, *flags]
        if kind == "rules_file":
            argv += ["--rules", "rules.py"]
    elif command == "diff":
        argv = ["diff", "m.onnx", "b.json", "--format", rng.choice(["json", "md"]), *out, *flags]
    elif command == "profile":
        argv = [
            "profile",
            "m.onnx",
            "--runtime",
            "onnxruntime",
            "--iterations",
            "2",
            "--warmup",
            "0",
            "--format",
            "json",
            *out,
            *flags,
        ]
    elif command == "profile_html":
        html = target if target is not None else "-"
        second = rng.choice([[], ["-o", html], ["-o", "other.json"]])
        if second == ["-o", "other.json"]:
            outputs.add("other.json")
        argv = [
            "profile",
            "m.onnx",
            "--runtime",
            "onnxruntime",
            "--iterations",
            "2",
            "--warmup",
            "0",
            "--html",
            html,
            *second,
            *flags,
        ]
    elif command == "separable":
        save = target if target not in (None, "-") or _maybe(rng, 0.3) else "sep.onnx"
        if save and not save.endswith((".onnx", ".xml", ".pt")) and _maybe(rng, 0.5):
            save = save + ".onnx"
            if kind in ("new", "existing", "markup_name", "outside"):
                outputs.add(save)
        outputs.add("sep.onnx")
        argv = ["separable", "m.onnx", "--save", save or "", "-q", *flags]
    else:
        argv = ["check", "m.onnx", "--max-params", "1M", *out, *flags]
        if out:
            argv = ["check", "m.onnx", "--max-params", "1M", *flags]  # check has no -o
    # a file is an input only to the commands that read it: to the others, with --force, it is
    # an ordinary existing file they may replace
    if force and target == "b.json" and command != "diff":
        outputs.add("b.json")
    if force and target == "rules.py" and "--rules" not in argv:
        outputs.add("rules.py")
    if "separable" in argv[0] and (save or "").endswith(".xml"):
        outputs.add(str(save)[:-4] + ".bin")
    title = f"{command} -> {kind}{' --force' if force else ''}"
    return Case("cli-output", title, argv, outputs=outputs, drain=drain, stdout_to=stdout_to)
