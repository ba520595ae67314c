"""Reports in Jupyter: each report's ``_repr_html_``, checked as HTML, and a real notebook run
by nbclient on a kernel of this interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

import modelprof
from modelprof.costreport import HTML_ENTRY_POINTS, html_of, register_html
from modelprof.measure.profilereport import ProfileReport
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings
from modelprof.render.html import profile_html

FAST = RunSettings(threads=2, warmup=2, iterations=5)

# The seed network, worked by hand (README's worked example):
#   conv1 10 x 26 x 26 outputs x 1 x 3 x 3 = 60,840 MACs; pool 1,690 outputs x 4 = 6,760 FLOPs;
#   conv2 5 x 11 x 11 x 10 x 3 x 3 = 54,450; fc1 605 x 128 = 77,440; fc2 128 x 10 = 1,280.
#   FLOPs = 2 x MACs (no bias, no activation), pool 6,760; params 90 + 450 + 77,440 + 1,280.
SEED_ROWS = {
    # layer: (params, MACs, FLOPs)
    "conv1": ("90", "60,840", "121,680"),
    "pool": ("0", "0", "6,760"),
    "conv2": ("450", "54,450", "108,900"),
    "fc1": ("77,440", "77,440", "154,880"),
    "fc2": ("1,280", "1,280", "2,560"),
}
# 60,840 + 54,450 + 77,440 + 1,280 = 194,010 MACs; 2 x 194,010 + 6,760 = 394,780 FLOPs
SEED_TOTAL = ("79,260", "194,010", "394,780")

OUTSIDE = ("http://", "https://", "<script src", "<link", "url(", "@import", "<img", "src=")
EVIL = '<script>alert("x")</script>'


class _Rows(HTMLParser):
    """The text of every table row, cell by cell, as a browser would show it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> dict[str, list[str]]:
    parser = _Rows()
    parser.feed(html)
    return {row[0]: row for row in parser.rows if row}


def assert_seed_table(html: str) -> None:
    rows = table_rows(html)
    heads = rows["layer"]
    column = {name: heads.index(name) for name in ("params", "MACs", "FLOPs")}
    for layer, expected in [*SEED_ROWS.items(), ("total", SEED_TOTAL)]:
        row = rows[layer]
        assert (row[column["params"]], row[column["MACs"]], row[column["FLOPs"]]) == expected


def assert_self_contained(html: str) -> None:
    lowered = html.lower()
    for outside in OUTSIDE:
        assert outside not in lowered, f"reaches outside itself: {outside}"


_profiles: dict[str, ProfileReport] = {}


def seed_profile() -> ProfileReport:
    if "ort" not in _profiles:
        _profiles["ort"] = profile("seed-cnn", runtime="onnxruntime", settings=FAST)
    return _profiles["ort"]


# ---------------------------------------------------------------- without a notebook


def test_a_count_shows_the_seed_table() -> None:
    html = modelprof.count("seed-cnn")._repr_html_()
    assert html is not None
    assert_seed_table(html)
    assert "peak activation memory 33,800 B" in html  # 27,040 + 6,760 alive together
    assert_self_contained(html)
    assert "<script" not in html.lower()


def test_names_from_the_model_are_escaped() -> None:
    seed = modelprof.count("seed-cnn")
    layers = (replace(seed.layers[0], name=EVIL, op="<i>Conv</i>"), *seed.layers[1:])
    html = replace(seed, model=EVIL, layers=layers)._repr_html_()
    assert html is not None
    assert "<script" not in html.lower() and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    rows = table_rows(html)
    assert rows[EVIL][1] == "<i>Conv</i>"  # shown as written, as text
    assert rows[EVIL][4] == "60,840"


def test_a_profile_shows_the_html_page_in_a_sandboxed_frame() -> None:
    report = seed_profile()
    html = report._repr_html_()
    assert html is not None
    assert_self_contained(html)
    # the page's styles and sorting script stay inside the frame
    assert "<script" not in html.lower() and "<style" not in html.lower()
    assert html.count("<iframe") == 1 and 'sandbox="allow-scripts"' in html
    start = html.index('srcdoc="') + len('srcdoc="')
    page = unescape(html[start : html.index('"', start)])
    assert page == profile_html(report)
    for chart in ("chart-share", "chart-optype", "chart-roofline"):
        assert f'<svg id="{chart}"' in page
    assert_self_contained(page)
    # the page's layer table: each seed layer's row (ONNX node names: profiled from the
    # ONNX export) with its FLOPs, as worked out above
    parser = _Rows()
    parser.feed(page)
    by_name = {row[1]: row for row in parser.rows if len(row) > 7}
    flops = by_name["layer"].index("FLOPs")
    onnx_names = {"conv1": "Conv", "pool": "AveragePool", "conv2": "Conv", "fc1": "MatMul"}
    onnx_names["fc2"] = "MatMul"
    for layer, (_, _, layer_flops) in SEED_ROWS.items():
        assert by_name[f"/{layer}/{onnx_names[layer]}"][flops] == layer_flops


