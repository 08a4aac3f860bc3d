"""What one phase adds to another: the numbers that changed, the pods, halls and cables that came or went."""

from __future__ import annotations

from kasbah.plan.derive import Plan
from kasbah.plan.model import PlanModel


class Change(PlanModel):
    item: str
    before: float | int | None
    after: float | int | None
    delta: float | int | None


class PlanDiff(PlanModel):
    base: str
    target: str
    changes: list[Change]
    pods_added: list[str]
    pods_removed: list[str]
    halls_added: list[str]
    halls_removed: list[str]
    cables_lit: list[str]
    cables_dark: list[str]


def _metrics(plan: Plan) -> dict[str, float | int]:
    c, p = plan.cumulative, plan.power
    out: dict[str, float | int] = {
        "pods": c.pods,
        "racks": c.racks,
        "nodes": c.nodes,
        "gpus": c.gpus,
        "nvlink_domains": c.nvlink_domains,
        "budget_mw": p.cumulative_budget_mw,
        "it_load_mw": p.cumulative_it_load_mw,
        "facility_mw": p.cumulative_facility_mw,
    }
    for s in plan.addresses.supernets:
        out[f"addresses.{s.network}"] = s.allocated
    for r in plan.wan.regions:
        out[f"wan.{r.id}.gbps"] = r.capacity_gbps
        out[f"wan.{r.id}.after_cut_gbps"] = r.capacity_after_worst_cut_gbps
        if r.preferred:
            out[f"wan.{r.id}.rtt_floor_ms"] = r.preferred.rtt_floor_ms
    return out


def diff_plans(base: Plan, target: Plan) -> PlanDiff:
    a, b = _metrics(base), _metrics(target)
    changes = []
    for key in [*a, *(k for k in b if k not in a)]:
        before, after = a.get(key), b.get(key)
        if before == after:
            continue
        delta = round(after - before, 3) if before is not None and after is not None else None
        changes.append(Change(item=key, before=before, after=after, delta=delta))
    pods_a, pods_b = [p.id for p in base.pods], [p.id for p in target.pods]
    halls_a, halls_b = [h.id for h in base.halls], [h.id for h in target.halls]
    lit_a = [c.id for c in base.wan.cables if c.lit_gbps > 0]
    lit_b = [c.id for c in target.wan.cables if c.lit_gbps > 0]
    return PlanDiff(
        base=base.phase,
        target=target.phase,
        changes=changes,
        pods_added=[p for p in pods_b if p not in pods_a],
        pods_removed=[p for p in pods_a if p not in pods_b],
        halls_added=[h for h in halls_b if h not in halls_a],
        halls_removed=[h for h in halls_a if h not in halls_b],
        cables_lit=[c for c in lit_b if c not in lit_a],
        cables_dark=[c for c in lit_a if c not in lit_b],
    )
