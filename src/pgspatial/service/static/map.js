/*
 * The pgspatial map page: MapLibre GL JS over the service's own vector tiles.
 *
 * Sources: zoning from /collections/zoning_districts/tiles (every zoom), parcels from the
 * demo tiles /tiles/{z}/{x}/{y}.mvt (layer "parcels", from zoom 14), search results from
 * /parcels/nearby and /parcels/nearest as GeoJSON. No basemap, glyphs or sprite, so the
 * page reaches nothing but this service. Hand-written, no build step.
 */
"use strict";

(() => {
  // The service's root URL, wherever the page is mounted (the page is <root>/map).
  const ROOT = new URL(".", document.baseURI).href;
  const PARCELS_MIN_ZOOM = 14;
  // The demo city's south-west corner, just right of the panel: it holds parcels whatever
  // their number (the generator grows the city north-east from -74.02, 40.70).
  const DEFAULT_VIEW = { center: [-74.0145, 40.7053], zoom: 15.2 };
  const RESULT_LIST_MAX = 8;
  const EMPTY = { type: "FeatureCollection", features: [] };

  // Zoning colours after the NYC convention: residential yellows that deepen with density,
  // commercial reds, manufacturing violets. One table drives the style and the legend.
  const ZONING = [
    {
      group: "Residential",
      items: [
        { label: "R1–R3", prefixes: ["R1", "R2", "R3"], fill: "#fbf1c7", line: "#d9c27a" },
        { label: "R4–R5", prefixes: ["R4", "R5"], fill: "#f7df8e", line: "#cfae45" },
        { label: "R6–R7", prefixes: ["R6", "R7"], fill: "#f1c75b", line: "#b9901f" },
        { label: "R8–R10", prefixes: ["R8", "R9"], fill: "#e4a93a", line: "#9f7313" },
      ],
    },
    {
      group: "Commercial",
      items: [
        { label: "C1–C2", prefixes: ["C1", "C2"], fill: "#f6c9c4", line: "#d48b83" },
        { label: "C3–C7", prefixes: ["C3", "C4", "C5", "C6", "C7"], fill: "#ec978f", line: "#bf5a50" },
        { label: "C8", prefixes: ["C8"], fill: "#dd7a9a", line: "#a8456a" },
      ],
    },
    {
      group: "Manufacturing",
      items: [
        { label: "M1", prefixes: ["M1"], fill: "#ddd5f1", line: "#9f92c9" },
        { label: "M2", prefixes: ["M2"], fill: "#bfb0e6", line: "#7d68bf" },
        { label: "M3", prefixes: ["M3"], fill: "#9b86d4", line: "#5b44a3" },
      ],
    },
  ];
  const OTHER_ZONE = { fill: "#e4e2dc", line: "#a9a69c" };
  const HIGH_RESIDENTIAL = ZONING[0].items[3];
  const COLORS = {
    background: "#efece4",
    parcel: "#262a36",
    result: "#0e7490",
    resultFill: "#22d3ee",
    selected: "#111827",
    point: "#0f172a",
  };

  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const summary = $("summary");
  const resultsList = $("results");
  const pointInput = $("point");
  const pickButton = $("pick");

  // ---- style ----------------------------------------------------------------------------

  /** A zoning colour expression: by the code's first two characters (R10 spelled out). */
  function zoningColor(key) {
    const code = ["to-string", ["get", "zone_code"]];
    const byPrefix = ["match", ["slice", code, 0, 2]];
    for (const { items } of ZONING) {
      for (const item of items) byPrefix.push(item.prefixes, item[key]);
    }
    byPrefix.push(OTHER_ZONE[key]);
    return ["case", ["==", ["slice", code, 0, 3], "R10"], HIGH_RESIDENTIAL[key], byPrefix];
  }

  const byZoom = (...stops) => ["interpolate", ["linear"], ["zoom"], ...stops];
  const NO_ID = ["==", ["id"], -1];

  const style = {
    version: 8,
    sources: {
      zoning: {
        type: "vector",
        tiles: [`${ROOT}collections/zoning_districts/tiles/{z}/{x}/{y}.mvt`],
        minzoom: 10,
        maxzoom: 15,
        attribution: "Synthetic NYC-like demo data",
      },
      demo: {
        type: "vector",
        tiles: [`${ROOT}tiles/{z}/{x}/{y}.mvt`],
        minzoom: PARCELS_MIN_ZOOM,
        maxzoom: 16,
      },
      results: { type: "geojson", data: EMPTY },
      query: { type: "geojson", data: EMPTY },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": COLORS.background } },
      {
        id: "zoning-fill",
        type: "fill",
        source: "zoning",
        "source-layer": "zoning_districts",
        paint: { "fill-color": zoningColor("fill"), "fill-opacity": byZoom(12, 0.95, 16, 0.8, 18, 0.55) },
      },
      {
        // Invisible until hovered or selected, but it is what clicks and queries hit.
        id: "parcels-fill",
        type: "fill",
        source: "demo",
        "source-layer": "parcels",
        paint: {
          "fill-color": "#ffffff",
          "fill-opacity": ["case", ["boolean", ["feature-state", "hover"], false], 0.45, 0],
        },
      },
      {
        id: "parcels-line",
        type: "line",
        source: "demo",
        "source-layer": "parcels",
        paint: {
          "line-color": COLORS.parcel,
          "line-width": byZoom(14, 0.35, 16, 0.75, 18, 1.6, 19, 2.2),
          "line-opacity": byZoom(14, 0.3, 15, 0.45, 17, 0.7, 19, 0.85),
        },
      },
      {
        id: "zoning-line",
        type: "line",
        source: "zoning",
        "source-layer": "zoning_districts",
        layout: { "line-join": "round" },
        paint: { "line-color": zoningColor("line"), "line-width": byZoom(10, 0.5, 14, 1.5, 18, 3) },
      },
      {
        id: "results-fill",
        type: "fill",
        source: "results",
        paint: {
          "fill-color": COLORS.resultFill,
          "fill-opacity": ["interpolate", ["linear"], ["get", "rank"], 0, 0.8, 1, 0.4],
        },
      },
      {
        id: "results-line",
        type: "line",
        source: "results",
        paint: { "line-color": COLORS.result, "line-width": byZoom(14, 1, 18, 2.5) },
      },
      {
        id: "parcels-selected-fill",
        type: "fill",
        source: "demo",
        "source-layer": "parcels",
        filter: NO_ID,
        paint: { "fill-color": COLORS.selected, "fill-opacity": 0.22 },
      },
      {
        id: "parcels-selected",
        type: "line",
        source: "demo",
        "source-layer": "parcels",
        filter: NO_ID,
        layout: { "line-join": "round" },
        paint: { "line-color": COLORS.selected, "line-width": byZoom(14, 2, 18, 4) },
      },
      {
        id: "results-selected",
        type: "line",
        source: "results",
        filter: NO_ID,
        layout: { "line-join": "round" },
        paint: { "line-color": COLORS.selected, "line-width": byZoom(14, 2, 18, 4) },
      },
      {
        id: "query-radius",
        type: "line",
        source: "query",
        filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "line-color": COLORS.point, "line-width": 1.5, "line-dasharray": [3, 2] },
      },
      {
        id: "query-point",
        type: "circle",
        source: "query",
        filter: ["==", ["geometry-type"], "Point"],
        paint: {
          "circle-radius": 6,
          "circle-color": COLORS.point,
          "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 2.5,
        },
      },
    ],
  };

  const map = new maplibregl.Map({
    container: "map",
    style,
    center: DEFAULT_VIEW.center,
    zoom: DEFAULT_VIEW.zoom,
    minZoom: 10,
    maxZoom: 19,
    hash: true,
    dragRotate: false,
    pitchWithRotate: false,
    attributionControl: { compact: false },
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  // For tests and the console: the map, and nothing else, is global.
  window.pgspatialMap = map;

  // ---- legend, status -------------------------------------------------------------------

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "style") Object.assign(node.style, value);
      else node.setAttribute(name, value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function buildLegend() {
    const legend = $("legend");
    for (const { group, items } of ZONING) {
      const row = element("div", { class: "legend-row" }, element("span", { class: "legend-group" }, group));
      const ramp = element("div", { class: "ramp" });
      for (const item of items) {
        ramp.append(
          element(
            "span",
            { class: "ramp-item" },
            element("span", {
              class: "swatch",
              style: { background: item.fill, borderColor: item.line },
            }),
            element("span", { class: "ramp-label" }, item.label),
          ),
        );
      }
      row.append(ramp);
      legend.append(row);
    }
    const key = (swatchClass, swatchStyle, label) =>
      element(
        "div",
        { class: "legend-key" },
        element("span", { class: `swatch ${swatchClass}`, style: swatchStyle }),
        label,
      );
    legend.append(
      element(
        "div",
        { class: "legend-keys" },
        key("outline", { borderColor: COLORS.parcel }, "Parcel"),
        key("", { background: COLORS.resultFill, borderColor: COLORS.result }, "Search result"),
        key("dot", { background: COLORS.point }, "Search point"),
        key("dashed", { borderColor: COLORS.point }, "Search radius"),
      ),
    );
    $("versions").textContent = `MapLibre GL JS ${maplibregl.getVersion()}`;
  }

  let statusTimer = null;
  /** A transient message at the bottom of the map ("" clears it). */
  function say(message, { sticky = false, error = false } = {}) {
    clearTimeout(statusTimer);
    status.textContent = message;
    status.classList.toggle("visible", message !== "");
    status.classList.toggle("error", error);
    if (message && !sticky) statusTimer = setTimeout(() => say(zoomHint(), { sticky: true }), 5000);
  }

  const zoomHint = () =>
    map.getZoom() < PARCELS_MIN_ZOOM ? `Zoom in to see parcels (from zoom ${PARCELS_MIN_ZOOM})` : "";

  // ---- formatting -----------------------------------------------------------------------

  const LABELS = {
    id: "id",
    parcel_id: "parcel",
    land_use: "land use",
    year_built: "built",
    zone_code: "zoning",
    zoning_id: "district id",
    assessed_value: "assessed value",
    distance_m: "distance",
  };
  const ORDER = Object.keys(LABELS);
  const money = new Intl.NumberFormat("en-US", {
    style: "currency",
    currency: "USD",
    maximumFractionDigits: 0,
  });

  function formatValue(name, value) {
    if (value === null || value === undefined || value === "") return "—";
    if (name === "assessed_value") return money.format(Number(value));
    if (name === "distance_m") return formatMetres(Number(value));
    if (name === "land_use") return String(value).replaceAll("_", " ");
    return String(value);
  }

  const formatMetres = (metres) =>
    metres < 10 ? `${metres.toFixed(1)} m` : `${Math.round(metres).toLocaleString("en-US")} m`;

  function propertyTable(properties) {
    const names = Object.keys(properties).sort((a, b) => {
      const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
      return rank(a) - rank(b) || a.localeCompare(b);
    });
    const table = element("table", { class: "properties" });
    for (const name of names) {
      if (name === "rank") continue;
      table.append(
        element(
          "tr",
          { "data-property": name },
          element("th", {}, LABELS[name] ?? name.replaceAll("_", " ")),
          element("td", {}, formatValue(name, properties[name])),
        ),
      );
    }
    return table;
  }

  // ---- selection and popup --------------------------------------------------------------

  const popup = new maplibregl.Popup({ maxWidth: "300px", className: "feature-popup" });
  let hovered = null;
  let popupRequest = 0;
  let picking = false;

  function select(id) {
    const filter = id === null ? NO_ID : ["==", ["id"], id];
    map.setFilter("parcels-selected", filter);
    map.setFilter("parcels-selected-fill", filter);
    map.setFilter("results-selected", filter);
  }
  popup.on("close", () => select(null));

  function showFeature(lngLat, title, properties, parcelId) {
    const body = element("div", { class: "popup-body" });
    const table = propertyTable(properties);
    const here = element("button", { type: "button", class: "popup-search" }, "Search from here");
    here.addEventListener("click", () => {
      popup.remove();
      search(lngLat.lat, lngLat.lng);
    });
    body.append(element("h3", {}, title), table, here);
    popup.setLngLat(lngLat).setDOMContent(body).addTo(map);
    select(parcelId);
    if (parcelId !== null) enrich(parcelId, properties, table);
  }

  /** Add what the tile leaves out (assessed value, district id) from /parcels/{id}. */
  async function enrich(parcelId, properties, table) {
    const request = ++popupRequest;
    try {
      const response = await fetch(`${ROOT}parcels/${parcelId}`, { headers: { Accept: "application/geo+json" } });
      if (!response.ok || request !== popupRequest) return;
      const feature = await response.json();
      const merged = { ...feature.properties, ...properties };
      if (request === popupRequest) table.replaceWith(propertyTable(merged));
    } catch (error) {
      console.warn("could not load the parcel's details", error);
    }
  }

  function featuresAt(point) {
    const found = (layers) => map.queryRenderedFeatures(point, { layers });
    return {
      result: found(["results-fill"])[0],
      parcel: found(["parcels-fill"])[0],
      zone: found(["zoning-fill"])[0],
    };
  }

  map.on("click", (event) => {
    if (picking) {
      setPicking(false);
      search(event.lngLat.lat, event.lngLat.lng);
      return;
    }
    const { result, parcel, zone } = featuresAt(event.point);
    const zoneCode = zone ? zone.properties.zone_code : undefined;
    if (result) {
      const properties = { id: result.id, ...result.properties, zone_code: zoneCode };
      showFeature(event.lngLat, `Parcel ${result.properties.parcel_id}`, properties, result.id);
    } else if (parcel) {
      const properties = { id: parcel.id, ...parcel.properties, zone_code: zoneCode };
      showFeature(event.lngLat, `Parcel ${parcel.properties.parcel_id}`, properties, parcel.id);
    } else if (zone) {
      showFeature(event.lngLat, `Zoning district ${zoneCode}`, { id: zone.id, ...zone.properties }, null);
    } else {
      popup.remove();
    }
  });

  map.on("contextmenu", (event) => {
    event.preventDefault();
    search(event.lngLat.lat, event.lngLat.lng);
  });

  map.on("mousemove", (event) => {
    const { parcel, zone } = featuresAt(event.point);
    const id = parcel ? parcel.id : null;
    if (hovered !== id) {
      if (hovered !== null) map.setFeatureState({ source: "demo", sourceLayer: "parcels", id: hovered }, { hover: false });
      if (id !== null) map.setFeatureState({ source: "demo", sourceLayer: "parcels", id }, { hover: true });
      hovered = id;
    }
    map.getCanvas().style.cursor = picking ? "crosshair" : parcel || zone ? "pointer" : "";
  });

  map.on("mouseout", () => {
    if (hovered !== null) map.setFeatureState({ source: "demo", sourceLayer: "parcels", id: hovered }, { hover: false });
    hovered = null;
  });

  // ---- search ---------------------------------------------------------------------------

  function setPicking(on) {
    picking = on;
    pickButton.setAttribute("aria-pressed", String(on));
    map.getCanvas().style.cursor = on ? "crosshair" : "";
    if (on) say("Click the map to set the search point (Esc cancels)", { sticky: true });
    else say(zoomHint(), { sticky: true });
  }

  /** "lat, lon" (or "lon, lat" when the first number cannot be a latitude). */
  function parsePoint(text) {
    const numbers = text.trim().split(/[\s,;]+/).filter(Boolean).map(Number);
    if (numbers.length !== 2 || numbers.some((n) => !Number.isFinite(n))) return null;
    let [lat, lon] = numbers;
    if (Math.abs(lat) > 90 && Math.abs(lon) <= 90) [lat, lon] = [lon, lat];
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat, lon };
  }

  /** A ring of ``metres`` around the point (spherical; close enough to draw). */
  function circle(lat, lon, metres, steps = 96) {
    const ring = [];
    const dLat = metres / 111_320;
    const dLon = dLat / Math.cos((lat * Math.PI) / 180);
    for (let i = 0; i <= steps; i += 1) {
      const angle = (2 * Math.PI * i) / steps;
      ring.push([lon + dLon * Math.sin(angle), lat + dLat * Math.cos(angle)]);
    }
    return { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [ring] } };
  }

  function extend(bounds, coordinates) {
    if (typeof coordinates[0] === "number") bounds.extend(coordinates);
    else for (const inner of coordinates) extend(bounds, inner);
    return bounds;
  }

  function setSummary(text, error = false) {
    summary.textContent = text;
    summary.classList.toggle("error", error);
  }

  async function problemText(response) {
    try {
      const body = await response.json();
      if (body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch {
      // not JSON: fall through to the status line
    }
    return `${response.status} ${response.statusText}`;
  }

  let searchRequest = 0;
  async function search(lat, lon) {
    const form = $("search");
    const mode = form.elements.mode.value;
    const radius = Number(form.elements.radius.value);
    const k = Number(form.elements.k.value);
    pointInput.value = `${lat.toFixed(6)}, ${lon.toFixed(6)}`;
    const params = new URLSearchParams({ lat: String(lat), lon: String(lon) });
    let url;
    if (mode === "nearby") {
      params.set("radius_m", String(radius));
      params.set("limit", "1000");
      url = `${ROOT}parcels/nearby?${params}`;
    } else {
      params.set("k", String(k));
      url = `${ROOT}parcels/nearest?${params}`;
    }
    const query = [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [lon, lat] } }];
    if (mode === "nearby" && radius > 0) query.push(circle(lat, lon, radius));
    map.getSource("query").setData({ type: "FeatureCollection", features: query });
    popup.remove();
    setSummary("Searching…");
    const request = ++searchRequest;
    let collection;
    try {
      const response = await fetch(url, { headers: { Accept: "application/geo+json" } });
      if (!response.ok) {
        if (request === searchRequest) setSummary(await problemText(response), true);
        return;
      }
      collection = await response.json();
    } catch (error) {
      if (request === searchRequest) setSummary(`The search failed: ${error.message}`, true);
      return;
    }
    if (request !== searchRequest) return;
    showResults(collection.features, { lat, lon, mode, radius, k });
  }

  function showResults(features, { lat, lon, mode, radius }) {
    const count = features.length;
    features.forEach((feature, index) => {
      feature.properties.rank = count > 1 ? index / (count - 1) : 0;
    });
    map.getSource("results").setData({ type: "FeatureCollection", features });
    const noun = count === 1 ? "parcel" : "parcels";
    if (mode === "nearby") setSummary(`${count.toLocaleString("en-US")} ${noun} within ${formatMetres(radius)}, nearest first`);
    else setSummary(`The ${count} nearest ${noun}, nearest first`);
    resultsList.replaceChildren();
    for (const feature of features.slice(0, RESULT_LIST_MAX)) {
      const p = feature.properties;
      const distance = p.distance_m === undefined ? "" : formatMetres(Number(p.distance_m));
      const item = element(
        "li",
        {},
        element(
          "button",
          { type: "button", "data-id": String(feature.id) },
          element("span", { class: "result-id" }, p.parcel_id),
          element("span", { class: "result-use" }, formatValue("land_use", p.land_use)),
          element("span", { class: "result-distance" }, distance),
        ),
      );
      item.querySelector("button").addEventListener("click", () => {
        const bounds = extend(new maplibregl.LngLatBounds(), feature.geometry.coordinates);
        map.fitBounds(bounds, { padding: fitPadding(), maxZoom: 18 });
        showFeature(bounds.getCenter(), `Parcel ${p.parcel_id}`, { id: feature.id, ...p }, feature.id);
      });
      resultsList.append(item);
    }
    if (count > RESULT_LIST_MAX) {
      resultsList.append(element("li", { class: "more" }, `… and ${count - RESULT_LIST_MAX} more on the map`));
    }
    const bounds = new maplibregl.LngLatBounds([lon, lat], [lon, lat]);
    for (const feature of features) extend(bounds, feature.geometry.coordinates);
    if (mode === "nearby") extend(bounds, circle(lat, lon, radius, 16).geometry.coordinates);
    map.fitBounds(bounds, { padding: fitPadding(), maxZoom: 18 });
  }

  function fitPadding() {
    const panel = $("panel").getBoundingClientRect();
    const wide = window.innerWidth > 720;
    return { top: 60, bottom: 60, right: 60, left: wide ? panel.right + 40 : 40 };
  }

  function clearSearch() {
    searchRequest += 1;
    map.getSource("results").setData(EMPTY);
    map.getSource("query").setData(EMPTY);
    resultsList.replaceChildren();
    setSummary("");
    popup.remove();
  }

  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const point = parsePoint(pointInput.value);
    if (!point) {
      setSummary("Type a point as latitude, longitude, e.g. 40.7062, -74.0105", true);
      pointInput.focus();
      return;
    }
    search(point.lat, point.lon);
  });
  pickButton.addEventListener("click", () => setPicking(!picking));
  // Editing a mode's number chooses that mode.
  for (const [input, mode] of [["radius", "nearby"], ["k", "nearest"]]) {
    $(input).addEventListener("focus", () => {
      $("search").elements.mode.value = mode;
    });
  }
  $("clear").addEventListener("click", clearSearch);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && picking) setPicking(false);
  });

  // ---- map status -----------------------------------------------------------------------

  map.on("zoomend", () => {
    if (!picking) say(zoomHint(), { sticky: true });
  });
  map.on("error", (event) => {
    const message = event.error && event.error.message ? event.error.message : "unknown error";
    console.warn("map error:", message);
    say(`Some tiles could not be loaded (${message}); try zooming in.`, { error: true });
  });
  map.on("load", () => say(zoomHint(), { sticky: true }));

  buildLegend();
})();
