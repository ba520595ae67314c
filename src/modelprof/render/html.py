"""A profile report as one self-contained HTML page: summary, charts (inline SVG), layer table.

The page loads nothing from anywhere: styles are inline, charts are SVG drawn here in Python,
and a few lines of inline script sort the table. Every piece of text from the model or the
runtime goes through :func:`html.escape`.

Time shares in the charts are shares of the summed per-layer times, so they can be set against
FLOPs shares (both add up to 100 %); the table's "time %" is, as in the terminal and JSON
reports, the layer's time over the end-to-end median.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from .._version import __version__
from ..measure.profilereport import Ceilings, ProfileLayer, ProfileReport
from .units import duration, human, percent

#: A layer whose time share exceeds its FLOPs share by this factor (and is at least
#: ``SLOW_MIN_SHARE`` of the time) is highlighted, as in the terminal table.
SLOW_FACTOR = 2.0
SLOW_MIN_SHARE = 0.02
#: Layers shown in the time-vs-FLOPs chart (the slowest ones).
SHARE_CHART_LAYERS = 30

TIME_COLOUR = "#3566a8"
FLOPS_COLOUR = "#e3913c"
#: Point colours per op type (most time first); op types past the palette share the last one.
PALETTE = (
    "#3566a8",
    "#e3913c",
    "#4f9d69",
    "#7b5ea7",
    "#2a9d9d",
    "#c7a128",
    "#8c6d5a",
    "#d36ba6",
    "#8a9a3b",
    "#7f7f7f",
)

CHART_WIDTH = 1100


def profile_html(report: ProfileReport) -> str:
    """The whole report as one HTML page that needs nothing but a browser, offline."""
    title = f"modelprof profile: {report.model}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            _summary(report),
            _section(
                "share",
                "Time share vs FLOPs share",
                _share_chart(report),
                _share_caption(report),
            ),
            _section("optype", "Time by op type", _optype_chart(report), _optype_caption(report)),
            _section("roofline", "Roofline", _roofline_chart(report), _roofline_caption(report)),
            _section("layers", "Layers", _layer_table(report) + _folded_table(report), ""),
            _int8_section(report),
            _footer(report),
            "</main>",
            f"<script>{_SORT_JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


# ---------------------------------------------------------------- formatting helpers


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _rate(gflops_per_s: float | None) -> str:
    return "-" if gflops_per_s is None else f"{gflops_per_s:,.1f}"


def _tick(value: float) -> str:
    """A log-axis tick label: 0.01, 0.1, 1, 10, 100, 1,000, ..."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _shorten(name: str, limit: int) -> str:
    """Keep the end of a long layer name (the end tells layers apart)."""
    return name if len(name) <= limit else "…" + name[-(limit - 1) :]


def _executed(report: ProfileReport) -> list[ProfileLayer]:
    return [layer for layer in report.layers if not layer.folded_into]


def _flops_share(report: ProfileReport, layer: ProfileLayer) -> float:
    return layer.flops / (report.count.total.flops or 1)


def _layer_time_share(report: ProfileReport, layer: ProfileLayer) -> float:
    """Share of the summed per-layer times (what the charts show)."""
    return layer.time_us / (report.layer_time_us or 1)


def _is_slow(report: ProfileReport, layer: ProfileLayer) -> bool:
    share = _layer_time_share(report, layer)
    return share >= SLOW_MIN_SHARE and share > SLOW_FACTOR * _flops_share(report, layer)


def roofline_layers(report: ProfileReport) -> list[ProfileLayer]:
    """The layers the roofline plots: executed, with FLOPs, bytes and a measured rate."""
    return [
        layer
        for layer in _executed(report)
        if layer.flops > 0
        and layer.bytes_moved > 0
        and layer.gflops_per_s is not None
        and layer.gflops_per_s > 0
    ]


def _op_colours(report: ProfileReport) -> dict[str, str]:
    ops = [op for op, _, _ in report.by_op_type()]
    return {op: PALETTE[min(i, len(PALETTE) - 1)] for i, op in enumerate(ops)}


# ---------------------------------------------------------------- SVG primitives


def _attrs(**attrs: object) -> str:
    """Keyword arguments as SVG attributes (``class_`` -> ``class``, ``_`` -> ``-``)."""
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        text = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        parts.append(f'{name}="{_e(text)}"')
    return " ".join(parts)


