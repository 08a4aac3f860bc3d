"""The lab's paging gateways: one webhook sink per alert receiver of the spec, in the campus's namespace.

The spec's receiver URLs name the campus's gateways, which the lab cannot reach: `lab_urls` keeps each URL's path
and query and replaces its scheme and host with the sink of the receiver's owner (`http://127.0.0.1:<port>`, inside
the monitoring namespace, where Alertmanager runs), and `kasbah.lab.monitoring.lab_source` writes that into the
lab's copy of alertmanager.yml. The bearer token stays the lab's vault value, written by the monitoring role as on the
campus. A sink records each request as one JSON line: when it arrived (epoch seconds), its path, its Authorization
header with the credentials replaced by their SHA-256 (the token never reaches a file), and its JSON body. The lab
starts the sinks and stops them by PID like its other daemons; the drill reads the records to check that the page
reached the WAN owner's receiver with the right token.

    python -m kasbah.lab.webhook --listen 127.0.0.1:9680 --record /run/kasbah-lab/webhooks/wan.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kasbah.monitoring.rules import OWNERS

HOST = "127.0.0.1"
BASE_PORT = 9680
"""Sink of owner OWNERS[i] listens on BASE_PORT + i in the monitoring namespace (free there: Prometheus, Alertmanager
and blackbox hold 9090, 9093, 9115)."""
READY_PATH = "/-/ready"


def port(owner: str) -> int:
    return BASE_PORT + OWNERS.index(owner)


def sink_url(owner: str) -> str:
    return f"http://{HOST}:{port(owner)}"


def lab_url(url: str, owner: str) -> str:
    """`url` with its scheme and host (and port) replaced by the owner's sink: path and query stay."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(("http", f"{HOST}:{port(owner)}", parts.path or "/", parts.query, ""))


def owner_of(receiver: str) -> str | None:
    """The owner of an Alertmanager receiver named `<owner>-page` or `<owner>-ticket` (None for any other)."""
    owner, _, kind = receiver.rpartition("-")
    return owner if owner in OWNERS and kind in ("page", "ticket") else None


def credential_digest(authorization: str | None) -> str | None:
    """`Bearer abc` -> `Bearer sha256:<hex of abc>`: what a sink records, and what the drill compares against."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    return f"{scheme} sha256:{hashlib.sha256(credentials.encode()).hexdigest()}"


def record_path(directory: Path, owner: str) -> Path:
    return directory / "webhooks" / f"{owner}.jsonl"


def requests(directory: Path, owner: str) -> list[dict[str, Any]]:
    """What the owner's sink has received so far, oldest first (a line being written is skipped)."""
    path = record_path(directory, owner)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def args(directory: Path, owner: str) -> list[str]:
    """The sink's command line (this interpreter, so the lab's Python and this module)."""
    return [
        sys.executable,
        "-m",
        "kasbah.lab.webhook",
        "--listen",
        f"{HOST}:{port(owner)}",
        "--record",
        str(record_path(directory, owner)),
    ]


# -- the server ------------------------------------------------------------------------------------------------------
def serve(listen: str, record: Path) -> None:
    host, _, port_text = listen.rpartition(":")
    record.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = os.fdopen(fd, "a", encoding="utf-8")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == READY_PATH else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            arrived = time.time()
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            entry = {
                "t": round(arrived, 6),
                "path": self.path,
                "authorization": credential_digest(self.headers.get("Authorization")),
                "body": body,
            }
            with lock:
                out.write(json.dumps(entry, sort_keys=True) + "\n")
                out.flush()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, int(port_text)), Handler)
    try:
        server.serve_forever()
    finally:
        out.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A webhook sink of the Kasbah lab.")
    parser.add_argument("--listen", required=True, help="host:port")
    parser.add_argument("--record", required=True, type=Path, help="JSON-lines file of the requests received")
    ns = parser.parse_args(argv)
    serve(ns.listen, ns.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
