"""pytest plugin (entry point ``pytest11``): namespaced fixtures for PostGIS-backed tests.

Fixtures (the server starts lazily, on the first test that asks for one):

=============================  ==========  ============================================
fixture                        scope       what it gives
=============================  ==========  ============================================
``pgspatial_database_url``     session     URL of DATABASE_URL or the embedded cluster
``pgspatial_engine``           session     a SQLAlchemy ``Engine`` on that database
``pgspatial_async_engine``     session     an ``AsyncEngine`` (NullPool: loop-agnostic)
``pgspatial_connection``       function    a ``Connection`` in a transaction rolled back
                                           after the test
``pgspatial_session``          function    a ``Session`` on that connection; the code
                                           under test may ``commit()``/``rollback()``
``pgspatial_async_connection`` function    the async variants (need pytest-asyncio)
``pgspatial_async_session``
``pgspatial_fresh_database``   function    a new database from a PostGIS template, for
                                           DDL; dropped after the test
``pgspatial_pgbouncer``        session     a real PgBouncer (transaction mode, one server
                                           connection) in front of that database
=============================  ==========  ============================================

When no database can be had (PostgreSQL/PostGIS missing, server unreachable) the tests
that need one are skipped with the reason; pass ``--pgspatial-require-db`` (or set
``PGSPATIAL_REQUIRE_DB=1``) to make them fail instead, as CI should.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
    from sqlalchemy.orm import Session

    from pgspatial.testing.databases import FreshDatabase
    from pgspatial.testing.pgbouncer import PgBouncer

try:
    import pytest_asyncio

    _HAVE_PYTEST_ASYNCIO = True
except ImportError:  # pragma: no cover - exercised only without the dev extra
    _HAVE_PYTEST_ASYNCIO = False

_REQUIRE_OPTION = "--pgspatial-require-db"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--pgspatial-require-db`` and its ini twin ``pgspatial_require_db``."""
    group = parser.getgroup("pgspatial")
    group.addoption(
        _REQUIRE_OPTION,
        action="store_true",
        default=False,
        help="Fail (instead of skip) tests that need a database when none can be had.",
    )
    parser.addini("pgspatial_require_db", "Fail instead of skip without a database.", type="bool")


def _database_required(config: pytest.Config) -> bool:
    env = os.environ.get("PGSPATIAL_REQUIRE_DB", "").lower() in {"1", "true", "yes"}
    return bool(config.getoption(_REQUIRE_OPTION) or config.getini("pgspatial_require_db") or env)


@pytest.fixture(scope="session")
def pgspatial_database_url(request: pytest.FixtureRequest) -> str:
    """The URL tests run against: DATABASE_URL, else the embedded cluster (started lazily)."""
    from pgspatial.errors import PgSpatialError
    from pgspatial.local import resolve_database_url
    from pgspatial.settings import Settings

    try:
        return resolve_database_url(Settings())
    except PgSpatialError as error:
        message = f"pgspatial: no database available: {error}"
        if _database_required(request.config):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def pgspatial_engine(pgspatial_database_url: str) -> Iterator[Engine]:
    """A session-wide engine on the test database (pgspatial's production defaults)."""
    from pgspatial.engine import create_engine

    engine = create_engine(pgspatial_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pgspatial_async_engine(pgspatial_database_url: str) -> AsyncEngine:
    """A session-wide async engine; NullPool keeps it usable from every test's event loop."""
    from sqlalchemy.pool import NullPool

    from pgspatial.engine import create_async_engine

    return create_async_engine(pgspatial_database_url, poolclass=NullPool)


class OuterTransactionCommitted(AssertionError):
    """Raised when code commits the connection that pgspatial_connection rolls back."""


def _refuse_commit(connection: Connection) -> None:
    raise OuterTransactionCommitted(
        "pgspatial_connection runs the test inside a transaction that is rolled back "
        "afterwards, so Connection.commit() is refused (it would write rows that outlive "
        "the test). Use the pgspatial_session fixture, whose commits become savepoints, "
        "or pgspatial_fresh_database for code that must really commit."
    )


@pytest.fixture
def pgspatial_connection(pgspatial_engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back after the test.

    ``connection.commit()`` raises instead of committing: nothing the test writes survives.
    """
    from sqlalchemy import event

    with pgspatial_engine.connect() as connection:
        outer = connection.begin()
        event.listen(connection, "commit", _refuse_commit)
        try:
            yield connection
        finally:
            event.remove(connection, "commit", _refuse_commit)
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def pgspatial_session(pgspatial_connection: Connection) -> Iterator[Session]:
    """An ORM session whose commits become savepoints: the test leaves no rows behind."""
    from sqlalchemy.orm import Session

    session = Session(
        bind=pgspatial_connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def pgspatial_fresh_database(pgspatial_database_url: str) -> Iterator[FreshDatabase]:
    """A new database cloned from a PostGIS template, for tests that run DDL."""
    from pgspatial.testing.databases import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        yield database


@pytest.fixture(scope="session")
def pgspatial_pgbouncer(
    request: pytest.FixtureRequest, pgspatial_database_url: str
) -> Iterator[PgBouncer]:
    """A real PgBouncer in transaction mode with one server connection, for the session.

    Use ``pgspatial.create_engine(pgspatial_pgbouncer.url, pgbouncer=True)``. Tests that
    deliberately leave state on the shared server connection (a session SET, prepared
    statements) should start their own ``PgBouncer(...)`` instead.
    """
    from pgspatial.errors import ServerNotFound
    from pgspatial.testing.pgbouncer import PgBouncer

    try:
        bouncer = PgBouncer(pgspatial_database_url, pool_mode="transaction", default_pool_size=1)
    except ServerNotFound as error:
        message = f"pgspatial: no PgBouncer available: {error}"
        if _database_required(request.config):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with bouncer:
        yield bouncer


if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def pgspatial_async_connection(
        pgspatial_async_engine: AsyncEngine,
    ) -> AsyncIterator[AsyncConnection]:
        """An async connection inside an outer transaction rolled back after the test."""
        async with pgspatial_async_engine.connect() as connection:
            outer = await connection.begin()
            try:
                yield connection
            finally:
                if outer.is_active:
                    await outer.rollback()

    @pytest_asyncio.fixture
    async def pgspatial_async_session(
        pgspatial_async_connection: AsyncConnection,
    ) -> AsyncIterator[AsyncSession]:
        """An AsyncSession whose commits become savepoints of the outer transaction."""
        from sqlalchemy.ext.asyncio import AsyncSession

        session = AsyncSession(
            bind=pgspatial_async_connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        )
        try:
            yield session
        finally:
            await session.close()

else:  # pragma: no cover

    @pytest.fixture
    def pgspatial_async_connection() -> None:
        """Needs pytest-asyncio."""
        pytest.skip("pgspatial async fixtures need pytest-asyncio: pip install pytest-asyncio")

    @pytest.fixture
    def pgspatial_async_session() -> None:
        """Needs pytest-asyncio."""
        pytest.skip("pgspatial async fixtures need pytest-asyncio: pip install pytest-asyncio")
