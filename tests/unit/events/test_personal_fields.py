"""The personal fields the event contracts mark, and sealing them for every subject they are about (nested)."""

from __future__ import annotations

import uuid

import pytest
from tests.support.event_samples import ACCOUNT_ID, OTHER_ACCOUNT_ID, sample_payloads

import eventledger_events as ev
from eventledger_events.personal import (
    ERASED,
    DataKey,
    SealError,
    is_sealed,
    key_id_of,
    open_event,
    open_sealed,
    open_with,
    personal_subjects,
    seal,
    seal_event,
    seal_for,
    subject_of,
)

pytestmark = pytest.mark.unit


def _keys(*accounts: uuid.UUID) -> dict[str, DataKey]:
    return {subject_of(account): DataKey.generate(subject_of(account)) for account in accounts}


def _by_id(keys: dict[str, DataKey]) -> dict[str, DataKey | None]:
    return {key.key_id: key for key in keys.values()}


def test_the_holder_name_and_every_description_are_marked_personal() -> None:
    marked = {model.full_name(): model.PERSONAL_FIELDS for model in ev.EVENT_REGISTRY.models() if model.PERSONAL_FIELDS}
    assert marked == {
        "account.opened.v1": {"holder_name"},
        "account.opened.v2": {"holder_name"},
        "account.credited.v1": {"description"},
        "account.credited.v2": {"description"},
        "account.debited.v1": {"description"},
        "account.debited.v2": {"description"},
        "transfer.posted.v1": {"description"},
        "transfer.posted.v2": {"description"},
        "transfer.pending_created.v1": {"description"},
    }
    for model in ev.EVENT_REGISTRY.models():
        text_fields = {name for name in model.model_fields if name in {"holder_name", "description"}}
        assert text_fields == set(model.PERSONAL_FIELDS), model.full_name()
        assert set(model.PERSONAL_SUBJECTS) <= set(model.model_fields), model.full_name()


def test_nested_sealing_needs_every_key_and_erasing_either_party_erases_it() -> None:
    keys = _keys(ACCOUNT_ID, OTHER_ACCOUNT_ID)
    both = list(keys.values())
    sealed = seal_for("rent for Ada's flat", both, "description")
    assert is_sealed(sealed)
    assert "Ada" not in sealed
    assert key_id_of(sealed) == both[-1].key_id  # the outer layer is the last key's
    assert open_with(sealed, _by_id(keys).get, "description") == "rent for Ada's flat"
    for erased in both:
        lookup = {k.key_id: (None if k is erased else k) for k in both}
        assert open_with(sealed, lookup.get, "description") == ERASED
    with pytest.raises(SealError):  # bound to its field, layer by layer
        open_with(sealed, _by_id(keys).get, "holder_name")
    with pytest.raises(ValueError, match="at least one key"):
        seal_for("x", [], "description")


def test_a_value_that_is_not_sealed_reads_as_it_is() -> None:
    assert open_with("", lambda _: None, "description") == ""
    assert open_with("written before sealing", lambda _: None, "description") == "written before sealing"


def test_sealing_an_event_seals_its_personal_fields_for_its_subjects() -> None:
    keys = _keys(ACCOUNT_ID, OTHER_ACCOUNT_ID)
    transfer = ev.TransferPosted(
        transfer_id=uuid.uuid4(),
        kind=ev.TransferKind.TRANSFER,
        from_account_id=ACCOUNT_ID,
        to_account_id=OTHER_ACCOUNT_ID,
        amount=5,
        currency="EUR",
        description="rent",
    )
    assert personal_subjects(transfer) == (subject_of(ACCOUNT_ID), subject_of(OTHER_ACCOUNT_ID))
    sealed = seal_event(transfer, keys.__getitem__)
    assert is_sealed(sealed.description)
    assert sealed.model_copy(update={"description": "rent"}) == transfer  # nothing else changed
    inner = open_sealed(sealed.description, keys[subject_of(OTHER_ACCOUNT_ID)], "description")
    assert open_sealed(inner, keys[subject_of(ACCOUNT_ID)], "description") == "rent"
    assert open_event(sealed, _by_id(keys).get) == transfer
    assert seal_event(sealed, keys.__getitem__) is sealed  # already sealed: kept as it is


def test_the_external_account_is_nobody_and_empty_text_is_not_sealed() -> None:
    keys = _keys(ACCOUNT_ID)
    deposit = ev.TransferPosted(
        transfer_id=uuid.uuid4(),
        kind=ev.TransferKind.DEPOSIT,
        from_account_id=ev.external_account_id("EUR"),
        to_account_id=ACCOUNT_ID,
        amount=5,
        currency="EUR",
        description="salary",
    )
    assert personal_subjects(deposit) == (subject_of(ACCOUNT_ID),)
    assert key_id_of(seal_event(deposit, keys.__getitem__).description) == keys[subject_of(ACCOUNT_ID)].key_id
    silent = deposit.model_copy(update={"description": ""})
    assert seal_event(silent, lambda subject: pytest.fail(f"no key needed, asked for {subject}")) is silent


def test_every_sample_event_survives_sealing_and_opening() -> None:
    keys: dict[str, DataKey] = {}

    def key_for(subject: str) -> DataKey:
        return keys.setdefault(subject, DataKey.generate(subject))

    for payload in sample_payloads():
        sealed = seal_event(payload, key_for)
        for name in payload.PERSONAL_FIELDS:
            value = getattr(payload, name)
            assert is_sealed(getattr(sealed, name)) == bool(value), payload.full_name()
        assert open_event(sealed, _by_id(keys).get) == payload


def test_an_opened_erased_value_reads_erased_and_a_tampered_one_refuses() -> None:
    key = DataKey.generate(subject_of(ACCOUNT_ID))
    opened = ev.AccountOpened(
        account_id=ACCOUNT_ID, holder_name=seal("Ada", key, "holder_name"), currency="EUR", overdraft_limit=0
    )
    assert open_event(opened, lambda _: None).holder_name == ERASED
    other = DataKey(key.key_id, key.subject, DataKey.generate("x").secret)
    with pytest.raises(SealError):
        open_event(opened, lambda _: other)
