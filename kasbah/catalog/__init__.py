"""The built-in catalog: versioned data files in `data/`, each entry with its source and a confidence."""

from __future__ import annotations

from functools import cache
from importlib import resources

from pydantic import ValidationError

from kasbah.catalog.models import CableSystem, Catalog, GpuSystem, Hub, LandingStation, Switch
from kasbah.yamlsource import parse_text

__all__ = ["CableSystem", "Catalog", "GpuSystem", "Hub", "LandingStation", "Switch", "builtin_catalog"]

_FILES = ("catalog.yaml", "systems.yaml", "switches.yaml", "landing_stations.yaml", "hubs.yaml", "cables.yaml")


@cache
def builtin_catalog() -> Catalog:
    """Load and validate the packaged catalog once; a broken catalog is a bug in Kasbah, so it raises."""
    merged: dict[str, object] = {}
    root = resources.files("kasbah.catalog") / "data"
    for name in _FILES:
        doc = parse_text((root / name).read_text(encoding="utf-8"), f"kasbah/catalog/data/{name}")
        for key, value in doc.data.items():
            if key in merged:
                raise ValueError(f"catalog key {key!r} defined twice (again in {name})")
            merged[key] = value
    try:
        return Catalog.model_validate(merged)
    except ValidationError as exc:  # pragma: no cover - guarded by tests/test_catalog.py
        raise ValueError(f"the built-in catalog is invalid: {exc}") from exc
