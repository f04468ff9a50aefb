"""The key ring on a clock of the test's own: the first key, rotation when due and only then, which key signs while
a new one spreads to the other replicas, how long a retired key stays published, and a changed key-encryption key."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
import pytest

from eventledger_gateway.auth import TokenVerifier
from eventledger_gateway.oauth.keys import InMemorySigningKeyStore, KeyRing
from eventledger_gateway.problems import Problem
from eventledger_runtime.settings import GatewaySettings

LIFETIME = 900.0
ROTATION = 86_400.0
REFRESH = 5.0
KEK = "a-key-encryption-key-of-at-least-32-bytes"


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _ring(store: InMemorySigningKeyStore, clock: Clock, kek: str = KEK) -> KeyRing:
    return KeyRing(
        store,
        encryption_key=kek,
        token_lifetime_seconds=LIFETIME,
        rotation_seconds=ROTATION,
        refresh_seconds=REFRESH,
        clock=clock,
    )


def _signing_kid(ring: KeyRing) -> str:
    signing = ring.signing_key()
    assert signing is not None
    return signing[0]


async def test_the_first_key_is_made_once_and_signs_at_once() -> None:
    store, clock = InMemorySigningKeyStore(), Clock()
    ring = _ring(store, clock)
    assert ring.signing_key() is None
    await ring.maintain()
    first = _signing_kid(ring)
    clock.now += ROTATION - 1
    await ring.maintain()
    assert [k.kid for k in ring.published()] == [first]


async def test_a_due_key_is_replaced_and_the_new_one_signs_only_after_every_replica_could_load_it() -> None:
    store, clock = InMemorySigningKeyStore(), Clock()
    ring = _ring(store, clock)
    await ring.maintain()
    old = _signing_kid(ring)
    clock.now += ROTATION
    await ring.maintain()
    new = ring.published()[0].kid
    assert new != old
    assert _signing_kid(ring) == old, "another replica may not have loaded the new key yet"
    clock.now += REFRESH + 1
    assert _signing_kid(ring) == new


async def test_a_retired_key_stays_published_until_its_last_token_expires_then_is_refused() -> None:
    store, clock = InMemorySigningKeyStore(), Clock()
    ring = _ring(store, clock)
    await ring.maintain()
    signing = ring.signing_key()
    assert signing is not None
    old_kid, old_key = signing
    token = jwt.encode({"sub": "c"}, old_key, algorithm="EdDSA", headers={"kid": old_kid})
    await ring.rotate()
    retired = next(k for k in ring.published() if k.kid == old_kid)
    assert retired.retired_at is not None
    assert retired.published_until is not None
    # The old key may still sign for one refresh interval and a second; its tokens live the token lifetime.
    assert (retired.published_until - retired.retired_at).total_seconds() >= LIFETIME + REFRESH + 1
    clock.now += LIFETIME + REFRESH
    await ring.load()
    assert old_kid in {k["kid"] for k in ring.jwks()["keys"]}
    assert await ring.public_key(old_kid) is not None
    assert jwt.decode(token, await ring.public_key(old_kid), algorithms=["EdDSA"])["sub"] == "c"  # type: ignore[arg-type]
    clock.now += 2
    await ring.load()
    assert old_kid not in {k["kid"] for k in ring.jwks()["keys"]}
    assert await ring.public_key(old_kid) is None


async def test_replicas_sharing_a_store_rotate_once_and_learn_each_others_keys() -> None:
    store, clock = InMemorySigningKeyStore(), Clock()
    first, second = _ring(store, clock), _ring(store, clock)
    await first.maintain()
    await second.maintain()
    assert len(store_kids := [k.kid for k in second.published()]) == 1
    clock.now += ROTATION
    await first.maintain()
    await second.maintain()
    assert len(second.published()) == 2, "the second replica found the fresh key and made none"
    new = first.published()[0].kid
    assert new not in store_kids
    assert await second.public_key(new) is not None


async def test_a_changed_key_encryption_key_replaces_a_key_it_cannot_open_and_keeps_the_old_one_published() -> None:
    store, clock = InMemorySigningKeyStore(), Clock()
    before = _ring(store, clock)
    await before.maintain()
    old = _signing_kid(before)
    clock.now += 60
    after = _ring(store, clock, kek="another-key-encryption-key-of-32-bytes-or-more")
    await after.load()
    assert after.signing_key() is None, "the old key cannot be opened with the new key-encryption key"
    await after.maintain()
    kids = [k.kid for k in after.published()]
    assert kids[1] == old
    assert len(kids) == 2
    clock.now += REFRESH + 1
    assert _signing_kid(after) == kids[0]


async def test_a_remembered_token_is_refused_once_its_key_is_no_longer_published() -> None:
    store, clock = InMemorySigningKeyStore(), Clock()
    ring = _ring(store, clock)
    await ring.maintain()
    signing = ring.signing_key()
    assert signing is not None
    kid, key = signing
    settings = GatewaySettings()
    now = int(time.time())
    claims = {"sub": "c", "roles": ["reader"], "iat": now, "exp": now + 600, "jti": "j", "client_id": "c"}
    claims |= {"iss": settings.oauth_issuer, "aud": settings.oauth_audience}
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})
    verifier = TokenVerifier(settings, ring)
    assert (await verifier.authenticate(f"Bearer {token}")).subject == "c"
    assert (await verifier.authenticate(f"Bearer {token}")).subject == "c"  # remembered
    await ring.rotate()
    clock.now += LIFETIME + REFRESH + 2
    await ring.load()
    with pytest.raises(Problem) as refused:
        await verifier.authenticate(f"Bearer {token}")
    assert refused.value.detail == "the token is signed with a key that is unknown or no longer published"
