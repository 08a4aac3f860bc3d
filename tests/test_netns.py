"""kasbah.netns on its own: namespace bookkeeping and the guards that keep a half-built lab from lingering."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kasbah import netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def test_namespace_create_twice_fails_and_delete_is_idempotent() -> None:
    name = f"kt{os.getpid() % 100000}-solo"
    netns.add_namespace(name)
    try:
        assert name in netns.namespaces()
        with pytest.raises(netns.NetnsError, match="netns add"):
            netns.add_namespace(name)
        netns.add_address(name, "lo", "192.0.2.1/32")
        assert "192.0.2.1" in netns.run(["ip", "-4", "addr", "show", "lo"], netns=name)
    finally:
        netns.delete_namespace(name)
    assert name not in netns.namespaces()
    netns.delete_namespace(name)  # a second cleanup is harmless


def test_frr_dirs_unreachable_by_user_frr_are_refused() -> None:
    with tempfile.TemporaryDirectory() as tmp:  # mode 0700: user frr cannot enter it
        Path(tmp).chmod(0o700)
        instance = netns.FrrInstance("unused", Path(tmp) / "r1")
        with pytest.raises(netns.NetnsError, match="user frr cannot reach"):
            instance.prepare()


def test_check_config_reports_the_bad_line() -> None:
    ok, _ = netns.check_config("router bgp 65000\n neighbor 192.0.2.2 remote-as 65001\n")
    bad, message = netns.check_config("router bgp 65000\n neighbor 192.0.2.2 remote-as sixty\n")
    assert ok and not bad
    assert "line 2" in message
