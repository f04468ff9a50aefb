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
from tests.support.fuzz import CASES, check_answer
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


@SCHEMA.exclude(path=ENDLESS).parametrize()
@settings(max_examples=PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_makes_an_operation_fail(case: schemathesis.Case[Any], fuzzed: RunningSystem, fuzz_token: str) -> None:
    response = case.call(base_url=fuzzed.gateway_url, headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
    CASES["alone"] += 1
    check_answer(case, response)


def test_no_sequence_of_linked_operations_makes_the_system_fail(fuzzed: RunningSystem, fuzz_token: str) -> None:
    machine = SCHEMA.exclude(path=ENDLESS).as_state_machine()

    class Workflow(machine):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {
                "base_url": fuzzed.gateway_url,
                "headers": {"Authorization": f"Bearer {fuzz_token}"},
                "timeout": 30,
            }

        def validate_response(self, response: Any, case: schemathesis.Case[Any], **_: Any) -> None:
            CASES["in sequences"] += 1
            check_answer(case, response)

    Workflow.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS_PER_SCENARIO,
            # No shrinking: a sequence's draws depend on the live system's answers (the links feed on them), so a
            # replay never draws the same again and hypothesis reports FlakyStrategyDefinition instead of the
            # failure; the first failing sequence is reported as it ran.
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    assert CASES["in sequences"] >= SCENARIOS, "the stateful phase ran fewer calls than scenarios"
