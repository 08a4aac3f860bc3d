"""The lab deploys through the phase stacks: the on-premises steps the Pulumi program registers, run as `pulumi up`
would run them.

The Pulumi CLI cannot run here, so this module plays the engine's part for the command provider: it runs the real
program under the SDK's mocks (`kasbah.preview.run_program`, secrets from the lab), takes every
`command:local:Command` exactly as registered (its `create` line, its `environment` with the secrets, its
`triggers`, its dependencies, a dependency on a component meaning all of that component's steps), and runs them
concurrently in dependency order through `/bin/sh -c` in the project directory, with the process's environment
under the step's own, as the provider does. What the lab adds is what a runner host would have: the lab's inventory
overlay (`KASBAH_EXTRA_INVENTORY`), which tells Ansible how to reach the lab's routers and monitoring host.

Like the engine, it keeps per stack what each step last ran with (a digest of create, environment and triggers,
never the values) and re-runs a step only when that changed, or when asked to replace every step (as a role fix
does). Steps whose hosts the lab does not have (GPU pods, fabrics) are reported and counted as done, so what
depends on them still runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kasbah.plan.derive import Plan

COMMAND = "command:local:Command"
REPO = Path(__file__).resolve().parents[2]
Say = Callable[[str], None]


class StackRunError(RuntimeError):
    """A step failed or the program refused to run; the message names the step and its log."""


@dataclass(frozen=True)
class StackStep:
    """One on-premises step as the program registered it."""

    urn: str
    name: str
    create: str
    environment: dict[str, str]
    triggers: tuple[str, ...]
    after: tuple[str, ...]
    """URNs of the steps it waits for."""

    @property
    def limit(self) -> list[str]:
        words = shlex.split(self.create)
        for i, word in enumerate(words[:-1]):
            if word == "--limit":
                return [t for t in words[i + 1].replace(":", ",").split(",") if t]
        return []

    def fingerprint(self) -> str:
        """What decides whether the engine runs the step again: create, environment and triggers (hashed)."""
        body = json.dumps([self.create, sorted(self.environment.items()), list(self.triggers)], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class StepRun:
    name: str
    outcome: str  # ran, unchanged, no-lab-host, failed, blocked
    seconds: float = 0.0
    log: str = ""
    detail: str = ""


@dataclass
class StackRun:
    phase: str
    steps: list[StepRun] = field(default_factory=list)
    seconds: float = 0.0

    def ran(self) -> list[str]:
        return [s.name for s in self.steps if s.outcome == "ran"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "seconds": round(self.seconds, 2),
            "steps": [s.__dict__ for s in self.steps],
        }


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def registered_steps(
    spec: Path,
    plan: Plan,
    *,
    build_dir: Path,
    secrets: Mapping[str, str],
    root: Path = REPO,
    kasbah_command: str | None = None,
) -> list[StackStep]:
    """The phase stack's steps, from the real program under the mocks with `secrets` as its secret config."""
    from kasbah import preview
    from kasbah.pulumi_program import NAMESPACE, required_secrets

    cfg = preview.preview_config(preview._spec_arg(spec, root), plan)
    cfg[f"{NAMESPACE}:buildDir"] = str(build_dir)
    if kasbah_command:
        cfg[f"{NAMESPACE}:kasbahCommand"] = kasbah_command
    missing = []
    for key in required_secrets(plan):
        if key not in secrets:
            missing.append(key)
            continue
        cfg[f"{NAMESPACE}:{key}"] = secrets[key]
    if missing:
        raise StackRunError(f"the lab has no value for secret(s) {', '.join(missing)} of stack {plan.phase}")
    refs = {cfg[k]: preview.campus_outputs(plan) for k in cfg if k.endswith(":campusStack")}
    result = preview.run_program(cfg, plan.phase, root=root, stack_outputs=refs, dry_run=False)
    by_urn = result.by_urn()
    children: dict[str, list[str]] = {}
    for r in result.resources:
        children.setdefault(r.parent, []).append(r.urn)

    def commands_under(urn: str) -> set[str]:
        found: set[str] = set()
        stack = [urn]
        while stack:
            u = stack.pop()
            r = by_urn.get(u)
            if r is not None and r.type == COMMAND:
                found.add(u)
            stack.extend(children.get(u, []))
        return found

    steps = []
    for r in result.resources:
        if r.type != COMMAND:
            continue
        after: set[str] = set()
        for dep in r.dependencies:
            after |= commands_under(dep)
        after.discard(r.urn)
        env = {str(k): _plain(v) for k, v in sorted((r.inputs.get("environment") or {}).items())}
        steps.append(
            StackStep(
                urn=r.urn,
                name=r.name,
                create=str(r.inputs.get("create", "")),
                environment=env,
                triggers=tuple(_plain(t) for t in r.inputs.get("triggers") or []),
                after=tuple(sorted(after)),
            )
        )
    return sorted(steps, key=lambda s: s.urn)


