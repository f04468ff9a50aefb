"""One small handler per command, and the table that registers them.

A handler loads what the decision needs, asks the domain, and says how to answer once the append succeeded.
It appends nothing itself: the :class:`~eventledger_command.application.bus.CommandBus` does, with retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eventledger_command.application.commands import (
    CloseAccount,
    Command,
    Deposit,
    ExpireTransfer,
    FreezeAccount,
    MakeTransfer,
    OpenAccount,
    PostTransfer,
    UnfreezeAccount,
    VoidTransfer,
    Withdraw,
)
from eventledger_command.application.repository import LedgerRepository, Loaded
from eventledger_command.domain import (
    Account,
    Decision,
    Transfer,
    ValueDatePolicy,
    ValueDating,
    account_stream_id,
    close_account,
    deposit,
    expire_pending,
    freeze_account,
    open_account,
    post_pending,
    require_account,
    require_transfer,
    transfer,
    transfer_stream_id,
    unfreeze_account,
    void_pending,
    withdrawal,
)
from eventledger_command.eventstore.records import AppendResult

Reply = dict[str, Any]


@dataclass
class Outcome:
    """What a handler decided, the versions it read, and how to answer once appended."""

    decision: Decision
    reply: Callable[[AppendResult], Reply]
    loaded: dict[str, Loaded[Any]] = field(default_factory=dict)

    @property
    def versions(self) -> dict[str, int]:
        return {stream: loaded.version for stream, loaded in self.loaded.items()}

    @property
    def states(self) -> dict[str, Account | Transfer | None]:
        return {stream: loaded.state for stream, loaded in self.loaded.items()}


@dataclass(frozen=True)
class Context:
    repository: LedgerRepository
    now: datetime
    value_dates: ValueDatePolicy = field(default_factory=ValueDatePolicy)

    def dating(self, requested: datetime | None) -> ValueDating:
        """The value date of a movement decided now (``requested`` if the back-dating window allows it)."""
        return self.value_dates.date(requested, now=self.now)


def _account(ctx: Context, account_id: Any) -> tuple[str, Loaded[Account], Account]:
    loaded = ctx.repository.load_account(account_id)
    return account_stream_id(account_id), loaded, require_account(loaded.state, account_id)


def _transfer(ctx: Context, transfer_id: Any) -> tuple[str, Loaded[Transfer], Transfer]:
    loaded = ctx.repository.load_transfer(transfer_id)
    return transfer_stream_id(transfer_id), loaded, require_transfer(loaded.state, transfer_id)


def _account_reply(account_id: Any) -> Callable[[AppendResult], Reply]:
    stream = account_stream_id(account_id)
    return lambda r: {"account_id": str(account_id), "version": r.stream_versions[stream], "position": r.last_position}


def _transfer_reply(transfer_id: Any, status: str) -> Callable[[AppendResult], Reply]:
    return lambda r: {"transfer_id": str(transfer_id), "status": status, "position": r.last_position}


def handle_open_account(cmd: OpenAccount, ctx: Context) -> Outcome:
    decision = open_account(
        account_id=cmd.account_id,
        holder_name=cmd.holder_name,
        currency=cmd.currency,
        overdraft_limit=cmd.overdraft_limit,
    )
    return Outcome(decision, _account_reply(cmd.account_id))


def _status_change(
    cmd: FreezeAccount | UnfreezeAccount | CloseAccount, ctx: Context, decide: Callable[[Account], Decision]
) -> Outcome:
    stream, loaded, account = _account(ctx, cmd.account_id)
    return Outcome(decide(account), _account_reply(cmd.account_id), {stream: loaded})


def handle_freeze(cmd: FreezeAccount, ctx: Context) -> Outcome:
    return _status_change(cmd, ctx, freeze_account)


def handle_unfreeze(cmd: UnfreezeAccount, ctx: Context) -> Outcome:
    return _status_change(cmd, ctx, unfreeze_account)


def handle_close(cmd: CloseAccount, ctx: Context) -> Outcome:
    return _status_change(cmd, ctx, close_account)


def handle_deposit(cmd: Deposit, ctx: Context) -> Outcome:
    stream, loaded, account = _account(ctx, cmd.account_id)
    dating = ctx.dating(cmd.value_date)
    decision = deposit(
        account, transfer_id=cmd.transfer_id, amount=cmd.amount, description=cmd.description, dating=dating
    )
    return Outcome(decision, _transfer_reply(cmd.transfer_id, "posted"), {stream: loaded})


def handle_withdraw(cmd: Withdraw, ctx: Context) -> Outcome:
    stream, loaded, account = _account(ctx, cmd.account_id)
    dating = ctx.dating(cmd.value_date)
    decision = withdrawal(
        account, transfer_id=cmd.transfer_id, amount=cmd.amount, description=cmd.description, dating=dating
    )
    return Outcome(decision, _transfer_reply(cmd.transfer_id, "posted"), {stream: loaded})


def handle_transfer(cmd: MakeTransfer, ctx: Context) -> Outcome:
    source_stream, source_loaded, source = _account(ctx, cmd.from_account_id)
    target_stream, target_loaded, target = _account(ctx, cmd.to_account_id)
    timeout = timedelta(seconds=cmd.timeout_seconds or 0) if cmd.pending else None
    decision = transfer(
        source,
        target,
        transfer_id=cmd.transfer_id,
        amount=cmd.amount,
        now=ctx.now,
        description=cmd.description,
        timeout=timeout,
        dating=ctx.dating(cmd.value_date),
    )
    status = "pending" if cmd.pending else "posted"
    return Outcome(
        decision, _transfer_reply(cmd.transfer_id, status), {source_stream: source_loaded, target_stream: target_loaded}
    )


def handle_post(cmd: PostTransfer, ctx: Context) -> Outcome:
    stream, loaded, pending = _transfer(ctx, cmd.transfer_id)
    source_stream, source_loaded, source = _account(ctx, pending.from_account_id)
    target_stream, target_loaded, target = _account(ctx, pending.to_account_id)
    decision = post_pending(pending, source, target, now=ctx.now)
    return Outcome(
        decision,
        _transfer_reply(cmd.transfer_id, "posted"),
        {stream: loaded, source_stream: source_loaded, target_stream: target_loaded},
    )


def handle_void(cmd: VoidTransfer, ctx: Context) -> Outcome:
    stream, loaded, pending = _transfer(ctx, cmd.transfer_id)
    source_stream, source_loaded, source = _account(ctx, pending.from_account_id)
    decision = void_pending(pending, source)
    return Outcome(decision, _transfer_reply(cmd.transfer_id, "voided"), {stream: loaded, source_stream: source_loaded})


def handle_expire(cmd: ExpireTransfer, ctx: Context) -> Outcome:
    stream, loaded, pending = _transfer(ctx, cmd.transfer_id)
    source_stream, source_loaded, source = _account(ctx, pending.from_account_id)
    decision = expire_pending(pending, source, now=ctx.now)
    return Outcome(
        decision, _transfer_reply(cmd.transfer_id, "expired"), {stream: loaded, source_stream: source_loaded}
    )


def _no_streams(cmd: OpenAccount, repository: LedgerRepository) -> tuple[str, ...]:
    return ()  # a new stream: two opens of one id must conflict, and nothing else writes it


def _account_streams(
    cmd: FreezeAccount | UnfreezeAccount | CloseAccount | Deposit | Withdraw, repository: LedgerRepository
) -> tuple[str, ...]:
    return (account_stream_id(cmd.account_id),)


def _transfer_streams(cmd: MakeTransfer, repository: LedgerRepository) -> tuple[str, ...]:
    return account_stream_id(cmd.from_account_id), account_stream_id(cmd.to_account_id)


def _pending_streams(
    cmd: PostTransfer | VoidTransfer | ExpireTransfer, repository: LedgerRepository, *, both: bool
) -> tuple[str, ...]:
    # A transfer's accounts never change once it exists, so reading them before taking the locks is safe.
    pending = repository.load_transfer(cmd.transfer_id).state
    if pending is None:
        return (transfer_stream_id(cmd.transfer_id),)
    accounts = (pending.from_account_id, pending.to_account_id) if both else (pending.from_account_id,)
    return transfer_stream_id(cmd.transfer_id), *(account_stream_id(a) for a in accounts)


def _post_streams(cmd: PostTransfer, repository: LedgerRepository) -> tuple[str, ...]:
    return _pending_streams(cmd, repository, both=True)


def _release_streams(cmd: VoidTransfer | ExpireTransfer, repository: LedgerRepository) -> tuple[str, ...]:
    return _pending_streams(cmd, repository, both=False)


@dataclass(frozen=True)
class Registration:
    handler: Callable[[Any, Context], Outcome]
    # Movements commute with each other: after a concurrency conflict they are decided again on fresh state and
    # retried. Status changes are not: their conflict is reported to the caller.
    retry_on_conflict: bool
    # The existing streams the command may write. The bus decides and appends while it holds their locks
    # (EventStore.exclusive), so that commands on one hot account wait for each other instead of conflicting
    # (docs/adr/0017-hot-streams-serialised-per-stream.md). The version check on append stays the guarantee.
    streams: Callable[[Any, LedgerRepository], tuple[str, ...]]


HANDLERS: dict[type[Command], Registration] = {
    OpenAccount: Registration(handle_open_account, retry_on_conflict=False, streams=_no_streams),
    FreezeAccount: Registration(handle_freeze, retry_on_conflict=False, streams=_account_streams),
    UnfreezeAccount: Registration(handle_unfreeze, retry_on_conflict=False, streams=_account_streams),
    CloseAccount: Registration(handle_close, retry_on_conflict=False, streams=_account_streams),
    Deposit: Registration(handle_deposit, retry_on_conflict=True, streams=_account_streams),
    Withdraw: Registration(handle_withdraw, retry_on_conflict=True, streams=_account_streams),
    MakeTransfer: Registration(handle_transfer, retry_on_conflict=True, streams=_transfer_streams),
    PostTransfer: Registration(handle_post, retry_on_conflict=True, streams=_post_streams),
    VoidTransfer: Registration(handle_void, retry_on_conflict=True, streams=_release_streams),
    ExpireTransfer: Registration(handle_expire, retry_on_conflict=True, streams=_release_streams),
}
