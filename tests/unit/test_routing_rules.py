"""Which statements RoutingSession may send to a replica, and which errors it retries.

No database: statements are classified as built, errors are built from psycopg's classes.
"""

import psycopg
import pytest
from sqlalchemy import (
    Integer,
    String,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
    union_all,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateTable

from pgspatial.engine.routing import (
    _is_recovery_conflict,
    _is_unavailable,
    _is_write,
    is_read_only_text,
)


class Base(DeclarativeBase):
    pass


class Parcel(Base):
    __tablename__ = "parcels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


t = table("t", column("id"), column("name"))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  select * from parcels where id = 1",
        "SHOW statement_timeout",
        "EXPLAIN SELECT * FROM parcels",
        "VALUES (1), (2)",
        "TABLE parcels",
        "WITH near AS (SELECT id FROM parcels) SELECT * FROM near",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
        "SELECT last_update, updated_at, deleted FROM parcels",  # words inside identifiers
        "SELECT * FROM updates",
        "SELECT pg_is_in_recovery()",
        "SELECT txid_current_if_assigned()",
    ],
)
def test_plain_reads_may_go_to_a_replica(sql):
    assert is_read_only_text(sql)
    assert not _is_write(text(sql))


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO parcels VALUES (1)",
        "UPDATE parcels SET name = 'x'",
        "DELETE FROM parcels",
        "MERGE INTO parcels USING src ON true WHEN MATCHED THEN DO NOTHING",
        "WITH gone AS (DELETE FROM parcels RETURNING id) SELECT count(*) FROM gone",
        "with moved as (update parcels set name = 'x' returning id) select * from moved",
        "SELECT * FROM parcels WHERE id = 1 FOR UPDATE",
        "SELECT * FROM parcels FOR NO KEY UPDATE SKIP LOCKED",
        "SELECT * FROM parcels FOR SHARE",
        "SELECT * FROM parcels FOR KEY SHARE",
        "SELECT * INTO parcels_copy FROM parcels",
        "SELECT nextval('parcels_id_seq')",
        "SELECT setval('parcels_id_seq', 10)",
        "SELECT set_config('work_mem', '1GB', false)",
        "SELECT pg_advisory_lock(42)",
        "SELECT pg_advisory_xact_lock_shared(42)",
        "SELECT pg_notify('parcels', 'changed')",
        "SELECT txid_current()",
        "SELECT pg_current_xact_id()",
        "CREATE TABLE x (id int)",
        "VACUUM parcels",
        "REFRESH MATERIALIZED VIEW m",
        "LOCK TABLE parcels",
        "COPY parcels FROM STDIN",
        "SET statement_timeout = 0",  # session state: not a read
        "BEGIN",
        "CALL rebuild()",
        "DO $$ BEGIN END $$",
        "-- a comment first\nSELECT 1",  # not recognised as a read: the primary, to be safe
    ],
)
def test_writes_locks_and_unknown_text_go_to_the_primary(sql):
    assert not is_read_only_text(sql)
    assert _is_write(text(sql))


def test_textual_select_is_judged_by_its_text():
    assert not _is_write(text("SELECT id FROM parcels").columns(column("id")))
    assert _is_write(text("SELECT id FROM parcels FOR UPDATE").columns(column("id")))


@pytest.mark.parametrize(
    "statement",
    [
        select(Parcel),
        select(Parcel.id).where(Parcel.name == "update"),  # a value, not SQL
        select(t.c.id).where(t.c.name == "x").order_by(t.c.id).limit(3),
        union_all(select(t.c.id), select(Parcel.id)),
        select(func.count()).select_from(t),
        select(func.st_dwithin(literal_column("geom"), literal_column("geom"), 5)),
        select(t.c.id).where(t.c.id.in_(select(Parcel.id).where(Parcel.id > 1))),
        select(t).add_cte(select(t.c.id).cte("ids")),
    ],
)
def test_core_and_orm_reads_may_go_to_a_replica(statement):
    assert not _is_write(statement)


@pytest.mark.parametrize(
    "statement",
    [
        insert(Parcel).values(id=1, name="a"),
        update(Parcel).where(Parcel.id == 1).values(name="b"),
        delete(Parcel).where(Parcel.id == 1),
        insert(t).from_select(["id"], select(Parcel.id)),
        select(Parcel).with_for_update(),
        select(Parcel).with_for_update(read=True, skip_locked=True),
        select(t.c.id).where(
            t.c.id.in_(select(Parcel.id).with_for_update().scalar_subquery())
        ),  # a locking subquery
        select(func.count()).add_cte(delete(t).returning(t.c.id).cte("gone")),
        select(literal_column("*")).select_from(
            update(t).values(name="x").returning(t.c.id).cte("moved")
        ),
        union_all(select(t.c.id), select(Parcel.id).with_for_update()),
        select(func.nextval("parcels_id_seq")),
        select(func.pg_advisory_xact_lock(1)),
        select(t.c.id).where(text("name = 'x' FOR UPDATE")),  # a text fragment
        CreateTable(Parcel.__table__),  # DDL and anything unknown: the primary
    ],
)
def test_core_and_orm_writes_go_to_the_primary(statement):
    assert _is_write(statement)


def test_no_statement_means_a_read_connection():
    """``session.connection()`` asks without a statement: the transaction's read server."""
    assert not _is_write(None)


def _wrapped(orig: Exception, *, statement: str | None = "SELECT 1", invalidated: bool = False):
    cls = (
        sa_exc.OperationalError if isinstance(orig, psycopg.OperationalError) else sa_exc.DBAPIError
    )
    return cls(statement, {}, orig, connection_invalidated=invalidated)


def test_recovery_conflicts_are_recognised():
    snapshot = psycopg.errors.SerializationFailure(
        "canceling statement due to conflict with recovery\n"
        "DETAIL:  User query might have needed to see row versions that must be removed."
    )
    deadlock = psycopg.errors.DeadlockDetected("canceling statement due to conflict with recovery")
    serializable = psycopg.errors.SerializationFailure(
        "could not serialize access due to concurrent update"
    )
    assert _is_recovery_conflict(_wrapped(snapshot))
    assert _is_recovery_conflict(_wrapped(deadlock))
    assert not _is_recovery_conflict(_wrapped(serializable)), "a 40001 on the primary is not"


def test_an_unavailable_replica_is_told_from_a_failing_statement():
    refused = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
    )
    assert _is_unavailable(_wrapped(refused, statement=None)), "the connection attempt failed"
    assert _is_unavailable(_wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert _is_unavailable(_wrapped(psycopg.errors.CannotConnectNow("starting up"), statement=None))
    dropped = psycopg.OperationalError("server closed the connection unexpectedly")
    assert _is_unavailable(_wrapped(dropped, invalidated=True))

    assert not _is_unavailable(_wrapped(psycopg.errors.QueryCanceled("statement timeout")))
    assert not _is_unavailable(_wrapped(psycopg.errors.UndefinedTable("no such table")))
    assert not _is_unavailable(
        _wrapped(psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT"))
    )
