"""Plan = derive(campus, phases): the one place where counts, power, addresses, fabrics and WAN paths come from.

Phases are replayed in order, so a phase's plan is cumulative (everything still standing after it) and carries its
own increment. The walk is pure: same spec in, same plan and findings out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kasbah.catalog import builtin_catalog
from kasbah.catalog.models import Catalog, GpuSystem, Switch
from kasbah.findings import Finding, Findings, Level, Path, did_you_mean
from kasbah.plan import addresses as addr
from kasbah.plan import fabric as fab
from kasbah.plan.asns import fabric_asn_findings
from kasbah.plan.compute import ComputeTotals, PodPlan, plan_pod, totals
from kasbah.plan.edge import EdgePlan, interconnect_slots, plan_edge
from kasbah.plan.energy import EnergyPlan, plan_energy
from kasbah.plan.lab import LabPlan, plan_lab
from kasbah.plan.model import PlanModel
from kasbah.plan.monitoring import MonitoringPlan, plan_monitoring
from kasbah.plan.names import name_findings
from kasbah.plan.power import (
    GpuPowerLimit,
    HallPlan,
    PowerPlan,
    budget_findings,
    gpu_power_limits,
    phase_power,
    pue_findings,
)
from kasbah.plan.services import ServiceHost, plan_service_hosts
from kasbah.plan.services import addresses_needed as services_addresses_needed
from kasbah.plan.slurm import SlurmPlan, plan_slurm
from kasbah.plan.storage import StoragePlan, plan_storage
from kasbah.plan.wan import UplinkRef, WanPlan, plan_wan
from kasbah.spec.load import LoadedSpec
from kasbah.spec.phase import Hall, Phase
from kasbah.yamlsource import SourceDoc

_T = TypeVar("_T")

FABRIC_PROTOCOL = {"infiniband-ndr": "infiniband", "infiniband-xdr": "infiniband", "spectrum-x": "ethernet"}


class PhaseFabric(PlanModel):
    """The networks one phase builds for its own pods."""

    phase: str
    partition_key: int
    compute: list[fab.ComputeFabricPlan]
    storage: fab.NetworkPlan | None
    oob: fab.NetworkPlan | None


class PhaseSummary(PlanModel):
    id: str
    ready_by: dt.date
    file: str
    budget_mw: float
    basis: str
    it_load_mw: float
    facility_mw: float
    pods: int
    racks: int
    gpus: int
    decommissioned: list[str]


class Plan(PlanModel):
    """Everything derived for one phase: its increment and the campus as it stands after it."""

    campus: str
    phase: str
    catalog_version: str
    phases: list[PhaseSummary]
    increment: ComputeTotals
    cumulative: ComputeTotals
    power: PowerPlan
    gpu_power_limits: list[GpuPowerLimit]
    energy: EnergyPlan
    halls: list[HallPlan]
    pods: list[PodPlan]
    fabrics: list[PhaseFabric]
    addresses: addr.AddressPlan
    wan: WanPlan
    edge: EdgePlan
    fabric_asn_base: int
    service_hosts: list[ServiceHost]
    monitoring: MonitoringPlan
    storage: StoragePlan
    lab: LabPlan
    slurm: SlurmPlan | None = None


@dataclass
class _Hall:
    """A hall as built so far; findings about its load point at the latest phase that listed it."""

    spec: Hall
    phase: str
    last_doc: SourceDoc
    last_path: Path
    decommissioned_in: str | None = None


@dataclass
class _State:
    halls: dict[str, _Hall] = field(default_factory=dict)
    pods: dict[str, tuple[PodPlan, SourceDoc, Path]] = field(default_factory=dict)
    retired_pods: dict[str, str] = field(default_factory=dict)
    uplinks: list[UplinkRef] = field(default_factory=list)
    edge_routers: dict[str, str] = field(default_factory=dict)
    power_limits: list[GpuPowerLimit] = field(default_factory=list)  # router -> phase that first used it
    fabrics: list[PhaseFabric] = field(default_factory=list)
    growth: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)  # (phase, nics, gbps) -> fabric
    summaries: list[PhaseSummary] = field(default_factory=list)
    allocations: list[addr.Allocation] = field(default_factory=list)
    budget_mw: float = 0.0
    pue: dict[str, float] = field(default_factory=dict)
    other_it: list[tuple[float, float]] = field(default_factory=list)

    def live_power(self) -> tuple[float, float]:
        """(IT MW, facility MW) of what stands now: live pods at their phase's PUE, plus each phase's other IT."""
        it = fac = 0.0
        for pp, _, _ in self.pods.values():
            it += pp.budget_kw / 1000
            fac += pp.budget_kw / 1000 * self.pue[pp.phase]
        for mw, pue in self.other_it:
            it += mw
            fac += mw * pue
        return it, fac


def _ratio(text: str) -> float:
    return float(text.split(":")[0])


def _lookup(catalog_map: dict, key: str, doc: SourceDoc, path: Path, what: str, code: str, out: Findings):
    if key in catalog_map:
        return catalog_map[key]
    hint = did_you_mean(key, catalog_map) or f"known {what}s: {', '.join(sorted(catalog_map))}"
    out.add(doc.finding(Level.ERROR, code, path, f"unknown {what} '{key}'", hint))
    return None


class _Planner:
    def __init__(self, spec: LoadedSpec, catalog: Catalog):
        self.spec = spec
        self.campus = spec.campus
        self.cdoc = spec.campus_doc
        self.catalog = catalog
        self.out = Findings()
        self.state = _State()
        supernets = {n: getattr(self.campus.addressing, n) for n in addr.NETWORKS}
        self.allocators = {n: addr.Allocator(n, net) for n, net in supernets.items()}
        self.exhausted: set[str] = set()
        for a, b in addr.overlapping(supernets):
            self.out.add(
                self.cdoc.finding(
                    Level.ERROR,
                    "addresses.overlap",
                    ("addressing", b),
                    f"addressing.{b} ({supernets[b]}) overlaps addressing.{a} ({supernets[a]})",
                    "give every network its own, non-overlapping supernet",
                )
            )

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def _decommission(self, phase: Phase, doc: SourceDoc) -> list[str]:
        done: list[str] = []
        for i, d in enumerate(phase.decommission):
            path = ("decommission", i, "id")
            if d.kind == "hall":
                hall = self.state.halls.get(d.id)
                if hall is None or hall.decommissioned_in:
                    live = [h for h, v in self.state.halls.items() if not v.decommissioned_in]
                    self._unknown_decommission(doc, path, "hall", d.id, live)
                    continue
                hall.decommissioned_in = phase.id
                for pod_id in [p for p, (pp, _, _) in self.state.pods.items() if pp.hall == d.id]:
                    self._retire_pod(pod_id, phase.id)
            elif d.kind == "pod":
                if d.id not in self.state.pods:
                    self._unknown_decommission(doc, path, "pod", d.id, list(self.state.pods))
                    continue
                self._retire_pod(d.id, phase.id)
            else:
                before = len(self.state.uplinks)
                self.state.uplinks = [u for u in self.state.uplinks if u.uplink.cable != d.id]
                if len(self.state.uplinks) == before:
                    live = sorted({u.uplink.cable for u in self.state.uplinks})
                    self._unknown_decommission(doc, path, "uplink", d.id, live)
                    continue
            done.append(f"{d.kind}:{d.id}")
        return done

    def _unknown_decommission(self, doc: SourceDoc, path: Path, kind: str, ident: str, live: list[str]) -> None:
        hint = did_you_mean(ident, live) or (f"{kind}s standing now: {', '.join(sorted(live))}" if live else None)
        self.out.add(
            doc.finding(
                Level.ERROR,
                "lifecycle.unknown-decommission",
                path,
                f"cannot decommission {kind} '{ident}': no earlier phase built it, or it is already gone",
                hint,
            )
        )

    def _retire_pod(self, pod_id: str, phase_id: str) -> None:
        self.state.pods.pop(pod_id)
        self.state.retired_pods[pod_id] = phase_id

    def _hall(self, phase: Phase, doc: SourceDoc, hi: int, hall: Hall) -> _Hall | None:
        path: Path = ("halls", hi)
        known = self.state.halls.get(hall.id)
        if known and known.decommissioned_in:
            self.out.add(
                doc.finding(
                    Level.ERROR,
                    "lifecycle.hall-decommissioned",
                    (*path, "id"),
                    f"hall '{hall.id}' was decommissioned in phase {known.decommissioned_in}",
                    "give a rebuilt hall a new id",
                )
            )
            return None
        if known is None:
            missing = [k for k in ("power_limit_mw", "cooling", "max_rack_kw") if getattr(hall, k) is None]
            if missing:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "hall.incomplete",
                        (*path, "id"),
                        f"new hall '{hall.id}' needs {', '.join(missing)}",
                        "only a hall built in an earlier phase may be listed with just its id and new pods",
                    )
                )
                return None
            entry = _Hall(hall, phase.id, doc, path)
            self.state.halls[hall.id] = entry
            return entry
        old = known.spec
        for key in ("power_limit_mw", "cooling", "max_rack_kw"):
            new_v, old_v = getattr(hall, key), getattr(old, key)
            if new_v is None or new_v == old_v:
                continue
            lowered = key == "cooling" or new_v < old_v
            if lowered:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "lifecycle.removes-built",
                        (*path, key),
                        f"hall '{hall.id}' was built in phase {known.phase} with {key} {old_v}; changing it to "
                        f"{new_v} takes away what was built",
                        f"decommission the hall first (decommission: [{{kind: hall, id: {hall.id}}}]) and build a "
                        "new one",
                    )
                )
            else:
                self.out.add(
                    doc.finding(
                        Level.INFO,
                        "hall.upgraded",
                        (*path, key),
                        f"hall '{hall.id}' {key} raised from {old_v} to {new_v} in phase {phase.id}",
                    )
                )
        raised = {
            k: getattr(hall, k)
            for k in ("power_limit_mw", "max_rack_kw")
            if getattr(hall, k) is not None and getattr(hall, k) > getattr(old, k)
        }
        known.spec = old.model_copy(update=raised)  # a lowered limit was reported above; what was built stands
        known.last_doc, known.last_path = doc, path
        return known

    # -- per phase ---------------------------------------------------------------------------------------------
    def _pods(self, phase: Phase, doc: SourceDoc) -> list[PodPlan]:
        built: list[PodPlan] = []
        seen_halls: dict[str, int] = {}
        for hi, hall in enumerate(phase.halls):
            if hall.id in seen_halls:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "names.duplicate",
                        ("halls", hi, "id"),
                        f"hall '{hall.id}' is listed twice in this phase (also halls[{seen_halls[hall.id]}])",
                        "list each hall once, with all its new pods",
                    )
                )
                continue
            seen_halls[hall.id] = hi
            entry = self._hall(phase, doc, hi, hall)
            if entry is None:
                continue
            spec = entry.spec
            for pi, pod in enumerate(hall.pods):
                path: Path = ("halls", hi, "pods", pi)
                if pod.id in self.state.pods or pod.id in self.state.retired_pods:
                    where = self.state.pods[pod.id][0].phase if pod.id in self.state.pods else "an earlier phase"
                    self.out.add(
                        doc.finding(
                            Level.ERROR,
                            "names.duplicate",
                            (*path, "id"),
                            f"pod id '{pod.id}' is already used (built in {where})",
                            "pod ids are unique across the campus and never reused; pick a new id",
                        )
                    )
                    continue
                system: GpuSystem | None = _lookup(
                    self.catalog.systems, pod.sku, doc, (*path, "sku"), "system SKU", "catalog.unknown-sku", self.out
                )
                if system is None:
                    continue
                pp = plan_pod(pod, system, phase=phase.id, hall=hall.id)
                self._rack_checks(pp, system, spec, doc, path)
                self.state.pods[pod.id] = (pp, doc, path)
                built.append(pp)
        return built

    def _rack_checks(self, pp: PodPlan, system: GpuSystem, hall: Hall, doc: SourceDoc, path: Path) -> None:
        if system.cooling == "liquid" and hall.cooling == "air":
            self.out.add(
                doc.finding(
                    Level.ERROR,
                    "power.cooling-kind",
                    (*path, "sku"),
                    f"pod '{pp.id}': {system.name} needs direct liquid cooling, but hall '{hall.id}' is air-cooled",
                    "place the pod in a direct_liquid hall, or pick an air-cooled SKU",
                )
            )
        if hall.max_rack_kw is not None and pp.rack_kw > hall.max_rack_kw:
            self.out.add(
                doc.finding(
                    Level.ERROR,
                    "power.rack-over-limit",
                    (*path, "units_per_rack" if pp.units_per_rack > 1 else "sku"),
                    f"pod '{pp.id}': a rack draws {pp.rack_kw:g} kW ({pp.units_per_rack} x "
                    f"{system.unit_power_kw:g} kW), over hall '{hall.id}''s {hall.max_rack_kw:g} kW per rack",
                    "put fewer units in each rack (units_per_rack) or use a hall rated for denser racks",
                )
            )

    def _hall_findings(self) -> None:
        for hall_id, entry in self.state.halls.items():
            if entry.decommissioned_in:
                continue
            load = sum(pp.budget_kw for pp, _, _ in self.state.pods.values() if pp.hall == hall_id) / 1000
            limit = entry.spec.power_limit_mw
            if limit is not None and load > limit + 1e-9:
                self.out.add(
                    entry.last_doc.finding(
                        Level.ERROR,
                        "power.hall-over-limit",
                        (*entry.last_path, "id"),
                        f"hall '{hall_id}' carries {load:.3f} MW of IT load (as budgeted), over its {limit:g} MW limit",
                        "move pods to another hall or raise the hall's power_limit_mw",
                    )
                )

    def _switch(self, switch_id: str, doc: SourceDoc, path: Path) -> Switch | None:
        return _lookup(self.catalog.switches, switch_id, doc, path, "switch", "catalog.unknown-switch", self.out)

    def _has_speed(self, sw: Switch, switch_id: str, gbps: int, doc: SourceDoc, network: str, what: str) -> bool:
        if fab.radix_at(sw, gbps) is not None:
            return True
        self.out.add(
            doc.finding(
                Level.ERROR,
                "fabric.port-speed",
                ("networks", network, "switch"),
                f"'{switch_id}' has no ports for {gbps} Gb/s {what}",
                f"its ports: {', '.join(f'{n} x {s}G' for s, n in sorted(sw.ports.items()))}",
            )
        )
        return False

    def _fabric(self, phase: Phase, doc: SourceDoc, pods: list[PodPlan]) -> PhaseFabric:
        nets = phase.networks
        if nets is None:
            if pods:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "fabric.missing",
                        ("halls",),
                        f"phase {phase.id} builds {len(pods)} pods but declares no networks",
                        "add networks: {compute: ..., storage: ..., oob: ...}",
                    )
                )
            return PhaseFabric(phase=phase.id, partition_key=self._pkey(), compute=[], storage=None, oob=None)
        computes: list[fab.ComputeFabricPlan] = []
        storage = oob = None
        sw = self._switch(nets.compute.switch, doc, ("networks", "compute", "switch"))
        if sw is not None and FABRIC_PROTOCOL[nets.compute.kind] != sw.protocol:
            self.out.add(
                doc.finding(
                    Level.ERROR,
                    "fabric.switch-protocol",
                    ("networks", "compute", "switch"),
                    f"a {nets.compute.kind} fabric needs {FABRIC_PROTOCOL[nets.compute.kind]} switches; "
                    f"'{nets.compute.switch}' is {sw.protocol}",
                    "pick a switch of the fabric's kind (QM9700 for NDR, Q3400 for XDR, SN5600 for Spectrum-X)",
                )
            )
            sw = None
        groups: dict[tuple[int, int], list[PodPlan]] = {}
        for pp in pods:
            groups.setdefault((pp.nics_per_node, pp.nic_gbps), []).append(pp)
        if sw is not None:
            for (nics, gbps), members in sorted(groups.items()):
                if nics == 0:
                    continue
                if not self._has_speed(sw, nets.compute.switch, gbps, doc, "compute", "NICs"):
                    continue
                per_su = fab.scalable_unit_nodes(m.nodes for m in members)
                common = {
                    "nics_per_node": nics,
                    "nic_gbps": gbps,
                    "switch_id": nets.compute.switch,
                    "switch": sw,
                    "kind": nets.compute.kind,
                    "rail_optimised": nets.compute.rail_optimised,
                    "oversubscription": _ratio(nets.compute.oversubscription),
                }
                nodes = sum(m.nodes for m in members)
                stage = self._growth_stage(phase, doc, nodes, per_su, common)
                if stage is not None:
                    plan = self._sized(doc, "compute", fab.plan_compute_fabric_stage, **stage, **common)
                else:
                    plan = self._sized(
                        doc, "compute", fab.plan_compute_fabric, nodes=nodes, nodes_per_scalable_unit=per_su, **common
                    )
                if plan is None:
                    continue
                if plan.split_note:
                    self.out.add(doc.finding(Level.INFO, "fabric.split", ("networks", "compute"), plan.split_note))
                computes.append(plan)
        ssw = self._switch(nets.storage.switch, doc, ("networks", "storage", "switch"))
        ports = sum(p.storage_ports for p in pods)
        if ssw is not None and ports:
            speed = max(p.storage_port_gbps for p in pods)
            if self._has_speed(ssw, nets.storage.switch, speed, doc, "storage", "storage links"):
                storage = self._sized(
                    doc,
                    "storage",
                    fab.plan_storage_network,
                    endpoints=ports,
                    port_gbps=speed,
                    switch_id=nets.storage.switch,
                    switch=ssw,
                    oversubscription=_ratio(nets.storage.oversubscription),
                )
        osw = self._switch(nets.oob.switch, doc, ("networks", "oob", "switch"))
        agg = None
        if nets.oob.aggregation is not None:
            agg = self._switch(nets.oob.aggregation, doc, ("networks", "oob", "aggregation"))
        if osw is not None and pods and (agg is not None or nets.oob.aggregation is None):
            oob = self._sized(
                doc,
                "oob",
                fab.plan_oob_network,
                aggregation_id=nets.oob.aggregation,
                aggregation=agg,
                racks=sum(p.racks for p in pods),
                endpoints=sum(p.oob_ports for p in pods),
                switch_id=nets.oob.switch,
                switch=osw,
                switches_per_rack=max(p.oob_switches // max(p.racks, 1) for p in pods),
            )
        return PhaseFabric(phase=phase.id, partition_key=self._pkey(), compute=computes, storage=storage, oob=oob)

    def _growth_stage(
        self, phase: Phase, doc: SourceDoc, nodes: int, per_su: int | None, common: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Arguments of this phase's stage of a planned fabric (issue 13, item 8), or None: a fabric of its own.

        `planned_nodes` starts a fabric that later phases grow with `extends`; its record is keyed by phase and NIC
        shape, and an extending phase registers under its own id too, so a third phase may extend the second.
        """
        assert phase.networks is not None
        c = phase.networks.compute
        key_shape = (common["nics_per_node"], common["nic_gbps"])
        same = {k: common[k] for k in ("switch_id", "kind", "rail_optimised", "oversubscription")}
        if c.extends is not None:
            path: Path = ("networks", "compute", "extends")
            grow = self.state.growth.get((c.extends, *key_shape))
            if grow is None:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "fabric.extends-unplanned",
                        path,
                        f"phase {phase.id} extends phase {c.extends}'s compute fabric, but {c.extends} planned none "
                        f"for nodes of {key_shape[0]} x {key_shape[1]}G NICs to grow into",
                        f"set networks.compute.planned_nodes in phase {c.extends} to the final size (at least "
                        f"{nodes:,} more nodes than it builds), or drop extends to build a separate fabric",
                    )
                )
                return None
            if grow["same"] != same:
                diff = ", ".join(k for k in same if same[k] != grow["same"][k])
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "fabric.extends-mismatch",
                        path,
                        f"phase {phase.id} cannot grow phase {c.extends}'s fabric with a different {diff}",
                        "use the extended fabric's switch, kind, rails and oversubscription",
                    )
                )
                return None
            if grow["built"] + nodes > grow["planned"]:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "fabric.over-reservation",
                        path,
                        f"phase {phase.id} adds {nodes:,} nodes to a fabric that has {grow['built']:,} of the "
                        f"{grow['planned']:,} phase {grow['root']} reserved for",
                        f"phase {grow['root']} must reserve for at least {grow['built'] + nodes:,} nodes "
                        "(networks.compute.planned_nodes) before it is built, or this phase builds its own fabric",
                    )
                )
                return None
            stage = {
                "nodes_before": grow["built"],
                "nodes": nodes,
                "planned_nodes": grow["planned"],
                "nodes_per_scalable_unit": grow["su"],
                "extends": c.extends,
            }
            grow["built"] += nodes
            self.state.growth[(phase.id, *key_shape)] = grow
            return stage
        if c.planned_nodes is not None:
            if nodes > c.planned_nodes:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "fabric.over-reservation",
                        ("networks", "compute", "planned_nodes"),
                        f"phase {phase.id} builds {nodes:,} nodes, more than its planned fabric of {c.planned_nodes:,}",
                        f"set planned_nodes to the final size, at least {nodes:,}",
                    )
                )
                return None
            self.state.growth[(phase.id, *key_shape)] = {
                "planned": c.planned_nodes,
                "built": nodes,
                "su": per_su,
                "root": phase.id,
                "same": same,
            }
            return {
                "nodes_before": 0,
                "nodes": nodes,
                "planned_nodes": c.planned_nodes,
                "nodes_per_scalable_unit": per_su,
            }
        if not c.separate:
            earlier = [
                f.phase for f in self.state.fabrics if any(p.switch == c.switch and p.kind == c.kind for p in f.compute)
            ]
            if earlier:
                self.out.add(
                    doc.finding(
                        Level.INFO,
                        "fabric.separate",
                        ("networks", "compute"),
                        f"phase {phase.id} builds a {c.kind} fabric of its own, separate from phase "
                        f"{earlier[-1]}'s: their nodes never share a fat tree",
                        f"to grow one fabric, give phase {earlier[-1]} networks.compute.planned_nodes (the final "
                        f"size) and this phase extends: {earlier[-1]}; or say separate: true",
                    )
                )
        return None

    def _sized(self, doc: SourceDoc, network: str, size: Callable[..., _T], **kw: Any) -> _T | None:
        """`size(**kw)`, or None with a located error when the switch cannot build that network at all."""
        try:
            return size(**kw)
        except fab.FabricError as exc:
            self.out.add(
                doc.finding(
                    Level.ERROR,
                    "fabric.impossible",
                    ("networks", network, "switch"),
                    f"the {network} network cannot be built: {exc}",
                    "pick a switch (built-in or in the campus catalog) with more ports at this speed",
                )
            )
            return None

    def _pkey(self) -> int:
        """The InfiniBand partition key of the phase being planned: one per phase, in build order."""
        return fab.PARTITION_KEY_BASE + len(self.state.fabrics)

    def _allocate(self, network: str, needed: int, *, phase: str, scope: str, hall=None, pod=None) -> None:
        if needed <= 0 or network in self.exhausted:
            return
        alloc = self.allocators[network]
        block = alloc.allocate(needed)
        if block is None:
            self.exhausted.add(network)
            self.out.add(
                self.cdoc.finding(
                    Level.ERROR,
                    "addresses.exhausted",
                    ("addressing", network),
                    f"addressing.{network} ({alloc.supernet}) is exhausted: {scope} '{pod or hall or phase}' of "
                    f"phase {phase} needs {needed:,} addresses and {max(alloc.left(), 0):,} are left",
                    "give this network a larger supernet (a shorter prefix)",
                )
            )
            return
        self.state.allocations.append(
            addr.Allocation(
                network=network, phase=phase, scope=scope, hall=hall, pod=pod, cidr=str(block), needed=needed
            )
        )

    def _addresses(self, phase: Phase, pods: list[PodPlan], fabric: PhaseFabric, uplinks: list[UplinkRef]) -> None:
        for pp in pods:
            kw = {"phase": phase.id, "scope": "pod", "hall": pp.hall, "pod": pp.id}
            self._allocate("compute_fabric", pp.compute_nics, **kw)
            self._allocate("storage", pp.storage_ports, **kw)
            self._allocate("oob", pp.oob_ports + pp.oob_switches, **kw)
        switches = sum(sum(c.totals.values()) for c in fabric.compute)
        switches += (fabric.storage.switches if fabric.storage else 0) + (fabric.oob.switches if fabric.oob else 0)
        self._allocate("loopbacks", switches, phase=phase.id, scope="phase")
        for router in sorted({u.uplink.edge_router for u in uplinks} - set(self.state.edge_routers)):
            self.state.edge_routers[router] = phase.id
            self._allocate("loopbacks", 1, phase=phase.id, scope=f"edge {router}")
        if pods or uplinks:
            need = max(addr.SERVICES_PER_PHASE, services_addresses_needed(fabric.compute))
            self._allocate("services", need, phase=phase.id, scope="phase")
        for u in uplinks:
            self._allocate("wan_links", 2, phase=phase.id, scope=f"uplink {u.uplink.cable}/{u.uplink.edge_router}")
        for slot in interconnect_slots(self.state.edge_routers):  # after the uplinks: theirs never move
            if slot.phase == phase.id:
                self._allocate("wan_links", 2, phase=phase.id, scope=slot.scope)

    def _uplinks(self, phase: Phase, doc: SourceDoc) -> list[UplinkRef]:
        new: list[UplinkRef] = []
        live = {(u.uplink.cable, u.uplink.edge_router): u for u in self.state.uplinks}
        for i, up in enumerate(phase.wan_uplinks):
            key = (up.cable, up.edge_router)
            if key in live:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "names.duplicate",
                        ("wan_uplinks", i, "cable"),
                        f"an uplink on cable '{up.cable}' from {up.edge_router} already exists "
                        f"(lit in phase {live[key].phase_id})",
                        "add capacity under a different edge_router, or decommission the uplink and light it again",
                    )
                )
                continue
            ref = UplinkRef(phase_id=phase.id, doc=doc, path=("wan_uplinks", i), uplink=up)
            live[key] = ref
            new.append(ref)
        self.state.uplinks.extend(new)
        return new

    def _phase(self, index: int, phase: Phase, doc: SourceDoc) -> tuple[list[PodPlan], PowerPlan]:
        if index:
            prev = self.spec.phases[index - 1].phase
            if phase.ready_by <= prev.ready_by:
                self.out.add(
                    doc.finding(
                        Level.ERROR,
                        "phases.date-order",
                        ("ready_by",),
                        f"phase {phase.id} is ready by {phase.ready_by}, not after phase {prev.id} ({prev.ready_by}) "
                        "which it follows",
                        "phases are built in order: fix the date or the 'follows' chain",
                    )
                )
            if phase.id in {p.phase.id for p in self.spec.phases[:index]}:
                self.out.add(
                    doc.finding(Level.ERROR, "names.duplicate", ("id",), f"phase id '{phase.id}' is used twice")
                )
        gone = self._decommission(phase, doc)
        pods = self._pods(phase, doc)
        self._hall_findings()
        fabric = self._fabric(phase, doc, pods)
        self.state.fabrics.append(fabric)
        uplinks = self._uplinks(phase, doc)
        self._addresses(phase, pods, fabric, uplinks)
        inc = totals(pods)
        self.state.budget_mw += phase.power.budget_mw
        self.state.pue[phase.id] = phase.power.design_pue
        self.state.other_it.append((phase.power.other_it_mw, phase.power.design_pue))
        cumulative_it, cumulative_facility = self.state.live_power()
        power = phase_power(
            phase.power,
            inc.gpu_it_mw,
            gpu_draw_mw=inc.gpu_draw_mw,
            cumulative_budget_mw=self.state.budget_mw,
            cumulative_it_mw=cumulative_it,
            cumulative_facility_mw=cumulative_facility,
        )
        self.state.power_limits.extend(
            gpu_power_limits(
                power, phase=phase.id, skus={pp.sku: self.catalog.systems[pp.sku].gpu_max_w for pp in pods}
            )
        )
        warn = self.campus.monitoring.power_budget_warning
        self.out.extend(budget_findings(power, doc, phase=phase.id, warn_ratio=warn))
        self.out.extend(pue_findings(phase.power, doc, campus_pue=self.campus.design_pue, phase=phase.id))
        self.state.summaries.append(
            PhaseSummary(
                id=phase.id,
                ready_by=phase.ready_by,
                file=doc.file,
                budget_mw=phase.power.budget_mw,
                basis=phase.power.basis,
                it_load_mw=power.it_load_mw,
                facility_mw=power.facility_mw,
                pods=inc.pods,
                racks=inc.racks,
                gpus=inc.gpus,
                decommissioned=gone,
            )
        )
        return pods, power

    def _fabric_asns(self) -> None:
        """Ethernet fabrics number their switches from asns.fabric_base; that range must not hold another AS."""
        asns = self.campus.asns
        ethernet = sum(
            sum(c.totals.values()) for pf in self.state.fabrics for c in pf.compute if c.kind == "spectrum-x"
        )
        last = asns.fabric_base + max(ethernet, 1) - 1
        others = {asns.edge: "the campus edge AS"}
        for use in self.campus.wan.landing_stations:
            others.setdefault(use.peer_asn, f"the peer AS at {use.id}")
        for asn, what in sorted(others.items()):
            if asns.fabric_base <= asn <= last:
                self.out.add(
                    self.cdoc.finding(
                        Level.ERROR,
                        "names.duplicate-asn",
                        ("asns", "fabric_base"),
                        f"the fabric's AS range {asns.fabric_base}-{last} ({max(ethernet, 1):,} switches) includes "
                        f"{asn}, {what}",
                        "move fabric_base to a private range that no peer or edge AS uses",
                    )
                )
        if last > 4_294_967_294:
            self.out.add(
                self.cdoc.finding(
                    Level.ERROR,
                    "names.asn-range",
                    ("asns", "fabric_base"),
                    f"the fabric needs AS numbers up to {last}, past the last 32-bit private AS 4294967294",
                    "lower fabric_base",
                )
            )

    def _hall_telemetry(self, halls: list[HallPlan]) -> dict[str, str | None]:
        """Each live hall's telemetry endpoint as last written in the phases (None: the default name)."""
        out: dict[str, str | None] = {h.id: None for h in halls}
        for lp in self.spec.phases:
            for hall in lp.phase.halls:
                if hall.id in out and hall.telemetry:
                    out[hall.id] = hall.telemetry
        return out

    def _fabric_telemetry(self) -> dict[str, str | None]:
        """UFM Telemetry of each phase that built an InfiniBand compute fabric."""
        built = {f.phase for f in self.state.fabrics if any(c.kind.startswith("infiniband") for c in f.compute)}
        return {
            lp.phase.id: lp.phase.networks.compute.telemetry
            for lp in self.spec.phases
            if lp.phase.id in built and lp.phase.networks is not None
        }

    def run(self) -> Plan:
        pods: list[PodPlan] = []
        power: PowerPlan | None = None
        for i, lp in enumerate(self.spec.phases):
            pods, power = self._phase(i, lp.phase, lp.doc)
        assert power is not None
        self._fabric_asns()
        self.out.extend(fabric_asn_findings(self.campus, self.cdoc, self.state.fabrics))
        energy, efind = plan_energy(self.campus.energy, self.cdoc, demand_mw=self.state.live_power()[1])
        self.out.extend(efind)
        wan, wfind = plan_wan(
            campus=self.campus, campus_doc=self.cdoc, catalog=self.catalog, uplinks=self.state.uplinks
        )
        self.out.extend(wfind)
        live = [pp for pp, _, _ in self.state.pods.values()]
        halls = []
        for hall_id, h in self.state.halls.items():
            if h.decommissioned_in:
                continue
            members = [pp for pp in live if pp.hall == hall_id]
            load = round(sum(pp.budget_kw for pp in members) / 1000, 3)
            limit = h.spec.power_limit_mw or 0.0
            halls.append(
                HallPlan(
                    id=hall_id,
                    built_in=h.phase,
                    cooling=h.spec.cooling or "",
                    power_limit_mw=limit,
                    max_rack_kw=h.spec.max_rack_kw or 0.0,
                    pods=[pp.id for pp in members],
                    racks=sum(pp.racks for pp in members),
                    it_load_mw=load,
                    draw_mw=round(sum(pp.it_kw for pp in members) / 1000, 3),
                    utilisation=round(load / limit, 4) if limit else 0.0,
                )
            )
        target = self.spec.target.phase
        edge = plan_edge(self.campus, wan, self.state.uplinks, self.state.allocations, self.state.edge_routers)
        service_hosts = plan_service_hosts([(f.phase, f.compute) for f in self.state.fabrics], self.state.allocations)
        slurm, service_hosts = plan_slurm(
            self.spec, self.catalog, live, service_hosts, self.state.allocations, self.out
        )
        lab = plan_lab(self.campus, edge, service_hosts)
        for problem in lab.problems:
            self.out.add(
                self.cdoc.finding(
                    Level.ERROR, "lab.links_exhausted", ("lab", "links"), problem, "give lab.links a larger block"
                )
            )
        return Plan(
            campus=self.campus.name,
            phase=target.id,
            catalog_version=self.catalog.version,
            phases=self.state.summaries,
            increment=totals(pods),
            cumulative=totals(live),
            power=power,
            gpu_power_limits=self.state.power_limits,
            energy=energy,
            halls=halls,
            pods=live,
            fabrics=self.state.fabrics,
            addresses=addr.AddressPlan(
                supernets=[self.allocators[n].use() for n in addr.NETWORKS], allocations=self.state.allocations
            ),
            wan=wan,
            edge=edge,
            fabric_asn_base=self.campus.asns.fabric_base,
            service_hosts=service_hosts,
            monitoring=plan_monitoring(
                self.campus,
                basis=power.basis,
                budget_mw=power.cumulative_budget_mw,
                design_pue=power.design_pue,
                hall_telemetry=self._hall_telemetry(halls),
                fabric_telemetry=self._fabric_telemetry(),
            ),
            storage=plan_storage(self.campus, self.state.summaries[0].id),
            lab=lab,
            slurm=slurm,
        )


def catalog_for(spec: LoadedSpec) -> Catalog:
    """The built-in catalog with the campus's own entries added or overriding it."""
    return builtin_catalog().merged(spec.campus.catalog)


def derive(spec: LoadedSpec) -> tuple[Plan | None, list[Finding]]:
    """The plan of the spec's target phase and every finding, worst first.

    A crash inside a check is a bug in Kasbah, but the user still gets a located error finding, never a traceback.
    """
    findings = Findings()
    findings.extend(spec.findings)
    plan: Plan | None = None
    planner: _Planner | None = None
    try:
        planner = _Planner(spec, catalog_for(spec))
        plan = planner.run()
        findings.extend(name_findings(spec, plan))
    except Exception as exc:
        target = spec.target
        findings.add(
            target.doc.finding(
                Level.ERROR,
                "internal.crash",
                (),
                f"the planner failed on this spec: {type(exc).__name__}: {exc}",
                "this is a bug in Kasbah; please report it with the spec",
            )
        )
    if planner is not None:
        findings.extend(planner.out)
    return plan, findings.sorted()
