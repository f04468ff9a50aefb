"""Which PostgreSQL failures mean "unavailable, try again" rather than "this event cannot be applied"."""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

# SQLSTATE classes that mean the database is unavailable or busy, not that an event is bad: connection (08),
# transaction rollback (40: serialization failure, deadlock), insufficient resources (53), operator intervention
# (57: shutdown, cannot connect now), system error (58). A data error (22), a constraint violation (23) or a
# program limit (54: an index row too large) is the event's fault: retrying cannot help.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def is_transient_postgres_error(error: BaseException) -> bool:
    if isinstance(error, PoolTimeout | psycopg.InterfaceError):
        return True
    if isinstance(error, psycopg.Error):
        state = error.sqlstate
        if state is None:
            return isinstance(error, psycopg.OperationalError)  # the connection failed client-side
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return isinstance(error, ConnectionError | TimeoutError)
