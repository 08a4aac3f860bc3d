"""Rich tables of an energy result, for `kasbah energy` (the CLI prints them; nothing here prints)."""

from __future__ import annotations

from rich.table import Table

from kasbah.energy.model import EnergyResult


def energy_tables(result: EnergyResult) -> list[Table]:
    plants = Table(title=f"Supply — {result.campus}, a typical year of {result.hours:,} hours", title_justify="left")
    for col in ("plant", "MW", "capacity factor", "GWh a year", "from"):
        plants.add_column(col, justify="left" if col in ("plant", "from") else "right")
    for p in result.plants:
        origin = (
            f"measured: {p.measured}" if p.measured else ("model, size derived from share" if p.derived else "model")
        )
        plants.add_row(p.source, f"{p.mw:,.1f}", f"{p.capacity_factor:.1%}", f"{p.annual_mwh / 1000:,.1f}", origin)
    s = result.storage
    plants.add_row(
        "storage", f"{s.power_mw:,.1f}", "", f"{s.energy_mwh:,.0f} MWh", f"round trip {s.round_trip_efficiency:.0%}"
    )
    phases = Table(title="Hourly matching (Google's CFE score), the campus after each phase", title_justify="left")
    for col in (
        "after",
        "load GWh",
        "CFE no storage",
        "CFE",
        "CFE with caps",
        "hours matched",
        "unmet GWh",
        "curtailed GWh",
        "cycles",
        "storage for target",
    ):
        phases.add_column(col, justify="left" if col == "after" else "right")
    target = f" ({result.target_cfe:.0%})" if result.target_cfe is not None else ""
    for p in result.phases:
        need = p.storage_for_target
        phases.add_row(
            p.phase,
            f"{p.annual_load_mwh / 1000:,.1f}",
            f"{p.cfe_score_without_storage:.1%}",
            f"{p.cfe_score:.1%}",
            f"{p.cfe_score_with_caps:.1%}",
            f"{p.hours_matched:,}",
            f"{p.unmet_mwh / 1000:,.1f}",
            f"{p.curtailed_mwh / 1000:,.1f}",
            f"{p.storage_cycles:,.0f}",
            (f"{need.power_mw:,.1f} MW / {need.energy_mwh:,.0f} MWh" if need else "out of reach") + target
            if result.target_cfe is not None
            else "no target",
        )
    sch = result.schedule
    caps = Table(
        title=f"GPU power caps — phase {result.phase} (floor {sch.floor:.0%} of maximum)", title_justify="left"
    )
    caps.add_column("")
    caps.add_column("", justify="right")
    caps.add_row("hours with caps", f"{sch.hours_capped:,}")
    caps.add_row("pods capped / protected", f"{len(sch.pods):,} / {len(sch.protected_pods):,}")
    caps.add_row("energy shed MWh", f"{sch.energy_shed_mwh:,.0f}")
    caps.add_row("GPU-hours under a cap", f"{sch.gpu_hours_capped:,.0f}")
    caps.add_row("GPU-hours lost (throughput ∝ power)", f"{sch.gpu_hours_lost_proportional:,.0f}")
    caps.add_row("CFE score: without / with caps", f"{result.cfe_score:.1%} / {result.cfe_score_with_caps:.1%}")
    return [plants, phases, caps]
