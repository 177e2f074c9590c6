"""Shared pieces of the benchmarks: a result row, timing, a fresh advisor workspace."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    bench: str
    measure: str
    value: str
    goal: str = ""
    verdict: str = ""


def median_time(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="plantech-bench-"))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"
