"""Exceptions to HTTP: one status per error family and an RFC 9457 problem+json body.

Like TiPg's exception map: a table from exception class to status, installed as handlers.
The body carries pgspatial's own message (written for users: what went wrong, what to do)
and never ``str()`` of a driver error, which holds SQL, parameters and server internals.
Anything unexpected becomes a 500 with a generic message; the traceback is logged here.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from pgspatial.errors import (
    ConfigError,
    DatabaseUnavailable,
    InvalidGeometry,
    PgSpatialError,
    QueryTimeout,
    ReplicaConflict,
    RetriesExhausted,
    SridMismatch,
    TileTooLarge,
)

__all__ = ["PROBLEM_RESPONSES", "WRITE_RESPONSES", "NotFound", "install_error_handlers", "problem"]

logger = logging.getLogger("pgspatial.service")

PROBLEM_JSON = "application/problem+json"


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}


#: The error responses every route may give, documented in the OpenAPI (problem+json; this
#: replaces FastAPI's default 422 ``application/json`` HTTPValidationError, which the
#: handlers below never send).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Invalid parameters (what is wrong and the accepted form)."),
    404: _problem_doc("The collection, parcel, district or feature does not exist."),
    422: _problem_doc("The body parses but is invalid (e.g. a self-intersecting polygon)."),
    503: _problem_doc("The database is unreachable, timed out or too contended; retry."),
}
#: What writes may give on top of :data:`PROBLEM_RESPONSES`.
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: _problem_doc("A duplicate parcel_id or a missing reference."),
    413: _problem_doc("The request body is larger than max_body_bytes."),
}


class NotFound(PgSpatialError):
    """A resource the path names does not exist (a parcel, a collection, a feature)."""


#: Error family -> (HTTP status, problem title). The first matching class wins.
STATUS_OF: tuple[tuple[type[BaseException], int, str], ...] = (
    (NotFound, 404, "Not Found"),
    (InvalidGeometry, 422, "Invalid geometry"),
    (SridMismatch, 422, "SRID mismatch"),
    (TileTooLarge, 400, "Tile too large"),
    (ConfigError, 400, "Bad request"),
    (QueryTimeout, 503, "Query timed out"),
    (DatabaseUnavailable, 503, "Database unavailable"),
    (RetriesExhausted, 503, "Too much contention"),
    (ReplicaConflict, 503, "Replica conflict"),
)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An ``application/problem+json`` response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _pgspatial_error(request: Request, error: Exception) -> JSONResponse:
    for cls, status, title in STATUS_OF:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            if isinstance(error, InvalidGeometry) and error.reason:
                extra["reason"] = error.reason
            if isinstance(error, TileTooLarge):
                extra["hint"] = "Zoom in (a higher z), or raise tile_max_features."
            return problem(status, title, str(error), **extra)
    return await _unexpected(request, error)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    """Database errors (SQLAlchemy, or raw psycopg from COPY streams).

    Connection trouble is a 503, integrity violations a 409, anything else a generic 500.
    """
    if isinstance(error, sa_exc.IntegrityError | psycopg.errors.IntegrityError):
        return problem(
            409,
            "Conflict",
            "The change conflicts with existing data (a duplicate key or a missing "
            "reference). Check unique fields such as parcel_id and referenced ids.",
        )
    invalidated = isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    unreachable = (sa_exc.OperationalError, sa_exc.InterfaceError, psycopg.OperationalError)
    if invalidated or isinstance(error, unreachable):
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
        return problem(
            503,
            "Database unavailable",
            "The database could not be reached or dropped the connection. Retry shortly; "
            "if it persists, check that PostgreSQL is running.",
        )
    if isinstance(error, sa_exc.TimeoutError):  # pool exhausted
        return problem(503, "Service busy", "All database connections are busy; retry shortly.")
    return await _unexpected(request, error)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(
        500,
        "Internal Server Error",
        "The server failed to handle this request; the error is logged. Retry, and report "
        "it if it persists.",
    )


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """Bad parameters are a 400; a body that parses but is invalid (a bow-tie polygon) a 422."""
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            "loc": _location(tuple(e.get("loc", ()))),
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in error.errors()
    ]
    in_body = all(e["loc"].startswith("body") for e in errors) and errors
    status = 422 if in_body else 400
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
    return problem(
        status, "Invalid request", f"{detail}. Fix the request and retry.", errors=errors
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem(error.status_code, str(error.detail), str(error.detail))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app`` (the app factory calls it)."""
    app.add_exception_handler(PgSpatialError, _pgspatial_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(psycopg.Error, _database_error)  # COPY streams run on the driver
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
