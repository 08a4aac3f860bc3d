"""Spec models (Pydantic v2, strict) and the loader that maps their errors back to YAML positions.

Import the models from their modules (`kasbah.spec.campus`, `kasbah.spec.phase`); this package imports nothing so
that the catalog models can share `kasbah.spec.base` without an import cycle.
"""
