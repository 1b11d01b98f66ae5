"""The log replicas of an organisation: where each account's log bucket replicates to, made before the baseline.

In one account, ``deploy-baseline`` fills the baseline's ``LogReplicaBucketArn`` and ``LogReplicaKeyArn``
from the replica region's baseline stack once it exists (products/account_baseline.py).  A stack set cannot:
it has one value per parameter for every account, the replica bucket is each account's own, and S3 needs
the destination to exist when replication is configured ("The destination bucket or buckets must already
exist", *AWS::S3::Bucket* ReplicationConfiguration, AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html).  Within the
baseline's stack sets no order of regions helps: the regions replicate in a ring (each into the next), and
for an account that joins later the operation preferences, RegionOrder included, "don't apply to
AutoDeployment" (*StackSetOperationPreferences*, AWS CloudFormation API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html).

So the organisation deploy puts this template first, as the stack set ``hipaa-catalog-log-replica`` in every
organisation region and every replica region of one, and the baseline's stack sets depend on it
(``AutoDeployment.DependsOn``: "operations will be sequenced to ensure all dependencies complete successfully
before this StackSet's operation begins", *AutoDeployment*).  In each account and region it holds:

- ``LogReplicaBucket``, named ``<catalog>-replica-<account>-<region>``, so that the log bucket of the region
  replicating into this one can name it without reading this stack: SSE-KMS with the key below, versioned,
  private, TLS-only, logging its access into ``ReplicaAccessLogBucket``, kept ``replica_expiration_days``
  (this product's option, at least six years);
- ``ReplicaKey`` with the alias ``alias/<catalog>/log-replica``, by which the replication names it
  (``ReplicaKmsKeyID`` takes "the Amazon Resource Name (ARN) for the KMS key or the alias ARN", *EncryptionConfiguration*,
  Amazon S3 API Reference, https://docs.aws.amazon.com/AmazonS3/latest/API/API_EncryptionConfiguration.html;
  an alias resolves "within the requester's account", which is the account of both buckets);
- the settings ``log-replica/destination-bucket-arn`` and ``log-replica/destination-key-arn``: the bucket and
  key of this region's replica region, which the baseline's stack sets read through SSM parameter types in
  the same account and region (generator/aws/stacksets.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import FindInMap, GetAtt, Output, Ref, Sub, Template, ssm

from generator.blocks import admin_settings as admin, kms
from generator.blocks.catalog import retained
from generator.blocks.log_buckets import MIN_LOG_DAYS, access_log_bucket, replica_bucket, server_access_logs_statement
from generator.blocks.s3 import tls_only_policy
from generator.errors import ConfigError
from generator.product import ProductConfig, ProductSpec, config_error, options_for

NAME = "log-replica"

REPLICA_ACCESS_LOGS_NOT_REPLICATED = (
    "not replicated: it receives only the S3 server access logs of the replica bucket, delivered best effort "
    "(Amazon S3 User Guide, \"Logging requests using server access logging\"); the replica bucket is itself the "
    "copy of the evidence, and the source account's trail records every S3 object request as data events in "
    "its log bucket, which is replicated")


BASELINE = "account-baseline"


@dataclass(frozen=True)
class LogReplicaConfig(ProductConfig):
    catalog: str = "hipaa-catalog"
    replica_expiration_days: int = 2192   # replicas (and their old versions) kept this long
    ring: tuple[tuple[str, str], ...] = ()   # (region, the region its log bucket replicates to)

    def __post_init__(self) -> None:
        super().__post_init__()
        days = self.replica_expiration_days
        if not isinstance(days, int) or isinstance(days, bool) or days < MIN_LOG_DAYS:
            raise config_error(self.product, "replica_expiration_days", days,
                               f"a whole number of days >= {MIN_LOG_DAYS} (six years)")


def make_config(settings, product, built) -> LogReplicaConfig:
    """The ring of regions is the built account baseline's (its LogReplication mapping), built before."""
    if BASELINE not in built:
        raise ConfigError(f"product {product.name}: the account baseline must be built before it (its regions' ring)",
                          hint="keep account-baseline before log-replica in products/registry.py")
    mapping = built[BASELINE].template["Mappings"][admin.REPLICATION_MAPPING]
    return LogReplicaConfig(product=product.name, version=product.version, ssm_prefix=settings.ssm_prefix,
                            regions=settings.regions, catalog=settings.name,
                            ring=tuple((r, mapping[r][admin.REPLICA_REGION]) for r in settings.regions),
                            **options_for(LogReplicaConfig, product.name, product.options))


def build(cfg: LogReplicaConfig) -> Template:
    t = Template(Description=f"{cfg.catalog} log replica {cfg.version}: the bucket and key that receive another "
                             "region's log bucket, and where this region's log bucket replicates to")
    t.set_version("2010-09-09")
    t.add_mapping(admin.REPLICATION_MAPPING, {r: {admin.REPLICA_REGION: dest} for r, dest in cfg.ring})
    replica_region = FindInMap(admin.REPLICATION_MAPPING, Ref("AWS::Region"), admin.REPLICA_REGION)

    # --- key and buckets
    key = t.add_resource(retained(kms.customer_key("ReplicaKey",
                                                   f"{cfg.catalog}: replicas of another region's log bucket")))
    t.add_resource(kms.alias("ReplicaKeyAlias", admin.replica_key_alias(cfg.catalog), key))
    access = t.add_resource(access_log_bucket("ReplicaAccessLogBucket", cfg.replica_expiration_days,
                                              REPLICA_ACCESS_LOGS_NOT_REPLICATED))
    t.add_resource(tls_only_policy("ReplicaAccessLogBucketPolicy", access, [server_access_logs_statement(access)]))
    prefix = admin.replica_bucket_prefix(cfg.catalog)
    replica = t.add_resource(replica_bucket(
        "LogReplicaBucket", GetAtt(key, "Arn"), access, cfg.replica_expiration_days,
        name=Sub(prefix + "-${AWS::AccountId}-${AWS::Region}")))
    t.add_resource(tls_only_policy("LogReplicaBucketPolicy", replica))

    # --- where this region's log bucket replicates to
    for logical_id, setting, value in [
        ("SettingReplicaDestinationBucket", admin.REPLICA_DESTINATION_BUCKET,
         Sub(f"arn:${{AWS::Partition}}:s3:::{prefix}-${{AWS::AccountId}}-${{Region}}", Region=replica_region)),
        ("SettingReplicaDestinationKey", admin.REPLICA_DESTINATION_KEY,
         Sub(f"arn:${{AWS::Partition}}:kms:${{Region}}:${{AWS::AccountId}}:{admin.replica_key_alias(cfg.catalog)}",
             Region=replica_region)),
    ]:
        t.add_resource(ssm.Parameter(logical_id, Name=setting.full_name(cfg.ssm_prefix), Type=setting.ssm_type,
                                     Value=value, Description=setting.description))

    # --- outputs
    t.add_output(Output(admin.REPLICA_BUCKET_OUTPUT, Value=GetAtt(replica, "Arn"),
                        Description="bucket holding the replica of another region's log bucket"))
    t.add_output(Output("LogReplicaBucketName", Value=Ref(replica), Description="name of that bucket"))
    t.add_output(Output("ReplicaKeyArn", Value=GetAtt(key, "Arn"), Description="KMS key of the replicas"))
    return t


SPEC = ProductSpec(name=NAME, title="Log replica (organisation)", kind="admin", build=build, make_config=make_config)

__all__ = ["SPEC", "LogReplicaConfig", "build", "make_config"]
