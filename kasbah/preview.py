"""`kasbah preview`: the phase stack's resource graph, offline, under the Pulumi SDK's mocks.

No Pulumi CLI, no credentials, no network: the real program (`kasbah.pulumi_program.run`) runs in this process
against `pulumi.runtime.set_mocks`; a recording monitor keeps every registration (type, name, inputs, parent,
dependencies, protect). Secrets get placeholders, and the first phase's stack outputs are answered from the plan,
so a later phase previews without its campus stack. Same spec, same output.

Each run gets an event loop of its own, settled and closed when the program is done: the SDK leaves RPC tasks and
futures behind, and when the interpreter later destroyed them still pending, asyncio printed "Task was destroyed
but it is pending!" tracebacks on stderr after a successful preview (intermittently: it depends on thread timing).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kasbah.plan.derive import Plan
from kasbah.pulumi_program import NAMESPACE, ProgramError, load_plan, required_secrets

PROJECT = "kasbah"
PLACEHOLDER = "preview-placeholder"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
REPO = Path(__file__).resolve().parents[1]
SETTLE_S = 5.0
"""How long leftover tasks of a finished program may take to finish before they are cancelled."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    """One registered resource as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: tuple[str, ...]
    protect: bool
    custom: bool
    provider: str
    inputs: dict[str, Any]


@dataclass
class PreviewResult:
    stack: str
    resources: list[Registered]
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_urn(self) -> dict[str, Registered]:
        return {r.urn: r for r in self.resources}

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))


def campus_outputs(plan: Plan) -> dict[str, Any]:
    """What the first phase's stack exports for later phases (`storage`), as the plan says it will be."""
    return {
        "storage": {
            "endpoint": plan.storage.endpoint,
            "region": plan.storage.region,
            "buckets": {b.purpose: b.name for b in sorted(plan.storage.buckets, key=lambda b: b.purpose)},
        }
    }


def _mocks_class() -> type:
    import pulumi

    class KasbahMocks(pulumi.runtime.Mocks):
        """Answers by type token: buckets get their name as id and an ARN, commands an empty stdout, stack
        references the outputs given for their stack name."""

        def __init__(self, stack_outputs: Mapping[str, dict[str, Any]]) -> None:
            self.stack_outputs = stack_outputs

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            state = dict(args.inputs)
            if args.typ == STACK_REFERENCE:
                name = str(args.inputs.get("name", args.name))
                return name, {"name": name, "outputs": self.stack_outputs.get(name, {}), "secretOutputNames": []}
            if args.typ == "aws:s3/bucket:Bucket":
                bucket = str(args.inputs.get("bucket") or args.name)
                state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
                return bucket, state
            if args.typ == "command:local:Command":
                state.update(stdout="", stderr="")
            return f"{args.name}-id", state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
            return {}, None

    return KasbahMocks


