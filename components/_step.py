"""On-premises steps: a `pulumi_command.local.Command` that runs `kasbah apply --build` on one scope of a phase.

Pulumi does not configure hosts itself; it orders and re-runs the project's Ansible entry point. Each step is one
Command with `triggers=[digest of what that scope renders]`, so Pulumi replaces (re-runs) it when and only when
that digest changes. The command line is plain data, so a test, a reviewer or the lab can read exactly what will
run: `<program> apply --build <render> --tags T --limit L`. Every step reads the one render the program wrote
before registering anything (`kasbah.pulumi_program.run`), so no two steps ever render into one directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pulumi
from pulumi_command import local

from kasbah.plan.names import group_name

BUILD_DIR_ENV = "KASBAH_BUILD_DIR"
"""Environment variable telling `kasbah apply` where the stack's `build/` directory is (its run reports go there)."""

SECRET_ENV_PREFIX = "VAULT_"
"""`kasbah apply` turns only `VAULT_*` environment variables into Ansible variables (lower-cased)."""


def pod_group(pod_id: str) -> str:
    """The inventory group of a pod (`kasbah.plan.names.group_name`, the inventory renderer's rule)."""
    return group_name("pod", pod_id)


def phase_group(phase: str) -> str:
    return group_name("phase", phase)


def secret_env(var: str) -> str:
    """The environment variable carrying a vault variable's value to `kasbah apply` (upper case of its name)."""
    env = var.upper()
    if not env.startswith(SECRET_ENV_PREFIX):
        raise ValueError(f"{var}: only vault_* variables reach `kasbah apply` through the environment")
    return env


def default_program(root: Path | None = None) -> str:
    """The `kasbah` console script of the venv running this program (`kasbah.pulumi_program`'s default for
    config `kasbahCommand`): `.venv/bin/kasbah` relative to `root` when inside it, so command lines are the same
    on every machine."""
    from kasbah.pulumi_program import default_kasbah_command

    return default_kasbah_command(root)


@dataclass(frozen=True)
class ApplyStep:
    """How every step of a stack invokes Ansible: `<program> apply --build <build_dir>/<phase> --tags T --limit L`.

    build_dir: the stack's build directory (config `buildDir`, relative to the project directory where Pulumi runs
    the commands, or absolute); `<build_dir>/<phase>` must hold that phase's render (`kasbah.render.write`) before
    any step runs. program: the `kasbah` entry point (config `kasbahCommand`).
    """

    phase: str
    build_dir: str = "build"
    program: str = "kasbah"

    @property
    def build(self) -> str:
        """The render every step of the phase reads."""
        return (PurePosixPath(self.build_dir) / self.phase).as_posix()

    def command(self, tags: Sequence[str], limit: Sequence[str]) -> str:
        return shlex.join(
            [self.program, "apply", "--build", self.build, "--tags", ",".join(tags), "--limit", ",".join(limit)]
        )


def child_options(
    owner: pulumi.ComponentResource, depends_on: Sequence[pulumi.Input[pulumi.Resource]] = ()
) -> pulumi.ResourceOptions:
    """Options of a component's child: parented to it (so it inherits its provider map and `protect`), and after
    everything the component itself was told to wait for (`opts.depends_on`, which children do not inherit)."""
    inherited = list(getattr(owner, "_kasbah_depends_on", ()))
    return pulumi.ResourceOptions(parent=owner, depends_on=[*inherited, *depends_on])


def remember_depends_on(owner: pulumi.ComponentResource, opts: pulumi.ResourceOptions | None) -> None:
    """Keep `opts.depends_on` of a component so `child_options` hands it to every child."""
    deps = opts.depends_on if opts is not None else None
    if deps is None:
        found: list = []
    elif isinstance(deps, pulumi.Resource):
        found = [deps]
    elif isinstance(deps, Sequence):
        found = list(deps)
    else:
        raise TypeError(f"{owner._name}: give opts.depends_on as a resource or a list, not one Output of a list")
    owner._kasbah_depends_on = found  # type: ignore[attr-defined]


def apply_command(
    owner: pulumi.ComponentResource,
    name: str,
    step: ApplyStep,
    *,
    tags: Sequence[str],
    limit: Sequence[str],
    trigger: pulumi.Input[str],
    depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
    secrets: Mapping[str, pulumi.Input[str]] | None = None,
    env: Mapping[str, pulumi.Input[str]] | None = None,
) -> local.Command:
    """One Command child of `owner`: the step's command line, its environment, its trigger and its ordering.

    secrets: vault variable -> value, passed as secret `VAULT_*` environment variables, never on the command line.
    """
    environment: dict[str, pulumi.Input[str]] = {BUILD_DIR_ENV: step.build_dir, **(env or {})}
    for var, value in sorted((secrets or {}).items()):
        environment[secret_env(var)] = pulumi.Output.secret(value)
    return local.Command(
        name,
        create=step.command(tags, limit),
        environment=environment,
        triggers=[trigger],
        add_previous_output_in_env=False,
        opts=child_options(owner, depends_on),
    )
