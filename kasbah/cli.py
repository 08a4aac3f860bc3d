"""The `kasbah` command. Thin commands over shared helpers; only this module prints, and no traceback reaches a user.

Exit codes: 0 clean (warnings allowed), 1 the spec has error findings, 2 the input is unusable.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from kasbah import __version__
from kasbah.findings import Finding, Level, SpecError
from kasbah.plan.derive import Plan, derive
from kasbah.plan.diff import diff_plans
from kasbah.report import LiteralConsole, plan_tables, print_findings, styled, summary_line
from kasbah.schema import SCHEMA_KINDS, schema_text
from kasbah.spec.load import load_campus, load_spec

app = typer.Typer(
    name="kasbah",
    help="Infrastructure as code for phased AI datacenter campuses: spec → plan → Pulumi, Ansible, monitoring, lab.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecArg = Annotated[
    Path, typer.Argument(help="A phase spec (stacks/phase1.yaml); validate also takes the campus file.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (stable for scripts).")]


def _console(stderr: bool = False) -> Console:
    """A terminal's own width; 140 columns when piped (Rich's 80 would fold the plan's wide tables).

    Literal: paths and spec text may hold `[red]` or `[/]`, which must print as typed (see `LiteralConsole`).
    """
    width = int(os.environ.get("KASBAH_WIDTH", "0") or 0) or None
    stream = sys.stderr if stderr else sys.stdout
    if width is None and not stream.isatty() and "COLUMNS" not in os.environ:
        width = 140
    return LiteralConsole(stderr=stderr, width=width, soft_wrap=False)


def _dump(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _exit_for(findings: list[Finding]) -> int:
    return 1 if any(f.level >= Level.ERROR for f in findings) else 0


def _plan_or_exit(spec: Path, as_json: bool) -> tuple[Plan | None, list[Finding]]:
    """Load and plan; on unusable or invalid input print the findings and exit with their code."""
    try:
        loaded = load_spec(spec)
    except SpecError as exc:
        _report_failure(exc.findings, as_json)
        raise typer.Exit(exc.exit_code) from None
    return derive(loaded)


def _report_failure(findings: list[Finding], as_json: bool) -> None:
    if as_json:
        _dump({"plan": None, "findings": [f.as_dict() for f in findings]})
    else:
        err = _console(stderr=True)
        print_findings(err, findings)
        err.print(summary_line(findings))


@app.command()
def validate(spec: SpecArg, as_json: JsonOpt = False) -> None:
    """Check a spec (and the campus and earlier phases it names) and list every finding."""
    try:
        plan, findings = derive(load_spec(spec))
    except SpecError as exc:
        if [f.code for f in exc.findings] != ["input.not-a-phase"]:
            _report_failure(exc.findings, as_json)
            raise typer.Exit(exc.exit_code) from None
        _validate_campus(spec, as_json)
        return
    if as_json:
        _dump({"file": str(spec), "kind": "phase", "findings": [f.as_dict() for f in findings]})
    else:
        console = _console()
        print_findings(console, findings)
        phase = plan.phase if plan else spec.stem
        console.print(f"{spec}: phase {phase}, {summary_line(findings)}")
    raise typer.Exit(_exit_for(findings))


def _validate_campus(spec: Path, as_json: bool) -> None:
    """A campus file alone: its models and address plan, without the phase-dependent checks."""
    try:
        _, _, findings = load_campus(spec, str(spec))
    except SpecError as exc:
        _report_failure(exc.findings, as_json)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        _dump({"file": str(spec), "kind": "campus", "findings": [f.as_dict() for f in findings]})
    else:
        print_findings(_console(), findings)
        _console().print(f"{spec}: campus spec, {summary_line(findings)}")
    raise typer.Exit(_exit_for(findings))


@app.command()
def plan(
    spec: SpecArg,
    as_json: JsonOpt = False,
    diff: Annotated[Path | None, typer.Option("--diff", help="Another phase spec: show what SPEC adds to it.")] = None,
) -> None:
    """Derive the plan of a phase: power, compute, fabric bill of materials, addresses, WAN paths."""
    the_plan, findings = _plan_or_exit(spec, as_json)
    base = None
    if diff is not None:
        base, base_findings = _plan_or_exit(diff, as_json)
        findings = findings + [f for f in base_findings if f not in findings]
    if as_json:
        data: dict[str, object] = {"plan": the_plan.model_dump(mode="json") if the_plan else None}
        if diff is not None:
            data["diff"] = diff_plans(base, the_plan).model_dump(mode="json") if base and the_plan else None
        data["findings"] = [f.as_dict() for f in findings]
        _dump(data)
        raise typer.Exit(_exit_for(findings))
    console = _console()
    if the_plan is not None:
        console.print(
            styled(
                (the_plan.campus, "bold"),
                " — phase ",
                (the_plan.phase, "bold"),
                f" (after {', '.join(p.id for p in the_plan.phases)}; catalog {the_plan.catalog_version})",
            )
        )
        if base is not None:
            _print_diff(console, base, the_plan)
        else:
            for table in plan_tables(the_plan):
                console.print(table)
    shown = [f for f in findings if f.level > Level.INFO]
    print_findings(console, shown)
    notes = len(findings) - len(shown)
    console.print(summary_line(findings) + (" (`kasbah validate` lists the notes)" if notes else ""))
    raise typer.Exit(_exit_for(findings))


def _print_diff(console: Console, base: Plan, target: Plan) -> None:
    from rich.table import Table

    d = diff_plans(base, target)
    table = Table(title=f"What {d.target} adds to {d.base}", title_justify="left")
    for col in ("item", d.base, d.target, "change"):
        table.add_column(col, justify="left" if col == "item" else "right")
    for c in d.changes:
        delta = "" if c.delta is None else (f"+{c.delta:,}" if c.delta > 0 else f"{c.delta:,}")
        table.add_row(
            c.item, "-" if c.before is None else f"{c.before:,}", "-" if c.after is None else f"{c.after:,}", delta
        )
    console.print(table)
    for label, items in (
        ("pods added", d.pods_added),
        ("pods removed", d.pods_removed),
        ("halls added", d.halls_added),
        ("halls removed", d.halls_removed),
        ("cables lit", d.cables_lit),
        ("cables dark", d.cables_dark),
    ):
        if items:
            console.print(f"{label}: {', '.join(items)}")


@app.command()
def schema(
    kind: Annotated[Literal["phase", "campus"] | None, typer.Argument(help="phase or campus; both with --out.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write <kind>.schema.json files into this folder.")] = None,
) -> None:
    """Write the JSON Schema of the specs, for editor completion (the stacks' modeline points at it)."""
    kinds = [kind] if kind else list(SCHEMA_KINDS)
    if out is None:
        if len(kinds) != 1:
            _console(stderr=True).print("name a kind (phase or campus), or give --out DIR to write both")
            raise typer.Exit(2)
        sys.stdout.write(schema_text(kinds[0]))
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        for k in kinds:
            (out / f"{k}.schema.json").write_text(schema_text(k), encoding="utf-8")
    except OSError as exc:
        _console(stderr=True).print(f"error: cannot write to {out}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    _console().print(f"wrote {', '.join(f'{out}/{k}.schema.json' for k in kinds)}")


def buildable_plan(spec: Path) -> Plan:
    """The plan of a spec every build command may act on: any error finding stops here, before anything is written."""
    the_plan, findings = _plan_or_exit(spec, False)
    shown = [f for f in findings if f.level > Level.INFO]
    if the_plan is None or _exit_for(findings):
        err = _console(stderr=True)
        print_findings(err, shown)
        err.print(summary_line(findings) + "; nothing was written or applied")
        raise typer.Exit(1)
    if shown:
        print_findings(_console(stderr=True), shown)
    return the_plan


OutOpt = Annotated[Path, typer.Option("--out", help="Directory that receives <phase>/.")]


@app.command()
def render(spec: SpecArg, out: OutOpt = Path("build")) -> None:
    """Write build/<phase>/: inventory, group variables, FRR configs, fabric and monitoring configs."""
    from kasbah import render as renders

    the_plan = buildable_plan(spec)
    files = renders.render(the_plan)
    target = out / the_plan.phase
    renders.write(files, target)
    _console().print(f"{target}: {len(files):,} files, digest {renders.digest(files)[:12]}")


@app.command()
def preview(spec: SpecArg, as_json: JsonOpt = False) -> None:
    """Show the phase stack's Pulumi resources offline (the real program under the SDK's mocks): tree, counts."""
    from kasbah import preview as previews
    from kasbah.pulumi_program import ProgramError

    the_plan = buildable_plan(spec)
    try:
        result = previews.preview(spec, plan=the_plan)
    except ProgramError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    if as_json:
        _dump(previews.as_json(result))
        return
    lines = previews.tree_lines(result)
    lines += ["", "resources by type:"] + [f"  {n:>5}  {t}" for t, n in result.counts().items()]
    lines.append(f"stack {result.stack}: {len(result.resources):,} resources")
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def bootstrap(
    endpoint: Annotated[str, typer.Option("--endpoint", help="The campus S3 endpoint URL (https://...).")],
    bucket: Annotated[str | None, typer.Option("--bucket", help="State bucket name (default: from --spec).")] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="A phase spec giving the bucket and region.")] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="S3 region (default: the spec's, or us-east-1).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the Pulumi state bucket (Object Lock, versioning, encryption, no public access) and print the login."""
    from kasbah.bootstrap import BootstrapError
    from kasbah.bootstrap import bootstrap as make_bucket

    if spec is not None:
        the_plan = buildable_plan(spec)
        bucket = bucket or the_plan.storage.state_bucket
        region = region or the_plan.storage.region
    if not bucket:
        _console(stderr=True).print("error: give --bucket NAME, or --spec SPEC to use the campus's state bucket")
        raise typer.Exit(2)
    try:
        result = make_bucket(endpoint, bucket, region or "us-east-1")
    except ValueError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except BootstrapError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    if as_json:
        _dump({"bucket": bucket, "endpoint": endpoint, "changes": result.changes, "login": result.login_url})
        return
    console = _console()
    if result.changed:
        for change in result.changes:
            console.print(f"{bucket}: {change}", markup=False)
    else:
        console.print(f"{bucket}: already set up, nothing changed", markup=False)
    console.print(f"pulumi login '{result.login_url}'", markup=False, soft_wrap=True)


@app.command()
def apply(
    spec: SpecArg,
    check: Annotated[bool, typer.Option("--check", help="Ansible check mode: report what would change.")] = False,
    limit: Annotated[str | None, typer.Option("--limit", help="Hosts or groups (pod_h1_su001, edge1,...).")] = None,
    tags: Annotated[
        str | None, typer.Option("--tags", help="Comma-separated: base,gpu,fabric,wan_edge,monitoring.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", envvar="KASBAH_BUILD_DIR", help="Directory that receives <phase>/.")
    ] = Path("build"),
    build: Annotated[
        Path | None,
        typer.Option(
            "--build", help="Run on this rendered phase as it is (it must match the spec), without rendering."
        ),
    ] = None,
    vault_password_file: Annotated[
        Path | None, typer.Option("--vault-password-file", help="ansible-vault password file (BGP session passwords).")
    ] = None,
    extra_vars: Annotated[
        list[str] | None, typer.Option("--extra-vars", "-e", help="KEY=VALUE, repeatable (never put secrets here).")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Where to write the JSON run report.")] = None,
    inventory: Annotated[
        list[Path] | None,
        typer.Option("--inventory", "-i", help="Extra YAML inventory over the rendered one (e.g. the lab's)."),
    ] = None,
) -> None:
    """Render the phase and run its playbooks through ansible-runner; exit 1 naming the hosts that failed."""
    from kasbah import ansible_run
    from kasbah import render as renders

    the_plan = buildable_plan(spec)
    files = renders.render(the_plan)
    if build is None:
        target = out / the_plan.phase
        renders.write(files, target)
    else:
        target = build
        if not (build / "inventory" / "kasbah.yml").is_file():
            err = _console(stderr=True)
            err.print(f"error: {build} holds no rendered inventory (inventory/kasbah.yml)")
            err.print(f"  = hint: run `kasbah render {spec} --out {build.parent}` first, or drop --build")
            raise typer.Exit(2)
        stale = renders.stale(files, build)
        if stale:
            err = _console(stderr=True)
            err.print(f"error: {build} does not match {spec} ({len(stale)} file(s) differ, e.g. {stale[0]})")
            err.print("  = hint: run `kasbah render` again, or drop --build to render before applying")
            raise typer.Exit(1)
    variables: dict[str, object] = {}
    for item in extra_vars or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            _console(stderr=True).print(f"error: --extra-vars {item!r} is not KEY=VALUE")
            raise typer.Exit(2)
        variables[key] = value
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    console = _console()
    counts = dict.fromkeys(ansible_run.OUTCOMES, 0)

    def progress(host: str, outcome: str) -> None:
        counts[outcome] += 1
        if outcome in ("failed", "unreachable"):
            console.print(styled("  ", (outcome, "red"), f": {host}"))

    console.print(
        f"applying {the_plan.phase} from {target}"
        + (" (check mode)" if check else "")
        + (f", limit {limit}" if limit else "")
        + (f", tags {','.join(tag_list)}" if tag_list else "")
    )
    try:
        with console.status(styled("running playbooks"), spinner="dots") as status:

            def hook(host: str, outcome: str) -> None:
                progress(host, outcome)
                status.update(styled("  ".join(f"{k} {v}" for k, v in counts.items())))

            result = ansible_run.run(
                target,
                phase=the_plan.phase,
                check=check,
                limit=limit,
                tags=tag_list,
                extravars=variables,
                vault_password_file=vault_password_file,
                on_result=hook,
                secret_vars=ansible_run.secrets_from_environment(dict(os.environ)),
                inventories=inventory,
            )
    except ansible_run.ApplyError as exc:
        _console(stderr=True).print(f"error: {exc}")
        raise typer.Exit(2) from None
    report_path = report or out / "runs" / f"{the_plan.phase}.json"
    ansible_run.write_report(result, report_path)
    totals = result.totals()
    console.print(
        f"hosts: {len(result.hosts)}  " + "  ".join(f"{k} {v}" for k, v in totals.items()) + f"  (report {report_path})"
    )
    if result.succeeded:
        raise typer.Exit(0)
    if result.unreachable_hosts:
        console.print(styled(("unreachable", "red"), f": {', '.join(result.unreachable_hosts)}"))
    if result.failed_hosts:
        console.print(styled(("failed", "red"), f": {', '.join(result.failed_hosts)}"))
    if result.retry_limit:
        console.print(f"retry just them: kasbah apply {spec} --limit {result.retry_limit}")
    else:
        console.print(
            styled(("the run failed", "red"), f" (status {result.status}, rc {result.rc}); see {report_path}")
        )
    raise typer.Exit(1)


@app.command()
def verify(
    spec: SpecArg,
    lab: Annotated[bool, typer.Option("--lab", help="Check the live lab (kasbah lab up) against the plan.")] = False,
) -> None:
    """Check what runs against the plan; `--lab`: sessions, BFD, region paths, loaded rules, buckets."""
    from kasbah.cli_lab import verify as verify_lab

    if not lab:
        _console(stderr=True).print("error: only the lab can be verified today: add --lab")
        raise typer.Exit(2)
    verify_lab(spec)


@app.command()
def version() -> None:
    """Print Kasbah's version."""
    _console().print(__version__)


def main() -> None:
    """Console-script entry: any unexpected exception becomes a one-line message, not a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:
        sys.stderr.write(f"kasbah: internal error: {type(exc).__name__}: {exc}\nThis is a bug; please report it.\n")
        sys.exit(70)


def _register_lab() -> None:
    from kasbah.cli_lab import lab_app

    app.add_typer(lab_app, name="lab")


_register_lab()

if __name__ == "__main__":
    main()
