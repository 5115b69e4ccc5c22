"""Small statistics and timing helpers shared by every section."""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def p99(values: list[float]) -> float:
    return percentile(values, 99.0)


def growth_exponent(sizes: list[float], values: list[float]) -> float | None:
    """Slope of log(value) against log(size): 1.0 is linear growth, below 1 is sub-linear."""
    points = [(math.log(s), math.log(v)) for s, v in zip(sizes, values, strict=True) if v > 0]
    if len(points) < 2:
        return None
    mean_x = sum(p[0] for p in points) / len(points)
    mean_y = sum(p[1] for p in points) / len(points)
    var_x = sum((p[0] - mean_x) ** 2 for p in points)
    if var_x == 0:
        return None
    cov = sum((p[0] - mean_x) * (p[1] - mean_y) for p in points)
    return cov / var_x


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes (perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class PeakRss:
    """Sample the resident memory of a process and its children; keep the peak.

    A sampler rather than `ru_maxrss` so the peak can be scoped to one phase and covers
    child processes (uvicorn workers, a Chroma server).
    """

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_bytes = 0

    def _sample(self) -> None:
        total = 0
        try:
            procs = [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue  # a child that just exited
        self.peak_bytes = max(self.peak_bytes, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def reset(self) -> None:
        self.peak_bytes = 0

    def start(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sample()
        return self.peak_bytes


@contextmanager
def peak_rss(pid: int) -> Iterator[PeakRss]:
    sampler = PeakRss(pid).start()
    try:
        yield sampler
    finally:
        sampler.stop()


MIB = 1024 * 1024
