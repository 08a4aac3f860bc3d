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


class SchedulerPartition(StrictModel):
    """A partition listed by hand: the nodes of the named halls and/or pods (both empty: every node)."""

    name: Id
    halls: list[Id] = []
    pods: list[Id] = []
    default: bool = False
    qos: list[Id] = Field([], description="QoS names (declared in scheduler.qos) jobs of this partition may use.")


class SchedulerPartitions(StrictModel):
    """How the cluster's nodes split into partitions: one per phase (default), one per hall, or listed."""

    by: Literal["phase", "hall", "listed"] = "phase"
    listed: list[SchedulerPartition] = Field([], description="The partitions when by: listed.")


class SchedulerQos(StrictModel):
    name: Id
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    max_wall_minutes: Annotated[int, Field(ge=1, le=525_600)] | None = None
    max_gpus_per_user: Annotated[int, Field(ge=1, le=10_000_000)] | None = None


class SchedulerAccount(StrictModel):
    name: Id
    parent: Id | None = None
    fairshare: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    qos: list[Id] = []
    description: Annotated[str, Field(max_length=200)] | None = None


class Scheduler(StrictModel):
    """Slurm for the GPU nodes standing after this phase (cumulative: earlier phases' nodes keep their names)."""

    enabled: bool | None = Field(None, description="Default: on when the phase's plan has GPU nodes.")
    cluster_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")] | None = Field(
        None, description="Slurm ClusterName (lower case, at most 40 characters); default: the campus name."
    )
    partitions: SchedulerPartitions = SchedulerPartitions()
    topology: Literal["block", "tree"] | None = Field(
        None,
        description="Slurm 24.11 takes one TopologyPlugin: block (NVLink domains; default when the cluster has "
        "rack-scale NVLink systems) or tree (the compute fabric's leaf groups; default otherwise).",
    )
    block_sizes: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        [],
        description="BlockSizes: the base block size, then larger sizes that are power-of-two multiples of it. "
        "Default: the NVLink domain (18 trays for NVL72) and its power-of-two multiples up to the cluster.",
    )
    segment: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None,
        description="The segment size users are told to request (sbatch --segment): it must survive a drained tray. "
        "Default: the largest power of two below the block size (16 of 18).",
    )
    imex: Literal["per-job", "static"] = Field(
        "per-job",
        description="per-job: Slurm hands out an IMEX channel per job (switch/nvidia_imex) and the GPU role starts "
        "no rack-wide IMEX domain; static: one shared IMEX domain per rack, as without a scheduler.",
    )
    accounting: bool = Field(False, description="slurmdbd accounting (accounts, QoS and limits are enforced).")
    accounts: list[SchedulerAccount] = []
    qos: list[SchedulerQos] = []
    memory_reserve_percent: Annotated[float, Field(ge=0, le=50)] = Field(
        5, description="Share of a node's catalog memory kept from Slurm's RealMemory for the OS and daemons."
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
    scheduler: Scheduler = Scheduler()
