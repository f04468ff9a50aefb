"""Where a PostgreSQL replay from Kafka spends its time after ADR 0039 (records folded straight into rows): the
log of ``bench.bench_projection_postgres`` replayed once under cProfile, the top functions by cumulative and by
own time printed.

Run with the servers up: ``flock /tmp/eventledger-system.lock .venv/bin/python -m bench.profile_replay``.
"""

from __future__ import annotations

import cProfile
import pstats

from bench._replay import published_log
from bench.bench_projection_postgres import EVENTS, build_log, projection_rate
from eventledger_infra.settings import Settings

TOP = 25


def main() -> None:
    with published_log(Settings.from_env(), build_log, f"a log of {EVENTS:,} events") as log:
        projection_rate(log)  # warm: the registry's schemas, prepared statements
        profiler = cProfile.Profile()
        profiler.enable()
        rate = projection_rate(log)
        profiler.disable()
        print(f"records path under cProfile: {rate:,.0f} events/s")
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("cumulative").print_stats(TOP)
        stats.sort_stats("tottime").print_stats(TOP)


if __name__ == "__main__":
    main()
