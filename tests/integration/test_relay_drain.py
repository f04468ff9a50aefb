"""The relay drains on SIGTERM (issue 10 item 5, ADR 0018): a leader publishing a backlog under a continuous append
load, told to stop, finishes the batch in hand (published and acknowledged, then recorded in its checkpoint),
releases its leadership and exits 0. Nothing is published past the checkpoint, so a successor starts exactly where
it stopped: the at-least-once overlap a SIGKILL can cause (one batch) does not happen on a clean stop."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.kafka_checker import consume_all
from tests.support.processes import wait_for
from tests.support.relay_cluster import relay_rig
from tests.support.relay_load import Load
from tests.support.servers import Endpoints

from eventledger_events.topics import HEADER_POSITION

BATCH = 200
EXIT_WITHIN_SECONDS = 15.0


def test_sigterm_lets_the_leader_finish_its_batch_then_exit_0(endpoints: Endpoints, tmp_path: Path) -> None:
    with relay_rig(1, name="drain", log_dir=tmp_path, batch_size=BATCH) as rig:
        store, relay = rig.store, rig.cluster
        with Load(store, max_seconds=60) as load:
            relay.start()
            wait_for(lambda: rig.checkpoint()[0] > 0, 60, f"the relay to publish:\n{relay.log_tails()}")
            time.sleep(1.0)  # well into the load: a batch is in hand whenever the signal lands
            process = relay.instances[0].process.process
            assert process is not None
            process.terminate()
            code = process.wait(EXIT_WITHIN_SECONDS)
        assert not load.errors, load.errors
        assert code == 0, relay.log_tails()
        checkpoint = rig.checkpoint()[0]
        assert store.head_position() > checkpoint, "the load went on after the relay stopped"
        recorded = [e.position for e in store.read_all(limit=1_000_000, wait=0) if e.position <= checkpoint]
        delivered = consume_all(rig.settings.kafka_bootstrap, rig.topics, expected=len(recorded), timeout=60)
        positions = sorted(int(d.headers[HEADER_POSITION]) for d in delivered)
        # Every event up to the checkpoint once, nothing past it: the batch in hand was finished and recorded.
        assert positions == recorded, (
            f"published {len(positions)} events up to {positions[-1] if positions else 0}; "
            f"recorded {len(recorded)} up to the checkpoint {checkpoint}"
        )
