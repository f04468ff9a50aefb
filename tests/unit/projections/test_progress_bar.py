"""The rebuild's progress bar: share done, events per second and time left."""

from __future__ import annotations

import io

from eventledger_projections.rebuild.progress import ProgressBar


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bar_shows_rate_and_time_left() -> None:
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(10_000, label="rebuild postgres", stream=out, width=10, clock=clock)
    clock.now += 2.0
    bar.advance(4_000)
    assert bar.render() == ("rebuild postgres [####------]  40.0% 4,000/10,000 events  2,000 events/s  0:00:03 left")


def test_more_work_found_grows_the_total_and_finish_prints_a_last_line() -> None:
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(100, stream=out, clock=clock)
    bar.extend(50)
    clock.now += 1.0
    bar.advance(150)
    bar.finish()
    assert out.getvalue().splitlines()[-1].startswith("rebuild [##############################] 100.0% 150/150 events")


def test_before_any_progress_the_time_left_is_unknown() -> None:
    bar = ProgressBar(10, stream=io.StringIO(), clock=Clock())
    assert bar.render().endswith("0 events/s  --:--:-- left")
