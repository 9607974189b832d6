import pytest

from pgspatial.urls import libpq_conninfo, libpq_url, sqlalchemy_url


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@h:5433/db",
        "postgresql://u:p@h:5433/db",
        "postgresql+psycopg://u:p@h:5433/db",
    ],
)
def test_every_spelling_maps_to_psycopg3(raw):
    url = sqlalchemy_url(raw)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "u",
        "p",
        "h",
        5433,
        "db",
    )


def test_other_drivers_are_kept():
    assert sqlalchemy_url("postgresql+asyncpg://h/db").drivername == "postgresql+asyncpg"


def test_libpq_form_drops_the_driver_and_keeps_the_password():
    assert libpq_url("postgresql+psycopg://u:secret@127.0.0.1:5555/db") == (
        "postgresql://u:secret@127.0.0.1:5555/db"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql+psycopg://u:p%40ss@h:5/d", "postgresql://u:p%40ss@h:5/d"),
        ("postgres://h/d?sslmode=require", "postgresql://h/d?sslmode=require"),
        ("PostgreSQL+psycopg2://x/y", "postgresql://x/y"),
        ("postgresql:///d?host=/run/sock", "postgresql:///d?host=/run/sock"),
        ("host=h dbname=d", "host=h dbname=d"),
    ],
)
def test_libpq_conninfo_changes_only_the_scheme(raw, expected):
    # what `pgspatial load` connects with, without importing SQLAlchemy: the rest as written
    assert libpq_conninfo(raw) == expected
