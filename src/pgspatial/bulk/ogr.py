"""Reading GIS files through GDAL (pyogrio's Arrow path), in a thread beside the COPY.

pyogrio hands GDAL's Arrow stream over as ``pyarrow`` record batches: attribute columns as
Arrow arrays, geometries as WKB. GDAL releases the GIL while it reads, so a reader thread
filling a small bounded queue lets the file be read while the previous batch is checked and
COPYed: a GeoPackage load then costs about what the COPY costs. The queue is bounded (a
slow database must not make the reader buffer the whole file), and an error in the reader
is re-raised in the loading thread, so the load's transaction rolls back.

pyogrio and pyarrow are optional (``pip install 'pgspatial[io]'``) and imported lazily.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pgspatial.errors import ConfigError, EnvironmentProblem
from pgspatial.geometry.crs import srid_from_crs_name

__all__ = ["ArrowBatches", "LayerInfo", "describe_layer", "import_pyogrio"]

_QUEUE_BATCHES = 4
# Drivers whose files hold exactly one layer: no need to open them again to list layers.
_SINGLE_LAYER_DRIVERS = frozenset({"GeoJSON", "GeoJSONSeq", "ESRI Shapefile", "FlatGeobuf", "CSV"})
_POLL_S = 0.1
_JOIN_S = 0.005


def import_pyogrio() -> Any:
    """``pyogrio`` (with pyarrow), or EnvironmentProblem saying how to install them."""
    try:
        import pyarrow  # noqa: F401
        import pyogrio
        import pyogrio.raw
    except ImportError as error:
        raise EnvironmentProblem(
            f"reading GIS files needs pyogrio and pyarrow ({error}); install them with "
            "pip install 'pgspatial[io]'."
        ) from None
    return pyogrio


@dataclass(frozen=True)
class LayerInfo:
    """What GDAL says about one layer, before reading it.

    ``srid`` is the layer CRS's EPSG code, or None when GDAL and PROJ cannot identify one
    (``crs`` then holds the CRS as GDAL gave it, or None when the layer has none).
    ``features`` is GDAL's count (-1 when unknown).
    """

    path: Path
    layer: str
    layers: tuple[str, ...]
    driver: str
    features: int
    geometry_type: str
    crs: str | None
    srid: int | None
    fid_column: str
    geometry_name: str


def _epsg(crs: str | None) -> int | None:
    if not crs:
        return None
    srid = srid_from_crs_name(crs)
    if srid is not None:
        return srid
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        code = CRS.from_user_input(crs).to_epsg(min_confidence=90)
    except CRSError:
        return None
    return int(code) if code else None


def describe_layer(path: str | Path, layer: str | None = None) -> LayerInfo:
    """The layer ``layer`` of ``path`` (the only one, when ``layer`` is None).

    Raises ConfigError when the file cannot be read, when ``layer`` is not in it (listing
    the layers there are), or when it has several layers and none was chosen. Formats that
    hold one layer are opened once (opening a GeoJSON file parses all of it).
    """
    pyogrio = import_pyogrio()
    source = Path(path)
    errors = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError)
    try:
        with warnings.catch_warnings():  # "more than one layer": said below, as ConfigError
            warnings.simplefilter("ignore", UserWarning)
            info = pyogrio.read_info(str(source), layer=layer, force_feature_count=True)
    except pyogrio.errors.DataLayerError:
        info = None  # an unknown layer: listed below
    except errors as error:
        raise ConfigError(f"cannot read {source} as a GIS file: {error}") from None
    single = source.is_file() and str((info or {}).get("driver")) in _SINGLE_LAYER_DRIVERS
    if info is not None and single:
        names: tuple[str, ...] = (str(info["layer_name"]),)
    else:
        try:
            names = tuple(str(row[0]) for row in pyogrio.list_layers(str(source)))
        except errors as error:
            raise ConfigError(f"cannot read {source} as a GIS file: {error}") from None
    listing = ", ".join(names) or "none"
    if layer is None and len(names) != 1:
        raise ConfigError(f"{source} has {len(names)} layers ({listing}); choose one with --layer.")
    if info is None or (layer is not None and layer not in names):
        raise ConfigError(f"{source} has no layer {layer!r}; its layers are: {listing}.")
    crs = str(info["crs"]) if info.get("crs") else None
    features = info.get("features")
    return LayerInfo(
        path=source,
        layer=str(info.get("layer_name") or names[0]),
        layers=names,
        driver=str(info.get("driver") or "?"),
        features=int(features) if features is not None else -1,
        geometry_type=str(info.get("geometry_type") or "Unknown"),
        crs=crs,
        srid=_epsg(crs),
        fid_column=str(info.get("fid_column") or ""),
        geometry_name=str(info.get("geometry_name") or ""),
    )


class ArrowBatches:
    """A layer's record batches, read by a background thread into a bounded queue.

    Use as a context manager; iterate for the batches. ``schema`` and ``meta`` are set
    once the reader has opened the layer. Leaving the block stops the reader (also when the
    consumer failed) and joins it; the dataset is closed only after the consumer is done
    with the batches.
    """

    def __init__(self, info: LayerInfo, *, batch_rows: int) -> None:
        self.info = info
        self.batch_rows = batch_rows
        self.schema: Any = None
        self.meta: dict[str, Any] = {}
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_QUEUE_BATCHES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="pgspatial-ogr-reader", daemon=True)

    def __enter__(self) -> ArrowBatches:
        self._thread.start()
        kind, payload = self._get()
        if kind == "error":
            self._thread.join()
            raise payload
        self.meta, self.schema = payload
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # make room for a reader blocked in put()
                while True:
                    self._queue.get_nowait()
            self._thread.join(timeout=_JOIN_S)

    def __iter__(self) -> Iterator[Any]:
        while True:
            kind, payload = self._get()
            if kind == "batch":
                yield payload
            elif kind == "end":
                return
            else:
                raise payload

    def _get(self) -> tuple[str, Any]:
        while True:
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return "error", RuntimeError("the file reader stopped without a reason")

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        pyogrio = import_pyogrio()
        try:
            with pyogrio.raw.open_arrow(
                str(self.info.path),
                layer=self.info.layer,
                batch_size=self.batch_rows,
                return_fids=True,
                use_pyarrow=True,
            ) as (meta, reader):
                if not self._put(("meta", (meta, reader.schema))):
                    return
                for batch in reader:
                    if not self._put(("batch", batch)):
                        return
                if self._put(("end", None)):
                    self._stop.wait()  # keep the dataset open until the consumer is done
        except BaseException as error:  # every failure goes to the consumer
            self._put(("error", _reader_error(self.info, error)))


def _reader_error(info: LayerInfo, error: BaseException) -> BaseException:
    """A failure to read the file (GDAL, Arrow, I/O) as ConfigError naming it; others as is."""
    module = type(error).__module__
    if isinstance(error, OSError) or module.startswith(("pyogrio", "pyarrow")):
        return ConfigError(
            f"reading {info.path} (layer {info.layer!r}) failed: {error}. Nothing was loaded; "
            "check the file (ogrinfo -al -so) or convert it with ogr2ogr first."
        )
    return error
