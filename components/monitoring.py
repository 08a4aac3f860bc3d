"""Monitoring: the campus monitoring core (Prometheus, Alertmanager, exporters on the `monitoring` hosts).

Ownership: the monitoring hosts are campus-wide. Every phase stack registers this step with its own cumulative
render (every target and rule of every phase up to it), triggered by the monitoring scope's digest in that render.
So the newest phase's stack re-applies monitoring whenever anything it covers changes; an older phase's step,
re-run later (e.g. after a role fix), leaves a host that carries a newer phase unchanged (the roles' phase guard:
"the newest phase applied owns a campus-wide host") instead of removing that phase's targets and rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command, remember_depends_on
from kasbah.plan.monitoring import MonitoringPlan

MONITORING_TAGS = ("monitoring",)
MONITORING_GROUP = "monitoring"
TELEMETRY_BUCKET_ENV = "KASBAH_TELEMETRY_BUCKET"


def token_vars(thresholds: MonitoringPlan) -> list[str]:
    """The vault variables holding the alert webhooks' bearer tokens (`monitoring/receivers.yml` names them)."""
    return sorted({r.token_var for r in thresholds.receivers if r.token_var})


@dataclass
class MonitoringArgs:
    """Inputs of a Monitoring component.

    step: how `kasbah apply` is invoked. trigger: digest of the monitoring scope (`components.scopes`).
    core: True in the phase that first deploys monitoring (reported as an output).
    tokens: each alert webhook's `token_var` -> its bearer token (secret config), passed as `VAULT_*`.
    telemetry_bucket: where long-term telemetry goes (an output of the storage, or of the first phase's stack).
    depends_on: steps that must finish first (the edge routers the probes watch).
    summary: plan values reported as outputs (`from_plan` fills them). group: the hosts (`monitoring`).
    """

    step: ApplyStep
    trigger: pulumi.Input[str]
    core: bool = True
    tokens: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    telemetry_bucket: pulumi.Input[str] | None = None
    depends_on: Sequence[pulumi.Input[pulumi.Resource]] = field(default_factory=tuple)
    summary: Mapping[str, object] = field(default_factory=dict)
    group: str = MONITORING_GROUP

    @classmethod
    def from_plan(
        cls,
        thresholds: MonitoringPlan,
        step: ApplyStep,
        trigger: pulumi.Input[str],
        *,
        core: bool,
        tokens: Mapping[str, pulumi.Input[str]],
        telemetry_bucket: pulumi.Input[str] | None = None,
        depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
    ) -> MonitoringArgs:
        """The campus's monitoring: `plan.monitoring`; every receiver's token must be in `tokens`."""
        missing = [v for v in token_vars(thresholds) if v not in tokens]
        if missing:
            raise ValueError(f"monitoring: no token for {', '.join(missing)}")
        return cls(
            step=step,
            trigger=trigger,
            core=core,
            tokens={v: tokens[v] for v in token_vars(thresholds)},
            telemetry_bucket=telemetry_bucket,
            depends_on=depends_on,
            summary={
                "scrapeIntervalS": thresholds.scrape_interval_s,
                "powerWarningMw": thresholds.power_warning_mw,
                "pueAlertAbove": thresholds.pue_alert_above,
            },
        )


class Monitoring(pulumi.ComponentResource):
    """One Command (`<name>-apply`) applying the monitoring role to the monitoring hosts with the phase's rendered
    targets and rules, and the webhook tokens as secret environment variables."""

    step: pulumi.CustomResource

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:monitoring:Monitoring", name, {}, opts)
        remember_depends_on(self, opts)
        env = {TELEMETRY_BUCKET_ENV: args.telemetry_bucket} if args.telemetry_bucket is not None else {}
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=MONITORING_TAGS,
            limit=[args.group],
            trigger=args.trigger,
            depends_on=args.depends_on,
            env=env,
            secrets=args.tokens,
        )
        self.register_outputs({"core": args.core, "group": args.group, **args.summary, "applied": self.step.stdout})
