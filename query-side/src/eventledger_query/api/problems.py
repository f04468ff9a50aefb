"""The query service's problem types (RFC 9457): a read model behind (503 with ``Retry-After``), a bad parameter,
and a read model unavailable. The ``Problem`` itself and its handlers are the runtime kit's."""

from __future__ import annotations

from fastapi import FastAPI

from eventledger_query.consistency import NotYetVisible
from eventledger_runtime.problems import PROBLEM_JSON, Problem, invalid
from eventledger_runtime.problems import install as install_problems

__all__ = ["PROBLEM_JSON", "Problem", "install", "invalid"]


def not_yet_visible(exc: NotYetVisible) -> Problem:
    return Problem(
        503,
        "read_model_behind",
        "Read model behind",
        str(exc),
        headers={"Retry-After": "1", "X-Read-Position": str(exc.reached)},
        wanted_position=exc.wanted,
        read_position=exc.reached,
    )


def install(app: FastAPI) -> None:
    install_problems(
        app,
        errors={NotYetVisible: not_yet_visible},
        unexpected=lambda _: Problem(
            503,
            "read_model_unavailable",
            "Read model unavailable",
            "try again shortly",
            headers={"Retry-After": "2"},
        ),
    )
