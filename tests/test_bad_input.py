"""Bad input through the CLI: every unusable or invalid spec is refused with the right exit code and a finding that
names the file (and the line and column where there is one), never a traceback, and nothing is written.

Exit codes: 2 when a file cannot be used at all (missing, unreadable, not YAML, an alias bomb), 1 when it is YAML but
not a valid spec. Inputs are the example stacks copied into tmp_path and edited on known lines.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kasbah.cli import app
from tests.conftest import REPO, edit

ENV = {"KASBAH_WIDTH": "120", "NO_COLOR": "1"}


def billion_laughs(prefix: str = "") -> str:
    """The classic alias bomb: ten levels of nine aliases each, 9**10 (3.5 billion) strings once expanded."""
    names = [f"{prefix}{c}" for c in "abcdefghij"]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * 9)}]"]
    lines += [f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]" for prev, name in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


BOMB = billion_laughs()


@pytest.fixture(autouse=True)
def _in_stacks(stacks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the copied stacks so findings name files as a person would type them (`phase1.yaml:10:14`)."""
    monkeypatch.chdir(stacks)


def _tree(root: Path) -> dict[str, object]:
    """Every entry under root with its content (files), target (links) or kind, to prove a command wrote nothing."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                try:
                    out[rel] = p.read_bytes()
                except OSError:
                    out[rel] = ("unreadable", p.stat().st_mode)
            else:
                out[rel] = ("other", p.lstat().st_mode)
    return out


def run(*args: str | Path) -> Result:
    """Invoke the CLI in-process; fail on any exception other than a clean exit, and on anything written."""
    root = Path.cwd().parent  # tmp_path: the stacks copy and anything a test put beside it
    before = _tree(root)
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    assert _tree(root) == before, "the command wrote to disk"
    return result


def refused(code: int, *args: str | Path) -> str:
    result = run(*args)
    assert result.exit_code == code, result.output
    return result.output


# --- unusable files: exit 2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_not_yaml(command: str) -> None:
    Path("broken.yaml").write_text("campus: campus.yaml\nkey: [unclosed\nid: x\n", encoding="utf-8")
    out = refused(2, command, "broken.yaml")
    assert "error[input.unusable]: not valid YAML" in out
    assert "--> broken.yaml:3:3" in out
    assert "hint: check indentation, quoting and brackets" in out


def test_binary_garbage() -> None:
    Path("garbage.yaml").write_bytes(random.Random(0).randbytes(4096) + b"\x00\x00")
    out = refused(2, "validate", "garbage.yaml")
    assert "garbage.yaml is binary, not YAML text" in out
    assert "--> garbage.yaml" in out


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "---\n...\n"])
def test_empty_and_comment_only(text: str) -> None:
    Path("empty.yaml").write_text(text, encoding="utf-8")
    out = refused(2, "validate", "empty.yaml")
    assert "the file is empty" in out and "--> empty.yaml" in out


def test_directory() -> None:
    Path("specs.yaml").mkdir()
    out = refused(2, "validate", "specs.yaml")
    assert "specs.yaml is a directory, not a spec file" in out


def test_missing_file() -> None:
    out = refused(2, "plan", "phase9.yaml")
    assert "no such file: phase9.yaml" in out and "--> phase9.yaml" in out


def test_unreadable_file_permission_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mode 000 stops everyone but root, and CI runs as root: so make the read itself fail as it would for a user."""
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self.name == "phase1.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    out = refused(2, "validate", "phase1.yaml")
    assert "cannot read phase1.yaml: permission denied" in out


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix-domain sockets")
def test_unreadable_file_even_as_root() -> None:
    """A socket exists and is no directory, but open() fails (ENXIO) for every user, root included."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind("listening.yaml")  # relative: a Unix socket path is limited to about 100 bytes
        out = refused(2, "validate", "listening.yaml")
    assert "listening.yaml is not a regular file" in out and "--> listening.yaml" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_not_waited_on() -> None:
    os.mkfifo("pipe.yaml")  # opening it would block until someone writes
    assert "pipe.yaml is not a regular file" in refused(2, "validate", "pipe.yaml")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_as_campus() -> None:
    edit(Path("phase1.yaml"), "campus: campus.yaml", "campus: /dev/zero")  # stat() says 0 bytes; a read never ends
    out = refused(2, "plan", "phase1.yaml")
    assert "/dev/zero is not a regular file" in out and "--> phase1.yaml:6:9 (campus)" in out


@pytest.mark.parametrize("target", ["nowhere.yaml", "loop.yaml"])
def test_dangling_and_looping_symlinks(target: str) -> None:
    os.symlink(target, "link.yaml")
    if target == "loop.yaml":
        os.symlink("loop.yaml", "loop.yaml")
    for command in ("validate", "plan"):
        out = refused(2, command, "link.yaml")
        assert "no such file: " in out and ("link.yaml" in out or target in out)  # the link, or its resolved target


def test_path_too_long_for_the_filesystem() -> None:
    out = refused(2, "plan", "p" * 5000 + ".yaml")
    assert "cannot read ppp" in out


def test_invalid_utf8_is_located() -> None:
    Path("latin1.yaml").write_bytes("campus: campus.yaml\nid: phase1\nnote: café\n".encode("latin-1"))
    out = refused(2, "validate", "latin1.yaml")
    assert "latin1.yaml is not UTF-8 text" in out
    assert "--> latin1.yaml:3:10" in out  # the é, after `note: caf`
    assert "hint: save the file as UTF-8" in out


def test_duplicate_key_is_located_at_the_second_one() -> None:
    edit(Path("phase1.yaml"), "  basis: it_load\n", "  basis: it_load\n  budget_mw: 41\n")
    out = refused(2, "validate", "phase1.yaml")
    assert 'duplicate key: found duplicate key "budget_mw"' in out
    assert "--> phase1.yaml:12:3" in out
    assert "  12 |   budget_mw: 41" in out


def test_alias_bomb_is_refused_before_it_expands() -> None:
    Path("laughs.yaml").write_text(BOMB, encoding="utf-8")
    out = refused(2, "validate", "laughs.yaml")
    assert "expands to more than 200,000 nodes through anchors and aliases" in out
    assert "this looks like an alias bomb" in out and "--> laughs.yaml" in out


def test_alias_bomb_inside_a_phase() -> None:
    Path("phase1.yaml").write_text(Path("phase1.yaml").read_text(encoding="utf-8") + billion_laughs("lol_"))
    out = refused(2, "plan", "phase1.yaml")
    assert "alias bomb" in out


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("pods:\n      - {id: h1-su001", "pods: &p\n      - *p\n      - {id: h1-su001", "phase1.yaml:21:11"),
        ("power:\n", "power: &p\n  again: *p\n", "phase1.yaml:9:8"),
    ],
    ids=["list-holding-itself", "mapping-holding-itself"],
)
def test_recursive_alias(old: str, new: str, where: str) -> None:
    edit(Path("phase1.yaml"), old, new)
    for command in ("validate", "plan"):
        out = refused(2, command, "phase1.yaml")
        assert "the YAML contains a recursive alias" in out and f"--> {where}" in out


def test_recursive_alias_at_the_top_level() -> None:
    Path("self.yaml").write_text("&top\ncampus: campus.yaml\nme: *top\n", encoding="utf-8")
    out = refused(2, "validate", "self.yaml")
    assert "recursive alias" in out and "--> self.yaml" in out


def test_deep_flow_nesting() -> None:
    Path("deep.yaml").write_text("campus: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    out = refused(2, "validate", "deep.yaml")
    assert "the YAML is nested too deeply to be a spec" in out
    assert "--> deep.yaml:1:109" in out  # the 101st bracket


def test_deep_block_nesting() -> None:
    Path("deep.yaml").write_text("campus:\n  " + "- " * 10_000 + "x\n", encoding="utf-8")  # block lists in lists
    out = refused(2, "plan", "deep.yaml")
    assert "the YAML is nested too deeply to be a spec" in out and "--> deep.yaml" in out


@pytest.mark.parametrize(
    ("old", "new", "message", "where"),
    [
        ("ready_by: 2025-12-31", "ready_by: 2025-02-30", "cannot read '2025-02-30' as !!timestamp", "8:11"),
        ("ready_by: 2025-12-31", "ready_by: 2025-12-31T25:00:00", "(hour must be in 0..23)", "8:11"),
        ("budget_mw: 40", "budget_mw: !!int forty", "cannot read 'forty' as !!int", "10:14"),
        ("budget_mw: 40", "budget_mw: !!float .", "cannot read '.' as !!float", "10:14"),
        ("rail_optimised: true", "rail_optimised: !!bool maybe", "cannot read 'maybe' as !!bool", "56:67"),
    ],
)
def test_scalar_that_matches_a_tag_but_makes_no_value(old: str, new: str, message: str, where: str) -> None:
    """ruamel raises Python's own ValueError, KeyError or IndexError for these; they must come back located."""
    edit(Path("phase1.yaml"), old, new)
    for command in ("validate", "plan"):
        out = refused(2, command, "phase1.yaml")
        assert message in out and f"--> phase1.yaml:{where}" in out


