import pytest

from pgspatial.urls import libpq_url, sqlalchemy_url


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
