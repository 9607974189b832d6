"""The embedded PostGIS cluster manager (``pgspatial db ...``)."""

from __future__ import annotations

from pgspatial.local.binaries import ServerBinaries, find_server
from pgspatial.local.cluster import ClusterStatus, LocalCluster
from pgspatial.local.resolve import resolve_database_url

__all__ = ["ClusterStatus", "LocalCluster", "ServerBinaries", "find_server", "resolve_database_url"]
