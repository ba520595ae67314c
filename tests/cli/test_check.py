"""`modelprof check`: budgets from flags and pyproject.toml, exit statuses, and the sizes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from modelprof.budgets import (
    METRIC_BY_KEY,
    BudgetError,
    find_pyproject,
    format_size,
    load_config_budgets,
    parse_size,
)
from modelprof.cli.main import main


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder, so the repository's own pyproject.toml is not read."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def custom_op_model(path: Path) -> Path:
    """Relu -> a custom-domain op no rule knows -> Relu."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["a"], name="relu1"),
            helper.make_node("Mystery", ["a"], ["b"], name="mystery", domain="com.example"),
            helper.make_node("Relu", ["b"], ["y"], name="relu2"),
        ],
        "custom",
        [x],
        [y],
        value_info=[
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 8]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 8]),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )
    onnx.save(model, path)
    return path


def test_within_budget_exits_0_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "seed-cnn", "--max-params", "5M", "--max-macs", "600M", "--max-flops", "1.2G"
    )
    assert code == 0, err
    assert out.startswith("OK seed-cnn: within 3 budget(s)")
    assert "params 79.26 K <= 5 M" in out and "FLOPs 394.78 K <= 1.2 G" in out
    assert out.count("\n") == 1 and err == ""


def test_every_exceeded_budget_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "seed-separable",
        "--max-params",
        "100K",
        "--max-macs",
        "600M",
        "--max-flops",
        "900K",
        "--max-weight-bytes",
        "1MB",
        "--max-peak-activation-bytes",
        "40KiB",
    )
    assert code == 1
    lines = out.splitlines()
    assert lines[:4] == [
        "params 370.08 K > budget 100 K (+270.1%)",
        "FLOPs 926.81 K > budget 900 K (+3.0%)",
        "weight bytes 1.48 MB > budget 1 MB (+48.0%)",
        "peak activation bytes 48.91 KiB > budget 40 KiB (+22.3%)",
    ]
    assert lines[4] == "FAILED seed-separable: 4 of 5 budget(s) exceeded"
    assert "MACs" not in out  # within its budget


def test_exact_figures_when_rounding_would_hide_the_excess(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "seed-cnn", "--max-params", "79259", "--quiet")
    assert code == 1
    assert out == "params 79,260 > budget 79,259 (+<0.1%)\n"
    assert run(capsys, "seed-cnn", "--max-params", "79260", "-q")[:2] == (0, "")


def test_unsupported_ops_fail_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(custom_op_model(tmp_path / "custom.onnx"))
    code, out, _ = run(capsys, model, "--max-flops", "1G")
    assert code == 1
    assert "1 node(s) not counted (Mystery x1)" in out
    assert "--allow-unsupported" in out
    assert out.splitlines()[-1] == "FAILED custom.onnx: not fully counted"

    code, out, err = run(capsys, model, "--max-flops", "1G", "--allow-unsupported")
    assert code == 0
    assert out.startswith("OK custom.onnx")
    assert "warning: 1 node(s) not counted" in err

    code, out, _ = run(capsys, model, "--max-flops", "10", "--allow-unsupported")
    assert code == 1 and out.startswith("FLOPs 16 > budget 10")


