"""Hardening of the reference service: injection, concurrency, a stopped database, slow reads.

Everything runs on 127.0.0.1 against a real uvicorn server in a thread, bounded in request
count and wall time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text

from pgspatial.sampledata import load_sample_data
from pgspatial.service import ServiceSettings, create_app
from pgspatial.settings import Settings
from pgspatial.testing import FreshDatabase, fresh_database

from .serving import serve

# -- helpers ------------------------------------------------------------------------------


def fingerprint(database: FreshDatabase) -> dict[str, Any]:
    """Row counts and md5 checksums of the demo tables, and the relations that exist."""
    with database.engine.connect() as c:
        result: dict[str, Any] = {}
        for table in ("parcels", "zoning_districts"):
            result[table] = tuple(
                c.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), ''))"
                        f" FROM {table} t"
                    )
                ).one()
            )
        result["relations"] = tuple(
            c.execute(
                text(
                    "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' ORDER BY relname"
                )
            ).scalars()
        )
    return result


def feature_ids(response: httpx.Response) -> set[Any] | None:
    """The feature ids in a GeoJSON/NDJSON response (None for other bodies)."""
    media = response.headers.get("content-type", "")
    if response.status_code != 200 or "geo+json" not in media:
        return None
    if "json-seq" in media:
        return {orjson.loads(line)["id"] for line in response.content.splitlines() if line}
    body = orjson.loads(response.content)
    if body.get("type") == "Feature":
        return {body["id"]}
    return {f["id"] for f in body["features"]}


# -- 1. injection --------------------------------------------------------------------------

#: Payloads that must be rejected or treated as an inert literal (never more rows).
LITERAL_PAYLOADS = [
    "1;DROP TABLE parcels",
    ";DROP TABLE parcels;--",
    "' OR '1'='1",
    "' OR 1=1--",
    "1) OR (1=1",
    "1 OR 1=1",
    "1'; SELECT pg_sleep(5)--",
    "$$; DROP TABLE parcels; $$",
    "%00",
    "\x00",
    "a\x00b",
    "\\",
    '"',
    "é中文🚀\u202e",
    "A" * 4000,
    "residential' --",
    "0x10",
    "",
    " ",
]
#: Payloads that may be valid values (so more rows are fine): only no 5xx, no change.
NUMERIC_PAYLOADS = [
    "-1",
    "0",
    "-99999999999999999999",
    "99999999999999999999999",
    "9" * 4000,
    "1e308",
    "-1e308",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1.5",
]
PAYLOADS = [(p, True) for p in LITERAL_PAYLOADS] + [(p, False) for p in NUMERIC_PAYLOADS]

BBOX = "-74.3,40.4,-73.6,40.95"  # around the sample data (under 1 square degree)
WORLD = "-180,-90,180,90"


def _cases(
    sample: dict[str, Any],
) -> list[tuple[str, dict[str, str], dict[str, str], dict[str, str]]]:
    """(path template, path params, query params, query overrides for the reference)."""
    pid, lat, lon = sample["id"], sample["lat"], sample["lon"]
    items = "/collections/{cid}/items"
    return [
        ("/parcels", {}, {"bbox": BBOX, "limit": "50"}, {"limit": "100000"}),
        (
            "/parcels/nearby",
            {},
            {"lat": lat, "lon": lon, "radius_m": "500", "limit": "5"},
            {"limit": "10000"},
        ),
        ("/parcels/nearest", {}, {"lat": lat, "lon": lon, "k": "5"}, {"k": "100"}),
        ("/parcels/export.{fmt}", {"fmt": "ndjson"}, {"bbox": BBOX}, {}),
        ("/parcels/{key}", {"key": pid}, {}, {}),
        (
            "/zoning/{zid}/parcels",
            {"zid": sample["zoning_id"]},
            {"limit": "5"},
            {"limit": "100000"},
        ),
        ("/tiles/{z}/{x}/{y}.mvt", {"z": "10", "x": "301", "y": "384"}, {}, {}),
        ("/collections/{cid}", {"cid": "parcels"}, {}, {}),
        ("/collections/{cid}/schema", {"cid": "parcels"}, {}, {}),
        (
            items,
            {"cid": "parcels"},
            {
                "bbox": WORLD,
                "limit": "5",
                "cursor": "0",
                "properties": "parcel_id,land_use",
                "datetime": "2020-01-01T00:00:00Z",
                "land_use": sample["land_use"],
            },
            {"limit": "10000"},
        ),
        (
            items,
            {"cid": "parcels"},
            {"year_built": sample["year_built"], "zoning_id": sample["zoning_id"]},
            {"limit": "10000"},
        ),
        (items, {"cid": "parcels"}, {"parcel_id": sample["parcel_id"]}, {"limit": "10000"}),
        (items, {"cid": "zoning_districts"}, {"limit": "3"}, {"limit": "10000"}),
        ("/collections/{cid}/items/{fid}", {"cid": "parcels", "fid": pid}, {}, {}),
        (
            "/collections/{cid}/tiles/{z}/{x}/{y}.mvt",
            {"cid": "parcels", "z": "10", "x": "301", "y": "384"},
            {},
            {},
        ),
    ]


def _url(template: str, path: dict[str, str]) -> str:
    return template.format(**{k: quote(v, safe="") for k, v in path.items()})


def _sample(database: FreshDatabase) -> dict[str, Any]:
    with database.engine.connect() as c:
        row = c.execute(
            text(
                "SELECT id, parcel_id, land_use, year_built, zoning_id, "
                "ST_Y(ST_PointOnSurface(geom)) AS lat, ST_X(ST_PointOnSurface(geom)) AS lon "
                "FROM parcels WHERE year_built IS NOT NULL AND zoning_id IS NOT NULL "
                "ORDER BY id LIMIT 1"
            )
        ).one()
    return {k: str(v) for k, v in row._mapping.items()}


@pytest.fixture(scope="module")
def module_url(service_db: FreshDatabase) -> Iterator[str]:
    with serve(ServiceSettings(database_url=service_db.url)) as url:
        yield url


def test_injection_in_every_parameter(module_url: str, service_db: FreshDatabase) -> None:
    """Every query and path parameter, replaced by and suffixed with each payload."""
    before = fingerprint(service_db)
    sample = _sample(service_db)
    failures: list[str] = []
    sent = 0
    started = time.monotonic()
    with httpx.Client(base_url=module_url, timeout=30) as client:
        for template, path, query, widen in _cases(sample):
            reference = client.get(_url(template, path), params={**query, **widen})
            assert reference.status_code in {200, 204}, (template, reference.text[:300])
            allowed = feature_ids(reference)
            targets = [("path", k) for k in path] + [("query", k) for k in query]
            # a payload as an extra parameter *name* too (OGC filters take any column name)
            for payload, literal in PAYLOADS:
                extra = {f"land_use{payload}": "x"} if "items" in template else {}
                for where, name in [*targets, ("name", "")]:
                    for value in (payload, (path | query).get(name, "") + payload):
                        p, q = dict(path), dict(query)
                        if where == "path":
                            p[name] = value
                        elif where == "query":
                            q[name] = value
                        elif extra:
                            q |= extra
                        else:
                            continue
                        url = _url(template, p)
                        try:
                            response = client.get(url, params=q)
                        except httpx.HTTPError as exc:  # the server must answer, not hang up
                            failures.append(f"{url} {q}: {exc!r}")
                            continue
                        sent += 1
                        if response.status_code >= 500:
                            failures.append(
                                f"{response.status_code} {url} {q!r:.300}: {response.text[:200]}"
                            )
                            continue
                        got = feature_ids(response)
                        if literal and got is not None and allowed is not None and got - allowed:
                            failures.append(
                                f"extra rows {sorted(got - allowed)[:5]} for {url} {q!r:.300}"
                            )
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:40])
    assert sent > 1000, sent
    assert elapsed < 240, elapsed
    assert fingerprint(service_db) == before


# -- 2. concurrency ------------------------------------------------------------------------


def _backends(database: FreshDatabase) -> int:
    with database.engine.connect() as c:
        return int(
            c.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": database.name},
            ).scalar_one()
        )


def test_concurrency_smoke(service_db: FreshDatabase) -> None:
    """200 mixed requests over 8 concurrent clients: no 5xx, and the backends come back."""
    sample = _sample(service_db)
    baseline = _backends(service_db)
    settings = ServiceSettings(database_url=service_db.url)
    paths = [
        f"/parcels?bbox={BBOX}&limit=200",
        f"/parcels/nearby?lat={sample['lat']}&lon={sample['lon']}&radius_m=800",
        f"/parcels/nearest?lat={sample['lat']}&lon={sample['lon']}&k=20",
        f"/parcels/{sample['id']}",
        f"/zoning/{sample['zoning_id']}/parcels?limit=100",
        "/tiles/10/301/384.mvt",
        "/collections",
        "/collections/parcels/items?limit=100",
        f"/collections/parcels/items?limit=50&cursor={sample['id']}",
        f"/collections/parcels/items/{sample['id']}",
        "/collections/zoning_districts/tiles/12/1205/1539.mvt",
        "/parcels/export.ndjson",
        "/health",
        "/parcels/999999999",
    ]
    statuses: list[int] = []
    errors: list[str] = []

    async def worker(url: str, index: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for n in range(25):
                path = paths[(index * 7 + n) % len(paths)]
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {exc!r}")
                    continue
                statuses.append(response.status_code)
                if response.status_code >= 500:
                    errors.append(f"{response.status_code} {path}: {response.text[:200]}")

    async def run(url: str) -> None:
        await asyncio.wait_for(asyncio.gather(*(worker(url, i) for i in range(8))), timeout=90)

    with serve(settings) as url:
        started = time.monotonic()
        asyncio.run(run(url))
        elapsed = time.monotonic() - started
        assert not errors, "\n".join(errors[:20])
        assert len(statuses) == 200
        assert set(statuses) <= {200, 204, 404}, sorted(set(statuses))
        # idle: the pool holds its connections and does not keep opening new ones
        db = settings.database
        limit = db.pool_size + db.max_overflow
        samples = []
        for _ in range(6):
            samples.append(_backends(service_db) - baseline)
            time.sleep(0.5)
        assert max(samples) <= limit, samples
        assert samples[-1] <= samples[0], samples
    # shut down (engine disposed): back to the baseline within a few seconds
    deadline = time.monotonic() + 5
    while (count := _backends(service_db)) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert count <= baseline, (count, baseline)
    assert elapsed < 60, elapsed


# -- 3. faults -----------------------------------------------------------------------------


@pytest.mark.slow
async def test_stopped_database_gives_503_then_recovers() -> None:
    """A temporary embedded cluster, stopped under the app and started again."""
    from pgspatial.local import LocalCluster

    home = tempfile.mkdtemp(prefix="pgspatial-fault-", dir="/tmp")
    os.chmod(home, 0o755)
    cluster = LocalCluster(Settings(home=os.path.join(home, ".pgspatial")))
    try:
        cluster.start()
        engine = create_engine(cluster.url())
        try:
            load_sample_data(engine, parcels=1_000)
        finally:
            engine.dispose()
        app = create_app(ServiceSettings(database_url=cluster.url()))
        paths = [
            "/parcels/1",
            "/parcels?bbox=" + BBOX,
            "/collections/parcels/items?limit=5",
            "/parcels/export.ndjson",
            "/tiles/10/301/384.mvt",
            "/health",
        ]
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            for path in paths:
                assert (await c.get(path)).status_code in {200, 204}, path
            port = cluster.state().port  # type: ignore[union-attr]
            cluster.stop()
            for path in paths:
                response = await c.get(path)
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert response.headers["content-type"] == "application/problem+json", path
                assert response.json()["status"] == 503
                assert "Retry-After" in response.headers
            cluster.start()
            assert cluster.state().port == port  # type: ignore[union-attr]
            for path in paths:
                response = await c.get(path)
                assert response.status_code in {200, 204}, (path, response.text[:300])
    finally:
        try:
            cluster.destroy()
        finally:
            shutil.rmtree(home, ignore_errors=True)


def _raw_get(port: int, path: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: backpressure
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    return sock


@pytest.fixture(scope="module")
def big_db(pgspatial_database_url: str) -> Iterator[FreshDatabase]:
    """60,000 parcels (~20 MB of NDJSON): more than the socket buffers between the database,
    the app and the client hold, so a slow reader keeps the COPY running."""
    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        try:
            load_sample_data(engine, parcels=60_000)
        finally:
            engine.dispose()
        yield database


def test_slow_export_is_not_cut_off_by_statement_timeout(big_db: FreshDatabase) -> None:
    """A client reading the NDJSON export slowly, for many times statement_timeout."""
    service_db = big_db
    timeout_ms = 200
    settings = ServiceSettings(
        database_url=service_db.url, database=Settings(statement_timeout_ms=timeout_ms)
    )
    with service_db.engine.connect() as c:
        expected = c.execute(text("SELECT count(*) FROM parcels")).scalar_one()
    with serve(settings) as url:
        port = int(url.rsplit(":", 1)[1])
        sock = _raw_get(port, "/parcels/export.ndjson")
        data = bytearray()
        started = time.monotonic()
        copy_seen_late = False
        try:
            sock.settimeout(30)
            while chunk := sock.recv(4096):
                data += chunk
                elapsed = time.monotonic() - started
                if elapsed < 2.0:
                    time.sleep(0.02)
                    if elapsed > 4 * timeout_ms / 1000 and not copy_seen_late:
                        with service_db.engine.connect() as c:
                            copy_seen_late = bool(
                                c.execute(
                                    text(
                                        "SELECT count(*) FROM pg_stat_activity WHERE "
                                        "datname = :db AND query ILIKE 'COPY%' "
                                        "AND state = 'active'"
                                    ),
                                    {"db": service_db.name},
                                ).scalar_one()
                            )
                assert time.monotonic() - started < 60
        finally:
            sock.close()
        elapsed = time.monotonic() - started
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert b"transfer-encoding: chunked" in head.lower()
    # de-chunk the body
    out = bytearray()
    rest = body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    lines = [line for line in bytes(out).split(b"\n") if line]
    assert len(lines) == expected
    assert {orjson.loads(line)["type"] for line in lines} == {"Feature"}
    assert elapsed > 5 * timeout_ms / 1000, elapsed
    # the COPY was still running well past statement_timeout: the test exercised the limit
    assert copy_seen_late, "the export finished before the timeout; read more slowly"
