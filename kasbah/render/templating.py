"""One Jinja2 environment for every renderer: strict (an unknown variable is a bug, not an empty string)."""

from __future__ import annotations

import json
from functools import cache

import jinja2


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kasbah.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["tojson_sorted"] = lambda v: json.dumps(v, sort_keys=True)
    return env


def render_template(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
