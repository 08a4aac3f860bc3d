"""The lab's webhook sinks and how the lab points Alertmanager at them, without root: the URL rewrite of the rendered
alertmanager.yml (paths and queries kept, hosts on the owner's sink, nothing else changed, amtool still accepts it),
and a sink recording what Alertmanager would post, with the bearer token only as a digest."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kasbah.lab import monitoring as labmon
from kasbah.lab import webhook
from kasbah.monitoring.rules import OWNERS
from kasbah.plan.derive import Plan
from kasbah.plan.monitoring import ReceiverPlan
from kasbah.render.monitoring import alertmanager_yml
from tests.conftest import edit, plan_of
from tests.test_lab_live import lab_stacks

AMTOOL = shutil.which("amtool")


@functools.cache
def _phase1() -> Plan:
    plan, _ = plan_of(Path(__file__).resolve().parents[1] / "stacks" / "phase1.yaml")
    assert plan is not None
    return plan


_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)
_HOST = st.from_regex(r"[a-z][a-z0-9\-]{0,10}(\.[a-z][a-z0-9\-]{0,10}){0,3}", fullmatch=True)


@st.composite
def webhook_url(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    path = "/".join(draw(st.lists(_SEGMENT, min_size=0, max_size=4)))
    query = draw(
        st.one_of(st.none(), st.from_regex(r"[a-z]{1,6}=[a-z0-9]{1,6}(&[a-z]{1,6}=[a-z0-9]{1,6})?", fullmatch=True))
    )
    host = draw(_HOST) + (f":{port}" if port else "")
    return f"{scheme}://{host}/{path}" + (f"?{query}" if query else "")


@settings(max_examples=60, deadline=None)
@given(
    receivers=st.dictionaries(
        st.sampled_from(OWNERS),
        st.tuples(st.one_of(st.none(), webhook_url()), st.one_of(st.none(), webhook_url()), st.booleans()),
        min_size=1,
    )
)
def test_every_webhook_moves_to_its_owners_sink_with_path_and_query_kept(receivers: dict) -> None:
    plan = _phase1()
    monitoring = plan.monitoring.model_copy(
        update={
            "receivers": [
                ReceiverPlan(owner=o, page_url=page, ticket_url=ticket, token_var=f"vault_tok_{o}" if tok else None)
                for o, (page, ticket, tok) in receivers.items()
            ]
        }
    )
    text = alertmanager_yml(plan.model_copy(update={"monitoring": monitoring}))
    lab = labmon.lab_alertmanager(text)
    before, after = labmon.webhook_urls(text), labmon.webhook_urls(lab)
    assert before.keys() == after.keys()
    for receiver, urls in before.items():
        owner = webhook.owner_of(receiver)
        assert owner is not None
        for old, new in zip(urls, after[receiver], strict=True):
            parts = urllib.parse.urlsplit(old)
            assert new == webhook.sink_url(owner) + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Nothing but the URLs changed: the same YAML with the URLs put back.
    back = yaml.safe_load(lab)
    for r in back["receivers"]:
        for w, old in zip(r.get("webhook_configs") or [], before.get(r["name"], []), strict=True):
            w["url"] = old
    assert back == yaml.safe_load(text)
    assert [line for line in lab.splitlines() if "url:" not in line] == [
        line for line in text.splitlines() if "url:" not in line
    ]


@pytest.mark.skipif(AMTOOL is None, reason="amtool (Debian package prometheus-alertmanager) not installed")
def test_amtool_accepts_the_lab_alertmanager_config(tmp_path: Path) -> None:
    stacks = lab_stacks(tmp_path)
    # A query string on the gateway's URL survives the lab's redirect to its sink.
    edit(stacks / "campus.yaml", "/hooks/wan/page'", "/hooks/wan/page?team=wan'")
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    path = tmp_path / "alertmanager.yml"
    path.write_text(labmon.lab_alertmanager(alertmanager_yml(plan)), encoding="utf-8")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "wan.token").write_text("x", encoding="utf-8")
    r = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    urls = labmon.webhook_urls(path.read_text(encoding="utf-8"))
    assert urls == {
        "wan-page": [webhook.sink_url("wan") + "/hooks/wan/page?team=wan"],
        "wan-ticket": [webhook.sink_url("wan") + "/hooks/wan"],
    }
    assert labmon.sink_owners(tmp_path) == ["wan"]


def test_a_receiver_not_named_by_owner_is_refused() -> None:
    text = "receivers:\n  - name: pager\n    webhook_configs:\n      - url: 'https://x/y'\n"
    with pytest.raises(ValueError, match="pager"):
        labmon.lab_alertmanager(text)


@pytest.mark.parametrize("owner", OWNERS)
def test_sinks_have_distinct_ports_off_the_monitoring_daemons(owner: str) -> None:
    ports = {webhook.port(o) for o in OWNERS}
    assert len(ports) == len(OWNERS)
    assert webhook.port(owner) not in (9090, 9093, 9115, 9342)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer s3cret", "Bearer sha256:" + hashlib.sha256(b"s3cret").hexdigest()),
        ("Basic dXNlcjpwdw==", "Basic sha256:" + hashlib.sha256(b"dXNlcjpwdw==").hexdigest()),
        (None, None),
    ],
)
def test_credentials_are_recorded_as_digests(header: str | None, expected: str | None) -> None:
    assert webhook.credential_digest(header) == expected


def test_a_sink_records_path_token_digest_and_body(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    record = tmp_path / "webhooks" / "wan.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kasbah.lab.webhook", "--listen", f"127.0.0.1:{port}", "--record", str(record)],
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{webhook.READY_PATH}", timeout=1) as r:
                    assert r.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "the sink did not answer"
                time.sleep(0.05)
        bodies = [
            {"status": "firing", "alerts": [{"labels": {"alertname": "WanBfdDown", "cable": f"c{i}"}}]}
            for i in range(3)
        ]
        t0 = time.time()
        for i, body in enumerate(bodies):
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/hooks/wan/page?n={i}",
                data=json.dumps(body).encode(),
                headers={"Authorization": "Bearer tok-123", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.status == 200
        got = webhook.requests(tmp_path, "wan")
        assert [g["path"] for g in got] == [f"/hooks/wan/page?n={i}" for i in range(3)]
        assert [g["body"] for g in got] == bodies
        assert all(g["authorization"] == webhook.credential_digest("Bearer tok-123") for g in got)
        assert all(t0 - 1 <= g["t"] <= time.time() for g in got)
        assert "tok-123" not in record.read_text()
        assert record.stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        proc.wait(timeout=5)
