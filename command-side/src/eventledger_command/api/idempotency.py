"""Exactly-once commands over HTTP: the ``Idempotency-Key`` header (PRODUCT.md §2).

A repeat with the same key and the same request answers the original status and body without doing anything
again; the same key with a different request is refused (422 ``idempotency-key-reused``). Keys are scoped per
caller (the actor the gateway authenticated) and kept at least 24 hours. The first answer is stored in the same
transaction as the command's events; a business refusal is stored too, a transient conflict is not.

The stored request fingerprint is keyed (HMAC-SHA256 under a key derived from the personal-data key-encryption key):
a plain hash of a body holding a holder name would let whoever reads the table confirm a guessed name, even after
the holder was erased. A fingerprint made under a previous key-encryption key still matches during a rotation.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import re
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from eventledger_command.api.problems import PROBLEM_JSON, Problem, from_conflict, from_domain, invalid
from eventledger_command.application.bus import CommandBus
from eventledger_command.application.commands import Command
from eventledger_command.domain import DomainError
from eventledger_command.eventstore.errors import ConcurrencyConflict, IdempotencyKeyTaken
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.records import IdempotencyClaim, StoredIdempotency, StoredResponse
from eventledger_events import EventMetadata

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class Caller:
    """Who sent the request, as the gateway tells us."""

    actor: str
    correlation_id: uuid.UUID
    idempotency_key: str | None

    @classmethod
    def of(cls, request: Request) -> Caller:
        actor = request.headers.get("x-actor", "").strip() or "anonymous"
        raw_correlation = request.headers.get("x-correlation-id") or request.headers.get("x-request-id")
        try:
            correlation = uuid.UUID(raw_correlation) if raw_correlation else uuid.uuid4()
        except ValueError:
            correlation = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:eventledger:correlation:{raw_correlation}")
        key = request.headers.get("idempotency-key")
        if key is not None and not _KEY.match(key):
            raise invalid("header.idempotency-key", "1 to 255 visible ASCII characters")
        return cls(actor[:200], correlation, key)


class Fingerprints:
    """Request fingerprints keyed by ``secrets`` (the current one first; none: a plain SHA-256, for tests)."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self._keys = [hashlib.sha256(b"eventledger idempotency fingerprint\0" + s.encode()).digest() for s in secrets]

    def of(self, request: bytes) -> tuple[str, ...]:
        """The fingerprint to store (first), then those a stored one may still carry."""
        if not self._keys:
            return (hashlib.sha256(request).hexdigest(),)
        return tuple(hmac.new(key, request, hashlib.sha256).hexdigest() for key in self._keys)


def _replay(stored: StoredIdempotency, fingerprints: Sequence[str]) -> Response:
    """The stored answer, or a refusal when the key was first used for another request."""
    if stored.request_fingerprint not in fingerprints:
        raise Problem(
            422,
            "idempotency_key_reused",
            "Idempotency key reused",
            "this Idempotency-Key was already used with a different request; use a new key for a new request",
        )
    media = PROBLEM_JSON if stored.response.status_code >= 400 else "application/json"
    return Response(
        stored.response.body,
        status_code=stored.response.status_code,
        media_type=media,
        headers={"Idempotent-Replayed": "true"},
    )


class CommandRunner:
    """Runs one command for one HTTP request, with the idempotency semantics above.

    :meth:`answer` is what the (async) routes await. A store that blocks on I/O (PostgreSQL) runs the command on a
    thread of the runner's own pool of ``threads`` (the request's context, hence its correlation id and span, goes
    along); a store that never waits (in memory) runs it on the event loop, which spares a thread hand-off that cost
    more than the command itself (ADR 0036). ``close`` ends the pool.
    """

    def __init__(
        self,
        bus: CommandBus,
        store: EventStore,
        fingerprints: Fingerprints | None = None,
        *,
        blocking: bool = True,
        threads: int = 20,
    ) -> None:
        self._bus = bus
        self._store = store
        self._fingerprints = fingerprints or Fingerprints()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="command") if blocking else None

    async def answer(self, request: Request, command: Command, status_code: int, body: BaseModel | None) -> Response:
        if self._pool is None:
            return self.run(request, command, status_code, body)
        context = contextvars.copy_context()
        run = self.run
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, context.run, run, request, command, status_code, body
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def run(self, request: Request, command: Command, status_code: int, body: BaseModel | None) -> Response:
        """Run ``command``; ``body`` (the validated request body) is read only to fingerprint a keyed request."""
        caller = Caller.of(request)
        path = request.url.path
        metadata = EventMetadata(actor=caller.actor, correlation_id=caller.correlation_id)
        claim = None
        fingerprints: tuple[str, ...] = ()
        if caller.idempotency_key is not None:
            fields = body.model_dump(mode="json") if body is not None else {}
            canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
            fingerprints = self._fingerprints.of(f"{request.method} {path}\n".encode() + canonical)
            claim = IdempotencyClaim(caller.actor, caller.idempotency_key, fingerprints[0])
            stored = self._store.find_idempotency(claim.scope, claim.key)
            if stored is not None:
                return _replay(stored, fingerprints)
        try:
            executed = self._bus.execute(
                command,
                metadata,
                idempotency=claim,
                render=lambda reply: StoredResponse(status_code, orjson.dumps(reply)),
            )
        except IdempotencyKeyTaken as taken:
            return _replay(taken.existing, fingerprints)
        except ConcurrencyConflict as conflict:
            return self._after_conflict(conflict, claim, fingerprints, path)
        except DomainError as refusal:
            return self._after_refusal(refusal, claim, fingerprints, path)
        return Response(orjson.dumps(executed.reply), status_code=status_code, media_type="application/json")

    def _after_conflict(
        self, conflict: ConcurrencyConflict, claim: IdempotencyClaim | None, fingerprints: Sequence[str], path: str
    ) -> Response:
        """A conflict is transient and never stored; but a concurrent request with the same key may have won."""
        stored = self._store.find_idempotency(claim.scope, claim.key) if claim is not None else None
        if claim is not None and stored is not None:
            return _replay(stored, fingerprints)
        return from_conflict(conflict).response(path)

    def _after_refusal(
        self, refusal: DomainError, claim: IdempotencyClaim | None, fingerprints: Sequence[str], path: str
    ) -> Response:
        """A business refusal is the command's answer: remembered under the key like a success."""
        problem = from_domain(refusal)
        if claim is not None:
            already = self._store.remember_response(claim, StoredResponse(problem.status, problem.body(path)))
            if already is not None:
                return _replay(already, fingerprints)
        return problem.response(path)