def test_top_level_list() -> None:
    Path("list.yaml").write_text("- campus: campus.yaml\n- id: phase1\n", encoding="utf-8")
    out = refused(2, "validate", "list.yaml")
    assert "the top level must be a mapping of keys to values, not list" in out
    assert "--> list.yaml:1:1" in out


def test_top_level_scalar() -> None:
    Path("scalar.yaml").write_text("just some words\n", encoding="utf-8")
    out = refused(2, "plan", "scalar.yaml")
    assert "the top level must be a mapping of keys to values, not str" in out


def test_multi_document_file() -> None:
    text = Path("phase1.yaml").read_text(encoding="utf-8")
    Path("both.yaml").write_text(text + "---\n" + text, encoding="utf-8")
    out = refused(2, "validate", "both.yaml")
    assert "expected a single document in the stream but found another document" in out
    assert f"--> both.yaml:{text.count(chr(10)) + 1}:1" in out  # at the `---`


def test_follows_a_missing_file() -> None:
    edit(Path("phase2.yaml"), "follows: phase1.yaml", "follows: phase0.yaml")
    out = refused(2, "plan", "phase2.yaml")
    assert "no such file: phase0.yaml" in out
    assert "the phase this one follows, phase0.yaml, cannot be loaded" in out
    assert "--> phase2.yaml:7:10 (follows)" in out


