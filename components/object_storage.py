"""ObjectStorage: buckets on an S3-compatible endpoint (the campus's Ceph RGW, a lab's MinIO), not on AWS."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components._step import child_options, remember_depends_on
from kasbah.plan.storage import Bucket, StoragePlan

with warnings.catch_warnings():
    # pulumi_aws.s3 loads lazily and, when it does, defines its deprecated *V2 classes, each warning at import.
    # This module uses only the current classes; load the package here with those import-time warnings silenced.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.s3\.")
    aws.s3.Bucket  # noqa: B018 (the attribute access is the import)

SSE_ALGORITHM = "AES256"
"""Policy: SSE-S3 (server-managed keys). The campus store has no KMS in the spec; a KMS key would be a spec field."""

ABORT_MULTIPART_DAYS = 7
"""Policy: incomplete multipart uploads (failed checkpoint writes) are cleaned up after a week."""

LOCK_MODE = "COMPLIANCE"
"""Object Lock mode of locked buckets: the spec's `checkpoint_lock_days` is a compliance retention."""


@dataclass
class BucketArgs:
    """One bucket: its purpose (the key of the component's `buckets` and of its children's names) and policy.

    name may come from another resource (`pulumi.Input`). Build it from a plan's bucket with `from_plan`.
    """

    purpose: str
    name: pulumi.Input[str]
    versioning: bool = True
    noncurrent_expire_days: int = 30
    expire_days: int | None = None
    object_lock_days: int | None = None

    @classmethod
    def from_plan(cls, b: Bucket) -> BucketArgs:
        return cls(
            purpose=b.purpose,
            name=b.name,
            versioning=b.versioning,
            noncurrent_expire_days=b.noncurrent_expire_days,
            expire_days=b.expire_days,
            object_lock_days=b.object_lock_days,
        )


@dataclass
class ObjectStorageArgs:
    """Inputs of ObjectStorage.

    buckets: the buckets this component owns. tags: e.g. `{campus, phase}`, on every taggable resource and as
    the provider's default tags. The S3 provider: either the caller's (`opts.provider` or `opts.providers`
    holding an `aws.Provider`; then endpoint and keys are not read) or one the component builds from endpoint,
    region, path_style, access_key and secret_key (secrets from stack config, never from a spec).
    """

    buckets: Sequence[BucketArgs]
    tags: Mapping[str, str]
    endpoint: pulumi.Input[str] | None = None
    region: pulumi.Input[str] = "us-east-1"
    path_style: pulumi.Input[bool] = True
    access_key: pulumi.Input[str] | None = None
    secret_key: pulumi.Input[str] | None = None

    @classmethod
    def from_plan(
        cls,
        storage: StoragePlan,
        buckets: Sequence[Bucket],
        *,
        access_key: pulumi.Input[str],
        secret_key: pulumi.Input[str],
        tags: Mapping[str, str],
    ) -> ObjectStorageArgs:
        """The campus's storage: `plan.storage` and the buckets a stack owns."""
        return cls(
            buckets=[BucketArgs.from_plan(b) for b in buckets],
            tags=tags,
            endpoint=storage.endpoint,
            region=storage.region,
            path_style=storage.path_style,
            access_key=access_key,
            secret_key=secret_key,
        )


class ObjectStorage(pulumi.ComponentResource):
    """An `aws.Provider` for an S3-compatible endpoint (its own, or the caller's), and per bucket: versioning,
    encryption, public access blocked, lifecycle rules and (when asked) Object Lock. Buckets are `protect=True`:
    they hold data that `pulumi destroy` must never take with it. Every child is named `<name>-...`, parented to
    the component (so it inherits `protect` and providers) and waits for the component's `opts.depends_on`.
    """

    provider: aws.Provider
    buckets: dict[str, aws.s3.Bucket]

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:storage:ObjectStorage", name, {}, opts)
        remember_depends_on(self, opts)
        given = self._providers.get("aws")
        self.provider = given if given is not None else self._create_provider(name, args)  # type: ignore[assignment]
        self.buckets = {b.purpose: self._create_bucket(name, b, args) for b in args.buckets}
        self.register_outputs(
            {
                "endpoint": args.endpoint,
                "region": args.region,
                "buckets": {purpose: bucket.bucket for purpose, bucket in sorted(self.buckets.items())},
            }
        )

    def _create_provider(self, name: str, args: ObjectStorageArgs) -> aws.Provider:
        if args.endpoint is None or args.access_key is None or args.secret_key is None:
            raise ValueError(
                f"ObjectStorage {name}: give endpoint, access_key and secret_key, or an aws.Provider in opts"
            )
        return aws.Provider(
            f"{name}-provider",
            region=args.region,
            access_key=args.access_key,
            secret_key=args.secret_key,
            endpoints=[aws.ProviderEndpointArgs(s3=args.endpoint)],
            s3_use_path_style=args.path_style,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            skip_region_validation=True,
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(args.tags)),
            opts=child_options(self),
        )

    def _create_bucket(self, name: str, b: BucketArgs, args: ObjectStorageArgs) -> aws.s3.Bucket:
        base = f"{name}-{b.purpose}"
        child = pulumi.ResourceOptions.merge(child_options(self), pulumi.ResourceOptions(provider=self.provider))
        bucket = aws.s3.Bucket(
            base,
            bucket=b.name,
            object_lock_enabled=b.object_lock_days is not None,
            force_destroy=False,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
        )
        versioning = aws.s3.BucketVersioning(
            f"{base}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled" if b.versioning else "Suspended"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{base}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm=SSE_ALGORITHM
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{base}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        after_versioning = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning]))
        aws.s3.BucketLifecycleConfiguration(
            f"{base}-lifecycle",
            bucket=bucket.id,
            rules=self._lifecycle_rules(b),
            opts=after_versioning,
        )
        if b.object_lock_days is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{base}-object-lock",
                bucket=bucket.id,
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=LOCK_MODE, days=b.object_lock_days
                    )
                ),
                opts=after_versioning,
            )
        return bucket

    @staticmethod
    def _lifecycle_rules(b: BucketArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=b.noncurrent_expire_days
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_MULTIPART_DAYS
                ),
            )
        ]
        if b.expire_days is not None:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=b.expire_days),
                )
            )
        return rules
