"""Check that a real service process drains on SIGTERM: a request in flight when the signal comes completes 2xx,
``/readyz`` answers 503 ``draining`` meanwhile, and the process exits 0 within a bound (ADR 0018)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from tests.support.http_service import local_get
from tests.support.processes import wait_for

EXIT_WITHIN_SECONDS = 15.0


class ServiceProcess:
    """``python -m <module> <args>`` with extra environment, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.port = port
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *args],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: self.process.poll() is not None or local_get(self.port, "/readyz")[0] == 200, timeout, "ready")
        assert self.process.poll() is None, self.log_tail()

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@contextlib.contextmanager
def service(args: list[str], env: dict[str, str], log_path: Path, port: int) -> Iterator[ServiceProcess]:
    running = ServiceProcess(args, env, log_path, port)
    try:
        running.wait_ready()
        yield running
    finally:
        running.kill()


def assert_drains(
    running: ServiceProcess,
    slow_request: Callable[[], httpx.Response],
    *,
    in_flight: Callable[[], bool],
    release: Callable[[], None],
) -> httpx.Response:
    """Send ``slow_request`` (it waits on something the test holds), SIGTERM the process once ``in_flight`` says the
    request is there, check readiness and the process while it drains, ``release`` the request, and return its
    answer once the process exited 0."""
    answers: list[httpx.Response | BaseException] = []

    def send() -> None:
        try:
            answers.append(slow_request())
        except BaseException as exc:
            answers.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    wait_for(in_flight, 20, "the slow request to be in flight")
    running.process.send_signal(signal.SIGTERM)
    wait_for(lambda: local_get(running.port, "/readyz")[0] == 503, 5, "/readyz to answer 503 while draining")
    status, body = local_get(running.port, "/readyz")
    assert (status, "draining" in body) == (503, True), body
    assert running.process.poll() is None, "the process exited with a request in flight"
    assert not answers, answers
    release()
    sender.join(EXIT_WITHIN_SECONDS)
    assert answers, "the slow request got no answer"
    answer = answers[0]
    assert isinstance(answer, httpx.Response), f"{answer!r}\n{running.log_tail()}"
    try:
        code = running.process.wait(EXIT_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {EXIT_WITHIN_SECONDS} s after SIGTERM:\n{running.log_tail()}") from None
    assert code == 0, running.log_tail()
    return answer
