"""Which PostgreSQL failures the projector retries forever (the database is unavailable) and which it treats as
the events' fault (retried a few times, then the poison event is parked)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import PoolTimeout

from eventledger_projections.postgres.errors import is_transient_postgres_error
from eventledger_projections.postgres.fold import UnappliableEvent


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection refused"),
        psycopg.InterfaceError("the connection is closed"),
        PoolTimeout("no connection in 30 s"),
        errors.DeadlockDetected("deadlock"),
        errors.SerializationFailure("could not serialize"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is starting up"),
        errors.TooManyConnections("too many clients"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_unavailability_is_transient(error: BaseException) -> None:
    assert is_transient_postgres_error(error)


@pytest.mark.parametrize(
    "error",
    [
        errors.ProgramLimitExceeded("index row size exceeds btree maximum"),
        errors.NumericValueOutOfRange("bigint out of range"),
        errors.CheckViolation("new row violates check constraint"),
        errors.NotNullViolation("null value in column"),
        UnappliableEvent("credit for an account never seen opened"),
        ValueError("a bug"),
    ],
)
def test_faults_of_the_events_are_not(error: BaseException) -> None:
    assert not is_transient_postgres_error(error)
