"""``run_serializable``: a unit of work at SERIALIZABLE, retried whole on 40001/40P01.

Errata 8: the brief ran ``SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`` as a statement
(which fails once anything ran in the transaction) and never retried, so a concurrent
edit lost the work. Here isolation is an execution option on the session's connection,
and the whole function runs again in a fresh session after a serialization failure or a
deadlock, with jittered exponential backoff, up to ``max_attempts`` times. The retry
policy is shared; sync and async differ only in how they wait and call.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from pgspatial.engine.routing import RoutingSession
from pgspatial.errors import ConfigError, RetriesExhausted

__all__ = ["RetryPolicy", "run_serializable", "run_serializable_async"]

T = TypeVar("T")
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_SERIALIZABLE = {"isolation_level": "SERIALIZABLE"}


@dataclass
class RetryPolicy:
    """How many attempts, how long to wait between them, and which errors to retry."""

    max_attempts: int = 5
    base_delay_s: float = 0.02
    max_delay_s: float = 1.0
    attempts_made: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {self.max_attempts}.")

    @staticmethod
    def is_retryable(error: BaseException) -> bool:
        """A serialization failure or deadlock, wherever SQLAlchemy wrapped it."""
        orig = getattr(error, "orig", error)
        return getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff before attempt ``attempt + 1``."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def exhausted(self, last: BaseException) -> RetriesExhausted:
        """The error raised after the last attempt."""
        return RetriesExhausted(
            f"The serializable unit of work failed on all {self.max_attempts} attempts "
            f"(last: {getattr(last, 'orig', last)}). Contention is high: shorten the "
            "transaction, touch fewer rows, or raise max_attempts.",
            attempts=self.max_attempts,
        )


def _pin_primary(session: Session) -> None:
    if isinstance(session, RoutingSession):
        session._pinned = session.primary_engine  # SERIALIZABLE cannot run on a standby


def run_serializable(
    factory: sessionmaker[Session], fn: Callable[[Session], T], *, max_attempts: int = 5
) -> T:
    """Run ``fn(session)`` in a SERIALIZABLE transaction, committing; retry it whole on
    serialization failures. ``fn`` must be safe to run again (no side effects outside
    the database). Returns what ``fn`` returns.
    """
    policy = RetryPolicy(max_attempts=max_attempts)
    for attempt in range(1, max_attempts + 1):
        policy.attempts_made = attempt
        with factory() as session:
            _pin_primary(session)
            try:
                session.connection(execution_options=_SERIALIZABLE)
                result = fn(session)
                session.commit()
                return result
            except exc.DBAPIError as error:
                session.rollback()
                if not policy.is_retryable(error):
                    raise
                if attempt == max_attempts:
                    raise policy.exhausted(error) from error
        time.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


async def run_serializable_async(
    factory: async_sessionmaker[AsyncSession],
    fn: Callable[[AsyncSession], Awaitable[T]],
    *,
    max_attempts: int = 5,
) -> T:
    """The asyncio twin of :func:`run_serializable`."""
    policy = RetryPolicy(max_attempts=max_attempts)
    for attempt in range(1, max_attempts + 1):
        policy.attempts_made = attempt
        async with factory() as session:
            _pin_primary(session.sync_session)
            try:
                await session.connection(execution_options=_SERIALIZABLE)
                result = await fn(session)
                await session.commit()
                return result
            except exc.DBAPIError as error:
                await session.rollback()
                if not policy.is_retryable(error):
                    raise
                if attempt == max_attempts:
                    raise policy.exhausted(error) from error
        await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
