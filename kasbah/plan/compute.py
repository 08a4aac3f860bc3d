"""Compute: what each pod (scalable unit) holds, from its SKU, as whole-unit arithmetic."""

from __future__ import annotations

import math
from collections.abc import Iterable

from kasbah.catalog.models import GpuSystem
from kasbah.plan.model import PlanModel
from kasbah.spec.phase import Pod


class PodPlan(PlanModel):
    """One scalable unit as built: counts and power, never per-node objects (500 MW has 66,000 trays).

    rack_kw and it_kw are what the units draw at their maximum (checked against a hall's rack rating); budget_kw is
    what the facility must budget for them (the vendor's SU envelope where published: GB200 NVL72 150 kW per rack,
    of NVIDIA's 1.2 MW per 8-rack SU, against 120 kW of compute trays), and is what halls, phases and the PPA carry.
    switch_trays are the NVLink switch trays of rack-scale units (9 per NVL72 rack).
    """

    id: str
    phase: str
    hall: str
    sku: str
    units: int
    units_per_rack: int
    racks: int
    nodes: int
    gpus: int
    nvlink_domains: int
    switch_trays: int
    rack_kw: float
    it_kw: float
    budget_kw: float
    compute_nics: int
    nics_per_node: int
    gpus_per_node: int
    nic_gbps: int
    storage_ports: int
    storage_port_gbps: int
    oob_ports: int
    oob_switches: int


class ComputeTotals(PlanModel):
    """Sums over pods. gpu_it_mw is the facility's budget for them, gpu_draw_mw what the units themselves draw."""

    pods: int = 0
    racks: int = 0
    units: int = 0
    nodes: int = 0
    gpus: int = 0
    nvlink_domains: int = 0
    switch_trays: int = 0
    compute_nics: int = 0
    gpu_it_mw: float = 0.0
    gpu_draw_mw: float = 0.0


def plan_pod(pod: Pod, system: GpuSystem, *, phase: str, hall: str) -> PodPlan:
    per_rack = pod.units_per_rack or system.units_per_rack
    racks = math.ceil(pod.count / per_rack)
    gpus = pod.count * system.gpus_per_unit
    nodes = pod.count * system.compute_trays_per_unit
    nics = pod.count * system.compute_nics_per_unit
    return PodPlan(
        id=pod.id,
        phase=phase,
        hall=hall,
        sku=pod.sku,
        units=pod.count,
        units_per_rack=per_rack,
        racks=racks,
        nodes=nodes,
        gpus=gpus,
        nvlink_domains=gpus // system.nvlink_domain_gpus,
        switch_trays=pod.count * system.switch_trays_per_unit,
        rack_kw=round(min(per_rack, pod.count) * system.unit_power_kw, 3),
        it_kw=round(pod.count * system.unit_power_kw, 3),
        budget_kw=round(pod.count * system.budget_kw, 3),
        compute_nics=nics,
        nics_per_node=system.compute_nics_per_unit // system.compute_trays_per_unit,
        gpus_per_node=system.gpus_per_unit // system.compute_trays_per_unit,
        nic_gbps=system.compute_nic_gbps,
        storage_ports=pod.count * system.storage_ports_per_unit,
        storage_port_gbps=system.storage_port_gbps,
        oob_ports=pod.count * system.oob_ports_per_unit,
        oob_switches=racks * system.oob_switches_per_rack,
    )


def totals(pods: Iterable[PodPlan]) -> ComputeTotals:
    pods = list(pods)
    return ComputeTotals(
        pods=len(pods),
        racks=sum(p.racks for p in pods),
        units=sum(p.units for p in pods),
        nodes=sum(p.nodes for p in pods),
        gpus=sum(p.gpus for p in pods),
        nvlink_domains=sum(p.nvlink_domains for p in pods),
        switch_trays=sum(p.switch_trays for p in pods),
        compute_nics=sum(p.compute_nics for p in pods),
        gpu_it_mw=round(sum(p.budget_kw for p in pods) / 1000, 3),
        gpu_draw_mw=round(sum(p.it_kw for p in pods) / 1000, 3),
    )
