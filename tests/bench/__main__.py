"""`make bench`: run every benchmark and print one table (`--write` updates docs/BENCHMARKS.md).

Benchmarks compare against a baseline measured in the same run (a ratio), because these
machines are shared and noisy; they are not part of `make test`.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

from tests.bench.common import Row

NOTES = "<!-- notes: kept across make bench --write -->"
MODULES = ["tests.bench.bench_pull", "tests.bench.bench_firm", "tests.bench.bench_startup", "tests.bench.bench_tui",
           "tests.bench.bench_pull_keys"]


def table(rows: list[Row]) -> str:
    head = ["benchmark", "measure", "value", "goal / note", "verdict"]
    cells = [head] + [[r.bench, r.measure, r.value, r.goal, r.verdict] for r in rows]
    return "\n".join("| " + " | ".join(c) + " |" + ("\n|" + "---|" * len(head) if i == 0 else "")
                     for i, c in enumerate(cells))


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--only", help="substring of a benchmark function name")
    parser.add_argument("--write", action="store_true", help="rewrite docs/BENCHMARKS.md")
    args = parser.parse_args()
    rows: list[Row] = []
    for name in MODULES:
        module = importlib.import_module(name)
        for bench in module.BENCHMARKS:
            if args.only and args.only not in bench.__name__:
                continue
            print(f"running {bench.__name__} …", file=sys.stderr, flush=True)
            rows += bench()
    out = table(rows)
    print(out)
    if args.write:
        path = Path("docs/BENCHMARKS.md")
        stamp = time.strftime("%Y-%m-%d")
        notes = ""  # the hand-written analysis after the marker survives a rewrite
        if path.exists() and NOTES in path.read_text(encoding="utf-8"):
            notes = path.read_text(encoding="utf-8").split(NOTES, 1)[1]
        path.write_text(
            "# Benchmarks\n\nProduced by `make bench` (`python -m tests.bench --write`) on "
            f"{stamp}, {platform.machine()}, Python {platform.python_version()}, "
            "2 cores (shared, noisy: ratios against a baseline measured in the same run are "
            "what count).\n\n" + out + "\n\n" + NOTES + notes, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