def _unwrap(value: Any) -> Any:
    """Plain values for secret-wrapped ones (`kasbah preview` masks secrets when it prints; see `_mask`)."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _recorder(mocks: Any) -> Any:
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class Recorder(MockMonitor):
        """A MockMonitor that also keeps what the engine would get: parent, dependencies, protect, provider."""

        def __init__(self, m: Any) -> None:
            super().__init__(m)
            self.records: list[Registered] = []
            self.lock = threading.Lock()
            self.thread_loops: list[asyncio.AbstractEventLoop] = []
            self.local = threading.local()

        def _thread_loop(self) -> None:
            """An event loop this monitor owns for the calling worker thread, before the SDK makes one of its own.

            The SDK's MockMonitor gives each executor thread a loop it never closes; at exit the interpreter
            destroyed them after their self-pipe sockets and printed "Exception ignored in BaseEventLoop.__del__
            ... Invalid file descriptor: -1" on stderr after a successful preview (intermittently).
            """
            if threading.current_thread() is threading.main_thread() or getattr(self.local, "loop", None):
                return
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.local.loop = loop
            with self.lock:
                self.thread_loops.append(loop)

        def close_thread_loops(self) -> None:
            """Close the worker threads' loops (call once the executor's threads have ended)."""
            with self.lock:
                loops, self.thread_loops = self.thread_loops, []
            for loop in loops:
                loop.close()

        def _keep(self, request: Any, urn: str, props: Any, protect: bool, custom: bool) -> None:
            record = Registered(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                dependencies=tuple(sorted(request.dependencies)),
                protect=protect,
                custom=custom,
                provider=request.provider.rsplit("::", 1)[0] if request.provider else "",
                inputs=_unwrap(rpc.deserialize_properties(props)),
            )
            with self.lock:
                self.records.append(record)

        def Invoke(self, request: Any) -> Any:
            self._thread_loop()
            return super().Invoke(request)

        def RegisterResource(self, request: Any) -> Any:
            self._thread_loop()
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                self._keep(request, response.urn, request.object, bool(request.protect), bool(request.custom))
            return response

        def ReadResource(self, request: Any) -> Any:
            self._thread_loop()
            response = super().ReadResource(request)
            self._keep(request, response.urn, request.properties, False, True)
            return response

    return Recorder(mocks)


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Leftovers of a finished run (a task destroyed pending, a future's exception nobody read): debug, not stderr.

    The program's own failures reach the caller as exceptions of the run; these come after it and mean nothing.
    """
    log.debug("preview event loop: %s", context.get("message"), exc_info=context.get("exception"))


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let the tasks a finished run left behind end (cancel what is still running after SETTLE_S), read their
    results, and stop the loop's async generators and executor threads, so closing the loop leaves nothing."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=SETTLE_S))
        for task in pending:
            if not task.done():
                task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())


@contextmanager
def _event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop for one run (the SDK takes the current one), settled and closed afterwards."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        try:
            _settle(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


@contextmanager
def _pulumi_config(config: Mapping[str, str]) -> Iterator[None]:
    """Exactly `config` as the stack's configuration (PULUMI_CONFIG and the SDK's in-process map), then restore."""
    from pulumi.runtime import config as runtime_config

    saved_env = os.environ.get("PULUMI_CONFIG")
    saved_map = dict(runtime_config.CONFIG.get())
    os.environ["PULUMI_CONFIG"] = json.dumps(dict(config))
    runtime_config.set_all_config(dict(config))
    try:
        yield
    finally:
        runtime_config.set_all_config(saved_map)
        if saved_env is None:
            os.environ.pop("PULUMI_CONFIG", None)
        else:
            os.environ["PULUMI_CONFIG"] = saved_env


def run_program(
    config: Mapping[str, str],
    stack: str,
    *,
    root: Path = REPO,
    stack_outputs: Mapping[str, dict[str, Any]] | None = None,
    dry_run: bool = True,
) -> PreviewResult:
    """Run the phase program under mocks with `config` (full keys, `kasbah:spec`...). Raises ProgramError."""
    import pulumi
    from pulumi.runtime import settings

    from kasbah import pulumi_program

    mocks = _mocks_class()(stack_outputs or {})
    monitor = _recorder(mocks)
    outputs: dict[str, Any] = {}
    failure: list[BaseException] = []

    def program() -> Any:
        try:
            result = pulumi_program.run(root)
        except ProgramError as exc:
            failure.append(exc)
            return None
        return pulumi.Output.from_input(result).apply(outputs.update)

    try:
        with _pulumi_config(config), _event_loop():
            settings.ROOT.set(None)  # a fresh root stack per run (set_mocks only makes one when there is none)
            pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=dry_run, monitor=monitor)
            try:
                pulumi.runtime.test(program)()
            finally:
                settings.ROOT.set(None)
    finally:
        monitor.close_thread_loops()  # the executor's threads were joined when the run's loop was settled
    if failure:
        raise failure[0]
    records = sorted(monitor.records, key=lambda r: r.urn)
    return PreviewResult(stack=stack, resources=records, outputs=outputs)


