"""Spec models (Pydantic v2, strict) and the loader that maps their errors back to YAML positions."""

from kasbah.spec.campus import Campus
from kasbah.spec.phase import Phase

__all__ = ["Campus", "Phase"]
