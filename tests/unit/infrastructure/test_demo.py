"""The demo seeder asks again when the system answers 503 with ``Retry-After`` (a read model still catching up on
the seeded writes) and gives up with a readable error on anything else."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from eventledger_infra import demo
from eventledger_infra.process import ProvisioningError


class _Scripted(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("X-Min-Position", ""))
        status, headers, body = self.answers.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    _Scripted.answers = []
    _Scripted.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


BEHIND = (503, {"Retry-After": "0"}, b'{"type":"read-model-behind"}')


def test_a_read_model_behind_is_asked_again_until_it_answers(server: str) -> None:
    _Scripted.answers = [BEHIND, BEHIND, (200, {}, b'{"balance": 5}')]
    answer = demo.Client(server, "t").call("GET", "/v1/accounts/a", headers={"X-Min-Position": "35"})
    assert answer == {"balance": 5}
    assert _Scripted.seen == ["35", "35", "35"]


def test_a_503_past_the_bound_is_a_readable_error(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "RETRY_FOR_SECONDS", 0.0)
    _Scripted.answers = [BEHIND]
    with pytest.raises(ProvisioningError, match="GET /v1/accounts/a answered 503"):
        demo.Client(server, "t").call("GET", "/v1/accounts/a")


def test_other_errors_are_not_asked_again(server: str) -> None:
    _Scripted.answers = [(404, {}, b'{"title":"Not found"}'), (200, {}, b"{}")]
    with pytest.raises(ProvisioningError, match="answered 404"):
        demo.Client(server, "t").call("GET", "/v1/accounts/a")
    assert len(_Scripted.seen) == 1
    _Scripted.answers = [(503, {}, b"{}")]
    with pytest.raises(ProvisioningError, match="answered 503"):
        demo.Client(server, "t").call("GET", "/v1/accounts/a")
