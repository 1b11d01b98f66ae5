"""The administrator's settings that products read: SSM parameter names under the catalog's prefix.

The account baseline writes these parameters (from its own parameters); products read them, so
network placement, the administrator CIDR, the PROD certificate, the DNS zone and domain of PROD sites,
the web server's AMI and the key that encrypts products' log groups stay the administrator's choice.
Full name = ``<catalog ssm_prefix>/<name>``, e.g. ``/hipaa-catalog/network/vpc-id``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdminSetting:
    name: str        # below the prefix
    ssm_type: str    # SSM parameter type the baseline writes
    cfn_type: str    # CloudFormation SSM parameter type a product uses to read it
    description: str

    def full_name(self, prefix: str) -> str:
        return f"{prefix}/{self.name}"


VPC_ID = AdminSetting("network/vpc-id", "String", "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>",
                      "VPC that products are launched into")
PRIVATE_SUBNETS = AdminSetting("network/private-subnet-ids", "StringList",
                               "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>",
                               "private subnets for instances (no route from the internet)")
PUBLIC_SUBNETS = AdminSetting("network/public-subnet-ids", "StringList",
                              "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>",
                              "public subnets for internet-facing load balancers (at least two AZs)")
ADMIN_CIDR = AdminSetting("network/admin-cidr", "String", "AWS::SSM::Parameter::Value<String>",
                          "CIDR range of the administrators' network (TEST access)")
INSTANCE_SUBNET = AdminSetting("network/instance-subnet-id", "String", "AWS::SSM::Parameter::Value<String>",
                               "private subnet of web servers")
INSTANCE_AZ = AdminSetting("network/instance-availability-zone", "String", "AWS::SSM::Parameter::Value<String>",
                           "Availability Zone of that subnet (and of PHI volumes)")
CERTIFICATE_ARN = AdminSetting("prod/certificate-arn", "String", "AWS::SSM::Parameter::Value<String>",
                               "ACM certificate ARN for PROD load balancers")
HOSTED_ZONE_ID = AdminSetting("dns/hosted-zone-id", "String", "AWS::SSM::Parameter::Value<String>",
                              "public hosted zone of PROD sites' names")
DOMAIN = AdminSetting("dns/domain", "String", "AWS::SSM::Parameter::Value<String>",
                      "domain of PROD sites (<id>.<domain>)")
WEB_SERVER_AMI = AdminSetting("compute/web-server-ami-id", "String", "AWS::SSM::Parameter::Value<String>",
                              "AMI of web servers (a launch pins a version)")
ACCESS_LOG_BUCKET = AdminSetting("logging/access-log-bucket", "String", "AWS::SSM::Parameter::Value<String>",
                                 "bucket receiving load-balancer and S3 access logs")
LOGS_KMS_KEY_ARN = AdminSetting("logging/kms-key-arn", "String", "AWS::SSM::Parameter::Value<String>",
                                "ARN of the account baseline's logs KMS key (encrypts products' log groups)")
NOTIFICATION_TOPIC = AdminSetting("notifications/topic-arn", "String", "AWS::SSM::Parameter::Value<String>",
                                  "KMS-encrypted SNS topic notifying the security administrator")
TEMPLATE_BUCKET = AdminSetting("catalog/template-bucket", "String", "AWS::SSM::Parameter::Value<String>",
                               "bucket that `hipaa-catalog publish` uploads templates to")

CONFIG_RECORDER = AdminSetting("config/recording", "String", "AWS::SSM::Parameter::Value<String>",
                               "AWS Config recording here: the baseline's own recorder and channel, or existing ones")

ALL = (VPC_ID, PRIVATE_SUBNETS, PUBLIC_SUBNETS, INSTANCE_SUBNET, INSTANCE_AZ, ADMIN_CIDR, CERTIFICATE_ARN,
       HOSTED_ZONE_ID, DOMAIN, WEB_SERVER_AMI, ACCESS_LOG_BUCKET, LOGS_KMS_KEY_ARN, NOTIFICATION_TOPIC,
       TEMPLATE_BUCKET, CONFIG_RECORDER)

# The public parameter holding the newest Amazon Linux 2023 x86_64 AMI (default kernel): what deploy-baseline
# proposes for WebServerImageId and `doctor` compares with.  AWS's CloudFormation guide shows the sibling
# /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64 (*Get a plaintext value from Systems
# Manager Parameter Store*, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html);
# this name is in the GetParametersByPath answer of /aws/service/ami-amazon-linux-latest that moto ships
# recorded from AWS (moto/ssm/resources/ami-amazon-linux-latest/<region>.json.gz).
PUBLIC_AL2023_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

# Roles that products create live under this IAM path, so the launch role may pass only those.
PRODUCT_IAM_PATH = "/hipaa-catalog/products/"
# Names of the administrator's fixed IAM resources.
DEVELOPER_GROUP = "HealthcareDeveloper"
LAUNCH_ROLE_NAME = "HipaaCatalogLaunchRole"

# Account-baseline parameters and outputs that `hipaa-catalog deploy-baseline` fills in or reads after
# looking at the account (generator/aws/deploy.py); the template declares them (products/account_baseline.py).
INSTANCE_SUBNET_PARAMETER = "InstanceSubnetId"          # decided from the subnets (placement)
INSTANCE_AZ_PARAMETER = "InstanceAvailabilityZone"
AMI_PARAMETER = "WebServerImageId"                     # decided from the public AL2023 parameter when unset
GLOBAL_RESOURCES = "GlobalResources"          # YES in the catalog's primary region only
CONFIG_RECORDING = "ConfigRecording"          # CREATE the recorder and channel, or use the EXISTING ones
CONFIG_CREATE, CONFIG_EXISTING = "CREATE", "EXISTING"
REPLICA_BUCKET_ARN = "LogReplicaBucketArn"    # where the log bucket replicates to ("" = not yet)
REPLICA_KEY_ARN = "LogReplicaKeyArn"          # the KMS key of that bucket's region that encrypts replicas
REPLICATION_MAPPING = "LogReplication"        # Mappings: region -> {"ReplicaRegion": region}
REPLICA_REGION = "ReplicaRegion"
REPLICA_BUCKET_OUTPUT = "LogReplicaBucketArn"  # outputs of the baseline stack in the replica region
LOG_KEY_OUTPUT = "LogKeyArn"

# The organisation's log replicas (products/log_replica.py, one stack set in every account and region, deployed
# before the baseline): each account and region has the bucket ``<catalog>-replica-<account>-<region>`` with the
# key ``alias/<catalog>/log-replica``, and the two settings below, which name the bucket and key of this region's
# replica region.  The baseline's stack sets read them as LogReplicaBucketArn and LogReplicaKeyArn.
REPLICA_DESTINATION_BUCKET = AdminSetting(
    "log-replica/destination-bucket-arn", "String", "AWS::SSM::Parameter::Value<String>",
    "ARN of the bucket this region's log bucket replicates to (the log-replica bucket of the replica region)")
REPLICA_DESTINATION_KEY = AdminSetting(
    "log-replica/destination-key-arn", "String", "AWS::SSM::Parameter::Value<String>",
    "alias ARN of the KMS key that encrypts the replicas in the replica region")


def logs_key_alias(catalog: str) -> str:
    return f"alias/{catalog}/logs"


def replica_key_alias(catalog: str) -> str:
    return f"alias/{catalog}/log-replica"


def replica_bucket_prefix(catalog: str) -> str:
    """Names of the log-replica buckets: ``<prefix>-<account>-<region>``."""
    return f"{catalog}-replica"
