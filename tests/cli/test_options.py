"""What every command shares: its options' help, ``-o -``, and refusing options that would do
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import click
import pytest

from modelprof.cli.main import cli, main

MODELPROF = [sys.executable, "-m", "modelprof.cli.main"]


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "MODELPROF_CACHE": str(cwd / "cache")}
    return subprocess.run(
        [*MODELPROF, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    found = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}


# -- help -----------------------------------------------------------------------------------------


def test_every_command_is_listed_and_every_option_has_one_line_of_help(tmp_path: Path) -> None:
    listed = run(tmp_path, "--help").stdout
    assert set(commands()) == {
        "count",
        "profile",
        "device",
        "compare",
        "separable",
        "pooling",
        "prune",
        "quantize",
        "optimize",
        "crosscheck",
        "check",
        "diff",
        "zoo",
        "llm",
    }
    missing = []
    for name, command in commands().items():
        assert name in listed
        for param in command.params:
            if isinstance(param, click.Option) and (not param.help or "\n" in param.help):
                missing.append(f"{name} {'/'.join(param.opts)}")
    assert missing == []


#: flags whose meaning differs by command (a different default or a different unit of work)
COMMAND_SPECIFIC = {
    "--iterations",  # per pass (profile, device) or per model and round (compare)
    "--profile",  # compare: also time the models; separable/prune: before and after
    "--quiet",  # check prints its verdict lines even then
    "--ignore",  # prune: channels left alone (default: the classifier); quantize: kept in float
    "--rounds",
    "--runtime",  # separable/prune: no default, it turns measuring on
    "--save",  # quantize writes .xml, or .onnx for ONNX sources, never .pt
    "--sort",
    "--sweep",  # input sizes (count) or batches (profile's throughput mode)
    "--time",
    "--top",
    "--training",  # count: backward FLOPs per layer; llm: one training step instead of decode
}


def test_an_option_reads_the_same_in_every_command() -> None:
    seen: dict[str, dict[tuple[object, ...], list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, command in commands().items():
        for param in command.params:
            if isinstance(param, click.Option):
                flag = max(param.opts, key=len)
                choices = None if flag == "--format" else getattr(param.type, "choices", None)
                seen[flag][(param.help, repr(param.default), choices, param.metavar)].append(name)
    differing = {
        flag: dict(variants)
        for flag, variants in seen.items()
        if len(variants) > 1 and flag not in COMMAND_SPECIFIC
    }
    assert differing == {}
    assert len([flag for flag, variants in seen.items() if len(variants) == 1]) > 10


# -- -o - ----------------------------------------------------------------------------------------

SMALL_DEVICE = ["--matmul-size", "64", "--stream-mib", "1", "--iterations", "3", "--threads", "1"]
FAST_ORT = ["--runtime", "ort", "--iterations", "3", "--warmup", "1"]
DOCUMENTS = {
    "count": (["count", "seed-cnn"], "count"),
    "count --sweep": (["count", "seed-cnn", "--sweep", "batch=1,2"], "count"),
    "diff": (["diff", "seed-cnn", "seed-separable"], "diff"),
    "compare": (["compare", "seed-cnn", "seed-separable"], "compare"),
    "separable": (["separable", "seed-cnn"], "separable"),
    "pooling": (["pooling", "seed-cnn"], "pooling"),
    "prune": (["prune", "seed-cnn", "--unstructured", "--amount", "0.5"], "prune"),
    "crosscheck": (["crosscheck", "seed-cnn"], "crosscheck"),
    "profile": (["profile", "seed-cnn", *FAST_ORT], "profile"),
    "profile throughput": (["profile", "seed-cnn", *FAST_ORT, "--streams", "1"], "profile"),
    "device": (["device", "--runtime", "ort", "--no-cache", *SMALL_DEVICE], "device"),
}


@pytest.mark.parametrize("case", DOCUMENTS)
def test_dash_output_is_standard_output(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args, kind = DOCUMENTS[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELPROF_CACHE", str(tmp_path / "cache"))
    assert main([*args, "--format", "json", "-o", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["kind"] == kind  # the document and nothing else
    assert "wrote" not in captured.err
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_dash_output_prints_what_a_file_would_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for fmt in ("table", "json", "csv", "md"):
        assert main(["count", "seed-cnn", "--format", fmt, "-o", f"r.{fmt}", "-q"]) == 0
        assert main(["count", "seed-cnn", "--format", fmt, "-o", "-", "-q"]) == 0
        captured = capsys.readouterr()
        assert captured.out == (tmp_path / f"r.{fmt}").read_text(), fmt
        assert captured.err == ""
    table = (tmp_path / "r.table").read_text()
    assert "394,780" in table and "\x1b" not in table  # plain text, even with --quiet


def test_dash_output_in_a_pipe_beside_a_saved_model(tmp_path: Path) -> None:
    args = ("separable", "seed-cnn", "--format", "json")
    result = run(tmp_path, *args, "--save", "sep.onnx")
    piped = run(tmp_path, *args, "--save", "x.onnx", "-o", "-")
    assert result.returncode == piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout) == json.loads(result.stdout) | {"saved": "x.onnx"}
    assert "wrote x.onnx" in piped.stderr and (tmp_path / "x.onnx").is_file()
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("case", ["prune", "crosscheck"])
def test_a_file_output_is_announced_on_stderr(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, kind = DOCUMENTS[case]
    out = tmp_path / "report.json"
    assert main([*args, "--format", "json", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(out.read_text())["kind"] == kind
    assert captured.out == "" and f"wrote {out}" in captured.err


def test_quiet_never_silences_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it used to print nothing at all: --quiet silences progress and notes, not the table
    for args, figure in (
        (["count", "seed-cnn"], "394,780"),
        (["diff", "seed-cnn", "seed-separable"], "926,808"),
    ):
        assert main([*args, "-q"]) == 0
        captured = capsys.readouterr()
        assert figure in captured.out, args
        assert captured.err == "", args


# -- outputs other than -o: --save and --html -----------------------------------------------------

NO_STDOUT_MODEL = (
    "--save takes a file name (.onnx, .xml or .pt): a model is never written to standard output"
)


@pytest.mark.parametrize("command", ["separable", "prune"])
def test_a_model_is_never_saved_to_standard_output(command: str, tmp_path: Path) -> None:
    # the model does not exist: its error would mean the work started before the check
    result = run(tmp_path, command, "missing.onnx", "--save", "-", "--format", "json")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"modelprof: error: {NO_STDOUT_MODEL}\n"
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def _existing(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("mine")


def _folder(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()


#: (arguments, what is there already, the one line of error): every output path gets the checks
#: of -o, before any work (the model, missing.onnx, is never read)
OUTPUT_PATHS = [
    (["separable", "--save", "x.onnx"], ("x.onnx",), "x.onnx exists; pass --force to replace it"),
    (["prune", "--save", "x.xml"], ("x.bin",), "x.bin exists; pass --force to replace it"),
    (
        ["separable", "--save", "x.xml", "-o", "x.bin"],
        (),
        "two outputs name the same file; give each its own path",
    ),
    (["prune", "--save", "new/x.onnx"], (), "--save new/x.onnx: folder new does not exist"),
    (["separable", "--save", "x.txt"], (), "--save x.txt: use a .onnx, .xml or .pt file name"),
    (
        ["prune", "--save", "x.pt"],
        (),
        "--save .pt needs a PyTorch model (zoo name or file.py:factory)",
    ),
    (["profile", "--html", "p.html"], ("p.html",), "p.html exists; pass --force to replace it"),
    (["count", "-o", "r.txt"], ("r.txt",), "r.txt exists; pass --force to replace it"),
    (["diff", "seed-cnn", "-o", "r.txt"], ("r.txt",), "r.txt exists; pass --force to replace it"),
]


@pytest.mark.parametrize(
    ("args", "there", "message"), OUTPUT_PATHS, ids=[" ".join(a) for a, _, _ in OUTPUT_PATHS]
)
def test_every_output_path_is_checked_like_o_before_any_work(
    args: list[str], there: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    for name in there:
        _existing(tmp_path, name)
    result = run(tmp_path, args[0], "missing.onnx", *args[1:])
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"modelprof: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(there)
    assert all((tmp_path / name).read_text() == "mine" for name in there)


@pytest.mark.parametrize("flag", ["-o", "--html", "--save"])
def test_a_folder_is_no_output_path(flag: str, tmp_path: Path) -> None:
    command = {"-o": "count", "--html": "profile", "--save": "separable"}[flag]
    (tmp_path / "out.onnx").mkdir()
    result = run(tmp_path, command, "missing.onnx", flag, "out.onnx")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1 and "out.onnx" in result.stderr
    assert "directory" in result.stderr and "Traceback" not in result.stderr


def test_html_goes_to_standard_output_when_the_report_goes_elsewhere(tmp_path: Path) -> None:
    beside_a_file = run(
        tmp_path,
        "profile",
        "seed-cnn",
        *FAST_ORT,
        "--format",
        "json",
        "-o",
        "r.json",
        "--html",
        "-",
    )
    assert beside_a_file.returncode == 0, beside_a_file.stderr
    assert beside_a_file.stdout.startswith("<!DOCTYPE html>")
    assert beside_a_file.stdout.rstrip().endswith("</html>")
    assert json.loads((tmp_path / "r.json").read_text())["kind"] == "profile"
    assert beside_a_file.stderr == "modelprof: wrote r.json\n"
    # without -o the page takes standard output in place of the table
    alone = run(tmp_path, "profile", "seed-cnn", *FAST_ORT, "--html", "-")
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.startswith("<!DOCTYPE html>") and "seed-cnn" in alone.stdout
    assert alone.stderr == ""
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no file named "-"


@pytest.mark.parametrize(
    "args",
    [["--format", "json"], ["--format", "json", "-q"], ["-o", "-"], ["-q", "-o", "-"]],
    ids=repr,
)
def test_html_and_the_report_never_share_standard_output(args: list[str], tmp_path: Path) -> None:
    result = run(tmp_path, "profile", "missing.onnx", *args, "--html", "-")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "modelprof: error: --html - would share standard output with the report: write the "
        "report to a file with -o FILE\n"
    )
    assert list(tmp_path.iterdir()) == []


# -- options that would do nothing -----------------------------------------------------------------

ORT_PRECISION = (
    "ONNX Runtime's CPU provider runs the model's own precision; --precision {} is an OpenVINO "
    "option (convert the model instead)"
)

REFUSED = [
    (["separable", "missing.onnx", "--epochs", "3"], "--epochs needs --finetune"),
    (["prune", "missing.onnx", "--epochs", "3"], "--epochs needs --finetune"),
    (
        ["separable", "missing.onnx", "--threads", "2", "--rounds", "3"],
        "--threads and --rounds need --profile or --runtime",
    ),
    (["prune", "missing.onnx", "--time", "0.5"], "--time needs --profile or --runtime"),
    (
        ["prune", "missing.onnx", "--unstructured", "--amount", "0.5", "--steps", "2"],
        "--steps needs structured pruning: --unstructured zeroes weights, removing no channel "
        "and no MAC",
    ),
    (["prune", "missing.onnx", "--per-layer"], "--per-layer needs --unstructured"),
    (
        ["profile", "missing.onnx", "--runtime", "ort", "--cache-dir", "cache"],
        "--cache-dir needs --runtime openvino",
    ),
    (
        ["profile", "missing.onnx", "--optimization", "basic"],
        "--optimization needs --runtime onnxruntime",
    ),
    (
        ["profile", "missing.onnx", "--iterations", "5", "--time", "1"],
        "give --iterations or --time, not both",
    ),
    (
        ["profile", "missing.onnx", "--format", "json", "--top", "5", "--sort", "time"],
        "--top and --sort need --format table (JSON has every layer)",
    ),
    (
        ["profile", "missing.onnx", "--streams", "2", "--sort", "time"],
        "--sort needs latency mode (per-layer times)",
    ),
    (
        ["profile", "missing.onnx", "--streams", "2", "--html", "r.html"],
        "--html is a latency-mode report: drop it with --mode throughput",
    ),
    (
        ["device", "--cached", "--threads", "2", "--no-cache"],
        "--no-cache needs a measurement, which --cached does not make",
    ),
    (
        ["device", "--cached", "--stream-mib", "8", "--matmul-size", "512", "--iterations", "3"],
        "--iterations, --matmul-size and --stream-mib need a measurement, which --cached does "
        "not make",
    ),
    (
        ["compare", "missing.onnx", "seed-cnn", "--runtime", "ort", "--warmup", "1"],
        "--runtime and --warmup need --profile",
    ),
    (
        ["count", "missing.onnx", "--format", "json", "--top", "3"],
        "--top needs --format table, csv or md (JSON has every layer)",
    ),
    (["count", "missing.onnx", "--format", "csv", "--depth", "2"], "--depth needs --format table"),
    (
        ["count", "missing.onnx", "--sweep", "batch=1,2", "--sort", "flops"],
        "--sort needs the per-layer table, which --sweep and --symbolic do not print",
    ),
    (
        ["diff", "a.json", "b.json", "--format", "json", "--all"],
        "--all needs --format table or md (JSON has every layer)",
    ),
    (
        ["profile", "missing.onnx", "--runtime", "ort", "--precision", "bf16"],
        ORT_PRECISION.format("bf16"),
    ),
    (
        ["profile", "missing.onnx", "--runtime", "onnxruntime", "--precision", "f16"],
        ORT_PRECISION.format("f16"),
    ),
    (
        ["compare", "a.onnx", "b.onnx", "--profile", "--runtime", "ort", "--precision", "bf16"],
        ORT_PRECISION.format("bf16"),
    ),
    (["device", "--cached", "--runtime", "ort", "--precision", "f16"], ORT_PRECISION.format("f16")),
]


@pytest.mark.parametrize(("args", "message"), REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_an_option_that_would_do_nothing_is_refused_before_any_work(
    args: list[str], message: str, tmp_path: Path
) -> None:
    # the model does not exist and --cached has nothing cached: an error about either would
    # mean work started before the options were checked
    result = run(tmp_path, *args, "-o", "report.txt")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"modelprof: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_device_refuses_a_precision_the_runtime_cannot_set_before_measuring(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, "device", "--runtime", "ort", "--precision", "bf16", *SMALL_DEVICE)
    assert (result.returncode, result.stdout) == (2, "")
    # no "measuring peak compute ..." first: nothing was measured
    assert result.stderr == f"modelprof: error: {ORT_PRECISION.format('bf16')}\n"
    assert list(tmp_path.iterdir()) == []


def test_measuring_before_and_after_takes_the_runtime_short_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["prune", "seed-cnn", "--unstructured", "--amount", "0.5", "--runtime", "ort"]
    assert main([*args, "--time", "0.05", "--rounds", "1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["before"]["profile"]["runtime"] == doc["after"]["profile"]["runtime"]
    assert doc["after"]["profile"]["runtime"] == "onnxruntime"
