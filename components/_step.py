"""On-premises steps: a `pulumi_command.local.Command` that runs `kasbah apply` on one scope of a phase.

Pulumi does not configure hosts itself; it orders and re-runs the project's Ansible entry point. Each step is one
Command with `triggers=[digest of what that scope renders]`, so Pulumi replaces (re-runs) it when and only when
that digest changes. The command line is plain data, so a test or a reviewer can read exactly what will run.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import local

from kasbah.plan.names import group_name

BUILD_DIR_ENV = "KASBAH_BUILD_DIR"
"""Environment variable telling `kasbah apply` where the stack's `build/` directory is (stack config `buildDir`)."""


def pod_group(pod_id: str) -> str:
    """The inventory group of a pod (`kasbah.plan.names.group_name`, the inventory renderer's rule)."""
    return group_name("pod", pod_id)


def phase_group(phase: str) -> str:
    return group_name("phase", phase)


def secret_env(var: str) -> str:
    """The environment variable carrying a vault variable's value to `kasbah apply` (upper case of its name)."""
    return var.upper()


@dataclass(frozen=True)
class ApplyStep:
    """How every step of a stack invokes Ansible: `<program> apply <spec> --tags T --limit G`.

    `spec` is the phase spec path as given in stack config (relative to the project directory, where Pulumi runs
    the program and its commands); `build_dir` is passed through the environment so the command line stays the
    same on every machine.
    """

    spec: str
    build_dir: str = "build"
    program: str = "kasbah"

    def command(self, tags: Sequence[str], limit: Sequence[str]) -> str:
        return shlex.join([self.program, "apply", self.spec, "--tags", ",".join(tags), "--limit", ",".join(limit)])


def apply_command(
    owner: pulumi.ComponentResource,
    name: str,
    step: ApplyStep,
    *,
    tags: Sequence[str],
    limit: Sequence[str],
    trigger: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource] = (),
    secrets: Mapping[str, pulumi.Input[str]] | None = None,
    env: Mapping[str, pulumi.Input[str]] | None = None,
) -> local.Command:
    """One Command child of `owner`: the step's command line, its trigger and its ordering."""
    environment: dict[str, pulumi.Input[str]] = {BUILD_DIR_ENV: step.build_dir, **(env or {})}
    for var, value in sorted((secrets or {}).items()):
        environment[secret_env(var)] = pulumi.Output.secret(value)
    return local.Command(
        name,
        create=step.command(tags, limit),
        environment=environment,
        triggers=[trigger],
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(parent=owner, depends_on=list(depends_on)),
    )
