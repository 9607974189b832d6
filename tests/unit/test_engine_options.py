"""SessionSettings rendering and create_engine's keyword handling, without a database.

What psycopg would receive is read from the engine itself: the URL part from
``dialect.create_connect_args`` and the merged keywords (connect_args included) from a
``do_connect`` listener that records them and stops before any socket is opened.
"""

from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from pgspatial.engine import (
    SessionSettings,
    create_analytics_engine,
    create_async_engine,
    create_engine,
    session_settings_of,
)
from pgspatial.errors import ConfigError
from pgspatial.settings import Settings

URL = "postgresql://app@db.invalid:6432/gis"


class _Captured(Exception):
    """Raised by the do_connect listener once it has recorded the keywords."""


def connect_kwargs(engine: Engine) -> dict[str, Any]:
    """The keyword arguments engine would pass to psycopg.connect (nothing is connected)."""
    seen: dict[str, Any] = {}

    def capture(dialect, conn_rec, cargs, cparams):
        seen.update(cparams)
        raise _Captured

    event.listen(engine, "do_connect", capture)
    try:
        with pytest.raises(_Captured):
            engine.connect()
    finally:
        event.remove(engine, "do_connect", capture)
    return seen


@pytest.fixture
def settings(monkeypatch) -> Settings:
    """Settings independent of the environment the tests run in."""
    for name in ("DATABASE_URL", "PGSPATIAL_DATABASE_URL", "PGSPATIAL_PGBOUNCER"):
        monkeypatch.delenv(name, raising=False)
    return Settings(
        pool_size=7,
        max_overflow=3,
        pool_recycle_s=900,
        pool_pre_ping=True,
        statement_timeout_ms=30_000,
        lock_timeout_ms=10_000,
        idle_in_transaction_timeout_ms=60_000,
        random_page_cost=1.1,
        effective_cache_size="8GB",
        work_mem="64MB",
        application_name="pgspatial-unit",
        pgbouncer=False,
    )


# -- SessionSettings.startup_options ---------------------------------------------------------


def test_startup_options_are_one_dash_c_per_setting():
    options = SessionSettings((("statement_timeout", "1234"), ("work_mem", "64MB")))
    assert options.startup_options() == "-c statement_timeout=1234 -c work_mem=64MB"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a b", r"a\ b"),
        ("a  b", r"a\ \ b"),
        ("tab\there", "tab\\\there"),
        ("new\nline", "new\\\nline"),
        (r"a\b", r"a\\b"),  # was sent as a\b, which the server reads as "ab"
        (r"a\ b", r"a\\\ b"),  # was sent as a\\ b: "a\" then a stray "b" -> FATAL at startup
        ("trailing\\", "trailing\\\\"),
        ("it's", "it's"),  # quotes mean nothing to the server's splitter
    ],
)
def test_startup_options_escape_whitespace_and_backslashes(value, escaped):
    options = SessionSettings((("application_name", value),)).startup_options()
    assert options == f"-c application_name={escaped}"


def _split_like_postgres(options: str) -> list[str]:
    """PostgreSQL's pg_split_opts: split on whitespace, a backslash escapes the next char."""
    words: list[str] = []
    current: list[str] = []
    escaped = in_word = False
    for char in options:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = in_word = True
        elif char.isspace():
            if in_word:
                words.append("".join(current))
            current, in_word = [], False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


@pytest.mark.parametrize("value", ["plain", "a b", r"a\b", r"a\ b", "x\t y\\", " lead"])
def test_startup_options_round_trip_through_the_servers_splitter(value):
    options = SessionSettings((("application_name", value), ("work_mem", "4MB")))
    words = _split_like_postgres(options.startup_options())
    assert words == ["-c", f"application_name={value}", "-c", "work_mem=4MB"]


# -- SessionSettings.set_local_sql -----------------------------------------------------------


def test_set_local_sql_is_one_statement_scoped_to_the_transaction():
    options = SessionSettings((("statement_timeout", "1234"), ("work_mem", "64MB")))
    assert options.set_local_sql() == (
        "SELECT set_config('statement_timeout', '1234', true), set_config('work_mem', '64MB', true)"
    )


@pytest.mark.parametrize(
    ("value", "literal"),
    [("it's", "'it''s'"), ("''", "''''''"), (r"a\b", r"'a\b'"), ("a b", "'a b'")],
)
def test_set_local_sql_doubles_single_quotes(value, literal):
    sql = SessionSettings((("application_name", value),)).set_local_sql()
    assert sql == f"SELECT set_config('application_name', {literal}, true)"


def test_from_settings_skips_unset_values_and_takes_the_timeout_override(settings):
    tuned = settings.model_copy(update={"random_page_cost": None, "work_mem": None})
    options = SessionSettings.from_settings(tuned, statement_timeout_ms=1234)
    assert dict(options.values) == {
        "statement_timeout": "1234",
        "lock_timeout": "10000",
        "idle_in_transaction_session_timeout": "60000",
        "effective_cache_size": "8GB",
    }
    assert options.with_value("statement_timeout", "5").get("statement_timeout") == "5"