def test_budgets_from_pyproject_with_flags_overriding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "demo"

            [tool.modelprof]
            max-params = "50K"
            max_flops = 1_200_000_000
            max-weight-bytes = "2MiB"
            other-setting = "left alone"
            """
        )
    )
    monkeypatch.chdir(project / "src" / "deep")  # found by walking up
    assert find_pyproject() == project / "pyproject.toml"

    code, out, _ = run(capsys, "seed-cnn")
    assert code == 1
    assert out.splitlines()[0] == "params 79.26 K > budget 50 K (+58.5%)"
    assert f"(budgets from {project / 'pyproject.toml'})" in out.splitlines()[-1]

    code, out, _ = run(capsys, "seed-cnn", "--max-params", "100K")  # the flag wins
    assert code == 0
    assert "params 79.26 K <= 100 K" in out
    assert "weight bytes 309.61 KiB <= 2 MiB" in out

    explicit = tmp_path / "elsewhere.toml"
    explicit.write_text('[tool.modelprof]\nmax-macs = "100K"\n')
    code, out, _ = run(capsys, "seed-cnn", "--config", str(explicit))
    assert code == 1 and out.startswith("MACs 194.01 K > budget 100 K")


def test_no_budget_at_all_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "seed-cnn")
    assert code == 2 and out == ""
    assert err.startswith("modelprof: error: no budget given: pass --max-params")
    assert err.count("\n") == 1

    (tmp_path / "cwd" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    code, _, err = run(capsys, "seed-cnn")
    assert code == 2 and "has no max-... keys under [tool.modelprof]" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-params", "5Q"], "malformed --max-params '5Q': unknown unit 'Q'"),
        (["--max-flops", "1.2.3G"], "malformed --max-flops '1.2.3G'"),
        (["--max-params", "20MB"], "a count takes K, M, G or T, not bytes"),
        (["--max-weight-bytes", "20Mb"], "'b' would mean bits"),
        (["--max-macs", "-5M"], "malformed --max-macs '-5M'"),
        (["--max-params", "1.5"], "1.5 is not a whole number"),
    ],
)
def test_malformed_sizes_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "seed-cnn", *args)
    assert code == 2 and out == ""
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[tool.modelprof]\nmax-param = "5M"\n', "unknown budget 'max-param'"),
        ('[tool.modelprof]\nmax-flops = "lots"\n', "malformed max-flops in"),
        ("[tool.modelprof]\nmax-flops = true\n", "malformed max-flops in"),
        ("[tool.modelprof\nmax-flops = 1\n", "invalid TOML"),
        ("tool = 5\n", "'tool' must be a table"),  # it was an internal error
        ("[tool]\nmodelprof = 5\n", "[tool.modelprof] must be a table"),
    ],
)
def test_malformed_config_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "cwd" / "pyproject.toml").write_text(content)
    code, _, err = run(capsys, "seed-cnn", "--max-params", "5M")
    assert code == 2 and message in err
    assert err.count("\n") == 1


def test_missing_config_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "seed-cnn", "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "no such config file" in err


def test_parse_and_format_sizes() -> None:
    assert parse_size("5M") == 5_000_000
    assert parse_size("600M") == 600_000_000
    assert parse_size("1.2G") == 1_200_000_000  # exact, no float rounding
    assert parse_size("5_000_000") == parse_size(5_000_000) == 5_000_000
    assert parse_size("2k") == 2_000
    assert parse_size("20MB", is_bytes=True) == parse_size("20M", is_bytes=True) == 20_000_000
    assert parse_size("10MiB", is_bytes=True) == 10 * 2**20
    assert parse_size("1.5GiB", is_bytes=True) == 3 * 2**29
    assert parse_size("512B", is_bytes=True) == 512
    with pytest.raises(BudgetError):
        parse_size("10MiB")  # bytes for a count
    with pytest.raises(BudgetError):
        parse_size("10Mi", is_bytes=True)
    assert format_size(11_689_512, False) == "11.69 M"
    assert format_size(5_000_000, False) == "5 M"
    assert format_size(950, False) == "950"
    assert format_size(999, True) == "999 B"
    assert format_size(10 * 2**20, True, binary=True) == "10 MiB"


def test_config_budgets_keep_their_units(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.modelprof]\nmax-peak-activation-bytes = "10MiB"\nmax-macs = 6e8\n')
    budgets = load_config_budgets(path)
    assert budgets["peak-activation-bytes"].limit == 10 * 2**20
    assert budgets["peak-activation-bytes"].binary
    assert budgets["macs"].limit == 600_000_000
    assert budgets["macs"].metric is METRIC_BY_KEY["macs"]
