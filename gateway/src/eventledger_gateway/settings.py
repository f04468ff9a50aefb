"""EVENTLEDGER_GATEWAY_*: the gateway's settings, validated once at start-up.

Contract: a :class:`GatewaySettings` that was constructed is usable. Construction refuses (``ValueError`` inside a
pydantic ``ValidationError``, with a message naming the variable to set) when:
- outside ``development``, an HMAC algorithm is configured with the development default secret or a secret
  shorter than 32 bytes;
- an asymmetric algorithm (RS256, ES256) is configured without a public key, or the ``cryptography`` package
  that PyJWT needs for it is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventledger_infra.settings import Settings as InfraSettings

DEVELOPMENT_SECRET = "eventledger-development-secret-do-not-use-in-production"  # noqa: S105 - refused outside development
MIN_SECRET_BYTES = 32
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})

Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256"]


def _default_redis_url() -> str:
    return InfraSettings.from_env().redis_url


class GatewaySettings(BaseSettings):
    """The gateway's knobs; every field is read from ``EVENTLEDGER_GATEWAY_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=18080, ge=0, le=65535)
    environment: Literal["development", "production"] = "development"

    # Where requests go. Audit is served by the command service (ADR 0009) and operations by the query service,
    # unless given addresses of their own.
    command_url: str = "http://127.0.0.1:18081"
    query_url: str = "http://127.0.0.1:18082"
    audit_url: str | None = None
    admin_url: str | None = None

    # Bearer tokens.
    jwt_algorithm: Algorithm = "HS256"
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    jwt_public_key: str | None = Field(default=None, description="PEM text; or give jwt_public_key_file.")
    jwt_public_key_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: float = Field(default=30.0, ge=0)

    # Per-client rate limit (client = the token's subject): a token bucket in Redis.
    redis_url: str = Field(default_factory=_default_redis_url)
    redis_timeout_seconds: float = Field(default=0.25, gt=0)
    rate_limit_enabled: bool = True
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    rate_limit_key_prefix: str = "eventledger:gateway:ratelimit:"

    # Upstream calls.
    upstream_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    upstream_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    upstream_max_connections: int = Field(default=200, ge=1)
    upstream_retry_after_seconds: int = Field(default=2, ge=1)
    stream_idle_timeout_seconds: float = Field(default=300.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("command_url", "query_url", "audit_url", "admin_url")
    @classmethod
    def _plain_http(cls, url: str | None) -> str | None:
        """The sides are reached over plain HTTP inside the deployment (TLS ends at the gateway's ingress)."""
        if url is not None and not url.startswith("http://"):
            raise ValueError(f"an upstream address must start with http://, got {url!r}")
        return url.rstrip("/") if url else url

    @model_validator(mode="after")
    def _refuse_unsafe_keys(self) -> Self:
        if self.jwt_algorithm in HMAC_ALGORITHMS:
            self._check_secret()
        else:
            self._load_public_key()
        return self

    def _check_secret(self) -> None:
        secret = self.jwt_secret.get_secret_value()
        if not secret:
            raise ValueError("EVENTLEDGER_GATEWAY_JWT_SECRET is empty")
        if self.environment == "development":
            return
        if secret == DEVELOPMENT_SECRET:
            raise ValueError(
                f"refusing to start in {self.environment}: EVENTLEDGER_GATEWAY_JWT_SECRET is the development "
                "default, which anybody can read in the source; set a secret of your own "
                f"(at least {MIN_SECRET_BYTES} random bytes)"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"refusing to start in {self.environment}: EVENTLEDGER_GATEWAY_JWT_SECRET is shorter than "
                f"{MIN_SECRET_BYTES} bytes"
            )

    def _load_public_key(self) -> None:
        if self.jwt_public_key is None and self.jwt_public_key_file is not None:
            try:
                self.jwt_public_key = self.jwt_public_key_file.read_text()
            except OSError as exc:
                raise ValueError(f"EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY_FILE cannot be read: {exc}") from None
        if not self.jwt_public_key:
            raise ValueError(
                f"EVENTLEDGER_GATEWAY_JWT_ALGORITHM={self.jwt_algorithm} needs a public key: set "
                "EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY_FILE (a PEM file) or EVENTLEDGER_GATEWAY_JWT_PUBLIC_KEY"
            )
        if importlib.util.find_spec("cryptography") is None:  # PyJWT verifies RS256/ES256 with it
            raise ValueError(f"EVENTLEDGER_GATEWAY_JWT_ALGORITHM={self.jwt_algorithm} needs the 'cryptography' package")

    @property
    def verification_key(self) -> str:
        """The key tokens are verified with: the HMAC secret or the PEM public key."""
        if self.jwt_algorithm in HMAC_ALGORITHMS:
            return self.jwt_secret.get_secret_value()
        assert self.jwt_public_key is not None  # guaranteed by the validator
        return self.jwt_public_key

    def upstream_url(self, upstream: str) -> str:
        """The base address of ``upstream`` (command, query, audit, admin)."""
        urls = {
            "command": self.command_url,
            "query": self.query_url,
            "audit": self.audit_url or self.command_url,
            "admin": self.admin_url or self.query_url,
        }
        return urls[upstream]
