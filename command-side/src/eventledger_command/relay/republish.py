"""``python -m eventledger_command.relay.republish``: publish the whole log to Kafka again, from position 0.

For when Kafka lost its topics (docs/operations.md, "Republish the Kafka topics"): the relay's checkpoint is moved
back to 0 in a new term (``rewind_checkpoint``), so the leading relay, if one runs, is deposed at its next save, and
whichever relay leads next publishes every event again into the topics of ``EVENTLEDGER_NAMESPACE``. Events go out
at least once, as always; the read models' rebuilds then start from the republished log.
"""

from __future__ import annotations

import sys

from eventledger_events import ALL_TOPICS
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import settings_or_exit

PROGRAM = "python -m eventledger_command.relay.republish"


def main() -> int:
    no_arguments(PROGRAM, __doc__)
    settings = settings_or_exit("republish")
    checkpoints = PostgresEventLogReader(settings.postgres.dsn, name="republish")
    try:
        was = checkpoints.rewind_checkpoint(settings.relay.checkpoint_name, 0)
    finally:
        checkpoints.close()
    topics = ", ".join(settings.names.topic(topic) for topic in ALL_TOPICS)
    print(f"relay checkpoint {settings.relay.checkpoint_name!r} moved from {was} to 0 in a new term")
    print(f"the leading relay (start one if none runs) now publishes the whole log again into {topics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
