"""Maps that work on a closed network (issue 12): the console shows the driver's GPS point on a
tile-free sketch (static/console/mapsketch.js draws it as SVG: the point, the service area's
polygons if one is configured, a scale bar), or on the tiles of a server the centre runs
(``--map-tiles``, a ``{z}/{x}/{y}`` path template on this server's origin, e.g.
``/tiles/{z}/{x}/{y}.png``, that the reverse proxy in front of kuaichu routes to the tile
server: the pages' CSP allows images from their own origin only).
Nothing is fetched from the internet.

Validated once at start-up (a bad template stops the server); the area's rings are thinned
to a bounded number of vertices so the page stays small whatever the GeoJSON holds.
"""

from __future__ import annotations

import re
from typing import Any, Final

from kuaichu.cases.errors import InvalidServiceConfig
from kuaichu.cases.service_area import ServiceArea

MAX_TEMPLATE: Final = 500
MAX_RING_POINTS: Final = 400  # per ring sent to the page
MAX_RINGS: Final = 60
_SAFE: Final = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%{}]+$")


def check_tiles(template: str) -> str:
    """``template`` stripped, or InvalidServiceConfig naming the flag: a path on this server's
    origin with {z}, {x} and {y}; no quotes, spaces or angle brackets."""
    t = template.strip()
    if not t:
        return ""
    flag = "--map-tiles / KUAICHU_MAP_TILES"
    if len(t) > MAX_TEMPLATE or not _SAFE.match(t) or '"' in t:
        raise InvalidServiceConfig(f"{flag}: not a URL template", path="map_tiles")
    if not t.startswith("/") or t.startswith("//"):
        raise InvalidServiceConfig(
            f"{flag}: must be a path on this server (/tiles/{{z}}/{{x}}/{{y}}.png), which the "
            "reverse proxy routes to the tile server",
            path="map_tiles",
        )
    for part in ("{z}", "{x}", "{y}"):
        if part not in t:
            raise InvalidServiceConfig(f"{flag}: {part} is missing", path="map_tiles")
    return t


def _thin(ring: tuple[tuple[float, float], ...]) -> list[list[float]]:
    step = max(1, -(-len(ring) // MAX_RING_POINTS))
    return [[round(lon, 6), round(lat, 6)] for lon, lat in ring[::step]]


def map_config(tiles: str, area: ServiceArea | None) -> dict[str, Any]:
    """What the console's map needs: the tile template ("" for the sketch) and the service
    area's outer rings, included and excluded, as [[lon, lat], …]."""
    rings: list[dict[str, Any]] = []
    if area is not None:
        for feature in area.features:
            for polygon in feature.polygons:
                if len(rings) >= MAX_RINGS:
                    break
                rings.append(
                    {"name": feature.name, "include": feature.include, "ring": _thin(polygon.shell)}
                )
    return {"tiles": check_tiles(tiles), "area": rings}
