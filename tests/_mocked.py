"""Run any Pulumi program (a function) under the SDK's mocks with kasbah.preview's recording monitor.

Besides what `kasbah.preview.Registered` keeps, it keeps each registration's alias specs (by URN), so a test can
see which old names a renamed resource declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kasbah.preview import Registered, _event_loop, _mocks_class, _pulumi_config, _recorder


@dataclass
class Mocked:
    resources: list[Registered]
    aliases: dict[str, list[Any]] = field(default_factory=dict)

    def named(self, name: str) -> Registered:
        (found,) = [r for r in self.resources if r.name == name]
        return found

    def urns(self) -> list[str]:
        return [r.urn for r in self.resources]


def run_mocked(
    program: Callable[[], Any], *, stack: str = "test", project: str = "test", config: dict | None = None
) -> Mocked:
    """Every registration of `program` (sorted by URN; a duplicate URN appears twice)."""
    import pulumi
    from pulumi.runtime import settings

    mocks = _mocks_class()({})
    base = type(_recorder(mocks))

    class AliasRecorder(base):  # type: ignore[misc, valid-type]
        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)
            with self.lock:
                self.aliases.setdefault(response.urn, []).extend(request.aliases)
            return response

    monitor = AliasRecorder(mocks)
    monitor.aliases = {}
    with _pulumi_config(config or {}), _event_loop():
        settings.ROOT.set(None)
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
        try:
            pulumi.runtime.test(program)()
        finally:
            settings.ROOT.set(None)
    return Mocked(sorted(monitor.records, key=lambda r: r.urn), monitor.aliases)