def preview_config(spec: Path, plan: Plan) -> dict[str, str]:
    """The config a phase stack would have, with placeholders for its secrets."""
    cfg = {f"{NAMESPACE}:spec": str(spec), f"{NAMESPACE}:buildDir": "build", f"{NAMESPACE}:phase": plan.phase}
    first = plan.phases[0].id
    if first != plan.phase:
        cfg[f"{NAMESPACE}:campusStack"] = f"organization/{PROJECT}/{first}"
    for key in required_secrets(plan):
        cfg[f"{NAMESPACE}:{key}"] = PLACEHOLDER
    return cfg


def _spec_arg(spec: Path, root: Path) -> Path:
    """The spec as stack config names it: relative to the project when inside it (output independent of cwd)."""
    resolved = spec.resolve()
    try:
        return resolved.relative_to(root.resolve())
    except ValueError:
        return resolved


def preview(spec: Path, *, plan: Plan | None = None, root: Path = REPO, dry_run: bool = True) -> PreviewResult:
    """The phase stack of `spec` under mocks, as `pulumi preview -s <phase>` would register it."""
    plan = plan or load_plan(spec)
    cfg = preview_config(_spec_arg(spec, root), plan)
    refs = {cfg[k]: campus_outputs(plan) for k in cfg if k.endswith(":campusStack")}
    return run_program(cfg, plan.phase, root=root, stack_outputs=refs, dry_run=dry_run)


# -- presentation -----------------------------------------------------------------------------------------------
def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return "[secret]" if value == PLACEHOLDER else value
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def key_inputs(r: Registered) -> str:
    """The inputs worth a glance per type, one line."""
    i = r.inputs
    if r.type == "command:local:Command":
        trig = (i.get("triggers") or [""])[0]
        return f"{i.get('create', '')}  trigger={str(trig)[:12]}"
    if r.type == "aws:s3/bucket:Bucket":
        return f"bucket={i.get('bucket')} object_lock={i.get('objectLockEnabled', False)}"
    if r.type == "pulumi:providers:aws":
        endpoints = i.get("endpoints")
        if isinstance(endpoints, str):
            endpoints = json.loads(endpoints)
        s3 = (endpoints or [{}])[0].get("s3")
        return f"region={i.get('region')} s3={s3} path_style={i.get('s3UsePathStyle')}"
    if r.type == STACK_REFERENCE:
        return f"stack={i.get('name')}"
    if r.type == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration":
        ret = (i.get("rule") or {}).get("defaultRetention") or {}
        return f"{ret.get('mode')} {ret.get('days')} days"
    if r.type == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        rule = (i.get("rules") or [{}])[0].get("applyServerSideEncryptionByDefault") or {}
        return f"sse={rule.get('sseAlgorithm')}"
    return ""


def tree_lines(result: PreviewResult) -> list[str]:
    """Indented resource tree: type, name, [protected], key inputs, then the names it waits for."""
    by_urn = result.by_urn()
    children: dict[str, list[Registered]] = {}
    for r in result.resources:
        parent = r.parent if r.parent in by_urn else ""
        children.setdefault(parent, []).append(r)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda x: (x.type, x.name)):
            flags = " [protect]" if r.protect else ""
            detail = key_inputs(r)
            deps = [by_urn[d].name for d in r.dependencies if d in by_urn and d != r.parent]
            after = f"  after: {', '.join(sorted(deps))}" if deps else ""
            lines.append(f"{'  ' * depth}{r.type} {r.name}{flags}" + (f"  {detail}" if detail else "") + after)
            walk(r.urn, depth + 1)

    walk("", 0)
    return lines


def as_json(result: PreviewResult) -> dict[str, Any]:
    by_urn = result.by_urn()
    return {
        "stack": result.stack,
        "project": PROJECT,
        "total": len(result.resources),
        "counts": result.counts(),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent if r.parent in by_urn else None,
                "dependencies": list(r.dependencies),
                "protect": r.protect,
                "inputs": _mask(r.inputs),
            }
            for r in result.resources
        ],
        "outputs": _mask(result.outputs),
    }