def _order_check(steps: Iterable[StackStep]) -> None:
    urns = {s.urn for s in steps}
    for s in steps:
        unknown = set(s.after) - urns
        if unknown:
            raise StackRunError(f"step {s.name} waits for unknown step(s) {sorted(unknown)}")


def run_steps(
    phase: str,
    steps: list[StackStep],
    *,
    lab_hosts: set[str],
    extra_env: Mapping[str, str],
    record: Path,
    logs: Path,
    say: Say,
    replace: bool = False,
    parallel: int = 8,
    cwd: Path = REPO,
    on_start: Callable[[str, int, Path], None] | None = None,
) -> StackRun:
    """Run `steps` as the engine would: concurrently once their dependencies are done, a step again only when its
    fingerprint changed (or `replace`). `record` keeps the fingerprints of what ran (per stack); `on_start` hears
    of each step's process the moment it exists (the lab records its PID)."""
    _order_check(steps)
    previous: dict[str, str] = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
    done: dict[str, str] = {}
    runs: dict[str, StepRun] = {}
    lock = threading.Lock()
    logs.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    def execute(step: StackStep) -> StepRun:
        if not step.limit or not set(step.limit) <= lab_hosts:
            hosts = ",".join(step.limit) or "every host"
            return StepRun(step.name, "no-lab-host", detail=f"--limit {hosts}: not in the lab")
        if not replace and previous.get(step.urn) == step.fingerprint():
            return StepRun(step.name, "unchanged")
        say(f"step {step.name}: {step.create}")
        log = logs / f"{phase}-{step.name}.log"
        env = {**os.environ, **extra_env, **step.environment}
        start = time.monotonic()
        with log.open("w", encoding="utf-8") as out:
            proc = subprocess.Popen(["/bin/sh", "-c", step.create], cwd=cwd, env=env, stdout=out, stderr=out)
            if on_start is not None:
                with lock:
                    on_start(step.name, proc.pid, log)
            proc.wait()
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            return StepRun(step.name, "failed", seconds, str(log), f"exit {proc.returncode}")
        return StepRun(step.name, "ran", seconds, str(log))

    pending = {s.urn: s for s in steps}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        running: dict[Future[StepRun], StackStep] = {}
        while pending or running:
            for urn, step in sorted(pending.items()):
                states = [done.get(a) for a in step.after]
                if any(s in ("failed", "blocked") for s in states):
                    runs[urn] = StepRun(step.name, "blocked", detail="a step it waits for failed")
                    done[urn] = "blocked"
                    del pending[urn]
                elif all(s is not None for s in states):
                    running[pool.submit(execute, step)] = step
                    del pending[urn]
            if not running:
                if pending:
                    raise StackRunError(f"steps wait for each other: {sorted(s.name for s in pending.values())}")
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                step = running.pop(fut)
                result = fut.result()
                with lock:
                    runs[step.urn] = result
                    done[step.urn] = result.outcome
                    if result.outcome == "ran":
                        previous[step.urn] = step.fingerprint()
                extra = f" in {result.seconds:.1f} s" if result.outcome in ("ran", "failed") else ""
                say(f"step {step.name}: {result.outcome}{extra}" + (f" ({result.detail})" if result.detail else ""))
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(previous, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    run = StackRun(phase, [runs[s.urn] for s in steps], time.monotonic() - t0)
    failed = [r for r in run.steps if r.outcome == "failed"]
    if failed:
        names = ", ".join(f"{r.name} ({r.detail}, log {r.log})" for r in failed)
        raise StackRunError(f"stack {phase}: step(s) failed: {names}")
    return run