@pytest.mark.parametrize(
    ("follows", "shown"),
    [
        ('"phase\\0one.yaml"', "phase2.yaml:7:10"),  # a NUL byte in the path
        ("f" * 5000 + ".yaml", "phase2.yaml:7:10"),  # longer than any file name
        ("loop.yaml", "phase2.yaml:7:10"),  # a symlink to itself
    ],
)
def test_follows_a_path_that_cannot_be_opened(follows: str, shown: str) -> None:
    os.symlink("loop.yaml", "loop.yaml")
    edit(Path("phase2.yaml"), "follows: phase1.yaml", f"follows: {follows}")
    for command in ("validate", "plan"):
        out = refused(2, command, "phase2.yaml")
        assert "cannot be loaded" in out and f"--> {shown} (follows)" in out


def test_follows_a_campus_file() -> None:
    edit(Path("phase2.yaml"), "follows: phase1.yaml", "follows: campus.yaml")
    out = refused(1, "validate", "phase2.yaml")
    assert "campus.yaml is not a phase spec" in out and "--> phase2.yaml:7:10 (follows)" in out


def test_follows_itself() -> None:
    edit(Path("phase2.yaml"), "follows: phase1.yaml", "follows: phase2.yaml")
    out = refused(1, "plan", "phase2.yaml")
    assert "error[phases.cycle]: 'follows' leads back to phase2.yaml" in out
    assert "--> phase2.yaml:7:10 (follows)" in out
    assert "hint: each phase follows an earlier one" in out


def test_follows_in_a_circle() -> None:
    edit(Path("phase1.yaml"), "id: phase1\n", "id: phase1\nfollows: phase3.yaml\n")
    out = refused(1, "validate", "phase3.yaml")
    assert "'follows' leads back to phase3.yaml" in out and "--> phase1.yaml:8:10 (follows)" in out


def test_campus_file_missing() -> None:
    edit(Path("phase1.yaml"), "campus: campus.yaml", "campus: kampus.yaml")
    out = refused(2, "plan", "phase1.yaml")
    assert "no such file: kampus.yaml" in out
    assert "the campus file kampus.yaml cannot be loaded" in out and "--> phase1.yaml:6:9 (campus)" in out


def test_campus_file_unusable() -> None:
    Path("campus.yaml").write_text("name: [casablanca\n", encoding="utf-8")
    out = refused(2, "validate", "phase1.yaml")
    assert "not valid YAML" in out and "--> campus.yaml:2:1" in out
    assert "the campus file campus.yaml cannot be loaded" in out


def test_campus_file_given_to_plan() -> None:
    out = refused(2, "plan", "campus.yaml")
    assert "campus.yaml is not a phase spec (it has no 'campus:' key)" in out
    assert "hint: plan a phase file such as stacks/phase1.yaml; `kasbah validate` also accepts the campus file" in out


