"""The parts of `make bench` (bench/run.py) that read other programs' output."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_rows_printed_by_another_bench_script_are_read_with_their_units(bench: ModuleType) -> None:
    output = "\n".join(
        [
            "a table for people, ignored",
            'BENCH-ROW {"label": "QBR job", "value_s": 1.5, "baseline_s": 0.5, "ratio": 3.0,'
            ' "goal": 4, "ok": true, "note": "median of 5"}',
            'BENCH-ROW {"label": "bulk upsert", "value": 800, "baseline": 2000, "ratio": 0.4,'
            ' "goal": 0.25, "ok": false}',
        ]
    )
    rows, problems = bench.parse_rows("documents.py", output)
    assert problems == []
    assert [(r.label, r.value, r.baseline, r.ratio, r.goal, r.ok, r.note) for r in rows] == [
        ("QBR job", "1.500 s", "0.500 s", 3.0, 4.0, True, "median of 5"),
        ("bulk upsert", "800.0", "2,000.0", 0.4, 0.25, False, ""),
    ]


def test_an_unreadable_row_is_reported_and_the_others_are_kept(bench: ModuleType) -> None:
    output = 'BENCH-ROW {"label": "fine", "value": 1}\nBENCH-ROW {oops\nBENCH-ROW {"value": 2}'
    rows, problems = bench.parse_rows("api.py", output)
    assert [r.label for r in rows] == ["fine"]
    assert len(problems) == 2
    assert all(p.startswith("api.py: unreadable row") for p in problems)


def test_rounds_add_up_to_one_row_that_keeps_the_worst_tail(bench: ModuleType) -> None:
    rounds = [
        bench.WrkResult(100.0, 10.0, 50.0, 400, 0, {"timeout": 1}),
        bench.WrkResult(50.0, 20.0, 90.0, 200, 2, {"timeout": 2}),
        bench.WrkResult(75.0, 15.0, 60.0, 300, 0, {}),
    ]
    row = bench.combine(rounds, 12)
    assert row.requests == 900
    assert row.requests_per_second == 75.0
    assert (row.p50_ms, row.p99_ms) == (15.0, 90.0)
    assert row.errors == 2 + 3
