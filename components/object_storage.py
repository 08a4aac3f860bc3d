"""ObjectStorage: the campus's buckets on its own S3-compatible endpoint (e.g. Ceph RGW), not on AWS."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

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
class ObjectStorageArgs:
    """Inputs of ObjectStorage.

    storage: `plan.storage` (endpoint, region, path style). buckets: the buckets this stack owns (those whose
    `.phase` is the stack's phase; later phases read them through a StackReference). access_key / secret_key:
    secrets from stack config. tags: `{campus, phase}`, on every taggable resource and as provider default tags.
    """

    storage: StoragePlan
    buckets: Sequence[Bucket]
    access_key: pulumi.Input[str]
    secret_key: pulumi.Input[str]
    tags: Mapping[str, str]


class ObjectStorage(pulumi.ComponentResource):
    """An explicit `aws.Provider` for the campus endpoint, and per bucket: versioning, encryption, public access
    blocked, lifecycle rules and (for checkpoints) Object Lock. Buckets are `protect=True`: they hold data that
    `pulumi destroy` must never take with it.
    """

    provider: aws.Provider
    buckets: dict[str, aws.s3.Bucket]

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:storage:ObjectStorage", name, {}, opts)
        self.provider = self._create_provider(name, args)
        self.buckets = {b.purpose: self._create_bucket(name, b, args) for b in args.buckets}
        self.register_outputs(
            {
                "endpoint": args.storage.endpoint,
                "region": args.storage.region,
                "buckets": {purpose: bucket.bucket for purpose, bucket in sorted(self.buckets.items())},
            }
        )

    def _create_provider(self, name: str, args: ObjectStorageArgs) -> aws.Provider:
        s = args.storage
        return aws.Provider(
            f"{name}-provider",
            region=s.region,
            access_key=args.access_key,
            secret_key=args.secret_key,
            endpoints=[aws.ProviderEndpointArgs(s3=s.endpoint)],
            s3_use_path_style=s.path_style,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            skip_region_validation=True,
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(args.tags)),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_bucket(self, name: str, b: Bucket, args: ObjectStorageArgs) -> aws.s3.Bucket:
        base = f"{name}-{b.purpose}"
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
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
    def _lifecycle_rules(b: Bucket) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
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
