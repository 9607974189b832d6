"""``spatial_relationship``: relate two mapped classes by a spatial predicate, declaratively.

``Parcel.zoning`` can be "the district that contains the parcel's point-on-surface" with no
foreign key at all. It is SQLAlchemy's own mechanism (a custom ``primaryjoin`` with
``FunctionElement.as_comparison``), so ``joinedload`` turns it into one ``LEFT OUTER JOIN
... ON ST_Within(ST_PointOnSurface(parcels.geom), zoning_districts.geom)`` (the remote
column stays bare, so its GiST index serves the join) and ``selectinload`` into one extra
statement. Lazy loading is refused by default (``lazy="raise"``): a spatial relationship
loaded row by row is the N+1 the brief warns about.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.orm import Relationship, relationship

__all__ = ["SpatialPredicate", "spatial_relationship"]

SpatialPredicate = Literal[
    "intersects", "within", "contains", "covered_by", "covers", "point_on_surface_within"
]

# {local} and {remote} are the annotated columns; the first two arguments of the outer
# function are what as_comparison(1, 2) treats as the two sides of the join.
_PREDICATES: dict[str, str] = {
    "intersects": "func.ST_Intersects({local}, {remote})",
    "within": "func.ST_Within({local}, {remote})",
    "contains": "func.ST_Contains({local}, {remote})",
    "covered_by": "func.ST_CoveredBy({local}, {remote})",
    "covers": "func.ST_Covers({local}, {remote})",
    "point_on_surface_within": "func.ST_Within(func.ST_PointOnSurface({local}), {remote})",
}


def spatial_relationship(
    target: str,
    local_geometry: str,
    *,
    remote_geometry: str | None = None,
    predicate: SpatialPredicate = "intersects",
    uselist: bool = True,
    lazy: str = "raise",
    **kw: Any,
) -> Relationship[Any]:
    """A read-only relationship to ``target`` where ``predicate(local, remote)`` holds.

    ``local_geometry`` and ``remote_geometry`` are ``"Class.column"`` strings resolved by
    the declarative registry (``remote_geometry`` defaults to ``"<target>.geom"``)::

        zoning: Mapped[ZoningDistrict | None] = spatial_relationship(
            "ZoningDistrict", "Parcel.geom", predicate="point_on_surface_within", uselist=False
        )

    Load it with ``joinedload`` or ``selectinload``; lazy loads raise unless ``lazy=``.
    """
    if predicate not in _PREDICATES:
        raise ValueError(f"Unknown predicate {predicate!r}; use one of {', '.join(_PREDICATES)}.")
    remote = remote_geometry or f"{target}.geom"
    condition = _PREDICATES[predicate].format(
        local=f"foreign({local_geometry})", remote=f"remote({remote})"
    )
    return relationship(
        target,
        primaryjoin=f"{condition}.as_comparison(1, 2)",
        viewonly=True,
        uselist=uselist,
        lazy=lazy,  # type: ignore[arg-type]
        **kw,
    )
