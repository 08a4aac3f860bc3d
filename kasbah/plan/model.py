"""Base for plan results: frozen, JSON-serialisable, fields in a fixed order (stable `plan --json`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PlanModel(BaseModel):
    """A derived value. Never built from user input directly, so no strictness, only immutability."""

    model_config = ConfigDict(frozen=True)
