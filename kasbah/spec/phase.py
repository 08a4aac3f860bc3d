"""The phase spec: what one construction phase adds to the campus."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from kasbah.spec.base import Cooling, Endpoint, Gbps, Id, Kw, Mw, Share, StrictModel

Redundancy = Literal["N", "N+1", "2N", "2N+1"]


class Power(StrictModel):
    budget_mw: Mw
    basis: Literal["it_load", "facility"] = Field(
        description="Whether the budget counts IT load or facility power (IT load x PUE)."
    )
    design_pue: Annotated[float, Field(gt=0, le=10)]
    redundancy: Redundancy = "2N"
    cooling_redundancy: Redundancy = "N+1"
    other_it_mw: Annotated[float, Field(ge=0, le=5000)] = Field(
        0, description="IT load outside the GPU systems (storage, CPU nodes, network gear) in MW."
    )


class Pod(StrictModel):
    """A scalable unit: `count` units of one system SKU, planned and provisioned together."""

    id: Id
    sku: Id
    count: Annotated[int, Field(ge=1, le=100_000)]
    units_per_rack: Annotated[int, Field(ge=1, le=64)] | None = None


class Hall(StrictModel):
    """A data hall. A later phase extends an earlier hall by naming its id and listing new pods only."""

    id: Id
    power_limit_mw: Mw | None = None
    cooling: Cooling | None = None
    max_rack_kw: Kw | None = None
    telemetry: Endpoint | None = Field(
        None,
        description="The hall's power and cooling telemetry (Prometheus); default facility-<hall>.<campus>.internal.",
    )
    pods: list[Pod] = []


class ComputeFabric(StrictModel):
    kind: Literal["infiniband-ndr", "infiniband-xdr", "spectrum-x"]
    switch: Id
    rail_optimised: bool = True
    oversubscription: Annotated[str, Field(pattern=r"^[1-9][0-9]*(\.[0-9]+)?:1$")] = "1:1"
    telemetry: Endpoint | None = Field(
        None, description="UFM Telemetry of an InfiniBand fabric (Prometheus); default ufm-<phase>.<campus>.internal."
    )
    planned_nodes: Annotated[int, Field(ge=1, le=10_000_000)] | None = Field(
        None,
        description="Final size (nodes; compute trays for NVL72) this phase's fabric is built to grow to: it builds "
        "the final design's spines and cores now and reserves their ports for later phases that extend it.",
    )
    extends: Id | None = Field(
        None, description="An earlier phase whose planned fabric this phase grows (cables its SUs in, adds leaves)."
    )
    separate: bool = Field(
        False, description="Build a fabric of its own on purpose (no note that an earlier fabric could grow instead)."
    )


class StorageNetwork(StrictModel):
    switch: Id
    oversubscription: Annotated[str, Field(pattern=r"^[1-9][0-9]*(\.[0-9]+)?:1$")] = "1:1"


class OobNetwork(StrictModel):
    switch: Id = Field(description="Access switch in each rack (e.g. sn2201: 48 x 1G down, 4 x 100G up).")
    aggregation: Id | None = Field(None, description="Aggregation switch model; default: the access model.")


class Networks(StrictModel):
    compute: ComputeFabric
    storage: StorageNetwork
    oob: OobNetwork


class WanUplink(StrictModel):
    cable: Id
    gbps: Gbps
    edge_router: Id = "edge1"


class Decommission(StrictModel):
    kind: Literal["hall", "pod", "uplink"]
    id: Id
    reason: str | None = None


class PhaseEnergy(StrictModel):
    """How this phase's pods take part in the power-following schedule."""

    protected_pods: list[Id] = Field([], description="Pods the schedule never caps (e.g. inference with latency SLOs).")
    utilisation: Share | Annotated[list[Share], Field(min_length=24, max_length=24)] | None = Field(
        None, description="This phase's pods' load as a fraction of budget (one figure or 24); None: the campus's."
    )


class Phase(StrictModel):
    """One construction phase, naming its campus file and the phase file it follows."""

    campus: str = Field(description="Path to the campus spec, relative to this file.")
    id: Id
    follows: str | None = Field(None, description="Path to the previous phase's spec, relative to this file.")
    ready_by: dt.date
    power: Power
    halls: list[Hall] = []
    networks: Networks | None = None
    wan_uplinks: list[WanUplink] = []
    decommission: list[Decommission] = []
    energy: PhaseEnergy = PhaseEnergy()
