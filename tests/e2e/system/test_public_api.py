"""Every row of PRODUCT.md §3 through the gateway on the running system, with read-your-writes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session
from tests.support.audit_log import verify_offline
from tests.support.processes import wait_for
from tests.support.system import ROLES, RunningSystem


@pytest.fixture(scope="module")
def client(ledger: RunningSystem) -> httpx.Client:
    token = ledger.token(*ROLES)
    return httpx.Client(base_url=ledger.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _after(position: int) -> dict[str, str]:
    return {"X-Min-Position": str(position)}


def test_make_up_seeded_demo_data_and_printed_a_token(ledger: RunningSystem, client: httpx.Client) -> None:
    assert "dashboard" in ledger.output
    assert "token (writer, reader, auditor, admin" in ledger.output
    figures = client.get("/v1/stats/overview").json()
    assert figures["open_accounts"] >= 5


def test_a_ledger_story_end_to_end(client: httpx.Client) -> None:
    ada = client.post("/v1/accounts", json={"holder_name": "Ada Story", "currency": "EUR"}).json()
    bob = client.post("/v1/accounts", json={"holder_name": "Bob Story", "currency": "EUR", "overdraft_limit": 500})
    assert bob.status_code == 201
    bob_id = bob.json()["account_id"]
    deposit = client.post(
        "/v1/deposits", json={"account_id": ada["account_id"], "amount": 10_000, "description": "salary november"}
    )
    assert deposit.status_code == 201
    ada_to_bob = {"from_account_id": ada["account_id"], "to_account_id": bob_id}
    moved = client.post("/v1/transfers", json={**ada_to_bob, "amount": 2_500, "description": "bicycle repair"}).json()
    pending = client.post(
        "/v1/transfers", json={**ada_to_bob, "amount": 1_000, "pending": True, "timeout_seconds": 600}
    ).json()
    assert pending["status"] == "pending"
    posted = client.post(f"/v1/transfers/{pending['transfer_id']}/post").json()
    withdrawal = client.post("/v1/withdrawals", json={"account_id": bob_id, "amount": 3_900}).json()
    last = withdrawal["position"]

    account = client.get(f"/v1/accounts/{ada['account_id']}", headers=_after(posted["position"]))
    assert account.status_code == 200
    assert int(account.headers["X-Read-Position"]) >= posted["position"]
    assert (account.json()["balance"], account.json()["available"]) == (6_500, 6_500)
    bob_now = client.get(f"/v1/accounts/{bob_id}", headers=_after(last)).json()
    assert (bob_now["balance"], bob_now["available"]) == (-400, 100)
    entries = client.get(f"/v1/accounts/{bob_id}/entries", headers=_after(last)).json()["items"]
    assert [e["amount"] for e in entries] == [2_500, 1_000, -3_900]
    assert [e["balance_after"] for e in entries] == [2_500, 3_500, -400]
    transfer = client.get(f"/v1/transfers/{moved['transfer_id']}", headers=_after(last)).json()
    assert (transfer["status"], transfer["amount"], transfer["description"]) == ("posted", 2_500, "bicycle repair")
    listed = client.get("/v1/accounts", params={"holder": "ada story"}, headers=_after(last)).json()
    assert [a["account_id"] for a in listed["items"]] == [ada["account_id"]]
    found = client.get("/v1/search/transfers", params={"q": "bicycle"}, headers=_after(last)).json()
    assert [t["transfer_id"] for t in found["items"]] == [moved["transfer_id"]]
    assert {f["value"] for f in found["facets"]["currency"]} == {"EUR"}
    by_name = client.get("/v1/search/transfers", params={"q": "Bob Story", "currency": "EUR"}, headers=_after(last))
    assert by_name.json()["total"] >= 3

    frozen = client.post(f"/v1/accounts/{bob_id}/freeze").json()
    refused = client.post("/v1/withdrawals", json={"account_id": bob_id, "amount": 1})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    client.post(f"/v1/accounts/{bob_id}/unfreeze")
    assert frozen["version"] > 1

    history = client.get(f"/v1/audit/streams/account-{bob_id}/events").json()["items"]
    assert history[0]["event_type"] == "account.opened"
    assert all(e["actor"] == "e2e-client" for e in history)
    state = client.get(f"/v1/audit/accounts/{bob_id}/state", params={"version": 3}).json()
    assert state["balance"] == 3_500
    log = client.get("/v1/audit/events", params={"from_position": 1, "limit": 5}).json()
    assert [e["position"] for e in log["items"]] == sorted(e["position"] for e in log["items"])


def test_a_void_and_an_idempotent_repeat(client: httpx.Client) -> None:
    a = client.post("/v1/accounts", json={"holder_name": "Vera Void", "currency": "USD"}).json()["account_id"]
    b = client.post("/v1/accounts", json={"holder_name": "Walt Void", "currency": "USD"}).json()["account_id"]
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    first = client.post("/v1/deposits", json={"account_id": a, "amount": 700}, headers=key)
    again = client.post("/v1/deposits", json={"account_id": a, "amount": 700}, headers=key)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    pending = client.post(
        "/v1/transfers",
        json={"from_account_id": a, "to_account_id": b, "amount": 300, "pending": True, "timeout_seconds": 60},
    ).json()
    voided = client.post(f"/v1/transfers/{pending['transfer_id']}/void").json()
    account = client.get(f"/v1/accounts/{a}", headers=_after(voided["position"])).json()
    assert (account["balance"], account["available"]) == (700, 700)


def test_the_live_figures_follow_a_transfer(client: httpx.Client) -> None:
    """The stream job counts a posting in its minute. ``transfers_per_minute`` is the count of the minute that is
    running now, so a posting made just before a minute turns over is no longer in it when read: if the minute
    turned while the job counted, the test posts again in the new minute (GBP is this test's own currency, so its
    five-minute volume tells when the job has counted every posting made here)."""
    a = client.post("/v1/accounts", json={"holder_name": "Fig One", "currency": "GBP"}).json()["account_id"]
    deposited = 0
    for _attempt in range(3):
        minute = int(time.time()) // 60 * 60
        moved = client.post("/v1/deposits", json={"account_id": a, "amount": 4_200}).json()
        deposited += 4_200
        figures = client.get("/v1/stats/overview", headers=_after(moved["position"])).json()
        assert figures["volume_per_currency"]["GBP"] == deposited

        def counted(total: int = deposited) -> bool:
            windows = client.get("/v1/stats/overview").json()["windows"]
            return bool(windows["volume_per_currency_5m"].get("GBP", 0) >= total)

        wait_for(counted, 30, "the stream job never counted the deposit")
        figures = client.get("/v1/stats/overview").json()
        if figures["windows"]["minute_started_at"] == minute and int(time.time()) // 60 * 60 == minute:
            assert figures["transfers_per_minute"] >= 1
            return
    pytest.fail("three minutes turned over while the stream job counted one deposit each")


def test_the_stream_pushes_figures(client: httpx.Client) -> None:
    with client.stream("GET", "/v1/stats/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data:"):
                assert "open_accounts" in line
                break


def test_operations_for_admins(client: httpx.Client) -> None:
    def states() -> dict[str, str]:
        return {s["projection"]: s["state"] for s in client.get("/v1/admin/projections").json()["items"]}

    wait_for(lambda: set(states().values()) == {"running"}, 30, f"every projector running: {states()}")
    assert set(states()) == {"postgres", "redis", "elasticsearch"}
    for status in client.get("/v1/admin/projections").json()["items"]:
        live = [i for i in status["instances"] if i["state"] != "stale"]
        assert live, f"{status['projection']}: a live instance is registered: {status}"
        held = [(p["topic"], p["partition"]) for i in live for p in i["partitions"]]
        assert len(held) == len(set(held)), f"{status['projection']}: no partition held twice: {status}"
        assert {topic.rsplit(".", 2)[-2] for topic, _ in held} == {"accounts", "transfers"}, status
        assert all(i["heartbeat_age_seconds"] < 5 and ":" in i["address"] for i in live), status


def test_credentials_and_roles(ledger: RunningSystem) -> None:
    with httpx.Client(base_url=ledger.gateway_url, timeout=30) as anonymous:
        assert anonymous.get("/v1/stats/overview").status_code == 401
        reader = {"Authorization": f"Bearer {ledger.token('reader')}"}
        assert (
            anonymous.post("/v1/accounts", json={"holder_name": "X", "currency": "EUR"}, headers=reader).status_code
            == 403
        )
        assert anonymous.get("/v1/audit/events", headers=reader).status_code == 403
        assert anonymous.get("/v1/stats/overview", headers=reader).status_code == 200


def test_a_machine_client_registered_with_the_cli_works_through_the_load_balancer(ledger: RunningSystem) -> None:
    """README's three commands: register a client, obtain a token (here with authlib), call the API."""
    created = subprocess.run(
        [sys.executable, "-m", "eventledger_gateway", "clients", "create", "--name", "e2e", "--role", "writer"],
        capture_output=True,
        text=True,
        env=ledger.env,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    registered = json.loads(created.stdout)
    session = OAuth2Session(
        registered["client_id"], registered["client_secret"], token_endpoint=f"{ledger.gateway_url}/oauth/token"
    )
    session.fetch_token(grant_type="client_credentials")
    opened = session.post(
        f"{ledger.gateway_url}/v1/accounts",
        json={"holder_name": "Machine Client", "currency": "EUR"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    admin = {"Authorization": f"Bearer {ledger.token('admin')}"}
    disabled = httpx.post(
        f"{ledger.gateway_url}/v1/admin/clients/{registered['client_id']}/disable", headers=admin, timeout=30
    )
    assert disabled.status_code == 200
    refused = session.post(
        f"{ledger.gateway_url}/v1/accounts",
        json={"holder_name": "Machine Client", "currency": "EUR"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert refused.status_code == 401


def test_an_auditor_verifies_the_running_systems_log_offline(ledger: RunningSystem, tmp_path: Path) -> None:
    """ADR 0025: the tree head, its key and the export come through the gateway; the standalone verifier checks them."""
    auditor = {"Authorization": f"Bearer {ledger.token('auditor')}"}
    with httpx.Client(base_url=ledger.gateway_url, headers=auditor, timeout=60) as client:
        wait_for(lambda: client.post("/v1/audit/tree-heads").status_code == 201, 30, "a signed tree head")
        head = client.get("/v1/audit/tree-heads/latest").json()
        key = client.get("/v1/audit/tree-heads/key").json()
        export = client.get("/v1/audit/log-export", params={"to_leaf": head["tree_size"]})
        assert export.status_code == 200
        last_half = client.get(
            "/v1/audit/log-export",
            params={"from_leaf": head["tree_size"] // 2, "to_leaf": head["tree_size"], "tree_size": head["tree_size"]},
        )
        assert last_half.status_code == 200
        check = client.get("/v1/audit/log-check").json()
    assert head["tree_size"] > 1
    assert check["intact"] is True, check
    verified = verify_offline(tmp_path, export.text, head, key["public_key_pem"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"intact: {head['tree_size']} events")
    part = verify_offline(tmp_path, last_half.text, head, key["public_key_pem"])
    assert part.returncode == 0, part.stdout + part.stderr
    assert part.stdout.startswith(f"intact: {head['tree_size'] - head['tree_size'] // 2} events")


def test_an_admin_erases_a_holder_through_the_gateway(client: httpx.Client) -> None:
    """Crypto-shredding on the running system (issue 12): the read models show the plaintext the projectors opened
    before; the erasure answers who/when/why, a repeat the same; the audit API reads the fields as erased; an erased
    holder gets no new personal data (410) while money still moves."""
    eve = client.post("/v1/accounts", json={"holder_name": "Eve Erasable", "currency": "EUR"}).json()["account_id"]
    deposit = client.post("/v1/deposits", json={"account_id": eve, "amount": 700, "description": "eve's savings"})
    assert deposit.status_code == 201
    listed = client.get("/v1/accounts", params={"holder": "eve erasable"}, headers=_after(deposit.json()["position"]))
    assert [a["account_id"] for a in listed.json()["items"]] == [eve]  # the projector opened the sealed name

    erased = client.post(f"/v1/admin/accounts/{eve}/erasure", json={"reason": "asked to be forgotten"})
    assert erased.status_code == 200, erased.text
    record = erased.json()
    assert (record["account_id"], record["erased_by"], record["reason"]) == (eve, "e2e-client", "asked to be forgotten")
    again = client.post(f"/v1/admin/accounts/{eve}/erasure", json={"reason": "again"})
    assert again.json() == record
    unknown = client.post(f"/v1/admin/accounts/{uuid.uuid4()}/erasure", json={"reason": "asked"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"

    history = client.get(f"/v1/audit/streams/account-{eve}/events").json()["items"]
    assert history[0]["payload"]["holder_name"] == "[erased]"
    assert history[1]["payload"]["description"] == "[erased]"
    assert history[-1]["event_type"] == "account.personal_data_erased"
    refused = client.post("/v1/deposits", json={"account_id": eve, "amount": 1, "description": "more"})
    assert refused.status_code == 410
    assert refused.headers["content-type"] == "application/problem+json"
    moved = client.post("/v1/deposits", json={"account_id": eve, "amount": 1})
    assert moved.status_code == 201
    account = client.get(f"/v1/accounts/{eve}", headers=_after(moved.json()["position"])).json()
    assert account["balance"] == 701