def _svg(chart_id: str, height: float, body: Iterable[str], label: str) -> str:
    return (
        f"<svg {_attrs(id=chart_id, class_='chart', viewBox=f'0 0 {CHART_WIDTH} {height:.0f}')}"
        f' role="img" aria-label="{_e(label)}">\n' + "\n".join(body) + "\n</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, tip: str = "", **attrs: object) -> str:
    shape = _attrs(x=x, y=y, width=max(w, 0.0), height=h, **attrs)
    return f"<rect {shape}><title>{_e(tip)}</title></rect>" if tip else f"<rect {shape}/>"


def _line(x1: float, y1: float, x2: float, y2: float, **attrs: object) -> str:
    return f"<line {_attrs(x1=x1, y1=y1, x2=x2, y2=y2, **attrs)}/>"


def _text(x: float, y: float, text: str, tip: str = "", **attrs: object) -> str:
    title = f"<title>{_e(tip)}</title>" if tip else ""
    return f"<text {_attrs(x=x, y=y, **attrs)}>{title}{_e(text)}</text>"


@dataclass(frozen=True)
class _Scale:
    """Maps ``[lo, hi]`` onto pixels ``[start, end]``, linearly or by powers of ten."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        f = (lambda v: math.log10(v)) if self.log else (lambda v: v)
        lo, hi = f(self.lo), f(self.hi)
        return self.start + (f(value) - lo) / ((hi - lo) or 1) * (self.end - self.start)


def _nice_step(span: float, target: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``target`` ticks."""
    raw = span / target if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _decades(lo: float, hi: float) -> tuple[float, float]:
    """Powers of ten around ``[lo, hi]``, at least one decade apart."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if b <= a:
        a, b = a - 1, b + 1
    return 10.0**a, 10.0**b


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for label, colour in items:
        out.append(_rect(x, y - 9, 12, 12, fill=colour, rx=2))
        out.append(_text(x + 17, y + 1, label, class_="legend"))
        x += 34 + 7.5 * len(label)
    return out


# ---------------------------------------------------------------- page parts


def _section(anchor: str, title: str, body: str, caption: str) -> str:
    cap = f'<p class="caption">{caption}</p>' if caption else ""
    return f'<section id="{anchor}">\n<h2>{_e(title)}</h2>\n{cap}\n{body}\n</section>'


def _card(label: str, value: str, detail: str = "") -> str:
    extra = f'<div class="detail">{_e(detail)}</div>' if detail else ""
    return (
        f'<div class="card"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(value)}</div>{extra}</div>'
    )


def _summary(report: ProfileReport) -> str:
    lat = report.latency_us
    total = report.count.total
    achieved = total.flops / lat.median / 1e3 if lat.median > 0 else 0.0
    cards = [
        _card("latency (median)", duration(lat.median), f"IQR {duration(lat.iqr)}"),
        _card("mean", duration(lat.mean), f"{lat.samples} timed runs"),
        _card("min", duration(lat.min)),
        _card("p90", duration(lat.p90)),
        _card("p99", duration(lat.p99)),
        _card("throughput", f"{report.throughput_fps:,.1f} FPS"),
        _card("FLOPs (per inference)", human(total.flops), f"MACs {human(total.macs)}"),
        _card("achieved rate", f"{achieved:,.1f} GFLOP/s", "FLOPs / median latency"),
        _card("params", human(total.params)),
        _card("compile", f"{report.compile_ms:,.1f} ms"),
        _card("first inference", f"{report.first_inference_ms:,.2f} ms"),
        _card(
            "profiler overhead",
            percent(report.profiler_overhead),
            f"profiled median {duration(report.profiled_latency_us.median)}",
        ),
        _card(
            "time coverage",
            percent(report.time_coverage),
            "sum of per-layer medians / end-to-end median",
        ),
    ]
    if report.memory_rss_bytes is not None:
        cards.append(_card("runtime memory", human(report.memory_rss_bytes, "B")))
    ceilings = report.ceilings
    if ceilings is not None:
        cards.append(
            _card(
                "device ceilings",
                f"{ceilings.peak_gflops_per_s:,.1f} GFLOP/s",
                f"bandwidth {ceilings.bandwidth_gb_per_s:,.1f} GB/s",
            )
        )
    setup = (
        f"{report.runtime} {report.runtime_version} on {report.device} · precision "
        f"{report.precision} · {report.threads} threads · {report.iterations} iterations"
    )
    facts = []
    precisions = ", ".join(
        f"{p or '?'} {duration(t)} ({n} layers)" for p, t, n in report.by_precision()
    )
    facts.append(f"<li>by runtime precision: {_e(precisions)}</li>")
    inserted = report.conversions()
    if inserted:
        spent = sum(layer.time_us for layer in inserted)
        facts.append(
            f"<li>inserted by the runtime (layout/precision conversions): {len(inserted)} "
            f"layers, {_e(duration(spent))} "
            f"({_e(percent(spent / (lat.median or 1)))} of the end-to-end median)</li>"
        )
    facts += [f'<li class="note">note: {_e(note)}</li>' for note in report.notes]
    return (
        f"<header>\n<h1>{_e(report.model)}</h1>\n"
        f'<p class="setup">{_e(setup)}</p>\n'
        f'<div class="cards">{"".join(cards)}</div>\n'
        f'<ul class="facts">{"".join(facts)}</ul>\n</header>'
    )


def _share_caption(report: ProfileReport) -> str:
    shown = min(SHARE_CHART_LAYERS, sum(1 for r in _executed(report) if r.time_us > 0))
    return (
        f"The {shown} slowest runtime layers. Time share is the layer's share of the summed "
        f"per-layer times (time coverage {_e(percent(report.time_coverage))}); FLOPs share is "
        f"its share of the model's FLOPs. Names in red take more than {SLOW_FACTOR:g}x their "
        "FLOPs share in time."
    )


def _share_chart(report: ProfileReport) -> str:
    rows = sorted((r for r in _executed(report) if r.time_us > 0), key=lambda r: -r.time_us)
    rows = rows[:SHARE_CHART_LAYERS]
    label_w, value_w, top, row_h, bar_h = 330.0, 110.0, 46.0, 28.0, 10.0
    height = top + row_h * max(len(rows), 1) + 10
    peak = max(
        [_layer_time_share(report, r) for r in rows] + [_flops_share(report, r) for r in rows],
        default=0.0,
    )
    step = _nice_step(peak or 1.0)
    axis_max = step * math.ceil((peak or 1.0) / step)
    x = _Scale(0.0, axis_max, label_w, CHART_WIDTH - value_w)
    body = _legend(label_w, 14, [("time share", TIME_COLOUR), ("FLOPs share", FLOPS_COLOUR)])
    tick = 0.0
    while tick <= axis_max + 1e-12:
        body.append(_line(x(tick), top - 6, x(tick), height - 10, class_="grid"))
        body.append(_text(x(tick), top - 10, percent(tick), class_="tick", text_anchor="middle"))
        tick += step
    for i, row in enumerate(rows):
        y = top + i * row_h
        t_share, f_share = _layer_time_share(report, row), _flops_share(report, row)
        slow = _is_slow(report, row)
        if slow:
            body.append(_rect(0, y, CHART_WIDTH, row_h, class_="slowband"))
        tip = (
            f"{row.name} ({row.op}): {duration(row.time_us)}, time share {percent(t_share)}, "
            f"FLOPs share {percent(f_share)}, {human(row.flops)} FLOPs"
        )
        suffix = " [inserted]" if row.inserted else ""
        name = _shorten(row.name, 46 - len(suffix)) + suffix
        body.append(
            _text(
                label_w - 8,
                y + row_h / 2 + 4,
                name,
                tip=tip,
                class_="label slow" if slow else "label",
                text_anchor="end",
            )
        )
        body.append(
            _rect(x(0), y + 3, x(t_share) - x(0), bar_h, tip, class_="bar time", fill=TIME_COLOUR)
        )
        body.append(
            _rect(
                x(0),
                y + 4 + bar_h,
                x(f_share) - x(0),
                bar_h,
                tip,
                class_="bar flops",
                fill=FLOPS_COLOUR,
            )
        )
        body.append(
            _text(
                max(x(t_share), x(f_share)) + 6,
                y + row_h / 2 + 4,
                f"{percent(t_share)} / {percent(f_share)}",
                class_="value",
            )
        )
    if not rows:
        body.append(_text(label_w, top + 18, "no timed layers", class_="note"))
    return _svg("chart-share", height, body, "time share versus FLOPs share per layer")


def _optype_caption(report: ProfileReport) -> str:
    return (
        "Summed per-layer time of each op type (fused layers count under the op that does most "
        "of their FLOPs; layers the runtime inserted under their runtime type), with its share "
        "of the summed per-layer times and of the model's FLOPs."
    )


def _optype_chart(report: ProfileReport) -> str:
    rows = [row for row in report.by_op_type() if row[1] > 0]
    colours = _op_colours(report)
    label_w, value_w, top, row_h = 170.0, 300.0, 16.0, 26.0
    height = top + row_h * max(len(rows), 1) + 10
    longest = max((t for _, t, _ in rows), default=0.0) or 1.0
    x = _Scale(0.0, longest, label_w, CHART_WIDTH - value_w)
    total_time = report.layer_time_us or 1.0
    total_flops = report.count.total.flops or 1
    body = [_line(x(0), top - 4, x(0), height - 10, class_="axis")]
    for i, (op, time_us, flops) in enumerate(rows):
        y = top + i * row_h
        value = (
            f"{duration(time_us)} · {percent(time_us / total_time)} of time · "
            f"{percent(flops / total_flops)} of FLOPs"
        )
        body.append(_text(label_w - 8, y + 15, op, class_="label", text_anchor="end"))
        body.append(
            _rect(
                x(0),
                y + 3,
                x(time_us) - x(0),
                row_h - 8,
                f"{op}: {value}",
                class_="bar",
                fill=colours.get(op, PALETTE[-1]),
            )
        )
        body.append(_text(x(time_us) + 6, y + 15, value, class_="value"))
    if not rows:
        body.append(_text(label_w, top + 14, "no timed layers", class_="note"))
    return _svg("chart-optype", height, body, "time by op type")


def _roofline_caption(report: ProfileReport) -> str:
    text = (
        "Each point is a runtime layer: arithmetic intensity (FLOPs / bytes read and written, "
        "each tensor once) against the rate it achieved (FLOPs / its measured time), both on "
        "log scales. Point area grows with the layer's time; hover for details."
    )
    if report.ceilings is None:
        return text + (
            ' <span class="hint">No device ceilings are known for this runtime and precision: '
            "run <code>modelprof device</code> to measure peak GFLOP/s and memory bandwidth, "
            "and the roofline is drawn over these points.</span>"
        )
    c = report.ceilings
    return text + _e(
        f" Ceilings: peak {c.peak_gflops_per_s:,.1f} GFLOP/s, memory bandwidth "
        f"{c.bandwidth_gb_per_s:,.1f} GB/s, ridge at {c.ridge_flop_per_byte:,.1f} FLOP/byte."
    )


def _roofline_chart(report: ProfileReport) -> str:
    points = roofline_layers(report)
    left, right, top, bottom, height = 80.0, 30.0, 40.0, 56.0, 520.0
    xs = [p.intensity for p in points]
    ys = [p.gflops_per_s or 0.0 for p in points]
    c = report.ceilings
    if c is not None:
        xs += [c.ridge_flop_per_byte]
        ys += [c.peak_gflops_per_s * 1.5]
    # a little room around the points, so none sits on a frame edge
    x_lo, x_hi = _decades(min(xs, default=0.1) / 1.3, max(xs, default=100.0) * 1.3)
    y_lo, y_hi = _decades(min(ys, default=0.1) / 1.3, max(ys, default=100.0) * 1.3)
    x = _Scale(x_lo, x_hi, left, CHART_WIDTH - right, log=True)
    y = _Scale(y_lo, y_hi, height - bottom, top, log=True)
    body = [_rect(left, top, CHART_WIDTH - right - left, height - top - bottom, class_="plot")]
    body += _log_grid(x, y, height, bottom)
    if c is not None:
        body += _ceilings(c, x, y)
    colours = _op_colours(report)
    total_time = report.layer_time_us or 1.0
    for layer in sorted(points, key=lambda p: -p.time_us):
        rate = layer.gflops_per_s or 0.0
        tip = (
            f"{layer.name} ({layer.op}, {layer.exec_type}): {layer.intensity:,.2f} FLOP/byte, "
            f"{rate:,.1f} GFLOP/s, {duration(layer.time_us)}, {human(layer.flops)} FLOPs"
        )
        if layer.bound is not None:
            tip += f", {layer.bound}-bound"
        if layer.efficiency is not None:
            tip += f", {percent(layer.efficiency)} of attainable"
        radius = 3.5 + 9.0 * math.sqrt(layer.time_us / total_time)
        body.append(
            f"<circle {_attrs(cx=x(layer.intensity), cy=y(rate), r=radius)} "
            f'class="point" fill="{colours.get(layer.op, PALETTE[-1])}">'
            f"<title>{_e(tip)}</title></circle>"
        )
    if not points:
        body.append(_text(left + 12, top + 24, "no layer has both FLOPs and a measured time"))
    ops = list(dict.fromkeys(p.op for p in sorted(points, key=lambda p: -p.time_us)))
    body += _legend(left, 20, [(op, colours.get(op, PALETTE[-1])) for op in ops[:8]])
    body.append(
        _text(
            (left + CHART_WIDTH - right) / 2,
            height - 12,
            "arithmetic intensity (FLOP/byte)",
            class_="axislabel",
            text_anchor="middle",
        )
    )
    mid = (top + height - bottom) / 2
    body.append(
        _text(
            18,
            mid,
            "achieved rate (GFLOP/s)",
            class_="axislabel",
            text_anchor="middle",
            transform=f"rotate(-90 18 {mid:.1f})",
        )
    )
    return _svg("chart-roofline", height, body, "roofline: achieved GFLOP/s by intensity")


def _log_grid(x: _Scale, y: _Scale, height: float, bottom: float) -> list[str]:
    out = []
    for scale, vertical in ((x, True), (y, False)):
        lo, hi = round(math.log10(scale.lo)), round(math.log10(scale.hi))
        for power in range(lo, hi + 1):
            for mult in range(1, 10):
                value = mult * 10.0**power
                if value > scale.hi * 1.0001:
                    break
                pos = scale(value)
                cls = "grid" if mult == 1 else "grid minor"
                if vertical:
                    out.append(_line(pos, y.end, pos, y.start, class_=cls))
                else:
                    out.append(_line(x.start, pos, x.end, pos, class_=cls))
                if mult != 1:
                    continue
                if vertical:
                    out.append(
                        _text(
                            pos,
                            height - bottom + 18,
                            _tick(value),
                            class_="tick",
                            text_anchor="middle",
                        )
                    )
                else:
                    out.append(
                        _text(x.start - 8, pos + 4, _tick(value), class_="tick", text_anchor="end")
                    )
    return out


def _ceilings(c: Ceilings, x: _Scale, y: _Scale) -> list[str]:
    """The roof: the memory-bandwidth slope up to the ridge, then the compute ceiling."""
    ridge, peak, bw = c.ridge_flop_per_byte, c.peak_gflops_per_s, c.bandwidth_gb_per_s
    start = max(x.lo, y.lo / bw)
    # the slope's label sits a little way along it, turned to follow it
    at = start * (ridge / start) ** 0.08
    lx, ly = x(at), y(bw * at) - 6
    angle = math.degrees(math.atan2(y(peak) - y(bw * start), x(ridge) - x(start)))
    return [
        _line(x(start), y(bw * start), x(ridge), y(peak), class_="ceiling"),
        _line(x(ridge), y(peak), x.end, y(peak), class_="ceiling"),
        _line(x(ridge), y(peak), x(ridge), y.start, class_="ridge"),
        _text(
            x.end - 6,
            y(peak) - 8,
            f"peak {peak:,.1f} GFLOP/s",
            class_="ceilinglabel",
            text_anchor="end",
        ),
        _text(
            lx,
            ly,
            f"memory {bw:,.1f} GB/s",
            class_="ceilinglabel",
            transform=f"rotate({angle:.1f} {lx:.1f} {ly:.1f})",
        ),
        _text(x(ridge) + 6, y.start - 8, f"ridge {ridge:,.1f} FLOP/byte", class_="tick"),
    ]


def _layer_table(report: ProfileReport) -> str:
    has_ceilings = report.ceilings is not None
    heads = ["#", "layer", "op", "kernel", "prec", "time", "time %", "FLOPs", "FLOPs %"]
    heads += ["GFLOP/s", "FLOP/byte"]
    if has_ceilings:
        heads += ["bound", "eff."]
    heads.append("fused from")
    tips = {
        "time %": "layer time / end-to-end median latency",
        "FLOPs": "floating-point operations per inference (a quantity)",
        "GFLOP/s": "achieved rate: FLOPs / measured time",
        "FLOP/byte": "arithmetic intensity: FLOPs / bytes read and written",
        "eff.": "efficiency: attainable time under the roofline / measured time",
    }
    head_html = "".join(
        f'<th title="{_e(tips[h])}">{_e(h)}</th>' if h in tips else f"<th>{_e(h)}</th>"
        for h in heads
    )
    rows = []
    for index, layer in enumerate(_executed(report), start=1):
        f_share = _flops_share(report, layer)
        classes = [
            c for c, on in (("inserted", layer.inserted), ("slow", _is_slow(report, layer))) if on
        ]
        name = _e(layer.name)
        if layer.inserted:
            name += ' <span class="badge">inserted by runtime</span>'
        others = [n for n in layer.fused_from if n != layer.name]
        cells = [
            _num(index, str(index)),
            f'<td class="name">{name}</td>',
            f"<td>{_e(layer.op)}</td>",
            f"<td>{_e(layer.exec_type)}</td>",
            f"<td>{_e(layer.precision)}</td>",
            _num(layer.time_us, duration(layer.time_us)),
            _num(layer.time_share, percent(layer.time_share)),
            _num(layer.flops, human(layer.flops)),
            _num(f_share, percent(f_share)),
            _num(layer.gflops_per_s or 0.0, _rate(layer.gflops_per_s)),
            _num(layer.intensity, f"{layer.intensity:,.1f}" if layer.flops else "-"),
        ]
        if has_ceilings:
            cells.append(f"<td>{_e(layer.bound or '-')}</td>")
            eff = layer.efficiency
            cells.append(_num(eff or 0.0, percent(eff) if eff is not None else "-"))
        cells.append(f'<td class="fused">{"<br>".join(_e(n) for n in others)}</td>')
        cls = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        '<p class="caption">Runtime layers in execution order; click a column to sort. Rows in '
        f"red take more than {SLOW_FACTOR:g}x their FLOPs share in time (share of summed layer "
        "time); purple rows were inserted by the runtime.</p>\n"
        '<div class="tablewrap"><table id="layers" class="sortable">\n'
        f"<thead><tr>{head_html}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n"
        "</table></div>"
    )


def _num(sort_value: float, text: str) -> str:
    return f'<td class="num" data-v="{sort_value!r}">{_e(text)}</td>'


def _folded_table(report: ProfileReport) -> str:
    folded = [layer for layer in report.layers if layer.folded_into]
    if not folded:
        return ""
    rows = "\n".join(
        f"<tr><td>{_e(layer.name)}</td><td>{_e(layer.op)}</td><td>{_e(layer.folded_into)}</td></tr>"
        for layer in folded
    )
    return (
        f"<details><summary>{len(folded)} source layers fused into the runtime layers above "
        "(no time of their own)</summary>\n"
        '<table class="folded"><thead><tr><th>layer</th><th>op</th><th>fused into</th></tr>'
        f"</thead>\n<tbody>\n{rows}\n</tbody></table></details>"
    )


def _int8_section(report: ProfileReport) -> str:
    """A quantized model's int8 diagnosis (:mod:`modelprof.measure.int8`): the compute layers
    left in float with why, the quantize and conversion layers with their time; empty for a
    float model."""
    diagnosis = report.int8
    if diagnosis is None:
        return ""
    total = report.layer_time_us or 1.0
    rows = [
        (left.name, left.op, left.precision, left.macs, left.reason)
        for left in diagnosis.left_in_float
    ]
    body_rows = [
        f"<tr><td>{_e(name)}</td><td>{_e(op)}</td><td>{_e(prec)}</td>"
        f"{_num(macs, human(macs))}<td>{_e(reason)}</td></tr>"
        for name, op, prec, macs, reason in rows
    ]
    conversions = [
        f"<tr><td>{_e(layer.name)}</td><td>{_e(layer.op)}</td><td>{_e(layer.precision)}</td>"
        f"{_num(layer.time_us, duration(layer.time_us))}"
        f"{_num(layer.time_us / total, percent(layer.time_us / total))}</tr>"
        for layer in diagnosis.conversions
    ]
    shares = []
    if diagnosis.conv_int8_share is not None:
        shares.append(f"convolutions executing in i8/u8: {percent(diagnosis.conv_int8_share)}")
    shares.append(f"MACs executing in i8/u8: {percent(diagnosis.macs_int8_share)}")
    shares.append(
        f"time in quantize, Convert and Reorder layers: {duration(diagnosis.conversion_us)} "
        f"({percent(diagnosis.conversion_share)} of the per-layer time)"
    )
    flags = ", ".join(diagnosis.cpu_flags) or "none found (no VNNI or AMX)"
    parts = [f"<p>{_e('; '.join(shares))}. CPU int8 features: {_e(flags)}.</p>"]
    if body_rows:
        parts.append(
            '<table class="folded"><thead><tr><th>left in float</th><th>op</th><th>prec</th>'
            "<th>MACs</th><th>why</th></tr></thead>\n<tbody>\n"
            + "\n".join(body_rows)
            + "\n</tbody></table>"
        )
    if conversions:
        parts.append(
            '<table class="folded"><thead><tr><th>conversion layer</th><th>op</th><th>prec</th>'
            "<th>time</th><th>time %</th></tr></thead>\n<tbody>\n"
            + "\n".join(conversions)
            + "\n</tbody></table>"
        )
    caption = (
        "The model is quantized: each layer's execution precision (the prec column above) is "
        "what OpenVINO ran. Whether a layer got slower than in f32 needs the float model "
        "measured beside it: modelprof quantize --profile."
    )
    return _section("int8", "int8 diagnosis", "\n".join(parts), _e(caption))


def _footer(report: ProfileReport) -> str:
    lines = "".join(f"<li>{_e(line)}</li>" for line in report.count.convention.lines())
    return (
        f"<footer><p>modelprof {_e(__version__)} · counting conventions:</p>"
        f"<ul>{lines}</ul></footer>"
    )


_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9dee4; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { margin: 0 0 2px; font-size: 24px; word-break: break-all; }
h2 { margin: 0 0 6px; font-size: 17px; }
.setup { margin: 0 0 14px; color: var(--muted); }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin-bottom: 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .detail { color: var(--muted); font-size: 12px; }
.facts { margin: 12px 0 0; padding-left: 18px; color: var(--muted); }
.facts .note { color: #0b6e79; }
.caption { margin: 0 0 10px; color: var(--muted); max-width: 980px; }
.hint { color: #8a5a00; }
code { background: #eef1f4; padding: 0 4px; border-radius: 3px; }
svg.chart { width: 100%; max-width: 1100px; height: auto; display: block; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  fill: var(--ink); }
svg .tick, svg .value { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
svg .label.slow { fill: #b23a48; font-weight: 600; }
svg .slowband { fill: #fbecee; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .grid.minor { stroke: #f1f3f5; }
svg .axis { stroke: #9aa5b1; }
svg .plot { fill: none; stroke: #c5ccd3; }
svg .axislabel { fill: var(--muted); font-size: 13px; }
svg .point { fill-opacity: 0.78; stroke: #fff; stroke-width: 1; }
svg .ceiling { stroke: #b23a48; stroke-width: 2.2; fill: none; }
svg .ridge { stroke: #b23a48; stroke-width: 1; stroke-dasharray: 4 4; }
svg .ceilinglabel { fill: #b23a48; font-weight: 600; }
svg .legend { font-size: 12px; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { padding: 4px 6px; border-bottom: 1px solid #edf0f3; text-align: left;
  vertical-align: top; }
th { position: sticky; top: 0; background: #f1f3f6; cursor: pointer; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { overflow-wrap: anywhere; min-width: 170px; }
td.fused { color: var(--muted); font-size: 11.5px; overflow-wrap: anywhere; min-width: 170px; }
tr.slow td { background: #fbecee; }
tr.inserted td { background: #f3eefa; }
.badge { display: inline-block; margin-left: 4px; padding: 0 5px; border-radius: 8px;
  background: #7b5ea7; color: #fff; font-size: 10.5px; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; }
footer ul { margin: 4px 0 0; padding-left: 18px; }
"""

_SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var dir = th.dataset.dir === "desc" ? 1 : -1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    var key = function (row) {
      var cell = row.cells[col];
      return cell.dataset.v !== undefined ? parseFloat(cell.dataset.v) : cell.textContent;
    };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""
