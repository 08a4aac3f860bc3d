"""Catalog entry models: the facts a plan is derived from, each with its source and a confidence."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kasbah.spec.base import Confidence, Id, Km, Kw, Latitude, Longitude, StrictModel

Sources = Annotated[
    list[str], Field(min_length=1, description="Where the figures come from, tagged [P], [S], [C] or [U].")
]


class Sourced(StrictModel):
    """Every catalog entry says where its figures come from and how sure we are of them."""

    source: Sources
    confidence: Confidence
    notes: str | None = None


class GpuSystem(Sourced):
    """A GPU system SKU. `unit` is what a pod's `count` counts: a whole rack (NVL72) or one node (DGX/HGX)."""

    name: str
    vendor: Literal["nvidia", "amd"]
    unit: Literal["rack", "node"]
    gpus_per_unit: Annotated[int, Field(ge=1, le=1024)]
    compute_trays_per_unit: Annotated[int, Field(ge=1, le=256, description="Compute trays (rack) or 1 (node).")]
    switch_trays_per_unit: Annotated[int, Field(ge=0, le=64)] = 0
    nvlink_domain_gpus: Annotated[int, Field(ge=1, le=1024, description="GPUs in one scale-up (NVLink) domain.")]
    unit_power_kw: Annotated[Kw, Field(description="Maximum power of one unit.")]
    unit_budget_kw: Kw | None = Field(
        None,
        description="Power the facility budgets per unit where the vendor publishes a larger envelope than the unit's "
        "own maximum (NVIDIA's 1.2 MW per 8-rack GB200 SU: switch trays, power shelves, the SU's network racks). "
        "None: the unit's maximum is the budget.",
    )
    gpu_max_w: Annotated[int, Field(ge=50, le=5000)] | None = Field(
        None, description="Maximum power of one GPU (W), where published: the ceiling of its power limit."
    )
    cooling: Literal["air", "liquid"]
    units_per_rack: Annotated[int, Field(ge=1, le=64, description="Default units per rack.")]
    compute_nics_per_unit: Annotated[int, Field(ge=0, le=1024)]
    compute_nic_gbps: Annotated[int, Field(ge=1, le=3200)]
    compute_nic: str
    storage_ports_per_unit: Annotated[int, Field(ge=0, le=1024, description="In-band/storage ports (e.g. BlueField).")]
    storage_port_gbps: Annotated[int, Field(ge=1, le=3200)]
    oob_ports_per_unit: Annotated[int, Field(ge=0, le=1024, description="BMC and management ports.")]
    oob_switches_per_rack: Annotated[int, Field(ge=0, le=8)] = 0
    cpus_per_node: Annotated[int, Field(ge=1, le=4096)] | None = Field(
        None, description="CPU cores of one compute tray (rack units) or node, where published: Slurm's CPUs=."
    )
    memory_gb_per_node: Annotated[float, Field(gt=0, le=65_536)] | None = Field(
        None,
        description="Host memory of one compute tray or node (GB) as published; the plan keeps a reserve below it "
        "for Slurm's RealMemory. None: not published (the scheduler then warns).",
    )

    @property
    def budget_kw(self) -> float:
        """What the facility plans per unit: the published budget, else the unit's maximum draw."""
        return self.unit_budget_kw if self.unit_budget_kw is not None else self.unit_power_kw


class Switch(Sourced):
    """A switch model; `ports` maps a port speed in Gb/s to how many ports it has at that speed."""

    name: str
    protocol: Literal["infiniband", "ethernet"]
    generation: str
    ports: dict[Annotated[int, Field(ge=1, le=3200)], Annotated[int, Field(ge=1, le=4096)]]
    rack_units: Annotated[int, Field(ge=1, le=48)] | None = None


class LandingStation(Sourced):
    """A cable landing station on Morocco's coast."""

    name: str
    city: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    latitude: Latitude
    longitude: Longitude
    operator: str | None = None


class Hub(Sourced):
    """A far-end place a cable lands at or an interconnection hub (IX building) reached from one."""

    name: str
    city: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    latitude: Latitude
    longitude: Longitude
    building: str | None = None


class CableSegment(StrictModel):
    """One landing-to-far-end route of a cable system. `length_km` None: not published; the planner then estimates
    it from the great circle (through `via`, when given) times its route factor, and says so."""

    landing_station: Id
    far_end: Id
    length_km: Km | None
    via: list[Id] = Field(
        [],
        description="Hubs (in order) the route must pass, e.g. the landings at Suez and Djibouti: a great circle "
        "through them is a far tighter lower bound than the direct one. Only read when length_km is null.",
    )
    design_capacity_tbps: Annotated[float, Field(gt=0, le=100_000)] | None = None


class CableSystem(Sourced):
    """A subsea cable system with its Morocco segments."""

    name: str
    owner: str | None = None
    ready_for_service: str | None = None
    segments: Annotated[list[CableSegment], Field(min_length=1)]
    design_capacity_tbps: Annotated[float, Field(gt=0, le=100_000)] | None = None


class Catalog(StrictModel):
    """A catalog: the built-in one, or the additions and overrides a campus spec makes."""

    version: str = "campus"
    systems: dict[Id, GpuSystem] = {}
    switches: dict[Id, Switch] = {}
    landing_stations: dict[Id, LandingStation] = {}
    hubs: dict[Id, Hub] = {}
    cables: dict[Id, CableSystem] = {}

    def merged(self, overrides: Catalog) -> Catalog:
        """This catalog with a campus's entries added or replacing ours, key by key."""
        return Catalog(
            version=f"{self.version}+{overrides.version}",
            systems={**self.systems, **overrides.systems},
            switches={**self.switches, **overrides.switches},
            landing_stations={**self.landing_stations, **overrides.landing_stations},
            hubs={**self.hubs, **overrides.hubs},
            cables={**self.cables, **overrides.cables},
        )
