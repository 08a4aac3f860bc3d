"""Shared pieces of the spec models: strictness, identifiers, bounded numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class StrictModel(BaseModel):
    """Unknown keys are errors, types are not coerced, NaN and infinity are refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


Id = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(description="Lower-case letters, digits and '-', at most 63 characters (usable in DNS and Pulumi names)."),
]
Asn = Annotated[int, Field(ge=1, le=4_294_967_295, description="A 16- or 32-bit BGP AS number.")]
Km = Annotated[float, Field(ge=0, le=60_000, description="Kilometres of fibre route.")]
Mw = Annotated[float, Field(gt=0, le=5_000, description="Megawatts.")]
Kw = Annotated[float, Field(gt=0, le=5_000, description="Kilowatts.")]
Gbps = Annotated[float, Field(gt=0, le=10_000_000, description="Gigabits per second.")]
Share = Annotated[float, Field(ge=0, le=1, description="A fraction between 0 and 1.")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Confidence = Literal["high", "medium", "low"]
Cooling = Literal["air", "direct_liquid"]
Endpoint = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?:[1-9][0-9]{0,4}$",
        description="host:port of a Prometheus endpoint, e.g. facility-h1.casablanca-ai.internal:9840.",
    ),
]
