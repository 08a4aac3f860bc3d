"""Monitoring: the campus monitoring core (Prometheus, Alertmanager, exporters on host `mon1`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command
from kasbah.plan.monitoring import MonitoringPlan

MONITORING_TAGS = ("monitoring",)
MONITORING_GROUP = "monitoring"
TELEMETRY_BUCKET_ENV = "KASBAH_TELEMETRY_BUCKET"


@dataclass
class MonitoringArgs:
    """Inputs of a Monitoring component.

    thresholds: `plan.monitoring`. core: True in the phase that first deploys monitoring (it owns the core);
    later phases extend it with their targets and thresholds (same hosts, never a second core).
    telemetry_bucket: where long-term telemetry goes (an output of the storage, or of the first phase's stack).
    depends_on: steps that must finish first (the WAN uplinks the probes watch).
    """

    thresholds: MonitoringPlan
    step: ApplyStep
    trigger: pulumi.Input[str]
    core: bool
    telemetry_bucket: pulumi.Input[str] | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class Monitoring(pulumi.ComponentResource):
    """One Command applying the monitoring role to the `monitoring` group with the phase's rendered rules."""

    step: pulumi.CustomResource

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:monitoring:Monitoring", name, {}, opts)
        env = {TELEMETRY_BUCKET_ENV: args.telemetry_bucket} if args.telemetry_bucket is not None else {}
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=MONITORING_TAGS,
            limit=[MONITORING_GROUP],
            trigger=args.trigger,
            depends_on=args.depends_on,
            env=env,
        )
        t = args.thresholds
        self.register_outputs(
            {
                "core": args.core,
                "group": MONITORING_GROUP,
                "scrapeIntervalS": t.scrape_interval_s,
                "powerWarningMw": t.power_warning_mw,
                "pueAlertAbove": t.pue_alert_above,
                "applied": self.step.stdout,
            }
        )
