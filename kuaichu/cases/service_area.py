"""Service areas: a GeoJSON FeatureCollection of included and excluded districts, validated
once at start-up, and the point-in-polygon test that places a driver inside or outside."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

from .errors import InvalidServiceConfig


class GeoPoint(NamedTuple):
    """WGS-84 longitude and latitude, in GeoJSON's order (longitude first)."""

    lon: float
    lat: float


Ring = tuple[tuple[float, float], ...]
BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

MAX_VERTICES: Final = 100_000
MAX_FEATURES: Final = 1_000


@dataclass(frozen=True)
class AreaPolygon:
    """One polygon: an outer ring, its holes, and the bounding box that rejects most points."""

    shell: Ring
    holes: tuple[Ring, ...]
    bbox: BBox

    def covers(self, point: GeoPoint) -> bool:
        """Closed polygon: points on the shell or on a hole's edge are covered, so two
        districts sharing a border leave no gap between them."""
        if not _in_bbox(self.bbox, point):
            return False
        if _ring_position(self.shell, point) < 0:
            return False
        return all(_ring_position(hole, point) <= 0 for hole in self.holes)


@dataclass(frozen=True)
class AreaFeature:
    """A named district of the configuration, included in the service area or carved out."""

    name: str
    include: bool
    polygons: tuple[AreaPolygon, ...]

    def covers(self, point: GeoPoint) -> bool:
        return any(polygon.covers(point) for polygon in self.polygons)


@dataclass(frozen=True)
class ServiceArea:
    """Included features minus excluded ones (e.g. seven districts, two of them carved out)."""

    features: tuple[AreaFeature, ...]

    def district(self, point: GeoPoint) -> str | None:
        """The name of the included feature the point lies in, ``None`` when outside."""
        if any(f.covers(point) for f in self.features if not f.include):
            return None
        return next((f.name for f in self.features if f.include and f.covers(point)), None)

    def contains(self, point: GeoPoint) -> bool:
        return self.district(point) is not None