# -- create_engine: what reaches psycopg -----------------------------------------------------


def test_direct_mode_sends_the_settings_in_the_startup_packet(settings):
    engine = create_engine(URL, settings=settings, statement_timeout_ms=1234)
    url_part = engine.dialect.create_connect_args(engine.url)[1]
    assert "options" not in url_part  # the URL itself is left alone
    assert (url_part["host"], url_part["port"], url_part["dbname"]) == ("db.invalid", 6432, "gis")

    kwargs = connect_kwargs(engine)
    expected = SessionSettings.from_settings(settings, statement_timeout_ms=1234)
    assert kwargs["options"] == expected.startup_options()
    assert "-c statement_timeout=1234" in kwargs["options"]
    assert kwargs["application_name"] == "pgspatial-unit"
    assert "prepare_threshold" not in kwargs  # psycopg's default (5): fine without PgBouncer
    assert session_settings_of(engine) == expected
    assert not engine.dispatch.begin  # nothing runs per transaction


def test_pgbouncer_mode_disables_prepared_statements_and_sends_no_options(settings):
    engine = create_engine(URL, settings=settings, pgbouncer=True, statement_timeout_ms=1234)
    kwargs = connect_kwargs(engine)
    assert "prepare_threshold" in kwargs
    assert kwargs["prepare_threshold"] is None
    assert "options" not in kwargs
    assert kwargs["application_name"] == "pgspatial-unit"  # PgBouncer 1.18 accepts this one
    assert engine.dispatch.begin  # the settings go in with SET LOCAL at each BEGIN
    assert session_settings_of(engine).get("statement_timeout") == "1234"


def test_pgbouncer_mode_comes_from_settings_unless_the_call_says_otherwise(settings):
    bouncing = settings.model_copy(update={"pgbouncer": True})
    assert "options" not in connect_kwargs(create_engine(URL, settings=bouncing))
    assert "options" in connect_kwargs(create_engine(URL, settings=bouncing, pgbouncer=False))


def test_async_engine_has_the_same_pgbouncer_mode(settings):
    engine = create_async_engine(URL, settings=settings, pgbouncer=True)
    assert engine.url.drivername == "postgresql+psycopg_async"
    kwargs = connect_kwargs(engine.sync_engine)
    assert kwargs["prepare_threshold"] is None
    assert "options" not in kwargs


# -- create_engine: keyword precedence -------------------------------------------------------


def test_callers_connect_args_win_over_pgspatials(settings):
    engine = create_engine(
        URL,
        settings=settings,
        connect_args={
            "application_name": "mine",
            "options": "-c work_mem=1MB",
            "connect_timeout": 3,
        },
    )
    kwargs = connect_kwargs(engine)
    assert kwargs["application_name"] == "mine"
    assert kwargs["options"] == "-c work_mem=1MB"
    assert kwargs["connect_timeout"] == 3


def test_callers_connect_args_win_in_pgbouncer_mode_too(settings):
    engine = create_engine(
        URL, settings=settings, pgbouncer=True, connect_args={"prepare_threshold": 3}
    )
    assert connect_kwargs(engine)["prepare_threshold"] == 3


def test_pool_defaults_come_from_settings(settings):
    pool = create_engine(URL, settings=settings).pool
    assert isinstance(pool, QueuePool)
    assert pool.size() == 7
    assert pool._max_overflow == 3
    assert pool._recycle == 900
    assert pool._pre_ping is True


def test_callers_pool_keywords_win(settings):
    pool = create_engine(
        URL, settings=settings, pool_size=2, max_overflow=0, pool_recycle=60, pool_pre_ping=False
    ).pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool._max_overflow, pool._recycle, pool._pre_ping) == (2, 0, 60, False)


@pytest.mark.parametrize("poolclass", [NullPool, StaticPool])
def test_a_poolclass_drops_the_queue_pool_sizes(settings, poolclass):
    # NullPool and StaticPool take no pool_size/max_overflow: passing them is a TypeError.
    engine = create_engine(URL, settings=settings, poolclass=poolclass, pgbouncer=True)
    assert isinstance(engine.pool, poolclass)
    assert engine.pool._recycle == 900  # the other pool defaults still apply


def test_analytics_engine_has_a_small_pool_and_the_long_timeout(settings):
    engine = create_analytics_engine(URL, settings=settings)
    assert isinstance(engine.pool, QueuePool)
    assert (engine.pool.size(), engine.pool._max_overflow) == (2, 2)
    timeout = str(settings.analytics_statement_timeout_ms)
    assert f"-c statement_timeout={timeout}" in connect_kwargs(engine)["options"]
    assert create_analytics_engine(URL, settings=settings, pool_size=5).pool.size() == 5


def test_postgres_scheme_is_mapped_to_psycopg(settings):
    engine = create_engine("postgres://app@db.invalid/gis", settings=settings)
    assert engine.url.drivername == "postgresql+psycopg"


def test_no_url_says_where_to_get_one(settings):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_engine(settings=settings)
