"""JSON Schemas of the specs, for editors (yaml-language-server reads the modeline at the top of each stack)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from kasbah.spec.campus import Campus
from kasbah.spec.phase import Phase

SCHEMA_KINDS: dict[str, type[BaseModel]] = {"phase": Phase, "campus": Campus}


def schema_text(kind: str) -> str:
    """The schema as stable, pretty JSON text."""
    model = SCHEMA_KINDS[kind]
    schema = model.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://kasbah.dev/schema/{kind}.schema.json",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
