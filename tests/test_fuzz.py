"""Random and mutated YAML never produce a traceback: only SpecError, findings that name their file, exit 0, 1 or 2.

Every test is derandomized (the same examples on every run, so CI is deterministic) and keeps no example database.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kasbah.cli import app
from kasbah.findings import Finding, Level, SpecError
from kasbah.plan.derive import derive
from kasbah.spec.campus import Campus
from kasbah.spec.load import is_phase_doc, load_spec
from kasbah.spec.phase import Phase
from kasbah.yamlsource import SourceDoc, load_file, parse_text
from tests.conftest import REPO

# ruamel warns (on stderr, no traceback) when a mutation defines the same anchor twice, which YAML allows.
pytestmark = pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")

ENV = {"KASBAH_WIDTH": "120", "NO_COLOR": "1"}
STACKS = REPO / "stacks"


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- arbitrary text into the YAML reader --------------------------------------------------------------------------

YAMLISH = st.text(alphabet=st.sampled_from(list("ab1.-_: \n\t[]{},&*!|>'\"#?%@`~\\\r\x85\u2028\ufeff\x00é")))


def check_parse(text: str) -> None:
    """parse_text returns a SourceDoc of a mapping, or raises SpecError with a located, unusable-input finding."""
    lines = len(text.splitlines()) + 1
    try:
        doc = parse_text(text, "fuzz.yaml")
    except SpecError as exc:
        assert exc.exit_code == 2 and exc.findings
        for f in exc.findings:
            assert f.file == "fuzz.yaml" and f.message and f.code.startswith("input.")
            assert f.line is None or 1 <= f.line <= lines, (f, text)
            assert f.column is None or f.column >= 1
        return
    assert isinstance(doc, SourceDoc) and isinstance(doc.data, dict)
    for line, col in [*doc.value_pos.values(), *doc.key_pos.values()]:
        assert 1 <= line <= lines and col >= 1


@fuzz(400)
@given(st.text())
def test_any_text_parses_or_is_refused(text: str) -> None:
    check_parse(text)


@fuzz(400)
@given(YAMLISH)
def test_yaml_punctuation_parses_or_is_refused(text: str) -> None:
    check_parse(text)


@fuzz(200)
@given(st.binary())
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    check_parse(data.decode("utf-8", errors="replace"))


@fuzz(100)
@given(st.binary(max_size=300) | YAMLISH.map(lambda t: t.encode("utf-8")))
def test_any_file_loads_or_is_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "fuzz.yaml")
        path.write_bytes(data)
        try:
            doc = load_file(path, "fuzz.yaml")
        except SpecError as exc:
            assert exc.exit_code == 2
            assert all(f.file == "fuzz.yaml" and f.message for f in exc.findings)
        else:
            assert isinstance(doc.data, dict)


# --- mutations of the example stacks ------------------------------------------------------------------------------

ODD_SCALARS = [  # YAML that parses, into values a spec may not hold
    *(".nan", ".NaN", ".inf", "-.inf", "1e400", "-1e400", str(10**30), str(-(10**30)), "0", "-0.0", "-1", "1.5"),
    *("~", "null", "true", "no", "yes", "''", '""', "' '", "0x1F", "0o17", "0b101", "1_000", "+12", "1:30"),
    *("2025-02-30", "2025-12-31T25:61:00", "2025-12-31 10:00:00+01:00", "12:30:45", "2025-12-31", "0000-01-01"),
    *("!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", "!tag x", "!!str 5", "!!python/name:os.system"),
    *("!!int x", "!!int 0x", "!!float .", "!!bool maybe", "!!timestamp x", "!!null x", "!!map [a]", "!!seq {a: 1}"),
    *("gb200-nvl27", "gb200-nvl72", "qm9700", "medusa", "h1", "h1-su001", "edge1", "facility", "it_load", "2N"),
    *("campus.yaml", "phase1.yaml", "phase2.yaml", "phase3.yaml", ".", "..", "/", "/dev/null", "x" * 300),
    *('"\\x00"', "'\u2028'", "[]", "{}", "[[]]", "{? [a, b]: c}", "{[a]: 1}", "[a, &x b, *x]", "{<<: {id: h9}}"),
]
BREAKERS = [  # YAML that does not parse, or changes the structure around it
    *("|", ">", "|-\n  text", "'unclosed", '"unclosed', "[", "{", "]", "}", "[a, ", "{a: ", "- x", "? x", ":", "#"),
    *("%YAML 1.1", "---", "...", "\t", "<<: *a", "<<: [1]", "a: b: c", "\ufeff", "&a", "*a", "*nope", "&a x", "@x"),
    *("&r [*r]", "&r {again: *r}", "[" * 200 + "]" * 200),
]
KEYS = sorted(
    {*Phase.model_fields, *Campus.model_fields}
    | {"budget_mw", "budgte_mw", "basis", "design_pue", "pods", "sku", "count", "units_per_rack", "cooling"}
    | {"power_limit_mw", "max_rack_kw", "switch", "kind", "gbps", "cable", "leased_gbps", "hubs", "km", "share"}
    | {"<<", "1", "true", "~", "", "-", "a b", "\u00e9t\u00e9"}
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
VALUES = (
    st.sampled_from(ODD_SCALARS)
    | st.integers().map(str)
    | st.floats().map(repr)
    | st.text(max_size=20).map(json.dumps)
    | JSONISH.map(lambda v: json.dumps(v, ensure_ascii=False))
    | st.sampled_from(BREAKERS)
    | st.text(alphabet="ab1 -:[]{},&*!#'\"", max_size=10)
)
INDEX = st.integers(min_value=0, max_value=10_000)
MUTATION = st.one_of(
    st.tuples(st.just("delete"), INDEX),
    st.tuples(st.just("duplicate"), INDEX),
    st.tuples(st.just("swap"), INDEX, INDEX),
    st.tuples(st.just("value"), INDEX, INDEX, VALUES),
    st.tuples(st.just("key"), INDEX, st.sampled_from(KEYS) | st.from_regex(r"[a-z_]{1,10}", fullmatch=True), VALUES),
    st.tuples(st.just("truncate"), INDEX),
)
_VALUE_SPOT = re.compile(r"(?<=: )[^,{}\[\]#\n]+")  # a scalar after `key: `, up to a flow separator or a comment


def mutate(text: str, mutations: list[tuple]) -> str:
    """Apply line-level mutations: delete, duplicate or swap lines, replace a value, insert a key, truncate."""
    lines = text.split("\n")
    for op, *args in mutations:
        if not lines:
            lines = [""]
        i = args[0] % len(lines)
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = args[1] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value":
            spots = list(_VALUE_SPOT.finditer(lines[i]))
            value = args[2].replace("\n", "\n" + " " * 8)
            if spots:
                m = spots[args[1] % len(spots)]
                lines[i] = lines[i][: m.start()] + value + lines[i][m.end() :]
            else:
                indent = len(lines[i]) - len(lines[i].lstrip())
                lines[i] = lines[i][:indent] + value
        elif op == "key" and "{" in lines[i]:  # into a flow mapping
            at = lines[i].index("{") + 1
            lines[i] = f"{lines[i][:at]}{args[1]}: {args[2]}, {lines[i][at:]}"
        elif op == "key":  # a sibling of the key on line i
            indent = re.match(r"[ -]*", lines[i]).group().replace("-", " ")
            lines.insert(i + 1, f"{indent}{args[1]}: {args[2]}")
        elif op == "truncate":
            joined = "\n".join(lines)
            lines = joined[: args[0] % (len(joined) + 1)].split("\n")
    return "\n".join(lines)


def check_finding(f: Finding) -> None:
    assert isinstance(f, Finding) and f.file and f.message and f.code, f
    assert (f.line is None or f.line >= 1) and (f.column is None or f.column >= 1), f
    if f.line is not None and Path(f.file).is_file():
        text = Path(f.file).read_text(encoding="utf-8", errors="replace")
        assert f.line <= len(text.splitlines()) + 1, f


def check_spec(root: Path, target: str) -> None:
    """load_spec + derive raise nothing but SpecError; every finding is located; `validate` agrees and exits 0/1/2."""
    path = root / target
    try:
        loaded = load_spec(path)
    except SpecError as exc:
        findings, expected = exc.findings, exc.exit_code
        assert findings and expected in (1, 2)
    else:
        _plan, findings = derive(loaded)
        expected = 1 if any(f.level >= Level.ERROR for f in findings) else 0
    for f in findings:
        check_finding(f)

    result = CliRunner().invoke(app, ["validate", str(path)], env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1, 2), result.output
    try:
        is_phase = is_phase_doc(load_file(path))
    except SpecError:
        is_phase = True  # validate and load_spec refuse an unusable target alike
    if is_phase:  # a target that lost its `campus:` key is validated as a campus file instead
        assert result.exit_code == expected, result.output


def run_mutated(mutated: str, mutations: list[tuple], target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("campus.yaml", "phase1.yaml", "phase2.yaml"):
            shutil.copy(STACKS / name, root / name)
        source = (STACKS / mutated).read_text(encoding="utf-8")
        (root / mutated).write_text(mutate(source, mutations), encoding="utf-8")
        check_spec(root, target)


@fuzz(120)
@given(st.lists(MUTATION, min_size=1, max_size=4))
@example([("value", 7, 0, "2025-02-30")])  # ruamel raised a bare ValueError for an impossible date
@example([("value", 9, 0, "!!int forty")])  # ... and for an explicit tag on a scalar that is not one
@example([("value", 9, 0, "&r [*r]")])  # ruamel made a recursive alias None instead of refusing it
@example([("value", 5, 0, "/dev/zero")])  # the campus file was read until memory ran out
def test_mutated_phase(mutations: list[tuple]) -> None:
    run_mutated("phase1.yaml", mutations, "phase1.yaml")


@fuzz(80)
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_campus(mutations: list[tuple]) -> None:
    run_mutated("campus.yaml", mutations, "phase1.yaml")


@fuzz(30)
@given(st.sampled_from(["campus.yaml", "phase1.yaml", "phase2.yaml"]), st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_chain(mutated: str, mutations: list[tuple]) -> None:
    """Phase 2 follows phase 1 and names the campus: a mutation anywhere in that chain is still only findings."""
    run_mutated(mutated, mutations, "phase2.yaml")


def test_mutations_do_what_they_say() -> None:
    text = "a: 1\nb: {c: 2, d: 3}\n- e"
    assert mutate(text, [("delete", 0)]) == "b: {c: 2, d: 3}\n- e"
    assert mutate(text, [("duplicate", 3)]) == "a: 1\na: 1\nb: {c: 2, d: 3}\n- e"
    assert mutate(text, [("swap", 0, 2)]) == "- e\nb: {c: 2, d: 3}\na: 1"
    assert mutate(text, [("value", 1, 1, "[x]")]) == "a: 1\nb: {c: 2, d: [x]}\n- e"
    assert mutate(text, [("key", 0, "k", "v")]) == "a: 1\nk: v\nb: {c: 2, d: 3}\n- e"
    assert mutate(text, [("key", 1, "k", "v")]) == "a: 1\nb: {k: v, c: 2, d: 3}\n- e"
    assert mutate(text, [("key", 2, "k", "v")]) == "a: 1\nb: {c: 2, d: 3}\n- e\n  k: v"
    assert mutate(text, [("truncate", 6)]) == "a: 1\nb"
