"""What the gateway tells browsers (ADR 0023): security headers on every answer, and a CORS policy that allows
nothing until origins are listed.

:func:`install` puts two plain ASGI layers outside the request-context layer, so that they also see its
last-resort 500 and CORS preflights. Contract:
- every answer, errors and preflights included: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer``, ``X-Frame-Options: DENY``; ``Strict-Transport-Security`` only when the gateway itself serves TLS
  (HSTS sent over plain HTTP is ignored by browsers and wrong to promise);
- API answers (everything but the pages below: ``/v1/...``, ``/oauth/...``, ``/openapi.json``, the ops endpoints,
  unknown paths): ``Cache-Control: no-store`` (it replaces what an upstream sent: ledger data and tokens are never
  kept by a cache) and ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` (a JSON answer opened
  as a page can run nothing);
- public documents (``/.well-known/...``: the signing keys, the authorization server's metadata) get the same CSP
  but keep the ``Cache-Control`` their endpoint chose: they hold no secret, and clients are meant to cache them;
- the dashboard (``/dashboard...``): a strict page policy (:data:`DASHBOARD_CSP`): scripts, styles and calls from
  its own origin only, no inline code, no plugins, no framing, no form posts elsewhere;
- ``/docs`` (FastAPI's Swagger UI, which loads its assets from a CDN with an inline script) gets the headers of
  every answer only;
- CORS (Starlette's middleware) only when ``cors_allow_origins`` is not empty: a listed origin's preflight is
  answered with the listed methods and headers, any other origin's preflight is refused (400) and its simple
  requests get no ``Access-Control-Allow-Origin``. Credentials mode is never allowed: the API takes bearer tokens,
  not cookies, so a page needs no cookies sent along.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventledger_runtime.settings import GatewaySettings

EVERY_ANSWER = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TLS_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
"""TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are all such); TLS 1.2 is the floor."""
_PAGES = ("/dashboard", "/docs")
_PUBLIC_DOCUMENTS = "/.well-known/"


def install(app: FastAPI, settings: GatewaySettings) -> None:
    """Add CORS (when origins are listed) and the security headers, outermost (added last)."""
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=settings.cors_allow_methods,
            allow_headers=settings.cors_allow_headers,
            expose_headers=settings.cors_expose_headers,
            allow_credentials=False,
            max_age=settings.cors_max_age_seconds,
        )
    hsts = f"max-age={settings.hsts_max_age_seconds}" if settings.tls else None
    app.add_middleware(SecurityHeadersMiddleware, hsts=hsts)


def tls_options(settings: GatewaySettings) -> dict[str, Any]:
    """uvicorn's options to serve HTTPS with the configured certificate; none when TLS is off."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return {}
    return {
        "ssl_certfile": str(settings.tls_cert_file),
        "ssl_keyfile": str(settings.tls_key_file),
        "ssl_ciphers": TLS_CIPHERS,
    }


def headers_for(path: str, hsts: str | None) -> list[tuple[str, str]]:
    """The security headers of an answer to ``path``."""
    headers = list(EVERY_ANSWER)
    if hsts:
        headers.append(("Strict-Transport-Security", hsts))
    page = next((prefix for prefix in _PAGES if path == prefix or path.startswith(prefix + "/")), None)
    if page == "/dashboard":
        headers.append(("Content-Security-Policy", DASHBOARD_CSP))
    elif page is None:
        headers.append(("Content-Security-Policy", API_CSP))
        if not path.startswith(_PUBLIC_DOCUMENTS):
            headers.append(("Cache-Control", "no-store"))
    return headers


class SecurityHeadersMiddleware:
    """Sets :func:`headers_for` on the start of every HTTP answer, replacing any header of the same name."""

    def __init__(self, app: ASGIApp, *, hsts: str | None) -> None:
        self.app = app
        self._hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"], self._hsts)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
