"""The write side's problem types (RFC 9457): domain refusals and concurrency conflicts. The ``Problem`` itself and
its handlers are the runtime kit's (:mod:`eventledger_runtime.problems`)."""

from __future__ import annotations

from fastapi import FastAPI

from eventledger_command.domain import DomainError, InvalidCommandError, NotFoundError, RuleViolationError
from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_runtime.personal import SubjectErased
from eventledger_runtime.problems import PROBLEM_JSON, Problem, invalid, validation_problem
from eventledger_runtime.problems import install as install_problems

__all__ = ["PROBLEM_JSON", "Problem", "from_conflict", "from_domain", "install", "invalid", "validation_problem"]

_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code", "extra", "headers"})


def from_domain(error: DomainError) -> Problem:
    if isinstance(error, NotFoundError):
        status = 404
    elif isinstance(error, RuleViolationError):
        status = 409
    elif isinstance(error, InvalidCommandError):
        status = 422
    else:
        status = 409
    title = error.code.replace("_", " ").capitalize()
    # Details become extension members; one that would shadow a standard member is renamed
    # (a transfer's "status" becomes "current_status").
    details = {(f"current_{key}" if key in _RESERVED else key): value for key, value in error.details.items()}
    problem = Problem(status, error.code, title, error.message)
    problem.extra.update(details)
    return problem


def from_conflict(error: ConcurrencyConflict) -> Problem:
    return Problem(
        409,
        "concurrency_conflict",
        "Concurrency conflict",
        "another command changed the same account at the same moment; send the command again",
        stream_id=error.stream_id,
    )


def from_erased(error: SubjectErased) -> Problem:
    """410: the account's holder was erased; no personal data about it is recorded any more (a movement without a
    description still goes through). Gone rather than 409: no change of state can make it acceptable again."""
    return Problem(
        410,
        "personal_data_erased",
        "Personal data erased",
        "the account holder's personal data was erased: send the command without personal data (no description)",
        subject=error.subject,
    )


def install(app: FastAPI) -> None:
    """Map every error to problem+json: the domain's refusals, concurrency conflicts, and a logged 500 for the rest."""
    install_problems(
        app,
        errors={DomainError: from_domain, ConcurrencyConflict: from_conflict, SubjectErased: from_erased},
        unexpected=lambda _: Problem(500, "internal_error", "Internal error", "the error was logged"),
    )
