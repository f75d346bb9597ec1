"""The table `make bench` ends with: one row per target, with the baseline measured in
the same run, the figure measured, their ratio, the target and whether it was met.
Each benchmark records its rows before it asserts, so a missed target still shows."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    benchmark: str
    baseline: str
    measured: str
    ratio: str
    target: str
    met: bool


ROWS: list[Row] = []
COLUMNS = ("benchmark", "baseline", "measured", "ratio", "target", "met")


def record(benchmark: str, baseline: str, measured: str, ratio: str, target: str, met: bool) -> bool:
    ROWS.append(Row(benchmark, baseline, measured, ratio, target, bool(met)))
    return bool(met)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table() -> list[str]:
    cells = [COLUMNS] + [(r.benchmark, r.baseline, r.measured, r.ratio, r.target, "yes" if r.met else "NO")
                         for r in ROWS]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
    met = sum(r.met for r in ROWS)
    return ([f"Benchmark summary: {met} of {len(ROWS)} targets met", line(COLUMNS),
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(row) for row in cells[1:]])
