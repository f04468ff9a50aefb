"""Bearer token verification: what is accepted, and the 401 each bad credential gets."""

from __future__ import annotations

import time

import jwt
import pytest
from tests.support.gateway import authenticate_now

from eventledger_gateway.auth import Principal, TokenVerifier, authorize
from eventledger_gateway.problems import Problem
from eventledger_gateway.routetable import Role
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings

SECRET = "a-test-secret-that-is-long-enough-for-every-hmac-algorithm-0123456789"


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(jwt_secret=SECRET, jwt_leeway_seconds=0)


def _sign(claims: dict[str, object], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "alice", "roles": ["writer"], "iat": now, "exp": now + 60, **overrides}


def _refusal(verifier: TokenVerifier, header: str | None) -> Problem:
    with pytest.raises(Problem) as refused:
        authenticate_now(verifier, header)
    assert refused.value.status == 401
    return refused.value


def test_a_minted_token_gives_its_subject_and_roles(settings: GatewaySettings) -> None:
    token = mint_token(settings, ["writer", "reader"], subject="alice")
    principal = authenticate_now(TokenVerifier(settings), f"Bearer {token}")
    assert principal == Principal("alice", frozenset({"writer", "reader"}))


def test_the_scheme_is_case_insensitive_and_unknown_roles_are_dropped(settings: GatewaySettings) -> None:
    token = _sign(_claims(roles=["reader", "superuser"]))
    assert authenticate_now(TokenVerifier(settings), f"bearer {token}").roles == frozenset({"reader"})


def test_no_header_is_a_challenge_without_an_error_code(settings: GatewaySettings) -> None:
    problem = _refusal(TokenVerifier(settings), None)
    assert problem.code == "authentication_required"
    assert problem.headers["WWW-Authenticate"] == 'Bearer realm="eventledger"'


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer   ", "token-without-scheme"])
def test_a_malformed_header_is_an_invalid_request(settings: GatewaySettings, header: str) -> None:
    problem = _refusal(TokenVerifier(settings), header)
    assert problem.code == "invalid_request"
    assert 'error="invalid_request"' in problem.headers["WWW-Authenticate"]


def test_an_expired_token_says_so(settings: GatewaySettings) -> None:
    token = _sign(_claims(exp=int(time.time()) - 5))
    problem = _refusal(TokenVerifier(settings), f"Bearer {token}")
    assert problem.code == "invalid_token"
    assert problem.detail == "the token expired"
    assert 'error="invalid_token"' in problem.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (_sign(_claims(), key="another-secret-of-sufficient-length-xx"), "Signature verification failed"),
        (_sign(_claims(), algorithm="HS512"), "alg value is not allowed"),
        (jwt.encode(_claims(), "", algorithm="none"), "alg value is not allowed"),
        (_sign({"sub": "alice", "roles": ["writer"]}), "exp"),
        (_sign({k: v for k, v in _claims().items() if k != "sub"}), "sub"),
        ("not.a.jwt", "not valid"),
    ],
    ids=["bad-signature", "other-algorithm", "alg-none", "no-exp", "no-sub", "garbage"],
)
def test_invalid_tokens_are_refused(settings: GatewaySettings, token: str, why: str) -> None:
    problem = _refusal(TokenVerifier(settings), f"Bearer {token}")
    assert problem.code == "invalid_token"
    assert why in problem.detail


def test_a_future_nbf_is_refused(settings: GatewaySettings) -> None:
    token = _sign(_claims(nbf=int(time.time()) + 3600))
    assert _refusal(TokenVerifier(settings), f"Bearer {token}").code == "invalid_token"


@pytest.mark.parametrize("roles", ["writer", [1, 2], {"writer": True}])
def test_roles_must_be_a_list_of_strings(settings: GatewaySettings, roles: object) -> None:
    problem = _refusal(TokenVerifier(settings), f"Bearer {_sign(_claims(roles=roles))}")
    assert "roles" in problem.detail


@pytest.mark.parametrize("subject", ["", "   ", "x" * 201, 42])
def test_the_subject_must_be_a_short_non_empty_string(settings: GatewaySettings, subject: object) -> None:
    assert _refusal(TokenVerifier(settings), f"Bearer {_sign(_claims(sub=subject))}").code == "invalid_token"


def test_a_token_without_roles_authenticates_but_holds_no_role(settings: GatewaySettings) -> None:
    claims = _claims()
    del claims["roles"]
    principal = authenticate_now(TokenVerifier(settings), f"Bearer {_sign(claims)}")
    assert principal.roles == frozenset()


def test_issuer_and_audience_are_required_when_configured() -> None:
    settings = GatewaySettings(jwt_secret=SECRET, jwt_issuer="https://id.example", jwt_audience="eventledger")
    verifier = TokenVerifier(settings)
    assert authenticate_now(verifier, f"Bearer {mint_token(settings, ['reader'])}").subject == "developer"
    for claims in (
        _claims(),
        _claims(iss="https://id.example"),
        _claims(iss="https://evil.example", aud="eventledger"),
        _claims(iss="https://id.example", aud="another-service"),
    ):
        assert _refusal(verifier, f"Bearer {_sign(claims)}").code == "invalid_token"


def test_leeway_tolerates_small_clock_skew() -> None:
    settings = GatewaySettings(jwt_secret=SECRET, jwt_leeway_seconds=30)
    token = _sign(_claims(exp=int(time.time()) - 5))
    assert authenticate_now(TokenVerifier(settings), f"Bearer {token}").subject == "alice"


def test_authorize_needs_the_exact_role() -> None:
    authorize(Principal("alice", frozenset({"writer"})), Role.WRITER)
    for held in (frozenset(), frozenset({"reader", "auditor", "admin"})):
        with pytest.raises(Problem) as refused:
            authorize(Principal("alice", held), Role.WRITER)
        assert refused.value.status == 403
        assert refused.value.extra == {"required_role": "writer"}


def test_a_verified_token_is_not_verified_again_while_it_is_valid(
    settings: GatewaySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(settings)
    token = _sign(_claims())
    first = authenticate_now(verifier, f"Bearer {token}")

    def no_second_check(*_args: object, **_kwargs: object) -> dict[str, object]:
        raise AssertionError("the signature of a remembered token was checked again")

    monkeypatch.setattr(jwt, "decode", no_second_check)
    assert authenticate_now(verifier, f"Bearer {token}") == first
    other = _sign(_claims(sub="bob"))
    with pytest.raises(AssertionError):
        authenticate_now(verifier, f"Bearer {other}")  # a token not seen before is checked


def test_a_remembered_token_expires_on_time(settings: GatewaySettings) -> None:
    verifier = TokenVerifier(settings)
    expires = int(time.time()) + 2
    token = _sign(_claims(exp=expires))
    assert authenticate_now(verifier, f"Bearer {token}").subject == "alice"
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    problem = _refusal(verifier, f"Bearer {token}")
    assert problem.detail == "the token expired"


def test_a_token_not_yet_valid_is_not_remembered_as_valid(settings: GatewaySettings) -> None:
    verifier = TokenVerifier(settings)
    token = _sign(_claims(nbf=int(time.time()) + 60))
    for _ in range(2):
        assert "not yet valid" in str(_refusal(verifier, f"Bearer {token}").detail)
