"""The HTML profile report: one self-contained page, checked as text and rendered in Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from modelprof.measure.profilereport import Ceilings, ProfileReport
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings
from modelprof.render.html import FLOPS_COLOUR, TIME_COLOUR, profile_html

FAST = RunSettings(threads=2, warmup=2, iterations=5)
RUNTIMES = ("openvino", "onnxruntime")
_cache: dict[str, ProfileReport] = {}


def seed_report(runtime: str) -> ProfileReport:
    if runtime not in _cache:
        _cache[runtime] = profile("seed-cnn", runtime=runtime, settings=FAST)
    return _cache[runtime]


def svg(page: str, chart_id: str) -> str:
    match = re.search(rf'<svg id="{chart_id}".*?</svg>', page, re.S)
    assert match, f"no <svg id={chart_id}>"
    return match.group(0)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_page_is_self_contained_and_shows_every_layer(runtime: str) -> None:
    report = seed_report(runtime)
    page = profile_html(report)

    assert page.startswith("<!DOCTYPE html>")
    lowered = page.lower()
    for outside in ("http://", "https://", "<script src", "<link", "url(", "@import", "<img"):
        assert outside not in lowered, f"page reaches outside itself: {outside}"

    for layer in report.layers:
        assert f">{layer.name}<" in page or f">{layer.name} <" in page, layer.name
    assert "seed-cnn" in page and report.runtime_version in page
    assert "FLOPs (per inference)" in page and "GFLOP/s" in page

    # seed-cnn's five costed layers (two convs, the pool, two dense) each get a roofline point
    # once timed; Flatten (no FLOPs) and the Reorders ONNX Runtime inserts (no FLOPs) do not
    timed = [
        layer
        for layer in report.layers
        if not layer.folded_into and layer.time_us > 0 and layer.flops > 0
    ]
    assert {layer.name for layer in report.layers if layer.flops > 0} == {
        "/conv1/Conv",
        "/pool/AveragePool",
        "/conv2/Conv",
        "/fc1/MatMul",
        "/fc2/MatMul",
    }
    roofline = svg(page, "chart-roofline")
    assert roofline.count('class="point"') == len(timed) >= 4

    # two bars (time share, FLOPs share) per timed runtime layer
    shown = [layer for layer in report.layers if not layer.folded_into and layer.time_us > 0]
    share = svg(page, "chart-share")
    assert share.count('class="bar time"') == share.count('class="bar flops"') == len(shown)
    optype = svg(page, "chart-optype")
    assert optype.count('class="bar"') == len({layer.op for layer in shown})


def test_roofline_places_faster_layers_higher_and_denser_layers_further_right() -> None:
    report = seed_report("openvino")
    points = re.findall(
        r'<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" class="point"[^>]*><title>([^<]*)',
        svg(profile_html(report), "chart-roofline"),
    )
    by_name = {title.split(" (")[0]: (float(cx), float(cy)) for cx, cy, title in points}
    layers = [layer for layer in report.layers if layer.name in by_name and layer.gflops_per_s]
    assert len(layers) >= 4
    for a in layers:
        for b in layers:
            # SVG y grows downwards: a higher rate is a smaller cy
            if (a.gflops_per_s or 0) > (b.gflops_per_s or 0) * 1.01:
                assert by_name[a.name][1] < by_name[b.name][1]
            if a.intensity > b.intensity * 1.01:
                assert by_name[a.name][0] > by_name[b.name][0]
    # intensity by hand: pool 6,760 FLOPs / (27,040 + 6,760) B = 0.2; fc2 2,560 / 5,672 = 0.45;
    # fc1 154,880 / 312,692 = 0.50 (its 605x128 weights dominate); conv1 121,680 / 30,536 = 3.98;
    # conv2 108,900 / 10,980 = 9.92
    by_hand = ["/pool/AveragePool", "/fc2/MatMul", "/fc1/MatMul", "/conv1/Conv", "/conv2/Conv"]
    left_to_right = [name for name, _ in sorted(by_name.items(), key=lambda kv: kv[1][0])]
    assert left_to_right == [name for name in by_hand if name in by_name]


def test_ceilings_draw_the_roof_and_add_bound_columns() -> None:
    report = seed_report("openvino")
    without = profile_html(report)
    assert 'class="ceiling"' not in without and "modelprof device" in without

    ceilings = Ceilings(peak_gflops_per_s=200.0, bandwidth_gb_per_s=20.0)
    page = profile_html(replace(report, ceilings=ceilings))
    roofline = svg(page, "chart-roofline")
    assert roofline.count('class="ceiling"') == 2  # bandwidth slope, then the flat peak
    assert "peak 200.0 GFLOP/s" in roofline and "memory 20.0 GB/s" in roofline
    assert "ridge 10.0 FLOP/byte" in roofline  # 200 GFLOP/s / 20 GB/s
    assert "<th>bound</th>" in page


def test_text_from_the_model_is_escaped() -> None:
    report = seed_report("openvino")
    evil = '<script>alert("x")</script>'
    layers = tuple(replace(layer, name=evil + layer.name) for layer in report.layers)
    page = profile_html(replace(report, model=evil, layers=layers))
    assert evil not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;/conv1/Conv" in page
    assert page.count("<script>") == 1  # the table sorter only


# ---------------------------------------------------------------- rendered in Chromium

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "the command 'chromium' is missing, so the HTML report cannot be rendered here "
            "(make test installs Debian's chromium package where it runs as root)"
        )
    return path


def run_chromium(tmp_path: Path, page: Path, *extra: str) -> str:
    profile_dir = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) into a (height, width, channels)
    array, with the standard library's zlib and the PNG spec's five row filters."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    assert len(raw) == height * (stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1)
        if kind == 0:
            cur = row.copy()
        elif kind == 1:  # Sub: a running sum along each channel
            cur = (row.reshape(width, bpp).cumsum(axis=0, dtype=np.uint64) % 256).astype(np.uint8)
            cur = cur.reshape(stride)
        elif kind == 2:  # Up
            cur = row + prev
        else:  # Average and Paeth depend on the byte just decoded: one byte at a time
            cur = np.frombuffer(
                _unfilter_sequential(kind, row.tobytes(), prev.tobytes(), bpp), np.uint8
            )
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)


def _unfilter_sequential(kind: int, row: bytes, prev: bytes, bpp: int) -> bytearray:
    out = bytearray(row)
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        b = prev[i]
        if kind == 3:
            out[i] = (out[i] + (a + b) // 2) & 0xFF
            continue
        c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return out


def pixels_of(image: np.ndarray, colour: str) -> int:
    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return int(np.all(image[:, :, :3] == rgb, axis=2).sum())


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium()  # fail first, with the install hint, when it is missing
    report = seed_report("openvino")
    page = tmp_path / "profile.html"
    page.write_text(profile_html(report), encoding="utf-8")

    dom = run_chromium(tmp_path, page, "--dump-dom")
    for chart_id in ("chart-share", "chart-optype", "chart-roofline"):
        assert f'id="{chart_id}"' in dom
    timed = [layer for layer in report.layers if not layer.folded_into and layer.time_us > 0]
    assert dom.count('class="bar time"') == len(timed)
    assert dom.count('class="point"') == sum(1 for layer in timed if layer.flops > 0)
    assert all(layer.name in dom for layer in report.layers)

    shot = tmp_path / "profile.png"
    run_chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1400,2000")
    assert shot.exists(), "chromium wrote no screenshot"
    assert shot.stat().st_size > 20_000
    image = read_png(shot)
    assert image.shape[:2] == (2000, 1400)
    rgb = image[:, :, :3].astype(np.uint32)
    colours = np.unique(rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2])
    assert len(colours) > 50, "the screenshot is (nearly) a single colour"
    # the bars were painted: solid fills of both bar colours cover real area
    assert pixels_of(image, TIME_COLOUR) > 500
    assert pixels_of(image, FLOPS_COLOUR) > 500
