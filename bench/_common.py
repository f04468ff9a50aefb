"""Shared plumbing for benchmarks: alternated rounds, medians, ratios (:func:`compare` does it all), a scratch
database."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from tests.support.processes import scratch_database

__all__ = ["alternate", "compare", "report", "scratch_database", "timed_rate"]


def timed_rate(work: Callable[[], int]) -> float:
    """Run ``work`` (which returns how many operations it did) and answer operations per second."""
    began = time.perf_counter()
    count = work()
    return count / (time.perf_counter() - began)


def alternate(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each contender once per round, in turn, so that drift on the machine hits them alike."""
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(rounds):
        for name, run in contenders.items():
            rate = run()
            results[name].append(rate)
            print(f"  round {round_number + 1}: {name:<34} {rate:12,.0f} /s", flush=True)
    return results


def report(
    title: str, results: dict[str, list[float]], ratios: list[tuple[str, str, float] | tuple[str, str, float, str]]
) -> None:
    """Print medians and the ratios PRODUCT.md §6 asks for: (numerator, denominator, target[, "≥" or "≤"])."""
    print(f"\n{title}")
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    for name, median in medians.items():
        print(f"  median {name:<34} {median:12,.0f} /s")
    for numerator, denominator, target, *direction in ratios:
        ratio = medians[numerator] / medians[denominator]
        at_most = direction == ["≤"]
        verdict = "meets" if (ratio <= target if at_most else ratio >= target) else "MISSES"
        print(
            f"  ratio {numerator} / {denominator} = {ratio:.2f} ({verdict} target {'≤' if at_most else '≥'} {target})"
        )


def compare(
    title: str,
    rounds: int,
    contenders: dict[str, Callable[[], float]],
    ratios: list[tuple[str, str, float] | tuple[str, str, float, str]],
) -> None:
    """The contenders run in alternated rounds (:func:`alternate`), then their medians and ratios (:func:`report`)."""
    report(title, alternate(rounds, contenders), ratios)
