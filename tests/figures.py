"""Figures the proof battery measures in `make test`, for `make proof`'s summary line.

A test adds what it measured with `figure_add("authz", cases=1190, leaks=0)`; at the end of
the session each part that was measured is written to `test-results/figures/<part>.json` as
{"summary": "authz 0/1190 leaks", "counts": {...}}, which bench/proof.py reads. A part no test
measured in this session keeps the file of an earlier run, so running one module alone does
not wipe the figures of the whole suite.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

FIGURES = Path(__file__).resolve().parents[1] / "test-results" / "figures"

_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)


def _authz(c: Counter[str]) -> str:
    return f"authz {c['leaks']}/{c['cases']} leaks"


def _bad_inputs(c: Counter[str]) -> str:
    return f"bad inputs {c['tried']} tried, {c['server_errors']} server errors"


def _audit(c: Counter[str]) -> str:
    paths = c["paths"]
    share = 100 * c["audited"] // paths if paths else 0
    return f"audit {share}% of write paths ({c['audited']}/{paths})"


SUMMARIES: dict[str, Callable[[Counter[str]], str]] = {
    "authz": _authz,
    "bad-inputs": _bad_inputs,
    "audit": _audit,
}


def figure_add(part: str, **counts: int) -> None:
    """Add to a part's counts; `part` is one of SUMMARIES."""
    if part not in SUMMARIES:
        raise KeyError(f"unknown figure part {part!r}; add it to tests/figures.py SUMMARIES")
    _counts[part].update(counts)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _counts:
        return
    FIGURES.mkdir(parents=True, exist_ok=True)
    for part, counts in _counts.items():
        body = {"summary": SUMMARIES[part](counts), "counts": dict(counts)}
        (FIGURES / f"{part}.json").write_text(json.dumps(body, indent=2) + "\n")
