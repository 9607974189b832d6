"""Query-parameter parsing shared by the routers: bbox strings and lon/lat ranges."""

from __future__ import annotations

import math

from pgspatial.errors import ConfigError

__all__ = ["parse_bbox"]


def parse_bbox(
    text: str, *, max_area_deg2: float | None = None
) -> tuple[float, float, float, float]:
    """``minLon,minLat,maxLon,maxLat`` (or the 6-number 3D form) in EPSG:4326 degrees.

    Raises ConfigError (a 400) saying what is wrong and the accepted form.
    """
    form = "Send bbox=minLon,minLat,maxLon,maxLat in degrees, e.g. bbox=-74.01,40.70,-73.99,40.72."
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"bbox {text!r} is not a list of numbers. {form}") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"bbox {text!r} must hold 4 finite numbers. {form}")
    xmin, ymin, xmax, ymax = values
    if not (
        -180 <= xmin <= 180 and -180 <= xmax <= 180 and -90 <= ymin <= 90 and -90 <= ymax <= 90
    ):
        raise ConfigError(f"bbox {text!r} is outside -180..180 / -90..90. {form}")
    if not (xmin < xmax and ymin < ymax):
        raise ConfigError(
            f"bbox {text!r} is empty or inverted (min must be below max; a box across the "
            f"antimeridian must be sent as two requests). {form}"
        )
    if max_area_deg2 is not None and (xmax - xmin) * (ymax - ymin) > max_area_deg2:
        raise ConfigError(
            f"bbox {text!r} covers more than {max_area_deg2:g} square degrees; request a "
            "smaller area, or use the paginated /collections/parcels/items or the export."
        )
    return xmin, ymin, xmax, ymax
