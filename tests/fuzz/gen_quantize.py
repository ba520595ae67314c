"""``quantize``, ``optimize`` and ``compare --runtime LIST``: the commands that make a new model
(or run one model on several runtimes) and the inputs users get wrong with them.

- ``quantize``: calibration data that is missing, of the wrong shape, not a zip, a FIFO, pickled
  or labelled wrongly; ``--subset`` of 0, -1 or 10**21; ``--ignore`` of layers that do not exist;
  ``--save`` to a folder, a device node, a FIFO, an existing file, the model itself (by name,
  ``./``, symlink or hard link) or a name whose ``.bin`` exists; ``--max-drop`` out of range;
  ``--preset`` unknown; a model that is already int8 (an IR with FakeQuantize, an ONNX QDQ file),
  a broken IR, a dynamic model without ``--input-shape``.
- ``optimize``: ratios out of range, nothing to do, a model file, ``--save-dir`` that is a file,
  a device, missing, or holds a step's file already; fine-tuning data that is not there.
- ``compare --profile --runtime LIST``: empty items, duplicates (``ov,openvino``), unknown
  names, ``torch`` on an ONNX file, several runtimes for several models.

Why: NNCF, numpy's zip reader, torch and the runtimes each raise their own exceptions, and a
model-writing command is where a user's file gets replaced; every case must end in exit 0 or one
line and exit 2, with every input file as it was. Successful runs are kept short: random or
tiny calibration (``--subset`` of a few calls), ``--time 0.05 --rounds 1`` when measuring.
"""

from __future__ import annotations

import io
import random
import zipfile
from typing import Any

import numpy as np

from .assets import Assets
from .case import Case, Workspace

#: a conv model's input (assets.onnx_a: x, 1x1x8x8) and a sample of it, for .npz data
INPUT = (1, 1, 8, 8)


