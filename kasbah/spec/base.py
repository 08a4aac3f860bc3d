"""Shared pieces of the spec models: strictness, identifiers, bounded numbers."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class StrictModel(BaseModel):
    """Unknown keys are errors, types are not coerced, NaN and infinity are refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


Id = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(description="Lower-case letters, digits and '-', at most 63 characters (usable in DNS and Pulumi names)."),
]
RESERVED_ASNS: dict[int, str] = {
    23456: "AS_TRANS, which stands in for 32-bit AS numbers on 16-bit-only sessions (RFC 6793)",
    65535: "reserved, the last 16-bit AS number (RFC 7300)",
    4_294_967_295: "reserved, the last 32-bit AS number (RFC 7300)",
}
"""AS numbers no BGP speaker may use as its own (IANA special-purpose AS numbers registry)."""


def _usable_asn(value: int) -> int:
    if value in RESERVED_ASNS:
        raise ValueError(f"AS {value} is {RESERVED_ASNS[value]}; no router may use it: pick another AS number")
    return value


Asn = Annotated[
    int,
    Field(ge=1, le=4_294_967_295, description="A 16- or 32-bit BGP AS number."),
    AfterValidator(_usable_asn),
]
Km = Annotated[float, Field(ge=0, le=60_000, description="Kilometres of fibre route.")]
Mw = Annotated[float, Field(gt=0, le=5_000, description="Megawatts.")]
Kw = Annotated[float, Field(gt=0, le=5_000, description="Kilowatts.")]
Gbps = Annotated[float, Field(gt=0, le=10_000_000, description="Gigabits per second.")]
Share = Annotated[float, Field(ge=0, le=1, description="A fraction between 0 and 1.")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Confidence = Literal["high", "medium", "low"]
Cooling = Literal["air", "direct_liquid"]

MAX_PORT = 65_535
"""TCP and UDP port numbers are 16 bits (RFC 793, RFC 768); port 0 is not a destination anyone listens on."""
_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_LABEL_RE = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_LABEL_RE}(\.{_LABEL_RE})*"
"""Host names for the editors' schema (label syntax only; the validator also checks the length and numeric hosts)."""
_LABEL = re.compile(f"^{_LABEL_RE}$")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/:?#]*)(:(?P<port>[^/?#]*))?(?P<rest>.*)$", re.S)


def host_problem(host: str) -> str | None:
    """Why `host` is not a DNS name (RFC 1123: labels of 1-63 letters, digits and '-', 253 characters) or an IPv4
    address, or None when it is one."""
    if not host:
        return "the host name is empty"
    if len(host) > 253:
        return f"the host name is {len(host)} characters long; DNS allows at most 253"
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        try:
            IPv4Address(host)
        except ValueError:
            return f"'{host}' is neither a host name nor a valid IPv4 address"
        return None
    for label in labels:
        if not label:
            return f"'{host}' has an empty label (two dots in a row, or a dot at either end)"
        if len(label) > 63:
            return f"'{host}' has a label of {len(label)} characters; DNS allows at most 63"
        if not _LABEL.match(label):
            return (
                f"'{host}' has the label '{label}': labels are letters, digits and '-', "
                "and do not start or end with '-'"
            )
    return None


def port_problem(port: str) -> str | None:
    """Why `port` is not a TCP/UDP port number 1-65535, or None."""
    if not port.isascii() or not port.isdigit():
        return f"the port '{port}' is not a number"
    if len(port) > 1 and port.startswith("0"):
        return f"the port '{port}' has a leading zero; write it as {int(port)}"
    number = int(port)
    if number == 0:
        return "port 0 is not a port anything listens on; use a port between 1 and 65535"
    if number > MAX_PORT:
        return f"port {number} is out of range: TCP and UDP ports go from 1 to {MAX_PORT}"
    return None


def _endpoint(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep:
        raise ValueError(f"'{value}' has no port: write host:port, e.g. facility-h1.example.internal:9840")
    problem = host_problem(host) or port_problem(port)
    if problem:
        raise ValueError(f"'{value}' is not a usable host:port endpoint: {problem}")
    return value


def _url(value: str) -> str:
    m = _URL.match(value)
    if m is None or m["scheme"] not in ("http", "https"):
        raise ValueError(f"'{value}' is not an http:// or https:// URL (lower-case scheme)")
    authority = value.split("://", 1)[1].split("/", 1)[0]
    if "@" in authority:
        raise ValueError(
            f"'{value}' carries a user name or password: keep credentials out of specs (name a vault variable, "
            "e.g. token_var)"
        )
    problem = host_problem(m["host"])
    if problem is None and m["port"] is not None:
        problem = port_problem(m["port"])
    if problem is None and m["rest"] and not m["rest"].startswith("/"):
        problem = "what follows the host (and port) must be a path starting with '/'"
    if problem is None and any(not "!" <= c <= "~" for c in m["rest"]):
        # a control character or line break would reach rendered YAML and the consumer's URL parser
        problem = "the path holds a space, a control or a non-ASCII character; percent-encode it"
    if problem:
        raise ValueError(f"'{value}' is not a usable URL: {problem}")
    return value


Endpoint = Annotated[
    str,
    Field(
        description="host:port of a Prometheus endpoint, e.g. facility-h1.casablanca-ai.internal:9840.",
        json_schema_extra={"pattern": f"^{_HOST}:{_PORT}$"},
    ),
    AfterValidator(_endpoint),
]


HttpUrl = Annotated[
    str,
    Field(json_schema_extra={"pattern": rf"^https?://{_HOST}(:{_PORT})?(/[!-~]*)?$"}),
    AfterValidator(_url),
]
"""An http(s) URL: a DNS name or IPv4 address, an optional port 1-65535, an optional path without spaces."""
