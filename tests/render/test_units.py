"""render/units: one formatter per unit, and the envelope every JSON document starts with."""

from __future__ import annotations

import pytest

from modelprof import budgets
from modelprof._version import __version__
from modelprof.render import jsondoc, units


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (0.0, "0.0 us"),
        (812.44, "812.4 us"),
        (999.94, "999.9 us"),
        (1000.0, "1.00 ms"),
        (37_104.0, "37.10 ms"),
        (79_669.6, "79.67 ms"),
        (999_994.0, "999.99 ms"),
        (1_000_000.0, "1.00 s"),
        (1_523_000.0, "1.52 s"),
    ],
)
def test_duration_takes_microseconds(us: float, text: str) -> None:
    assert units.duration(us) == text


def test_the_compact_size_formatter_is_the_budgets_one() -> None:
    """One implementation: the device probes and the budget verdicts (below render/) need it
    too, so render/units re-exports the root's."""
    assert units.format_size is budgets.format_size
    assert units.format_size(64 * 2**20, True, binary=True) == "64 MiB"
    assert units.format_size(512 * 2**10, True, binary=True) == "512 KiB"
    assert units.format_size(20_000_000, True) == "20 MB"


def test_human_keeps_small_counts_exact() -> None:
    assert units.human(394_780) == "394,780"
    assert units.human(317_040, "B") == "317,040 B"
    assert units.human(1_810_000_000, "B") == "1.81 GB"


def test_the_envelope_keys_and_their_order() -> None:
    assert list(jsondoc.envelope("count").items()) == [
        ("schema_version", 1),
        ("kind", "count"),
        ("modelprof_version", __version__),
    ]
    assert list(jsondoc.envelope("profile", "throughput")) == [
        "schema_version",
        "kind",
        "mode",
        "modelprof_version",
    ]
    # a fresh dict each time: a document adding keys never changes the next one's envelope
    first = jsondoc.envelope("diff")
    first["extra"] = 1
    assert "extra" not in jsondoc.envelope("diff")
