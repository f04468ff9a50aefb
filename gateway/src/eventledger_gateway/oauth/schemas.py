"""The authorization server's API schemas (requests and answers), separate from the client and key records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from eventledger_events.bounds import require_storable_text
from eventledger_gateway.oauth.clients import Client
from eventledger_gateway.oauth.keys import StoredKey
from eventledger_gateway.routetable import Role

SCOPE_PATTERN = r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$"
"""RFC 6749 §3.3 scope-token characters; 64 at most."""
ScopeToken = Annotated[str, StringConstraints(pattern=SCOPE_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenAnswer(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(examples=[900])
    scope: str = Field(examples=["reader writer"])


class NewClient(_Strict):
    name: Annotated[str, AfterValidator(require_storable_text)] = Field(
        min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["reporting"]
    )
    roles: list[Role] = Field(min_length=1, max_length=4, examples=[["reader"]])
    scopes: list[ScopeToken] = Field(
        default_factory=list, max_length=20, description="extra scopes a token may carry (RFC 6749 scope tokens)"
    )


class SecretRotation(_Strict):
    revoke_tokens: bool = Field(
        default=False, description="also refuse every token issued with the old secret (a leaked secret)"
    )


class ClientAnswer(BaseModel):
    client_id: str = Field(examples=["client-3f2a9c0d4e5b6a7f8091"])
    name: str
    roles: list[str]
    scopes: list[str]
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, client: Client) -> ClientAnswer:
        return cls(
            client_id=client.client_id,
            name=client.name,
            roles=list(client.roles),
            scopes=list(client.scopes),
            enabled=client.enabled,
            created_at=client.created_at,
            secret_rotated_at=client.secret_rotated_at,
            disabled_at=client.disabled_at,
        )


class ClientWithSecret(ClientAnswer):
    client_secret: str = Field(description="shown this once; only its hash is stored")

    @classmethod
    def with_secret(cls, client: Client, secret: str) -> ClientWithSecret:
        return cls(**ClientAnswer.of(client).model_dump(), client_secret=secret)


class ClientList(BaseModel):
    clients: list[ClientAnswer]


class SigningKeyAnswer(BaseModel):
    kid: str
    algorithm: str
    active: bool
    created_at: datetime
    retired_at: datetime | None
    published_until: datetime | None

    @classmethod
    def of(cls, key: StoredKey) -> SigningKeyAnswer:
        return cls(
            kid=key.kid,
            algorithm=key.algorithm,
            active=key.active,
            created_at=key.created_at,
            retired_at=key.retired_at,
            published_until=key.published_until,
        )


class SigningKeyList(BaseModel):
    keys: list[SigningKeyAnswer]


class JsonWebKeySet(BaseModel):
    keys: list[dict[str, Any]] = Field(description="RFC 7517 public keys (Ed25519, `kid`, `alg` EdDSA, `use` sig)")
