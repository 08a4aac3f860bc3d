"""The `kasbah` command. Thin commands over shared helpers; only this module prints, and no traceback reaches a user.

Exit codes: 0 clean (warnings allowed), 1 the spec has error findings, 2 the input is unusable.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.text import Text

from kasbah import __version__
from kasbah.findings import Finding, Findings, Level, SpecError
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
            if not _exit_for(findings):
                _print_cfe(console, spec, the_plan)
    shown = [f for f in findings if f.level > Level.INFO]
    print_findings(console, shown)
    notes = len(findings) - len(shown)
    console.print(summary_line(findings) + (" (`kasbah validate` lists the notes)" if notes else ""))
    raise typer.Exit(_exit_for(findings))


def _print_cfe(console: Console, spec: Path, the_plan: Plan) -> None:
    """The hourly CFE score beside the annual shares, when the campus has an hourly energy model."""
    from kasbah.energy.model import run_model

    loaded = load_spec(spec)
    if loaded.campus.energy.hourly is None:
        return
    result, _ = run_model(loaded, the_plan)
    if result is None:
        console.print("hourly CFE score: not computed; `kasbah energy` shows why", markup=False)
        return
    target = f" (target {result.target_cfe:.0%})" if result.target_cfe is not None else ""
    console.print(
        f"hourly CFE score: {result.cfe_score:.1%}{target}, {result.cfe_score_with_caps:.1%} with GPU caps, "
        f"{result.unmet_mwh / 1000:,.1f} GWh a year unmatched (`kasbah energy` for the year)",
        markup=False,
    )


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


def phase_files(spec: Path, the_plan: Plan) -> dict[str, str]:
    """The phase's full render (`kasbah.render.render_phase`: the plan's files plus the power schedule); energy-model
    errors are printed as findings and exit 1, nothing written."""
    from kasbah import render as renders

    try:
        return renders.render_phase(load_spec(spec), the_plan)
    except SpecError as exc:
        _report_failure(exc.findings, False)
        raise typer.Exit(exc.exit_code) from None
    except renders.RenderFindingsError as exc:
        err = _console(stderr=True)
        print_findings(err, exc.findings)
        err.print(summary_line(exc.findings) + "; nothing was written or applied")
        raise typer.Exit(1) from None


OutOpt = Annotated[Path, typer.Option("--out", help="Directory that receives <phase>/.")]


@app.command()
def render(spec: SpecArg, out: OutOpt = Path("build")) -> None:
    """Write build/<phase>/: inventory, group variables, FRR configs, fabric and monitoring configs."""
    from kasbah import render as renders
    from kasbah.render.output import RenderTargetError

    the_plan = buildable_plan(spec)
    files = phase_files(spec, the_plan)
    target = out / the_plan.phase
    try:
        changed = renders.write(files, target)
    except RenderTargetError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    state = "written" if changed else "unchanged"
    _console().print(f"{target}: {len(files):,} files {state}, digest {renders.digest(files)[:12]}", markup=False)


@app.command()
def report(
    spec: SpecArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory that receives <phase>.html (default build/).")
    ] = None,
) -> None:
    """Write one self-contained HTML page of the phase: growth, halls and racks, fabric, WAN map, energy, findings."""
    from kasbah.html_report import render_page, write_report
    from kasbah.plan.derive import catalog_for

    try:
        loaded = load_spec(spec)
    except SpecError as exc:
        _report_failure(exc.findings, False)
        raise typer.Exit(exc.exit_code) from None
    the_plan, findings = derive(loaded)
    shown = [f for f in findings if f.level > Level.INFO]
    if the_plan is None or _exit_for(findings):
        err = _console(stderr=True)
        print_findings(err, shown)
        err.print(summary_line(findings) + "; no report was written")
        raise typer.Exit(1)
    # Beside build/<phase>/, never inside it: `kasbah render` swaps that tree whole and would delete the report.
    target = (out or Path("build")) / f"{the_plan.phase}.html"
    if out is not None and out.exists() and not out.is_dir():
        _console(stderr=True).print(f"error: {out} is a file, not a directory: give --out a directory")
        raise typer.Exit(2)
    # The hourly energy model's charts and findings, when the campus declares one (`kasbah energy` has the figures).
    from kasbah.energy.charts import heatmap_svg, monthly_svg
    from kasbah.energy.model import run_model
    from kasbah.html_report.page import EnergyCharts

    year, energy_findings = run_model(loaded, the_plan)
    charts = EnergyCharts(heatmap_svg(year), monthly_svg(year)) if year is not None else None
    merged = Findings()
    merged.extend(findings)
    merged.extend(energy_findings)
    page = render_page(
        the_plan, loaded.campus, catalog_for(loaded), merged.sorted(), out_dir=target.parent, energy=charts
    )
    try:
        write_report(target, page)
    except OSError as exc:
        _console(stderr=True).print(f"error: cannot write {target}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    _console().print(f"{target}: {len(page.encode('utf-8')):,} bytes written")


@app.command()
def preview(
    spec: SpecArg,
    as_json: JsonOpt = False,
    secrets: Annotated[
        bool, typer.Option("--secrets", help="Only list the `pulumi config set --secret` lines the stack needs.")
    ] = False,
) -> None:
    """Show the phase stack's Pulumi resources offline (the real program under the SDK's mocks): tree, counts."""
    from kasbah import preview as previews
    from kasbah.pulumi_program import ProgramError, secret_commands

    the_plan = buildable_plan(spec)
    if secrets:
        sys.stdout.write("".join(f"{line}\n" for line in secret_commands(the_plan)))
        return
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


def _render_phase(build: Path) -> str:
    """The phase a render was made for (its plan.json), or exit 2 saying what is missing."""
    try:
        data = json.loads((build / "plan.json").read_text(encoding="utf-8"))
        return str(data["phase"])
    except (OSError, ValueError, KeyError, TypeError):
        err = _console(stderr=True)
        err.print(f"error: {build} holds no rendered phase (plan.json)", markup=False)
        err.print(
            "  = hint: run `kasbah render SPEC --out DIR` first; apply --build DIR takes DIR/<phase>", markup=False
        )
        raise typer.Exit(2) from None


def _checked_build(spec: Path | None, build: Path) -> tuple[str, Path | None]:
    """Check a render before a run reads it: intact against its manifest and, given a spec, that spec's render.
    Returns the phase and the spec's plan file (None without a spec)."""
    from kasbah import render as renders
    from kasbah.render.output import RenderTargetError, verify

    if not (build / "inventory" / "kasbah.yml").is_file():
        err = _console(stderr=True)
        err.print(f"error: {build} holds no rendered inventory (inventory/kasbah.yml)", markup=False)
        hint = f"kasbah render {spec} --out {build.parent}" if spec else "kasbah render SPEC --out DIR"
        err.print(f"  = hint: run `{hint}` first, or give a spec and drop --build", markup=False)
        raise typer.Exit(2)
    try:
        _digest, damaged = verify(build)
    except RenderTargetError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    if damaged:
        err = _console(stderr=True)
        err.print(
            f"error: {build} was changed after it was rendered ({len(damaged)} file(s), e.g. {damaged[0]})",
            markup=False,
        )
        err.print("  = hint: render it again (`kasbah render SPEC --out DIR`); never edit a render by hand")
        raise typer.Exit(1)
    if spec is None:
        return _render_phase(build), None
    the_plan = buildable_plan(spec)
    stale = renders.stale(phase_files(spec, the_plan), build)
    if stale:
        err = _console(stderr=True)
        err.print(f"error: {build} does not match {spec} ({len(stale)} file(s) differ, e.g. {stale[0]})", markup=False)
        err.print("  = hint: run `kasbah render` again, or drop --build to render before applying")
        raise typer.Exit(1)
    return the_plan.phase, spec


