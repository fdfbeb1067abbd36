"""The API against its own OpenAPI schema: schemathesis generates requests from /api/schema/ and sends them
to a live server with a real key; no answer may be a 5xx, and every answer must match the schema (status
code, content type, body), for valid requests and for invalid ones. A few examples per operation keep it
under a minute."""

from __future__ import annotations

import pytest
import schemathesis
from api_helpers import new_key, on_plan
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lumiodesk.models import Role

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12  # per operation and generation mode


@pytest.mark.slow  # property-based (schemathesis drives hypothesis): hundreds of requests to a live server
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_as_its_schema_says(live_server, world, settings):
    settings.API_RATE_LIMIT_OVERRIDE = 100_000  # the limit has its own test
    on_plan(world.org)
    headers = {"Authorization": f"Bearer {new_key(world.org, world.admin, Role.ADMIN)}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    sent = {GenerationMode.POSITIVE: 0, GenerationMode.NEGATIVE: 0}
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation, mode in [(operation, mode) for operation in operations for mode in modes]:
        try:
            sent[mode] += _run(operation, mode, live_server.url, headers)
        except Exception as exc:  # collect every operation's failure, then fail once with all of them
            failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    assert sent[GenerationMode.POSITIVE] >= len(operations) and sent[GenerationMode.NEGATIVE] >= len(operations), sent
    print(f"schemathesis: {len(operations)} operations, {sent[GenerationMode.POSITIVE]} valid and "
          f"{sent[GenerationMode.NEGATIVE]} invalid requests")


def _run(operation, mode: GenerationMode, base_url: str, headers: dict) -> int:
    """Send ``EXAMPLES`` generated requests of ``operation``; return how many were sent."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        nonlocal sent
        sent += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()
    return sent
