"""Health: is the primary reachable, and how far behind is each configured replica.

200 when the primary answers ``SELECT 1``, 503 otherwise (load balancers act on the status).
Replica lag is ``now() - pg_last_xact_replay_timestamp()`` on each replica: reported, and a
replica that does not answer is reported as such without failing the check.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import text

from pgspatial.service.errors import problem
from pgspatial.service.state import ServiceState, get_state

__all__ = ["router"]

router = APIRouter(tags=["health"])
State = Annotated[ServiceState, Depends(get_state)]
_LAG = text("SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8")


@router.get("/health")
async def health(state: State) -> Any:
    """``{"status": "ok", "database": "reachable", "replicas": [...]}``."""
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return problem(
            503,
            "Database unavailable",
            "The database does not answer. Check that PostgreSQL is running and reachable.",
        )
    replicas: list[dict[str, Any]] = []
    for index, replica in enumerate(state.replicas):
        try:
            async with replica.connect() as connection:
                lag = await connection.scalar(_LAG)
            replicas.append({"replica": index, "reachable": True, "lag_seconds": lag})
        except Exception:
            replicas.append({"replica": index, "reachable": False, "lag_seconds": None})
    return {"status": "ok", "database": "reachable", "replicas": replicas}