def _report_name(tags: list[str] | None, limit: str | None) -> str:
    """One report per scope, so steps running side by side never write one file."""
    raw = f"{','.join(tags or ['all'])}--{limit or 'all'}"
    safe = "".join(c if c.isalnum() or c in "-_.," else "_" for c in raw)
    return safe[:120] + ".json"


@app.command()
def apply(
    spec: Annotated[
        Path | None,
        typer.Argument(help="A phase spec: rendered, then applied. Optional with --build, which applies a render."),
    ] = None,
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
            "--build",
            help="Run on this rendered phase (build/<phase>) as it is, without rendering: how Pulumi's steps run.",
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
        typer.Option(
            "--inventory",
            "-i",
            help="Extra YAML inventory over the rendered one (e.g. the lab's); also KASBAH_EXTRA_INVENTORY.",
        ),
    ] = None,
) -> None:
    """Run the playbooks on a phase through ansible-runner; exit 1 naming the hosts that failed.

    With SPEC: render build/<phase> first. With --build DIR: apply that render as it is, after checking it against
    its manifest, while holding a shared lock on it (no render swaps it meanwhile), a lock per host or group of
    --limit (no two runs on one host) and one of KASBAH_APPLY_SLOTS slots.
    """
    from kasbah import ansible_run
    from kasbah import render as renders
    from kasbah.apply_locks import apply_locks
    from kasbah.render.output import RenderTargetError, reading

    if spec is None and build is None:
        _console(stderr=True).print("error: give a phase spec to render and apply, or --build DIR to apply a render")
        raise typer.Exit(2)
    variables: dict[str, object] = {}
    for item in extra_vars or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            _console(stderr=True).print(f"error: --extra-vars {item!r} is not KEY=VALUE", markup=False)
            raise typer.Exit(2)
        variables[key] = value
    extra_inventories = list(inventory or [])
    extra_inventories += [Path(p) for p in os.environ.get("KASBAH_EXTRA_INVENTORY", "").split(os.pathsep) if p]
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    console = _console()
    err = _console(stderr=True)

    try:
        if build is None:
            assert spec is not None
            the_plan = buildable_plan(spec)
            target = out / the_plan.phase
            renders.write(phase_files(spec, the_plan), target)
        else:
            target = build
        with reading(target):
            if build is None:
                phase = the_plan.phase
            else:
                phase, _ = _checked_build(spec, build)
            with apply_locks(target.parent, limit, say=lambda m: err.print(m, markup=False)):
                result, report_path = _run_apply(
                    console,
                    target,
                    phase,
                    check,
                    limit,
                    tag_list,
                    variables,
                    vault_password_file,
                    extra_inventories,
                    report,
                )
    except RenderTargetError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except ansible_run.ApplyError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    for notice in result.notices:
        console.print(f"notice: {notice}", markup=False)
    totals = result.totals()
    console.print(
        f"hosts: {len(result.hosts)}  "
        + "  ".join(f"{k} {v}" for k, v in totals.items())
        + f"  (report {report_path})",
        markup=False,
    )
    if result.succeeded:
        raise typer.Exit(0)
    if result.unreachable_hosts:
        console.print(Text("unreachable", style="red") + Text(f": {', '.join(result.unreachable_hosts)}"))
    if result.failed_hosts:
        console.print(Text("failed", style="red") + Text(f": {', '.join(result.failed_hosts)}"))
    if result.retry_limit:
        again = f"kasbah apply {spec}" if spec else f"kasbah apply --build {target}"
        console.print(f"retry just them: {again} --limit {result.retry_limit}", markup=False)
    else:
        console.print(
            Text("the run failed", style="red") + Text(f" (status {result.status}, rc {result.rc}); see {report_path}")
        )
    raise typer.Exit(1)


