"""The map page: MapLibre GL JS over the service's own vector tiles, offline by design.

``GET /map`` serves ``static/map.html``; ``/static`` serves its script, its stylesheet and
MapLibre GL JS, which ``scripts/vendor-maplibre`` copies from the npm package pinned in
``web/package-lock.json`` into ``static/vendor/maplibre-gl/`` (gitignored; ``make demo`` and
``make test`` run it). Nothing is fetched from another host at run time: the page's
Content-Security-Policy allows only this origin (and the blob: worker MapLibre starts).
When MapLibre has not been vendored, ``/map`` answers 503 with a page that says how to get
it, rather than a map that never draws.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAPLIBRE_DIR",
    "STATIC_DIR",
    "maplibre_vendored",
    "mount_static",
    "router",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAPLIBRE_DIR = STATIC_DIR / "vendor" / "maplibre-gl"
_MAPLIBRE_FILES = ("maplibre-gl.js", "maplibre-gl.css")

#: Same origin only; MapLibre's worker runs from a blob: URL; popups and the legend set
#: inline styles. No remote host can be reached from the page, by construction.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; "
    "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

_MISSING = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pgspatial map: MapLibre GL JS is not installed</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 4rem auto;
         padding: 0 1rem; color: #1f2430; }
  code, pre { background: #f1efe8; border-radius: 4px; padding: 0.1em 0.35em; }
  pre { padding: 0.75em 1em; }
</style>
</head>
<body>
<h1>The map needs MapLibre GL JS</h1>
<p>This copy of pgspatial has no vendored MapLibre GL JS
(<code>src/pgspatial/service/static/vendor/maplibre-gl/</code> is missing). It is installed
from the npm registry at setup time, never from a CDN at run time. From the project root, run
one of:</p>
<pre>make demo                  # sets everything up, then serves the map
scripts/vendor-maplibre    # only vendors MapLibre (npm ci on web/package-lock.json)</pre>
<p>then reload this page. The API itself works without it: see <a href="docs">/docs</a>.</p>
</body>
</html>
"""

router = APIRouter(tags=["map"])


def maplibre_vendored() -> bool:
    """Whether MapLibre GL JS's script and stylesheet are in ``static/vendor/maplibre-gl``."""
    return all((MAPLIBRE_DIR / name).is_file() for name in _MAPLIBRE_FILES)


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
async def map_page() -> HTMLResponse:
    """The map of parcels and zoning (503 with instructions when MapLibre is not vendored)."""
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}
    if not maplibre_vendored():
        return HTMLResponse(_MISSING, status_code=503, headers=headers)
    html = (STATIC_DIR / "map.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=headers)


def mount_static(app: FastAPI) -> None:
    """Serve ``static/`` (the page's script and style, vendored MapLibre) at ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