def service_area_from_json(text: str | bytes, *, max_vertices: int = MAX_VERTICES) -> ServiceArea:
    """:func:`service_area_from_geojson` on the text of a GeoJSON file."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidServiceConfig(f"service area is not valid JSON: {exc}", path="") from None
    return service_area_from_geojson(data, max_vertices=max_vertices)


def service_area_from_geojson(data: object, *, max_vertices: int = MAX_VERTICES) -> ServiceArea:
    """Validate a GeoJSON FeatureCollection of Polygon/MultiPolygon features.

    Each feature's ``properties.name`` names it (districts show in messages and on the
    case); ``properties.service`` is ``"include"`` (default) or ``"exclude"``. Coordinates
    are WGS-84 ``[longitude, latitude]`` as RFC 7946 says — not the GCJ-02 offsets many
    Chinese map services use, or borders shift by several hundred metres.
    """
    loader = _AreaLoader(max_vertices)
    return loader.collection(data)


class _AreaLoader:
    def __init__(self, max_vertices: int) -> None:
        self.max_vertices = max_vertices
        self.vertices = 0

    def fail(self, path: str, message: str) -> InvalidServiceConfig:
        return InvalidServiceConfig(f"{path or 'service area'}: {message}", path=path)

    def collection(self, data: object) -> ServiceArea:
        if not isinstance(data, Mapping):
            raise self.fail("", "expected a GeoJSON object")
        kind = data.get("type")
        if kind != "FeatureCollection":
            hint = " (wrap it in a FeatureCollection)" if kind in _GEO_TYPES else ""
            raise self.fail("type", f"expected FeatureCollection, got {kind!r}{hint}")
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise self.fail("features", "expected a non-empty list of features")
        if len(features) > MAX_FEATURES:
            raise self.fail("features", f"more than {MAX_FEATURES} features")
        parsed = tuple(self.feature(f, f"features[{i}]", i) for i, f in enumerate(features))
        if not any(f.include for f in parsed):
            raise self.fail("features", 'no feature is included (all are "exclude")')
        return ServiceArea(parsed)

    def feature(self, raw: object, path: str, index: int) -> AreaFeature:
        if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
            raise self.fail(path, "expected an object with type Feature")
        props = raw.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, Mapping):
            raise self.fail(f"{path}.properties", "expected an object or null")
        name = props.get("name", f"area {index + 1}")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{path}.properties.name", "expected a non-empty string")
        service = props.get("service", "include")
        if service not in ("include", "exclude"):
            raise self.fail(f"{path}.properties.service", 'expected "include" or "exclude"')
        geometry = raw.get("geometry")
        gpath = f"{path}.geometry"
        if not isinstance(geometry, Mapping):
            raise self.fail(gpath, "expected a Polygon or MultiPolygon geometry")
        gtype, coords = geometry.get("type"), geometry.get("coordinates")
        cpath = f"{gpath}.coordinates"
        polygons: tuple[AreaPolygon, ...]
        if gtype == "Polygon":
            polygons = (self.polygon(coords, cpath),)
        elif gtype == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                raise self.fail(cpath, "expected a non-empty list of polygons")
            polygons = tuple(self.polygon(p, f"{cpath}[{i}]") for i, p in enumerate(coords))
        else:
            raise self.fail(f"{gpath}.type", f"expected Polygon or MultiPolygon, got {gtype!r}")
        return AreaFeature(name.strip(), service == "include", polygons)

    def polygon(self, raw: object, path: str) -> AreaPolygon:
        if not isinstance(raw, list) or not raw:
            raise self.fail(path, "expected a non-empty list of linear rings")
        rings = [self.ring(r, f"{path}[{i}]") for i, r in enumerate(raw)]
        shell, holes = rings[0], tuple(rings[1:])
        for i, hole in enumerate(holes, start=1):
            # A cheap sanity check, not full topology: a hole must start inside its shell.
            if _ring_position(shell, GeoPoint(*hole[0])) < 0:
                raise self.fail(f"{path}[{i}]", "hole lies outside its polygon's outer ring")
        lons = [lon for lon, _ in shell]
        lats = [lat for _, lat in shell]
        return AreaPolygon(shell, holes, (min(lons), min(lats), max(lons), max(lats)))

    def ring(self, raw: object, path: str) -> Ring:
        if not isinstance(raw, list):
            raise self.fail(path, "expected a list of positions")
        if len(raw) < 4:
            raise self.fail(path, f"a linear ring needs at least 4 positions, got {len(raw)}")
        self.vertices += len(raw)
        if self.vertices > self.max_vertices:
            raise self.fail(path, f"too many vertices (limit {self.max_vertices}); simplify")
        ring = tuple(self.position(p, f"{path}[{i}]") for i, p in enumerate(raw))
        if ring[0] != ring[-1]:
            raise self.fail(
                path,
                f"ring is not closed: first position {list(ring[0])} differs from last "
                f"{list(ring[-1])}",
            )
        if len(set(ring)) < 3 or _ring_area2(ring) == 0:
            raise self.fail(path, "ring has no area (fewer than 3 distinct points or collinear)")
        return ring

    def position(self, raw: object, path: str) -> tuple[float, float]:
        if not isinstance(raw, list) or len(raw) not in (2, 3):
            raise self.fail(path, "expected [longitude, latitude]")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
            raise self.fail(path, "coordinates must be numbers")
        # Checked before float(): a huge integer in the file would overflow it.
        if not all(-1e6 < v < 1e6 for v in raw[:2]):
            raise self.fail(path, "coordinates must be finite")
        lon, lat = float(raw[0]), float(raw[1])
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            swapped = " (is it [latitude, longitude]? GeoJSON wants longitude first)"
            plausible = -90 <= lon <= 90 and -180 <= lat <= 180
            raise self.fail(
                path, f"[{lon}, {lat}] is not a place on Earth{swapped if plausible else ''}"
            )
        return lon, lat


_GEO_TYPES: Final = frozenset({"Feature", "Polygon", "MultiPolygon", "GeometryCollection"})


def _in_bbox(bbox: BBox, point: GeoPoint) -> bool:
    return bbox[0] <= point.lon <= bbox[2] and bbox[1] <= point.lat <= bbox[3]


def _ring_area2(ring: Ring) -> float:
    """Twice the signed area (shoelace); zero for a degenerate ring."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def _ring_position(ring: Ring, point: GeoPoint) -> int:
    """1 inside, 0 on the boundary, -1 outside: even-odd ray casting towards +longitude.

    Planar on lon/lat, which is exact enough for district-sized polygons away from the
    poles and the antimeridian (neither concerns a Chinese city).
    """
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if _on_segment(x1, y1, x2, y2, x, y):
            return 0
        # Half-open rule on y so a ray through a vertex is counted exactly once.
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return 1 if inside else -1


def _on_segment(x1: float, y1: float, x2: float, y2: float, x: float, y: float) -> bool:
    if not (min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)):
        return False
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    # Tolerance far below GPS precision (1e-12 degrees is a few nanometres).
    return abs(cross) <= 1e-12 * max(1.0, abs(x2 - x1) + abs(y2 - y1))
