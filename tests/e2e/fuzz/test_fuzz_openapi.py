"""A property-based fuzz of the whole public API from its OpenAPI document (schemathesis), against the running system.

Whatever the input (valid or not, NUL and the whole Unicode range in every string, ``X-Min-Position`` included), no
answer is a 5xx but the documented 503 for a read model that has not reached ``X-Min-Position`` in time, and every
error is ``application/problem+json``. Two phases: every operation alone, then stateful sequences that follow the
document's links (open an account, then read it, deposit to it, freeze it, audit it; make a transfer, then post,
void or read it). When the system stops, its logs are scanned: an unexpected error fails the tier
(tests/support/logscan.py).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky, FlakyStrategyDefinition
from tests.support.fuzz import CASES, RESTARTS, check_answer
from tests.support.system import RunningSystem

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

SCHEMA = schemathesis.openapi.from_dict(create_app(GatewaySettings(rate_limit_enabled=False)).openapi())
# Strings over the whole Unicode range, lone surrogates included (JSON carries them as \ud800 escapes), and NUL; the
# token is the test's, never a generated one.
SCHEMA.config.generation.update(codec=None, allow_x00=True, with_security_parameters=False)
ENDLESS = "/v1/stats/stream"  # Server-Sent Events never end: covered by tests/e2e/system/test_public_api.py
PER_OPERATION = 60
SCENARIOS = 10
STEPS_PER_SCENARIO = 6
ENGINE_RESTARTS = 5


@SCHEMA.exclude(path=ENDLESS).parametrize()
@settings(max_examples=PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_makes_an_operation_fail(case: schemathesis.Case[Any], fuzzed: RunningSystem, fuzz_token: str) -> None:
    response = case.call(base_url=fuzzed.gateway_url, headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
    CASES["alone"] += 1
    check_answer(case, response)


def test_no_sequence_of_linked_operations_makes_the_system_fail(fuzzed: RunningSystem, fuzz_token: str) -> None:
    machine = SCHEMA.exclude(path=ENDLESS).as_state_machine()
    failures: list[str] = []

    class Workflow(machine):  # type: ignore[valid-type,misc]
        def before_call(self, case: schemathesis.Case[Any]) -> None:
            # A link carries a value into a header as the response had it (X-Min-Position from the body's integer
            # position): HTTP sends text, and the client refuses anything else before a byte leaves.
            for name, value in list((case.headers or {}).items()):
                if not isinstance(value, str):
                    case.headers[name] = str(value)

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {
                "base_url": fuzzed.gateway_url,
                "headers": {"Authorization": f"Bearer {fuzz_token}"},
                "timeout": 30,
            }

        def validate_response(self, response: Any, case: schemathesis.Case[Any], **_: Any) -> None:
            CASES["in sequences"] += 1
            try:
                check_answer(case, response)
            except AssertionError as failure:
                failures.append(str(failure))  # recorded as it happens: a replay cannot unreport it
                raise

    # A sequence's draws depend on the live system's answers: which links can be followed depends on the status each
    # answer had, and the system's state moves on between sequences. When hypothesis walks a prefix it has seen before
    # and the sequence now ends earlier, its data tree reports FlakyStrategyDefinition although every answer passed
    # the checks. As schemathesis' own engine does (engine/run/stateful/_executor.py), such a run counts as done
    # and a fresh engine runs the sequences still owed; a failing answer fails the test even if its replay passes.
    # No shrinking: a replay never draws the same sequence again, so the first failing sequence is reported as it ran.
    for _ in range(ENGINE_RESTARTS + 1):
        try:
            Workflow.run(
                settings=settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=STEPS_PER_SCENARIO,
                    phases=[Phase.generate],
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                )
            )
            break
        except Flaky as flaky:
            assert not failures, "\n".join(failures)
            if not isinstance(flaky, FlakyStrategyDefinition):
                raise
            RESTARTS["sequence engines"] += 1
    assert not failures, "\n".join(failures)
    assert CASES["in sequences"] >= SCENARIOS, "the stateful phase ran fewer calls than scenarios"
