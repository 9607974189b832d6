"""Schemathesis over the service's OpenAPI: no 5xx, and responses conform to the schema.

The app runs under uvicorn on 127.0.0.1 against this module's fresh database, so the
generated writes (POST/PUT/DELETE /parcels) touch only that throwaway copy. Bounded: 15
examples per operation (derandomized), no shrinking, a deadline per example.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pgspatial.service import ServiceSettings, create_app  # noqa: E402
from pgspatial.testing import FreshDatabase  # noqa: E402
from tests.service.serving import serve  # noqa: E402


@pytest.fixture(scope="module")
def base_url(service_db: FreshDatabase) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1, on this module's fresh database."""
    with serve(ServiceSettings(database_url=service_db.url)) as url:
        yield url


# The OpenAPI document needs no database (no lifespan runs for ``app.openapi()``). Loaded at
# import, not through ``schemathesis.pytest.from_fixture``: that reads ``request.node._nodeid``,
# which pytest 9 no longer has (AttributeError).
schema = schemathesis.openapi.from_dict(
    create_app(ServiceSettings(database_url="postgresql+psycopg://unused@127.0.0.1:1/x")).openapi()
)


@schema.parametrize()  # type: ignore[untyped-decorator]
@settings(
    max_examples=15,
    deadline=10_000,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_openapi(case: Any, base_url: str) -> None:
    case.call_and_validate(
        base_url=base_url,
        timeout=30,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
