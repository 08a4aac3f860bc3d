"""What a rack draws against what the facility budgets for it (issue 13, item 6).

GB200 NVL72: 18 compute trays x 6,667 W = 120 kW a rack draws [C]; NVIDIA budgets 1.2 MW TDP per 8-rack SU [P], i.e.
150 kW a rack [C]. Halls, phase budgets and the PPA carry the budget; a hall's per-rack rating is held against the draw.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasbah.catalog import builtin_catalog
from kasbah.findings import Level
from kasbah.plan.compute import plan_pod, totals
from kasbah.plan.power import phase_power
from kasbah.spec.phase import Pod, Power
from tests.conftest import REPO, codes, edit, plan_of

CAT = builtin_catalog()


@given(sku=st.sampled_from(sorted(CAT.systems)), count=st.integers(1, 5000), per_rack=st.none() | st.integers(1, 16))
@settings(max_examples=200, deadline=None)
def test_pod_budget_draw_and_switch_trays(sku: str, count: int, per_rack: int | None) -> None:
    system = CAT.systems[sku]
    pod = plan_pod(Pod(id="p1", sku=sku, count=count, units_per_rack=per_rack), system, phase="x", hall="h")
    assert pod.it_kw == pytest.approx(count * system.unit_power_kw)
    assert pod.budget_kw == pytest.approx(count * system.budget_kw)
    assert pod.budget_kw >= pod.it_kw
    assert pod.switch_trays == count * system.switch_trays_per_unit
    total = totals([pod, pod.model_copy(update={"id": "p2"})])
    assert total.switch_trays == 2 * pod.switch_trays
    assert total.gpu_it_mw == pytest.approx(2 * pod.budget_kw / 1000, abs=1e-3)
    assert total.gpu_draw_mw == pytest.approx(2 * pod.it_kw / 1000, abs=1e-3)


@pytest.mark.parametrize("sus", [1, 2, 8, 23, 128])
def test_gb200_su_is_budgeted_at_nvidias_1_2_mw(sus: int) -> None:
    system = CAT.systems["gb200-nvl72"]
    pod = plan_pod(Pod(id="su", sku="gb200-nvl72", count=8 * sus), system, phase="x", hall="h")
    assert pod.budget_kw == pytest.approx(1200 * sus), "1.2 MW TDP per 8-rack SU [P]"
    assert pod.it_kw == pytest.approx(8 * sus * 120), "18 compute trays x 6,667 W a rack [C]"
    assert pod.rack_kw == pytest.approx(120), "a hall's per-rack rating is held against what the rack draws"
    assert pod.switch_trays == 8 * sus * 9, "9 NVLink switch trays a rack [P]"


@given(draw=st.floats(0, 500), extra=st.floats(0, 100), other=st.floats(0, 50), pue=st.floats(1.0, 2.0))
def test_phase_power_carries_the_budget(draw: float, extra: float, other: float, pue: float) -> None:
    power = Power(budget_mw=1000, basis="facility", design_pue=pue, other_it_mw=other)
    plan = phase_power(
        power, draw + extra, gpu_draw_mw=draw, cumulative_budget_mw=0, cumulative_it_mw=0, cumulative_facility_mw=0
    )
    assert plan.gpu_it_mw == pytest.approx(draw + extra, abs=1e-3)
    assert plan.gpu_draw_mw == pytest.approx(draw, abs=1e-3)
    assert plan.facility_mw == pytest.approx((draw + extra + other) * pue, abs=2e-3)


def test_example_phase1_plans_on_the_su_budget() -> None:
    plan, findings = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    assert not [f for f in findings if f.level >= Level.WARNING]
    p = plan.power
    racks = plan.increment.racks
    assert p.gpu_it_mw == pytest.approx(racks * 0.150, abs=1e-3)
    assert p.gpu_draw_mw == pytest.approx(racks * 0.120, abs=1e-3)
    assert plan.energy.demand_mw == pytest.approx(p.cumulative_facility_mw)
    for hall in plan.halls:
        assert hall.it_load_mw == pytest.approx(hall.racks * 0.150, abs=1e-3)
        assert hall.draw_mw == pytest.approx(hall.racks * 0.120, abs=1e-3)
        assert hall.utilisation == pytest.approx(hall.it_load_mw / hall.power_limit_mw, abs=1e-4)


def test_a_hall_sized_for_the_draw_but_not_the_budget_is_over(stacks: Path) -> None:
    """h1 holds 14 SUs: 13.44 MW drawn, 16.8 MW budgeted. A 16 MW hall fits the draw, not NVIDIA's budget."""
    edit(stacks / "phase1.yaml", "power_limit_mw: 18", "power_limit_mw: 16")
    _, findings = plan_of(stacks / "phase1.yaml")
    over = [f for f in findings if f.code == "power.hall-over-limit"]
    assert len(over) == 1 and "'h1'" in over[0].message and "16.800 MW" in over[0].message


def test_a_phase_budget_between_draw_and_budget_is_over(stacks: Path) -> None:
    """Phase 1's racks draw 26.88 + 1.5 = 28.38 MW of IT, but NVIDIA's SU budget makes it 33.6 + 1.5 = 35.1 MW."""
    edit(stacks / "phase1.yaml", "budget_mw: 40", "budget_mw: 32")
    _, findings = plan_of(stacks / "phase1.yaml")
    assert "power.over-budget" in codes(findings)


def test_the_ppa_carries_the_budget(stacks: Path) -> None:
    """A PPA that covers what the racks draw but not what NVIDIA budgets for them is over contract."""
    edit(stacks / "campus.yaml", "contracted_mw: 500 ", "contracted_mw: 40 ")  # draw: 28.38 x 1.2 = 34.06 MW
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None and plan.energy.demand_mw == pytest.approx(35.1 * 1.2, abs=1e-3)
    assert "energy.over-contract" in codes(findings)


@pytest.mark.parametrize(("sku", "watts"), [("dgx-b200", 1000), ("dgx-b300", 1400), ("gb300-nvl72", 1400)])
def test_blackwell_phases_get_power_limits(stacks: Path, sku: str, watts: int) -> None:
    """A phase of B200, B300 or GB300 systems gets a GPU power limit, scaled down when its budget is tight."""
    edit(
        stacks / "phase1.yaml", "{id: h1-su001, sku: gb200-nvl72, count: 8}", f"{{id: h1-su001, sku: {sku}, count: 8}}"
    )
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    (limit,) = [g for g in plan.gpu_power_limits if g.sku == sku]
    assert (limit.gpu_max_w, limit.limit_w) == (watts, watts)
    edit(stacks / "phase1.yaml", "budget_mw: 40", "budget_mw: 20")
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    (limit,) = [g for g in plan.gpu_power_limits if g.sku == sku]
    assert limit.limit_w < watts and limit.envelope_share < 1
