"""Object storage: the campus's buckets and the settings each must carry, for Pulumi, the lab and verification."""

from __future__ import annotations

from kasbah.plan.model import PlanModel
from kasbah.spec.campus import Campus


class Bucket(PlanModel):
    name: str
    purpose: str
    versioning: bool
    object_lock_days: int | None
    noncurrent_expire_days: int
    expire_days: int | None
    phase: str


class StoragePlan(PlanModel):
    endpoint: str
    region: str
    path_style: bool
    state_bucket: str
    buckets: list[Bucket]


def plan_storage(campus: Campus, first_phase: str) -> StoragePlan:
    """Every bucket belongs to the first phase: storage is campus-wide and later phases only use it."""
    o = campus.object_storage

    def bucket(purpose: str, *, lock: int | None = None, expire: int | None = None) -> Bucket:
        return Bucket(
            name=f"{campus.name}-{purpose}",
            purpose=purpose,
            versioning=True,
            object_lock_days=lock,
            noncurrent_expire_days=o.noncurrent_expire_days,
            expire_days=expire,
            phase=first_phase,
        )

    return StoragePlan(
        endpoint=o.endpoint,
        region=o.region,
        path_style=o.path_style,
        state_bucket=f"{campus.name}-pulumi-state",
        buckets=[
            bucket("checkpoints", lock=o.checkpoint_lock_days),
            bucket("datasets"),
            bucket("state"),
            bucket("telemetry", expire=o.telemetry_expire_days),
        ],
    )
