"""The one timing method of the in-process benchmarks (notes/perf-baselines.md): the loop count
calibrated to about `target_s` a run, `timeit.repeat` `repeat` times, the median per call."""

import statistics
import timeit


def per_call(fn, target_s: float = 0.2, repeat: int = 7) -> float:
    """Seconds per call of `fn`: the median of `repeat` calibrated runs."""
    n = 1
    while True:
        t = timeit.timeit(fn, number=n)
        if t >= 0.02:
            break
        n *= 4
    n = max(1, int(n * target_s / t))
    return statistics.median(r / n for r in timeit.repeat(fn, number=n, repeat=repeat))


def per_call_us(fn, target_s: float = 0.2, repeat: int = 7) -> float:
    """Microseconds per call of `fn`."""
    return per_call(fn, target_s, repeat) * 1e6
