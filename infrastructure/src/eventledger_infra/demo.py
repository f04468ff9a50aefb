"""Demo data through the public API (the gateway), with Idempotency-Keys so that seeding twice changes nothing."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from eventledger_infra.process import ProvisioningError

HOLDERS = [
    ("Ada Lovelace", "EUR"),
    ("Grace Hopper", "EUR"),
    ("Alan Turing", "EUR"),
    ("Marie Curie", "USD"),
    ("Katherine Johnson", "USD"),
]
RETRY_FOR_SECONDS = 60.0
"""How long seeding honours a 503 with ``Retry-After`` before it gives up."""
DEPOSITS = [250_000, 120_000, 80_000, 300_000, 150_000]
TRANSFERS = [
    (0, 1, 12_500, "rent share for March"),
    (1, 2, 3_250, "coffee beans"),
    (2, 0, 45_000, "conference tickets"),
    (3, 4, 9_900, "telescope lens"),
    (4, 3, 1_500, "lunch"),
    (0, 2, 7_700, "book club dues"),
]


def mint_token(roles: list[str], subject: str = "demo", ttl_seconds: int = 86_400) -> str:
    """A development token from the gateway's own CLI (it refuses outside development)."""
    command = [sys.executable, "-m", "eventledger_gateway", "token", "--subject", subject, "--ttl", str(ttl_seconds)]
    for role in roles:
        command += ["--role", role]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ProvisioningError(f"could not mint a demo token: {result.stderr.strip()}")
    return result.stdout.strip()


class Client:
    def __init__(self, base_url: str, token: str, context: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.context = context

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the local gateway
            self.base_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                **({"Idempotency-Key": key} if key else {}),
                **(headers or {}),
            },
        )
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30, context=self.context) as answer:  # noqa: S310
                    return dict(json.loads(answer.read() or b"{}"))
            except urllib.error.HTTPError as error:
                detail = error.read()[:300]
                retry_after = error.headers.get("Retry-After")
                if error.code != 503 or retry_after is None or time.monotonic() >= deadline:
                    raise ProvisioningError(f"{method} {path} answered {error.code}: {detail!r}") from error
                # A read model behind, a database restarting: the service says when to ask again. Every write
                # carries an Idempotency-Key, so asking again never applies it twice.
                time.sleep(min(float(retry_after), 5.0))


def seed(gateway_url: str, token: str, context: ssl.SSLContext | None = None) -> dict[str, Any]:
    """Open the demo accounts, fund them, move money, leave one transfer pending; answer what was done. ``context``:
    whom to trust when the gateway's address is ``https://``."""
    client = Client(gateway_url, token, context)
    accounts = []
    last = 0
    for number, (holder, currency) in enumerate(HOLDERS):
        opened = client.call(
            "POST", "/v1/accounts", {"holder_name": holder, "currency": currency}, key=f"demo-open-{number}"
        )
        accounts.append(opened["account_id"])
        funded = client.call(
            "POST",
            "/v1/deposits",
            {"account_id": opened["account_id"], "amount": DEPOSITS[number], "description": "opening deposit"},
            key=f"demo-deposit-{number}",
        )
        last = max(last, funded["position"])
    for number, (source, target, amount, description) in enumerate(TRANSFERS):
        moved = client.call(
            "POST",
            "/v1/transfers",
            {
                "from_account_id": accounts[source],
                "to_account_id": accounts[target],
                "amount": amount,
                "description": description,
            },
            key=f"demo-transfer-{number}",
        )
        last = max(last, moved["position"])
    pending = client.call(
        "POST",
        "/v1/transfers",
        {
            "from_account_id": accounts[1],
            "to_account_id": accounts[0],
            "amount": 5_000,
            "description": "deposit for the flat",
            "pending": True,
            "timeout_seconds": 86_400,
        },
        key="demo-pending-0",
    )
    last = max(last, pending["position"])
    client.call("GET", f"/v1/accounts/{accounts[0]}", headers={"X-Min-Position": str(last)})
    return {"accounts": accounts, "position": last}
