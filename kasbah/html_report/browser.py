"""How the report's tests, bench and screenshots start Debian's chromium headless on a machine with no network.

Without the background-networking flags chromium keeps opening connections that a closed network refuses; as root
it needs --no-sandbox. One list, so the test, the bench and the README's pictures see the same browser.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
