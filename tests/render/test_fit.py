"""Tables fitted to the console (render.fit): at 80, 100 and 120 columns every layer name
and every figure shows whole, no line is wider than the console, and a line under the table
names the columns left out; where a table fits (piped output is 200 wide) it is drawn as
before, with no such line."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import RenderableType
from rich.table import Table

from modelprof.costreport import CostReport
from modelprof.measure.profilereport import LatencyStats, ProfileLayer, ProfileReport
from modelprof.render import profile_view, separable_view, terminal
from modelprof.render.console import SafeConsole
from modelprof.render.fit import MAIN, NAME, fit
from modelprof.render.units import duration, human, percent

WIDTHS = (80, 100, 120)
LEFT_OUT = re.compile(r"columns left out at (\d+) wide: (.*?) \(a wider terminal")


def render(renderable: RenderableType, width: int) -> str:
    sink = io.StringIO()
    SafeConsole(width=width, file=sink, color_system=None, soft_wrap=False).print(renderable)
    return sink.getvalue()


def left_out(text: str) -> list[str]:
    """The columns the note under a table names (the note may wrap)."""
    found = LEFT_OUT.search(" ".join(text.split()))
    return found.group(2).split(", ") if found else []


def header_cells(text: str) -> list[str]:
    """The header cells of the first table in ``text`` (single-line headers)."""
    line = next(line for line in text.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def check_fits(text: str, width: int, names: list[str], figures: list[str]) -> None:
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    for name in names:  # whole, on one line, in its own cell
        assert any(f"│ {name} " in line for line in lines), name
    for figure in figures:  # whole, in a cell of its own
        assert any(re.search(rf"[│ ]{re.escape(figure)} │", line) for line in lines), figure
    assert "…" not in text


@pytest.fixture(scope="module")
def resnet18() -> CostReport:
    from modelprof.api import count

    return count("resnet18")


@pytest.mark.parametrize("width", WIDTHS)
def test_count_table_keeps_names_and_figures_whole(resnet18: CostReport, width: int) -> None:
    layers, _ = terminal.select_layers(resnet18, "order", None)
    text = render(terminal.render_count(resnet18), width)
    names = [layer.name for layer in layers]
    assert "layer2.0.downsample.0" in names
    figures = [human(resnet18.total.flops), human(resnet18.total.macs)]
    figures += [human(layer.macs) for layer in layers[:5]]
    check_fits(text, width, names, figures)
    assert "3.64 G" in figures and "118.01 M" in figures
    dropped = left_out(text)
    assert dropped, "at this width some columns cannot fit"
    assert "FLOP/B" in dropped
    assert not set(dropped) & set(header_cells(text))
    assert {"layer", "MACs", "FLOPs"} <= set(header_cells(text))


def test_count_table_unchanged_where_it_fits(resnet18: CostReport) -> None:
    layers, caption = terminal.select_layers(resnet18, "order", None)
    fitted = terminal.layer_table(resnet18, layers, caption)
    text = render(fitted, 200)
    assert text == render(fitted.table, 200)
    assert "left out" not in text and left_out(text) == []
    assert header_cells(text)[-1] == "FLOP/B"


def test_scope_table_keeps_scopes_whole() -> None:
    from modelprof.api import count

    report = count("mobilenet_v2", training=True)
    text = render(terminal.render_count(report, depth=4), 80)
    groups = report.by_scope(4)
    names = [g.key for g in groups if g.key]
    assert "features.16.conv.0" in names
    check_fits(text, 80, names, [human(g.flops) for g in groups])
    assert left_out(text) == ["FLOPs %"]


def profile_report(count: CostReport) -> ProfileReport:
    """A hand-made profile with runtime-style (long) names and one inserted layer."""

    def latency(us: float) -> LatencyStats:
        return LatencyStats(median=us, mean=us, min=us, p90=us, p99=us, iqr=us / 10, samples=20)

    names = [
        "/conv1/Conv",
        "/layer2/layer2.0/downsample/downsample.0/Conv",
        "/layer4/layer4.1/conv2/Conv",
        "/avgpool/GlobalAveragePool",
        "/fc/Gemm",
    ]
    layers = [
        ProfileLayer(
            name=name,
            op=name.rsplit("/", 1)[-1],
            exec_type="brgconv_avx512_1x1_f32",
            precision="f32",
            time_us=1_510.0 * (i + 1),
            time_share=0.05 * (i + 1),
            flops=count.total.flops // 10,
            macs=count.total.macs // 10,
            bytes_moved=1_000_000,
            gflops_per_s=156.5,
            fused_from=(name, f"{name}/Relu"),
        )
        for i, name in enumerate(names)
    ]
    layers.insert(
        0,
        ProfileLayer(
            name="input_abcd_acdb_/conv1/Conv/WithoutBiases",
            op="Reorder",
            exec_type="reorder_brgemm_f32",
            precision="f32",
            time_us=138.0,
            time_share=0.004,
            flops=0,
            macs=0,
            bytes_moved=602_112,
            gflops_per_s=None,
            inserted=True,
        ),
    )
    return ProfileReport(
        model=count.model,
        runtime="openvino",
        runtime_version="2026.4.1",
        device="CPU",
        precision="f32",
        threads=2,
        iterations=20,
        compile_ms=143.3,
        first_inference_ms=42.08,
        latency_us=latency(32_960.0),
        profiled_latency_us=latency(34_000.0),
        layers=tuple(layers),
        count=count,
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_profile_table_keeps_names_and_times_whole(resnet18: CostReport, width: int) -> None:
    report = profile_report(resnet18)
    text = render(profile_view.render_profile(report), width)
    names = [
        f"{layer.name} [inserted]" if layer.inserted else layer.name for layer in report.layers
    ]
    figures = [duration(layer.time_us) for layer in report.layers]
    figures += [percent(layer.time_share) for layer in report.layers]
    check_fits(text, width, names, figures)
    dropped = left_out(text)
    assert "fused" in dropped and "prec" in dropped
    assert not set(dropped) & set(header_cells(text))


def test_separable_table_keeps_names_and_figures_whole() -> None:
    from modelprof.rewrite.separable_rewrite import separable

    result = separable("resnet18")
    layers = result.report.layers
    figures = [human(layer.macs) for layer in layers]
    figures += [
        f"{human(layer.depthwise_macs)} + {human(layer.pointwise_macs)}" for layer in layers
    ]
    for width in (*WIDTHS, 200):
        text = render(separable_view.separable_table(result), width)
        check_fits(text, width, [layer.name for layer in layers], figures)
        dropped = left_out(text)
        if width < 113:  # the table's own width: at 120 and 200 it is drawn whole, as before
            assert "formula" in dropped
            assert not set(dropped) & set(header_cells(text))
        else:
            assert dropped == [] and "left out" not in text
            assert "formula" in header_cells(text)


def synthetic(name_length: int) -> Table:
    table = Table(header_style="bold")
    table.add_column("layer", overflow="fold", max_width=40)
    for title in ("MACs", "FLOPs", "weight bytes", "activation bytes"):
        table.add_column(title, justify="right", no_wrap=True)
    for i in range(3):
        table.add_row(f"layer{i}." + "x" * name_length, "115.61 M", "231.21 M", "2.36 M", "3.21 M")
    return table


def test_very_long_names_fold_and_figures_stay_whole() -> None:
    table = synthetic(120)
    text = render(fit(table, {"layer": NAME, "MACs": MAIN, "FLOPs": MAIN}), 80)
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert "115.61 M" in text and "231.21 M" in text and "…" not in text
    assert left_out(text) == ["weight bytes", "activation bytes"]
    # the names fold (the last resort), whole across their lines
    rows = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert "".join(rows).startswith("layer0." + "x" * 120)


def test_long_names_are_whole_where_the_table_is_fitted() -> None:
    # the table as built folds names past 40 cells (max_width) and then needs 100 columns:
    # at 100 it is drawn as built; at 90 it is fitted, and a fitted table shows names whole
    table = synthetic(50)
    fitted = fit(table, {"layer": NAME, "MACs": MAIN, "FLOPs": MAIN})
    assert render(fitted, 100) == render(table, 100)
    text = render(fitted, 90)
    assert "│ layer1." + "x" * 50 + " │" in text
    assert left_out(text) == ["weight bytes", "activation bytes"]


def test_wide_consoles_draw_the_table_as_rich_does() -> None:
    # from the width -o FILE writes (160) on, nothing is left out, as before
    table = synthetic(150)
    fitted = fit(table, {"layer": NAME})
    for width in (160, 200):
        assert render(fitted, width) == render(table, width)


def test_prose_columns_wrap() -> None:
    table = Table()
    table.add_column("name")
    table.add_column("description")
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("extra", justify="right", no_wrap=True)
    table.add_row(
        "resnet18", "ResNet-18 (torchvision layout, v1.5), 1000 classes " * 3, "1.81 G", "x"
    )
    text = render(fit(table, {"name": NAME, "MACs": MAIN}, prose=["description"]), 80)
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert "│ resnet18 " in text and "1.81 G" in text and "torchvision" in text
    assert left_out(text) == []  # the prose wraps: every column still fits