def test_unusable_input_as_json() -> None:
    Path("broken.yaml").write_text("key: [unclosed\nother: 1\n", encoding="utf-8")
    result = run("validate", "--json", "broken.yaml")
    assert result.exit_code == 2
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["code"] == "input.unusable" and finding["file"] == "broken.yaml"
    assert (finding["line"], finding["column"]) == (2, 6)


# --- valid YAML, invalid spec: exit 1 -----------------------------------------------------------------------------


def test_wrong_type_is_located_at_the_value() -> None:
    edit(Path("phase1.yaml"), "budget_mw: 40", 'budget_mw: "forty"')
    out = refused(1, "validate", "phase1.yaml")
    assert "power.budget_mw: Input should be a valid number (got 'forty')" in out
    assert "--> phase1.yaml:10:14 (power.budget_mw)" in out
    assert "hint: write the number without quotes" in out


def test_unknown_key_gets_a_did_you_mean() -> None:
    edit(Path("phase1.yaml"), "budget_mw: 40", "budgte_mw: 40")
    out = refused(1, "plan", "phase1.yaml")
    assert "error[spec.unknown-key]: unknown key 'budgte_mw'" in out
    assert "--> phase1.yaml:10:3 (power.budgte_mw)" in out
    assert "hint: did you mean 'budget_mw'?" in out
    assert "missing required key 'budget_mw' in power" in out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Input should be greater than 0 (got 0)"),
        ("-40", "Input should be greater than 0 (got -40)"),
        ("-0.0", "Input should be greater than 0 (got -0.0)"),
        (".nan", "Input should be a finite number (got nan)"),
        (".NaN", "Input should be a finite number (got nan)"),
        (".inf", "Input should be a finite number (got inf)"),
        ("-.inf", "Input should be a finite number (got -inf)"),
        ("1e400", "Input should be a finite number (got inf)"),
        (str(10**30), f"Input should be less than or equal to 5000 (got {10**30})"),
        ("1e30", "Input should be less than or equal to 5000 (got 1e+30)"),
        ("true", "Input should be a valid number (got True)"),
        ("~", "Input should be a valid number (got None)"),
    ],
)
def test_bad_numbers(value: str, message: str) -> None:
    edit(Path("phase1.yaml"), "budget_mw: 40", f"budget_mw: {value}")
    out = refused(1, "validate", "phase1.yaml")
    assert f"power.budget_mw: {message}" in out
    assert "--> phase1.yaml:10:14 (power.budget_mw)" in out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than or equal to 1"),
        ("-8", "greater than or equal to 1"),
        ("8.5", "valid integer"),
        (str(10**30), "less than or equal to 100000"),
        ("0x8", None),  # YAML 1.2 reads 0x8 as the integer 8: valid
    ],
)
def test_bad_counts(value: str, message: str | None) -> None:
    edit(Path("phase1.yaml"), "h1-su001, sku: gb200-nvl72, count: 8}", f"h1-su001, sku: gb200-nvl72, count: {value}}}")
    if message is None:
        assert run("validate", "phase1.yaml").exit_code == 0
        return
    out = refused(1, "validate", "phase1.yaml")
    assert message in out and "--> phase1.yaml:22:49 (halls[0].pods[0].count)" in out


def test_date_in_quotes() -> None:
    edit(Path("phase1.yaml"), "ready_by: 2025-12-31", 'ready_by: "2025-12-31"')
    out = refused(1, "validate", "phase1.yaml")
    assert "ready_by: Input should be a valid date" in out
    assert "--> phase1.yaml:8:11 (ready_by)" in out
    assert "hint: write the date unquoted as YYYY-MM-DD" in out


def test_misspelt_sku() -> None:
    edit(Path("phase1.yaml"), "h1-su003, sku: gb200-nvl72", "h1-su003, sku: gb200-nvl27")
    for command in ("validate", "plan"):
        out = refused(1, command, "phase1.yaml")
        assert "error[catalog.unknown-sku]: unknown system SKU 'gb200-nvl27'" in out
        assert "--> phase1.yaml:24:29 (halls[0].pods[2].sku)" in out
        assert "hint: did you mean 'gb200-nvl72'" in out