def _run_apply(
    console: Console,
    target: Path,
    phase: str,
    check: bool,
    limit: str | None,
    tag_list: list[str] | None,
    variables: dict[str, object],
    vault_password_file: Path | None,
    inventories: list[Path],
    report: Path | None,
) -> tuple[Any, Path]:
    from kasbah import ansible_run

    counts = dict.fromkeys(ansible_run.OUTCOMES, 0)
    console.print(
        f"applying {phase} from {target}"
        + (" (check mode)" if check else "")
        + (f", limit {limit}" if limit else "")
        + (f", tags {','.join(tag_list)}" if tag_list else ""),
        markup=False,
    )
    with console.status("running playbooks", spinner="dots") as status:

        def hook(host: str, outcome: str) -> None:
            counts[outcome] += 1
            if outcome in ("failed", "unreachable"):
                console.print(Text(f"  {outcome}", style="red") + Text(f": {host}"))
            status.update("  ".join(f"{k} {v}" for k, v in counts.items()))

        result = ansible_run.run(
            target,
            phase=phase,
            check=check,
            limit=limit,
            tags=tag_list,
            extravars=variables,
            vault_password_file=vault_password_file,
            on_result=hook,
            secret_vars=ansible_run.secrets_from_environment(dict(os.environ)),
            inventories=inventories or None,
        )
    report_path = report or target.parent / "runs" / phase / _report_name(tag_list, limit)
    ansible_run.write_report(result, report_path)
    return result, report_path


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
def energy(
    spec: SpecArg,
    as_json: JsonOpt = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write energy.json, the SVG charts and power_schedule.json into this folder."),
    ] = None,
) -> None:
    """Model the year hour by hour: renewable supply, load per phase, CFE score, storage for the target, GPU caps."""
    from rich.progress import Progress

    from kasbah.energy import STEPS, model_with_findings
    from kasbah.energy.charts import heatmap_svg, monthly_svg
    from kasbah.energy.tables import energy_tables
    from kasbah.render.energy import power_schedule_json

    err = _console(stderr=True)
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"modelling {spec}", total=len(STEPS))
            result, findings = model_with_findings(spec, lambda step: bar.update(task, advance=1, description=step))
    except SpecError as exc:
        _report_failure(exc.findings, as_json)
        raise typer.Exit(exc.exit_code) from None
    if result is None and not _exit_for(findings):
        err.print(f"{spec}: the campus has no energy.hourly section, so there is no hourly model to run")
        raise typer.Exit(2)
    if result is None:
        _report_failure(findings, as_json)
        if not as_json:
            err.print("nothing was written")
        raise typer.Exit(1)
    data = {"energy": result.model_dump(mode="json"), "findings": [f.as_dict() for f in findings]}
    if out is not None:
        try:
            # Each file whole (the GPU role's applier may read power_schedule.json while this runs again).
            from kasbah.atomic import write_text_atomic

            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out / "energy.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            write_text_atomic(out / "supply_load_heatmap.svg", heatmap_svg(result))
            write_text_atomic(out / "monthly_matched.svg", monthly_svg(result))
            write_text_atomic(out / "power_schedule.json", power_schedule_json(result))
        except OSError as exc:
            err.print(f"error: cannot write to {out}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
    if as_json:
        _dump(data)
        raise typer.Exit(_exit_for(findings))
    console = _console()
    for table in energy_tables(result):
        console.print(table)
    print_findings(console, [f for f in findings if f.level > Level.INFO or f.code.startswith("energy.")])
    if out is not None:
        console.print(
            f"wrote {out}/energy.json, supply_load_heatmap.svg, monthly_matched.svg, power_schedule.json", markup=False
        )
    console.print(summary_line(findings))
    raise typer.Exit(_exit_for(findings))


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
