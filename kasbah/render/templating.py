"""One Jinja2 environment for every renderer: strict (an unknown variable is a bug, not an empty string), with the
escaping helpers of kasbah.render.escape as filters, so a template escapes each value for the language it writes."""

from __future__ import annotations

import json
from functools import cache

import jinja2

from kasbah.render import escape


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
    env.filters["yaml_quote"] = escape.yaml_quote
    env.filters["yaml_comment"] = escape.yaml_comment
    env.filters["frr_comment"] = escape.frr_comment
    env.filters["frr_word"] = escape.frr_word
    env.filters["frr_description"] = escape.frr_description
    env.filters["slurm_word"] = escape.slurm_word
    env.filters["slurm_comment"] = escape.slurm_comment
    return env


def render_template(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