def test_three_mistakes_in_one_file_are_all_reported() -> None:
    edit(Path("phase1.yaml"), "design_pue: 1.2", 'design_pue: "1.2"')
    edit(Path("phase1.yaml"), "cooling: direct_liquid", "cooling: liquid")
    edit(Path("phase1.yaml"), "h2-su014, sku: gb200-nvl72, count: 8}", "h2-su014, sku: gb200-nvl72, count: 0}")
    result = run("validate", "--json", "phase1.yaml")
    assert result.exit_code == 1
    errors = [f for f in json.loads(result.stdout)["findings"] if f["level"] == "error"]
    assert [(f["file"], f["line"], f["column"], f["path"]) for f in errors] == [
        ("phase1.yaml", 12, 15, "power.design_pue"),
        ("phase1.yaml", 19, 14, "halls[0].cooling"),
        ("phase1.yaml", 54, 49, "halls[1].pods[13].count"),
    ]
    text = refused(1, "validate", "phase1.yaml")
    assert "3 error(s)" in text


def test_mistakes_in_several_files_are_all_reported() -> None:
    edit(Path("campus.yaml"), "design_pue: 1.2 ", "design_pue: 0 ")
    edit(Path("phase1.yaml"), "budget_mw: 40", "budget_mw: -40")
    edit(Path("phase2.yaml"), "ready_by: 2027-06-30", "ready_by: someday")
    edit(Path("phase3.yaml"), "basis: facility", "basis: facilities")
    out = refused(1, "plan", "phase3.yaml")
    for where in ("campus.yaml:17:13", "phase1.yaml:10:14", "phase2.yaml:8:11", "phase3.yaml:11:10"):
        assert f"--> {where}" in out
    assert "did you mean 'facility'?" in out
    assert "4 error(s)" in out


# --- the real console script: no traceback on stderr, never the internal-error exit 70 ----------------------------


PHASE1 = Path(REPO, "stacks/phase1.yaml").read_bytes()


@pytest.mark.parametrize(
    ("command", "name", "content", "code", "shown"),
    [
        ("validate", "broken.yaml", b"key: [unclosed\nother: 1\n", 2, "broken.yaml:2:6"),
        ("plan", "garbage.yaml", bytes(range(256)) * 8, 2, "garbage.yaml is binary"),
        ("validate", "laughs.yaml", BOMB.encode(), 2, "alias bomb"),
        ("plan", "deep.yaml", b"a: " + b"[" * 10_000 + b"]" * 10_000, 2, "nested too deeply"),
        ("validate", "self.yaml", b"campus: campus.yaml\nhalls: &h [*h]\n", 2, "recursive alias"),
        ("plan", "latin1.yaml", b"campus: caf\xe9.yaml\n", 2, "latin1.yaml:1:12"),
        ("plan", "p" * 5000, None, 2, "cannot read ppp"),
        ("validate", "phase1.yaml", PHASE1.replace(b"2025-12-31", b'"2025-12-31"'), 1, "phase1.yaml:8:11"),
        ("plan", "phase1.yaml", PHASE1.replace(b"campus: campus.yaml", b"campus: /dev/zero"), 2, "regular file"),
        ("validate", "phase1.yaml", PHASE1.replace(b"2025-12-31", b"2025-02-30"), 2, "phase1.yaml:8:11"),
    ],
    ids=[
        *("not-yaml", "binary", "alias-bomb", "deep", "recursive", "latin1", "long-name", "quoted-date", "dev-zero"),
        "impossible-date",
    ],
)
def test_console_script(command: str, name: str, content: bytes | None, code: int, shown: str) -> None:
    """`python -m kasbah.cli` runs main(), which would turn a crash into exit 70: the code must be the real one."""
    if content is not None:
        Path(name).write_bytes(content)
    before = _tree(Path.cwd().parent)
    proc = subprocess.run(
        [sys.executable, "-m", "kasbah.cli", command, name],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=120,
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert shown in proc.stderr
    assert proc.stdout == ""
    assert _tree(Path.cwd().parent) == before, "the command wrote to disk"


def test_nothing_is_written_beside_the_inputs(tmp_path: Path) -> None:
    """`run` checks this for every command above; here once more, listing the directory by hand."""
    names = sorted(p.name for p in tmp_path.rglob("*"))
    edit(Path("phase1.yaml"), "budget_mw: 40", "budget_mw: .nan")
    refused(1, "plan", "phase1.yaml")
    refused(2, "plan", "phase9.yaml")
    assert sorted(p.name for p in tmp_path.rglob("*")) == names