def test_a_profile_of_a_hostile_name_runs_no_script_of_it() -> None:
    report = replace(seed_profile(), model=EVIL)
    html = report._repr_html_()
    assert html is not None
    assert "<script" not in html.lower()
    page = unescape(html[html.index('srcdoc="') + len('srcdoc="') :])
    # inside the frame the name is text: the page's own script is the only one
    assert page.count("<script>") == 1 and "&lt;script&gt;alert" in page


TINY_LLAMA: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "torch_dtype": "float32",
}


def test_an_llm_report_shows_its_table() -> None:
    pytest.importorskip("transformers")
    from modelprof.measure.llm import count_llm

    report = count_llm(TINY_LLAMA, prompt=7, generate=3)
    html = report._repr_html_()
    assert html is not None and html.startswith('<pre class="modelprof-text"')
    # per token per layer: q, o 2 x 64 x 64 + k, v 2 x 64 x 32 + MLP 3 x 64 x 96 = 30,720;
    # prefill: 7 tokens x 2 layers x 30,720 + lm_head once 64 x 100 = 436,480 linear MACs
    assert "436,480" in unescape(html)
    assert_self_contained(html)
    assert "<script" not in html.lower()


def test_a_separable_what_if_shows_its_table_and_escapes_the_name() -> None:
    from modelprof.rewrite import separable

    result = separable("seed-cnn")
    html = result._repr_html_()
    assert html is not None
    text = unescape(html)
    # conv1 as depthwise 3x3 over 1 channel, 26 x 26 x 9 = 6,084 MACs, + pointwise
    # 26 x 26 x 1 x 10 = 6,760; conv2: 10 x 11 x 11 x 9 = 10,890 + 11 x 11 x 10 x 5 = 6,050
    assert "6,084 + 6,760" in text and "10,890 + 6,050" in text
    assert_self_contained(html)
    hostile = replace(result, report=replace(result.report, model=EVIL))._repr_html_()
    assert hostile is not None and "<script" not in hostile.lower()
    assert EVIL in unescape(hostile)


def test_a_prune_result_shows_before_and_after() -> None:
    pytest.importorskip("torch_pruning")
    from modelprof.rewrite import prune

    html = prune("seed-cnn", amount=0.5)._repr_html_()
    assert html is not None
    row = next(line for line in unescape(html).splitlines() if " MACs " in line)
    assert "194,010" in row  # before: the seed's MACs, worked out above
    assert_self_contained(html)


def test_a_type_of_yours_can_register_its_html() -> None:
    class Mine:
        pass

    class Derived(Mine):
        pass

    assert html_of(Mine()) is None  # nothing registered: Jupyter shows the plain repr
    register_html(Mine, lambda report: f"<p>{type(report).__name__}</p>")
    assert html_of(Mine()) == "<p>Mine</p>"
    assert html_of(Derived()) == "<p>Derived</p>"  # found through the class's bases


def test_the_renderers_are_declared_as_an_entry_point_and_load_only_when_shown() -> None:
    declared = {entry.value for entry in entry_points(group=HTML_ENTRY_POINTS)}
    assert "modelprof.render.notebook:register" in declared, (
        "the package metadata lacks the entry point: reinstall (pip install -e .)"
    )
    script = (
        "import sys, modelprof\n"
        "report = modelprof.count('seed-cnn')\n"
        "before = any(m.startswith('modelprof.render') for m in sys.modules)\n"
        "html = report._repr_html_()\n"
        "print(before, 'modelprof.render.notebook' in sys.modules, '394,780' in html)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True", "True"]


# ---------------------------------------------------------------- in a real notebook


def _kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running this interpreter (the venv's), found through JUPYTER_PATH."""
    name = "modelprof-test"
    spec = tmp_path / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return name


def test_a_notebook_shows_the_seed_table_and_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    kernel = _kernel(tmp_path, monkeypatch)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('import modelprof\nmodelprof.count("seed-cnn")'),
        nbformat.v4.new_code_cell(
            "from modelprof.measure import RunSettings, profile\n"
            'profile("seed-cnn", runtime="onnxruntime",'
            " settings=RunSettings(threads=2, warmup=2, iterations=5))"
        ),
    ]
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    count_out, profile_out = (cell.outputs for cell in notebook.cells)
    assert [out.output_type for out in count_out] == ["execute_result"]
    count_html = count_out[0].data["text/html"]
    assert_seed_table(count_html)
    assert_self_contained(count_html)
    assert "CostReport(" in count_out[0].data["text/plain"]  # what a plain-text view shows

    assert [out.output_type for out in profile_out] == ["execute_result"]
    profile_out_html = profile_out[0].data["text/html"]
    assert_self_contained(profile_out_html)
    page = unescape(profile_out_html[profile_out_html.index('srcdoc="') + len('srcdoc="') :])
    assert '<svg id="chart-roofline"' in page and "onnxruntime" in page
    assert_self_contained(page)
    # the count inside the profile: 394,780 FLOPs, shown as in the count's table
    assert ">394,780<" in page
