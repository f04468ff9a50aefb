"""Sealed personal values (crypto-shredding's format): they open only with their key and for their field, any change
is refused, and the sealed text shows nothing of the plaintext."""

from __future__ import annotations

import base64

import pytest

from eventledger_events.personal import (
    PREFIX,
    DataKey,
    SealError,
    is_sealed,
    key_id_of,
    open_sealed,
    seal,
)

KEY = DataKey.generate("account-0001")


def test_a_value_opens_with_its_key_for_its_field_and_hides_its_plaintext() -> None:
    sealed = seal("Zoë Ångström", KEY, "holder_name")
    assert sealed.startswith(PREFIX + KEY.key_id + ":")
    assert "Zo" not in sealed
    assert "Zoë".encode() not in sealed.encode()
    assert is_sealed(sealed)
    assert key_id_of(sealed) == KEY.key_id
    assert open_sealed(sealed, KEY, "holder_name") == "Zoë Ångström"


def test_two_seals_of_one_value_differ() -> None:
    assert seal("Ada", KEY, "holder_name") != seal("Ada", KEY, "holder_name")


def test_a_value_does_not_open_for_another_field_or_with_another_key() -> None:
    sealed = seal("rent for March", KEY, "description")
    with pytest.raises(SealError, match="does not open as holder_name"):
        open_sealed(sealed, KEY, "holder_name")
    other = DataKey.generate("account-0002")
    with pytest.raises(SealError, match=f"sealed with key {KEY.key_id}, not {other.key_id}"):
        open_sealed(sealed, other, "description")
    # the same key bytes under another id: the id is bound too
    impostor = DataKey(other.key_id, KEY.subject, KEY.secret)
    relabelled = sealed.replace(KEY.key_id, other.key_id)
    with pytest.raises(SealError):
        open_sealed(relabelled, impostor, "description")


def test_a_changed_value_is_refused() -> None:
    sealed = seal("Ada", KEY, "holder_name")
    body = bytearray(base64.urlsafe_b64decode(sealed.rsplit(":", 1)[1]))
    body[-1] ^= 1
    tampered = sealed.rsplit(":", 1)[0] + ":" + base64.urlsafe_b64encode(bytes(body)).decode()
    with pytest.raises(SealError, match="does not open"):
        open_sealed(tampered, KEY, "holder_name")


@pytest.mark.parametrize(
    "value", ["Ada", "pii:1:xyz:AAAA", f"pii:2:{KEY.key_id}:AAAA", f"pii:1:{KEY.key_id}:", f"pii:1:{KEY.key_id}:AA"]
)
def test_what_is_not_a_sealed_value_is_named_so(value: str) -> None:
    with pytest.raises(SealError):
        open_sealed(value, KEY, "holder_name")
    if not value.endswith(":AA"):
        assert not is_sealed(value)


def test_a_data_key_is_32_bytes_under_a_32_hex_id() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey(KEY.key_id, "s", b"short")
    with pytest.raises(ValueError, match="hex digits"):
        DataKey("KEY", "s", KEY.secret)
    assert KEY.secret.hex() not in repr(KEY)
