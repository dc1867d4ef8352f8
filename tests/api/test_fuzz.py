"""Property-based fuzzing of the API with schemathesis, against the project's own schema.

Every operation, with generated valid and invalid input and the token of the role it is
for, through Django's real request handling: no 5xx, and every response conforms to the
schema (status code documented, content type, body shape). A bounded budget per
operation keeps it to seconds in CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.support import make_account

# Unknown query parameters are ignored, as HTTP APIs do; everything else the schema forbids
# must be refused.
CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=CONFIG)
schema.app = WSGIHandler()

EXAMPLES_PER_OPERATION = 25


def _role(path: str) -> str:
    for prefix, role in (("/api/mitra/", "mitra"), ("/api/customer/", "customer"), ("/api/control-center/", "staff")):
        if path.startswith(prefix):
            return role
    return "customer"


@pytest.fixture
def tokens(db) -> Iterator[dict[str, str]]:
    # As Django's test client does: the test's transaction outlives each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {role: make_account(role).token for role in ("mitra", "customer", "staff")}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.filterwarnings("ignore")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema_and_never_answers_5xx(case, tokens):
    # Schema-valid input may still be refused for what the schema cannot say (a wrong
    # password, an unknown mitra id, a day outside the allowed range): not a failure.
    case.call_and_validate(
        headers={"Authorization": f"Token {tokens[_role(case.path)]}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