def _npz(arrays: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _samples(n: int, shape: tuple[int, ...] = INPUT[1:], dtype: Any = np.float32) -> Any:
    return np.random.default_rng(n).standard_normal((n, *shape)).astype(dtype)


#: --calibrate FILE variants: name -> (file name, bytes or None for "not written", kind)
def _calibration(
    rng: random.Random, ws: Workspace, valid: list[str] | None = None
) -> tuple[str, dict[str, bytes], str]:
    """A --calibrate value (writing its file), the FIFOs to feed, and what it is (one of
    ``valid`` when given)."""
    kind = rng.choice(
        valid
        or [
            "missing",
            "folder",
            "not_a_zip",
            "zip_magic_only",
            "fifo",
            "wrong_shape",
            "wrong_rank",
            "good",
            "good_labels",
            "labels_float",
            "labels_2d",
            "labels_short",
            "empty_zip",
            "zero_samples",
            "objects",
            "ints",
            "nan",
            "two_arrays",
            "uppercase",
            "digits",
            "loaders_missing",
            "loaders_raise",
            "loaders_wrong",
            "bogus",
            "empty",
            "symlink_to_model",
        ]
    )
    feed: dict[str, bytes] = {}
    good = _npz({"x": _samples(4)})
    if kind == "missing":
        return "missing.npz", feed, kind
    if kind == "folder":
        (ws.work / "data.npz").mkdir()
        return "data.npz", feed, kind
    if kind == "not_a_zip":
        return ws.write("data.npz", b"this is not a zip file\n" * 4), feed, kind
    if kind == "zip_magic_only":
        return ws.write("data.npz", b"PK\x03\x04" + b"\x00" * 60), feed, kind
    if kind == "fifo":
        name = ws.fifo("pipe.npz")
        feed[name] = good
        return name, feed, kind
    if kind == "wrong_shape":
        return ws.write("data.npz", _npz({"x": _samples(4, (3, 5, 5))})), feed, kind
    if kind == "wrong_rank":
        return ws.write("data.npz", _npz({"x": _samples(4, (8,))})), feed, kind
    if kind == "good":
        return ws.write("data.npz", good), feed, kind
    if kind == "good_labels":
        data = _npz({"x": _samples(4), "labels": np.array([0, 1, 2, 3])})
        return ws.write("data.npz", data), feed, kind
    if kind == "labels_float":
        data = _npz({"x": _samples(4), "labels": np.array([0.5, 1.0, 2.0, 3.0])})
        return ws.write("data.npz", data), feed, kind
    if kind == "labels_2d":
        data = _npz({"x": _samples(4), "labels": np.zeros((4, 2), np.int64)})
        return ws.write("data.npz", data), feed, kind
    if kind == "labels_short":
        data = _npz({"x": _samples(4), "labels": np.array([1])})
        return ws.write("data.npz", data), feed, kind
    if kind == "empty_zip":
        buf = io.BytesIO()
        zipfile.ZipFile(buf, "w").close()
        return ws.write("data.npz", buf.getvalue()), feed, kind
    if kind == "zero_samples":
        return ws.write("data.npz", _npz({"x": _samples(0)})), feed, kind
    if kind == "objects":
        objects = np.empty((2, *INPUT[1:]), dtype=object)
        objects.fill(1.0)
        buf = io.BytesIO()
        np.savez(buf, x=objects)
        return ws.write("data.npz", buf.getvalue()), feed, kind
    if kind == "ints":
        return ws.write("data.npz", _npz({"x": np.ones((3, *INPUT[1:]), np.int64)})), feed, kind
    if kind == "nan":
        return ws.write("data.npz", _npz({"x": np.full((2, *INPUT[1:]), np.nan)})), feed, kind
    if kind == "two_arrays":
        return ws.write("data.npz", _npz({"a": _samples(2), "b": _samples(2)})), feed, kind
    if kind == "uppercase":
        return ws.write("DATA.NPZ", good), feed, kind
    if kind == "digits":
        return "digits", feed, kind
    if kind == "loaders_missing":
        return "nowhere.py:loaders", feed, kind
    if kind == "loaders_raise":
        ws.write("data.py", "def loaders():\n    raise RuntimeError('no data today')\n")
        return "data.py:loaders", feed, kind
    if kind == "loaders_wrong":
        ws.write("data.py", "def loaders():\n    return 42\n")
        return "data.py:loaders", feed, kind
    if kind == "bogus":
        return rng.choice(["bogus", "data.csv", "x.py:", ":", "digits,digits"]), feed, kind
    if kind == "empty":
        return "", feed, kind
    return ws.symlink("link.npz", "m.onnx"), feed, kind


def _save_target(
    rng: random.Random, ws: Workspace, model_file: str | None, force: bool, hostile: bool
) -> tuple[str, set[str], list[str]]:
    """A --save value, the outputs it may legitimately create, and the FIFOs to drain."""
    fine = ["new_xml"] + (["new_onnx"] if (model_file or "").endswith(".onnx") else [])
    kind = rng.choice(
        fine
        if not hostile
        else [
            "new_xml",
            "new_onnx",
            "pt",
            "txt",
            "model",
            "dot_model",
            "symlink_model",
            "hardlink_model",
            "existing",
            "bin_exists",
            "folder",
            "missing_folder",
            "trailing_slash",
            "fifo",
            "null_device",
            "stdout",
            "empty",
            "model_bin",
        ]
    )
    outputs: set[str] = set()
    drain: list[str] = []
    target = "out.xml"
    if kind == "new_xml":
        outputs |= {"out.xml", "out.bin"}
    elif kind == "new_onnx":
        target = "out.onnx"
        outputs.add(target)
    elif kind == "pt":
        target = "out.pt"
    elif kind == "txt":
        target = "out.txt"
    elif kind in ("model", "dot_model", "symlink_model", "hardlink_model", "model_bin"):
        model = model_file or "m.onnx"
        if not (ws.work / model).exists():
            ws.write(model, b"not a model\n")
        if kind == "model":
            target = model
        elif kind == "dot_model":
            target = f"./{model}"
        elif kind == "symlink_model":
            target = ws.symlink("link" + model[model.rfind(".") :], model)
        elif kind == "hardlink_model":
            target = ws.hardlink("hard" + model[model.rfind(".") :], model)
        else:  # "m.xml" beside an ONNX source: its .bin, m.bin, exists (or is the IR's own)
            if not (ws.work / "m.bin").exists():
                ws.write("m.bin", b"weights of something else\n")
            target = "m.xml"
            if force and not model.endswith(".xml"):
                outputs |= {"m.xml", "m.bin"}
    elif kind == "existing":
        target = ws.write("old.xml", b"keep me\n")
        if force:
            outputs |= {"old.xml", "old.bin"}
    elif kind == "bin_exists":
        ws.write("out.bin", b"keep me too\n")
        if force:
            outputs |= {"out.xml", "out.bin"}
    elif kind == "folder":
        (ws.work / "dir.xml").mkdir()
        target = "dir.xml"
    elif kind == "missing_folder":
        target = "missing/out.xml"
    elif kind == "trailing_slash":
        target = "out.xml/"
    elif kind == "fifo":
        target = ws.fifo("pipe.xml")
        drain.append(target)
    elif kind == "null_device":
        target = ws.chardev("null.xml", "null") or "out.txt"
    elif kind == "stdout":
        target = "-"
    elif kind == "empty":
        target = ""
    return target, outputs, drain


def _model(
    rng: random.Random, ws: Workspace, assets: Assets, hostile: bool
) -> tuple[str, str | None, str]:
    """The MODEL argument of quantize, the file it is (None: not a file of ours), and its kind."""
    if hostile:
        kind = rng.choices(
            ["int8_ir", "qdq_onnx", "broken_ir", "seed", "missing", "keras", "dyn"],
            weights=[8, 6, 10, 4, 3, 3, 4],
        )[0]
    else:
        kind = rng.choices(["onnx", "ir", "dyn"], weights=[5, 4, 1])[0]
    if kind in ("onnx", "keras"):
        ws.write("m.onnx", assets.onnx_a.read_bytes())
        if kind == "keras":
            ws.write("m.keras", b"PK\x03\x04 not really keras")
            return "m.keras", "m.keras", kind
        return "m.onnx", "m.onnx", kind
    if kind in ("ir", "broken_ir"):
        xml, weights = assets.ir("a")
        text, data = xml.read_bytes(), weights.read_bytes()
        if kind == "broken_ir":
            how = rng.choice(["xml_truncated", "bin_truncated", "bin_missing", "xml_garbage"])
            if how == "xml_truncated":
                text = text[: len(text) // 2]
            elif how == "bin_truncated":
                data = data[: len(data) // 3]
            elif how == "xml_garbage":
                text = b"<net name='x' version='11'><layers><layer id='0' type='Bogus'/>"
            if how != "bin_missing":
                ws.write("m.bin", data)
            ws.write("m.xml", text)
            return "m.xml", "m.xml", f"broken_ir {how}"
        ws.write("m.xml", text)
        ws.write("m.bin", data)
        return "m.xml", "m.xml", kind
    if kind == "dyn":
        ws.write("m.onnx", assets.onnx_dyn.read_bytes())
        return "m.onnx", "m.onnx", kind
    if kind == "int8_ir":
        xml, weights = assets.int8_ir
        ws.write("m.xml", xml.read_bytes())
        ws.write("m.bin", weights.read_bytes())
        return "m.xml", "m.xml", kind
    if kind == "qdq_onnx":
        ws.write("m.onnx", assets.qdq_onnx.read_bytes())
        return "m.onnx", "m.onnx", kind
    if kind == "seed":
        return "seed-cnn", None, kind
    return "missing.onnx", None, kind


#: what a case makes hostile; everything else is valid or left out, so each hostile value
#: reaches the code past the checks the other options would have failed first ("none": a
#: clean run, so the paths that write files and measure are exercised too)
QUANTIZE_FOCUS = [
    "model",
    "subset",
    "calibrate",
    "calibrate",
    "ignore",
    "save",
    "save",
    "accuracy",
    "preset",
    "runtime",
    "shape",
    "several",
    "none",
    "none",
    "none",
]
VALID_CALIBRATION = ["good", "good_labels", "ints"]


def gen_quantize(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    focus = rng.choice(QUANTIZE_FOCUS)

    def hostile(dimension: str) -> bool:
        return focus == dimension or (focus == "several" and rng.random() < 0.4)

    model, model_file, model_kind = _model(rng, ws, assets, hostile("model"))
    argv: list[str] = ["quantize", model, "-q"]
    outputs: set[str] = set()
    feed: dict[str, bytes] = {}
    drain: list[str] = []
    force = rng.random() < 0.3
    parts = [f"[{focus}]", model_kind]
    # few calibration calls unless the value itself is the point: a run stays a few seconds
    subset = rng.choice(["1", "2", "3"])
    if hostile("subset"):
        subset = rng.choice(["0", "-1", "999999999999999999999", "nan", "", "1.5", "100001"])
        parts.append(f"--subset {subset}")
    argv += ["--subset", subset]
    labelled = False
    if hostile("calibrate") or hostile("accuracy") or rng.random() < 0.3:
        valid = None if hostile("calibrate") else VALID_CALIBRATION
        if hostile("accuracy") and not hostile("calibrate"):
            valid = ["good_labels"]
        if model_kind == "dyn" and valid is not None:
            valid = None if rng.random() < 0.3 else []
        if valid != []:
            value, feed, kind = _calibration(rng, ws, valid)
            argv += ["--calibrate", value]
            parts.append(f"--calibrate {kind}")
            labelled = kind == "good_labels"
    if hostile("ignore") or rng.random() < 0.15:
        names = ["conv0", "fc0"]
        if hostile("ignore"):
            names = ["bogus", "", ",", "conv0,conv0", "conv0,bogus", "[/x]", "relu0", "conv"]
        ignore = rng.choice(names)
        argv += ["--ignore", ignore]
        parts.append(f"--ignore {ignore!r}")
    if hostile("save") or rng.random() < 0.2:
        target, outs, drain = _save_target(rng, ws, model_file, force, hostile("save"))
        argv += ["--save", target]
        outputs |= outs
        parts.append(f"--save {target!r}")
    if hostile("accuracy") or (labelled and rng.random() < 0.3):
        if rng.random() < 0.8 or not hostile("accuracy"):
            argv.append("--accuracy-control")
        drops = ["0.01", "0.5"]
        if hostile("accuracy"):
            drops = ["nan", "inf", "-1", "0", "1", "2", "", "1e-9", "-0"]
        if rng.random() < 0.8:
            drop = rng.choice(drops)
            argv += ["--max-drop", drop]
            parts.append(f"--max-drop {drop}")
        parts.append("--accuracy-control")
    if hostile("preset") or rng.random() < 0.1:
        presets = ["bogus", "", "MIXED", "Performance"] if hostile("preset") else ["mixed"]
        preset = rng.choice(presets)
        argv += ["--preset", preset]
        parts.append(f"--preset {preset!r}")
    if hostile("runtime") or rng.random() < 0.1:
        runtimes = ["--profile", "openvino"]
        if hostile("runtime"):
            runtimes = ["ort", "torch", "torch-compile", "tf", "--rounds-alone", "--device"]
        runtime = rng.choice(runtimes)
        if runtime == "--rounds-alone":
            argv += ["--rounds", "3"]  # a measuring option without --profile
        elif runtime == "--device":
            argv += ["--profile", "--time", "0.05", "--rounds", "1", "--threads", "1"]
            argv += ["--threads", rng.choice(["0", "-1", "100000"])]
        else:
            argv += ["--profile"] if runtime == "--profile" else ["--runtime", runtime]
            argv += ["--time", "0.05", "--rounds", "1", "--threads", "1"]
        parts.append(runtime)
    if hostile("shape") or model_kind == "dyn":
        shapes = ["x=2x16", "x=1x16"]
        if hostile("shape"):
            shapes = ["x=1x1x8x8", "x=0x16", "x=1x1x9x9", "bogus=1x2", "x=-1x16", "x=1x16:int8"]
        if model_kind != "dyn" or rng.random() < 0.9:
            argv += ["--input-shape", rng.choice(shapes)]
    if rng.random() < 0.3:
        argv += ["--format", "json"]
        if rng.random() < 0.4:
            argv += ["-o", "report.json"]
            outputs.add("report.json")
    if force:
        argv.append("--force")
    return Case("quantize", " ".join(parts)[:90], argv, outputs=outputs, feed=feed, drain=drain)


# -- optimize ----------------------------------------------------------------------------------

_NET = """import torch.nn as nn


def build():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
"""
_TWO_INPUTS = """import torch.nn as nn


class Two(nn.Module):
    def forward(self, a, b):
        return a + b


def build():
    return Two()
"""
_LOADERS = """import torch


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 8, 8, generator=g)
    y = torch.randint(0, 3, (8,), generator=g)
    batches = [(x[i : i + 4], y[i : i + 4]) for i in (0, 4)]
    return batches, batches
"""


def gen_optimize(rng: random.Random, ws: Workspace) -> Case:
    """Hostile values, or (a third of the cases) a clean chain on a small PyTorch model, so the
    steps themselves run: separable, prune, int8, fine-tuning, saving."""
    assets: Assets = ws.assets  # type: ignore[assignment]
    ws.write("m.onnx", assets.onnx_a.read_bytes())
    ws.write("net.py", _NET)
    ws.write("two.py", _TWO_INPUTS)
    clean = rng.random() < 0.35
    models = ["seed-cnn", "net.py:build", "m.onnx", "two.py:build", "missing.py:build", "seed-cnn "]
    weights = [1, 2, 0, 0, 0, 0] if clean else [40, 30, 10, 8, 6, 6]
    model = rng.choices(models, weights=weights)[0]
    argv: list[str] = ["optimize", model, "-q"]
    parts = ["[clean]" if clean else "[hostile]", model]
    steps = rng.sample(["--separable", "--prune", "--int8"], rng.randint(1 if clean else 0, 3))
    for step in steps:
        argv.append(step)
        if step == "--prune":
            ratios = ["0.5", "0.25"]
            if not clean:
                ratios += ["0", "1", "-0.5", "nan", "inf", "", "1e-9", "2"]
            ratio = rng.choice(ratios)
            argv.append(ratio)
            parts.append(f"--prune {ratio}")
        else:
            parts.append(step)
    if "--int8" in steps or (not clean and rng.random() < 0.1):
        subsets = ["1", "2"] + ([] if clean else ["0", "-1", "999999999999999999999", "100001"])
        subset = rng.choice(subsets)
        argv += ["--subset", subset]
        parts.append(f"--subset {subset}")
    if rng.random() < 0.25:
        if model == "net.py:build" and (clean or rng.random() < 0.6):
            ws.write("data.py", _LOADERS)
            finetune = "data.py:loaders"
        elif clean:
            finetune = ""
        else:
            finetune = rng.choice(["missing.py:loaders", "bogus", "", "digits", "net.py:build"])
        if finetune or not clean:
            epochs = rng.choice(["1", "1", "0", "-1"] if not clean else ["1"])
            argv += ["--finetune", finetune, "--epochs", epochs]
            parts.append(f"--finetune {finetune}")
    elif not clean and rng.random() < 0.05:
        argv += ["--epochs", "2"]  # without --finetune
    outputs: set[str] = set()
    drain: list[str] = []
    force = rng.random() < 0.3
    if rng.random() < 0.4:
        kinds = ["new", "file", "missing", "fifo", "device", "holds_target", "symlink", "model"]
        kind = rng.choice(["new", "symlink", "holds_target"] if clean else [*kinds, "empty"])
        save_dir = "out"
        if kind == "new":
            (ws.work / "out").mkdir()
            outputs.add("out")
        elif kind == "file":
            save_dir = ws.write("afile", b"keep me\n")
        elif kind == "missing":
            save_dir = "missing/out"
        elif kind == "fifo":
            save_dir = ws.fifo("pipe")
            drain.append(save_dir)
        elif kind == "device":
            save_dir = ws.chardev("null", "null") or "afile"
            if save_dir == "afile":
                ws.write("afile", b"keep me\n")
        elif kind == "holds_target":
            (ws.work / "out").mkdir()
            base = "seed-cnn" if model.startswith("seed-cnn") else "net_py_build"
            ws.write(f"out/{base}-0-original.onnx", b"keep me\n")
            if force:
                outputs.add("out")
        elif kind == "symlink":
            (ws.work / "real").mkdir()
            save_dir = ws.symlink("out", "real")
            outputs.add("real")
        elif kind == "model":
            save_dir = "m.onnx"
        else:
            save_dir = ""
        argv += ["--save-dir", save_dir]
        parts.append(f"--save-dir {kind}")
    if rng.random() < 0.1:
        argv += ["--profile", "--time", "0.05", "--rounds", "1", "--threads", "1"]
        parts.append("--profile")
    elif not clean and rng.random() < 0.05:
        argv += ["--runtime", rng.choice(["ort", "torch", "openvino"]), "--rounds", "1"]
        argv += ["--time", "0.05"]
    if not clean and rng.random() < 0.1:
        argv += ["--input-shape", rng.choice(["input=1x1x8x8", "x=1x1x8x8", "input=0x1x8x8"])]
    if model == "net.py:build" and "--input-shape" not in argv:
        argv += ["--input-shape", "input=1x1x8x8"]
    if rng.random() < 0.3:
        argv += ["--format", "json"]
    if force:
        argv.append("--force")
    return Case("optimize", " ".join(parts)[:90], argv, outputs=outputs, drain=drain)


# -- compare --runtime LIST --------------------------------------------------------------------

RUNTIME_LISTS = [
    "",
    ",",
    "openvino,",
    ",openvino",
    "openvino,,onnxruntime",
    "openvino,openvino",
    "ov,openvino",
    "ort,onnxruntime",
    "bogus",
    "openvino,bogus",
    "OPENVINO,ORT",
    " openvino , onnxruntime ",
    "torch",
    "torch,openvino",
    "torch-compile,onnxruntime",
    "openvino,onnxruntime",
    "ov,ort",
    "openvino;onnxruntime",
    "openvino,onnxruntime,torch,torch-compile",
    "tensorflow,openvino",
]


def gen_compare_runtimes(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    ws.write("m.onnx", assets.onnx_a.read_bytes())
    xml, weights = assets.ir("a")
    ws.write("m.xml", xml.read_bytes())
    ws.write("m.bin", weights.read_bytes())
    models = rng.choices(
        [["m.onnx"], ["m.xml"], ["seed-cnn"], ["m.onnx", "m.xml"], ["missing.onnx"]],
        weights=[50, 15, 15, 12, 8],
    )[0]
    runtimes = rng.choice(RUNTIME_LISTS)
    if models == ["seed-cnn"] and "torch-compile" in runtimes:
        runtimes = runtimes.replace("torch-compile", "torch")  # a first compile takes a minute
    argv: list[str] = ["compare", *models, "--runtime", runtimes]
    if rng.random() < 0.85:
        argv.append("--profile")
    argv += ["--rounds", "1", "--iterations", "2", "--warmup", "0", "--threads", "1"]
    if rng.random() < 0.15:
        argv += ["--precision", rng.choice(["bf16", "f16"])]
    if rng.random() < 0.1:
        argv += ["--compile-mode", "max-autotune"]
    if rng.random() < 0.35:
        argv += ["--format", "json"]
    title = f"compare {' '.join(models)} --runtime {runtimes!r}"
    return Case("compare-runtimes", title, argv)
