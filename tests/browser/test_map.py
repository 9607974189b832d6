"""The map page in a real browser: headless Debian Chromium, software WebGL, real PostGIS.

The page loads MapLibre from the service itself, renders parcels and zoning from the
service's vector tiles, shows a parcel's properties on click, and highlights what
/parcels/nearby and /parcels/nearest return. Every wait is bounded (30 s); nothing is timed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pgspatial.service.mappage import maplibre_vendored

from .conftest import TIMEOUT_MS

pytestmark = pytest.mark.skipif(
    not maplibre_vendored(), reason="MapLibre GL JS is not vendored: run scripts/vendor-maplibre"
)

# Resolves once the map has nothing left to load or draw; rejects at once on a page error,
# a map error (a tile that failed, a bad style) or after 30 s.
_IDLE = """
(timeoutMs) => new Promise((resolve, reject) => {
  const fail = (message) => reject(new Error(message));
  if (window.__pageErrors.length) return fail(window.__pageErrors.join("; "));
  const map = window.pgspatialMap;
  setTimeout(() => fail(`the map was not idle within ${timeoutMs} ms`), timeoutMs);
  addEventListener("error", (e) => fail(`error: ${e.message}`), { once: true });
  map.once("error", (e) => fail(`map error: ${e.error && e.error.message}`));
  map.once("idle", () => resolve(true));
  map.triggerRepaint();
})
"""

# Distinct ids: a parcel cut by a tile boundary is one rendered feature per tile.
_RENDERED_IDS = """
(layer) => [...new Set(
  window.pgspatialMap.queryRenderedFeatures({ layers: [layer] }).map((f) => f.id)
)]
"""

# The parcel nearest the middle of the map's free area (right of the panel): its id, its
# properties, and the pixel of its vertex centroid (inside it: the generated lots are convex
# quadrilaterals), checked to be the parcel a click there hits.
_PARCEL_TO_CLICK = """
() => {
  const map = window.pgspatialMap;
  const canvas = map.getCanvas().getBoundingClientRect();
  const panel = document.getElementById("panel").getBoundingClientRect();
  const middle = { x: (panel.right + canvas.width) / 2, y: canvas.height / 2 };
  let best = null;
  for (const feature of map.queryRenderedFeatures({ layers: ["parcels-fill"] })) {
    const ring = feature.geometry.coordinates[0].slice(0, -1);
    const lon = ring.reduce((sum, c) => sum + c[0], 0) / ring.length;
    const lat = ring.reduce((sum, c) => sum + c[1], 0) / ring.length;
    const p = map.project([lon, lat]);
    const away = Math.hypot(p.x - middle.x, p.y - middle.y);
    if (best === null || away < best.away) best = { feature, lon, lat, p, away };
  }
  if (best === null) return null;
  const top = map.queryRenderedFeatures(best.p, { layers: ["parcels-fill"] })[0];
  if (!top || top.id !== best.feature.id) return null;
  return { id: best.feature.id, properties: best.feature.properties, lon: best.lon,
           lat: best.lat, x: canvas.left + best.p.x, y: canvas.top + best.p.y };
}
"""


def _errors(page: Any) -> list[str]:
    return [*page.pgspatial_errors, *page.evaluate("() => window.__pageErrors || []")]


def _open_map(page: Any, url: str) -> None:
    response = page.goto(f"{url}/map", wait_until="load")
    assert response is not None and response.status == 200
    page.wait_for_function(
        "() => window.pgspatialMap !== undefined || window.__pageErrors.length > 0",
        timeout=TIMEOUT_MS,
    )
    assert not _errors(page)
    _wait_idle(page)


def _wait_idle(page: Any) -> None:
    assert page.evaluate(_IDLE, TIMEOUT_MS) is True
    assert not _errors(page)


def test_map_renders_parcels_and_zoning_and_shows_properties_on_click(
    page: Any, service_url: str, screenshot_dir: Path
) -> None:
    _open_map(page, service_url)

    parcels = page.evaluate(_RENDERED_IDS, "parcels-fill")
    zoning = page.evaluate(_RENDERED_IDS, "zoning-fill")
    assert len(parcels) > 100, f"{len(parcels)} parcels rendered"
    assert len(zoning) > 0
    legend = page.locator("#legend")
    assert "Residential" in legend.inner_text() and "Manufacturing" in legend.inner_text()

    target = page.evaluate(_PARCEL_TO_CLICK)
    assert target is not None, "no parcel to click in the middle of the map"
    page.mouse.click(target["x"], target["y"])
    popup = page.locator(".maplibregl-popup .popup-body")
    popup.wait_for(state="visible", timeout=TIMEOUT_MS)
    props = target["properties"]
    assert popup.locator("h3").inner_text() == f"Parcel {props['parcel_id']}"
    assert popup.locator("[data-property=id] td").inner_text() == str(target["id"])
    assert popup.locator("[data-property=land_use] td").inner_text() == props["land_use"].replace(
        "_", " "
    )
    # The zone under the click, and what the tile leaves out, fetched from /parcels/{id}.
    assert popup.locator("[data-property=zone_code] td").inner_text() != "—"
    assessed = popup.locator("[data-property=assessed_value] td")
    assessed.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert assessed.inner_text().startswith("$")
    selected = page.evaluate(
        "(id) => window.pgspatialMap.queryRenderedFeatures({ layers: ['parcels-selected'] })"
        ".every((f) => f.id === id)",
        target["id"],
    )
    assert selected

    _wait_idle(page)
    path = screenshot_dir / "map-parcel-popup.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    assert not _errors(page)


def test_search_box_highlights_nearby_and_nearest_parcels(
    page: Any, service_url: str, screenshot_dir: Path
) -> None:
    _open_map(page, service_url)
    target = page.evaluate(_PARCEL_TO_CLICK)
    assert target is not None

    page.fill("#point", f"{target['lat']:.6f}, {target['lon']:.6f}")
    page.fill("#radius", "120")
    page.click("#search button[type=submit]")
    summary = page.locator("#summary")
    page.wait_for_function(
        "() => /within/.test(document.getElementById('summary').textContent)",
        timeout=TIMEOUT_MS,
    )
    found = int(summary.inner_text().split()[0].replace(",", ""))
    assert found > 1
    _wait_idle(page)
    highlighted = page.evaluate(_RENDERED_IDS, "results-fill")
    assert target["id"] in highlighted, "the parcel under the point is the nearest one"
    assert 0 < len(highlighted) <= found
    first = page.locator("#results li button").first
    assert first.get_attribute("data-id") == str(target["id"])
    assert first.locator(".result-distance").inner_text() == "0.0 m"
    page.screenshot(path=str(screenshot_dir / "map-nearby.png"))

    page.check("input[name=mode][value=nearest]")
    page.fill("#k", "5")
    page.click("#search button[type=submit]")
    page.wait_for_function(
        "() => /nearest/.test(document.getElementById('summary').textContent)",
        timeout=TIMEOUT_MS,
    )
    assert summary.inner_text() == "The 5 nearest parcels, nearest first"
    assert page.locator("#results li button").count() == 5
    _wait_idle(page)
    assert len(page.evaluate(_RENDERED_IDS, "results-fill")) == 5
    assert not _errors(page)
