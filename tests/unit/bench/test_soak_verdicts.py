"""How ``bench.soak`` decides its verdicts from samples: a trend is a fitted rise against a quarter of the mean (or a
noise floor), memory is judged against its size after warm-up, any 5xx fails. No timing is measured here."""

from __future__ import annotations

import argparse

from bench.soak import Run, judge, trend


def test_a_noisy_level_series_is_flat_and_a_steady_climb_is_not() -> None:
    level = [(5.0 * n, 100.0 + (7 if n % 2 else -7)) for n in range(100)]
    climbing = [(5.0 * n, 100.0 + n) for n in range(100)]
    assert trend(level, floor=2.0)[0]
    assert not trend(climbing, floor=2.0)[0]


def test_a_rise_below_the_noise_floor_is_flat_even_when_large_against_a_tiny_mean() -> None:
    tiny = [(5.0 * n, 0.001 * n) for n in range(100)]  # 0 → 0.1 s of lag over the window
    assert trend(tiny, floor=0.25)[0]
    assert not trend(tiny, floor=0.01)[0]


def _run(rss_after_warm_up: list[float], statuses: dict[tuple[str, str, int], int]) -> Run:
    run = Run(argparse.Namespace())
    run.rate = 10.0
    for n, rss in enumerate(rss_after_warm_up):
        run.rows.append(
            {
                "t_s": 5.0 * n,
                "phase": "soak",
                "done_per_s": 10.0,
                "p99_ms": 50.0,
                "rss_mb:gateway": rss,
                "rss_mb:load-balancer": 500.0,  # HAProxy is not a Python process of ours: never judged
                "lag_events:redis": 3,
                "lag_seconds:redis": 0.1,
            }
        )
    run.recorder.soak_latencies = [0.01] * 99 + [0.05]
    run.recorder.statuses.update(statuses)
    return run


def _failed(run: Run) -> list[str]:
    return [verdict.criterion for verdict in judge(run) if not verdict.passed]


def test_memory_that_stays_within_the_band_passes_and_every_other_criterion_too() -> None:
    assert _failed(_run([80.0, 84.0, 79.0, 86.0], {("soak", "deposit", 201): 100})) == []


def test_memory_that_leaves_the_band_or_the_limit_fails() -> None:
    assert _failed(_run([80.0, 85.0, 90.0], {})) == ["gateway: RSS within 10% of its size after warm-up"]
    assert "gateway: RSS < 200 MB" in _failed(_run([195.0, 201.0, 199.0], {}))


def test_one_5xx_in_the_soak_fails_but_a_5xx_during_the_ramp_does_not() -> None:
    assert _failed(_run([80.0] * 3, {("ramp-32", "deposit", 503): 5})) == []
    assert _failed(_run([80.0] * 3, {("warm-up", "deposit", 503): 1})) == ["zero 5xx (and no broken connection)"]
