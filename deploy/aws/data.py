"""The data tier: Aurora PostgreSQL, ElastiCache (Valkey), the media bucket, and the secrets that reach them.

Everything lives in the isolated `data` subnets (no route to or from the internet), is encrypted at rest
with the deployment's KMS key (S3: S3-managed keys) and in transit (Aurora `rds.force_ssl`, Valkey TLS).
"""

from __future__ import annotations

import string

from aws_cdk import (
    Duration,
    Fn,
    RemovalPolicy,
)
from aws_cdk import (
    aws_ec2 as ec2,
)
from aws_cdk import (
    aws_elasticache as elasticache,
)
from aws_cdk import (
    aws_kms as kms,
)
from aws_cdk import (
    aws_logs as logs,
)
from aws_cdk import (
    aws_rds as rds,
)
from aws_cdk import (
    aws_s3 as s3,
)
from aws_cdk import (
    aws_secretsmanager as sm,
)
from constructs import Construct

from deploy.aws import secrets
from deploy.aws.config import DeployConfig
from deploy.aws.nag import acknowledge
from deploy.aws.network import Network, retention

DATABASE = "pocdojo"
MASTER_USER = "pocdojo_admin"
URL_UNSAFE = "".join(c for c in string.punctuation if c not in "-_.~") + " "
"""Characters a generated password may not hold: it goes into a URL unquoted."""
OWNER_ROLE = "pocdojo_owner"
SERVICE_ROLE = "pocdojo_service"
POSTGRES_PORT = 5432
REDIS_PORT = 6379
REPORTS_PREFIX = "reports/"
VIDEOS_PREFIX = "videos/"


class Database(Construct):
    """Aurora PostgreSQL 17: a Serverless v2 writer and a reader (another AZ, promoted on failure)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, network: Network, key: kms.IKey):
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="Aurora: PostgreSQL from the tasks only",
            allow_all_outbound=False,
        )
        engine = rds.DatabaseClusterEngine.aurora_postgres(
            version=rds.AuroraPostgresEngineVersion.of(config.aurora_version, "17")
        )
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="TLS only; slow statements logged",
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
        )
        identifier = f"{config.name}-db"
        # Created here with its retention: `cloudwatch_logs_retention` would add a LogRetention Lambda.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/rds/cluster/{identifier}/postgresql",
            retention=retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=identifier,
            engine=engine,
            parameter_group=parameters,
            credentials=rds.Credentials.from_generated_secret(
                MASTER_USER, encryption_key=key, exclude_characters=URL_UNSAFE
            ),
            # No default database: `pocdojo db bootstrap` creates it owned by the owner role.
            writer=rds.ClusterInstance.serverless_v2("writer", publicly_accessible=False),
            readers=[rds.ClusterInstance.serverless_v2("reader", scale_with_writer=True, publicly_accessible=False)],
            serverless_v2_min_capacity=config.db_min_acu,
            serverless_v2_max_capacity=config.db_max_acu,
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            security_groups=[self.security_group],
            port=POSTGRES_PORT,
            storage_encrypted=True,
            storage_encryption_key=key,
            iam_authentication=True,
            deletion_protection=True,
            backup=rds.BackupProps(retention=Duration.days(14), preferred_window="05:00-06:00"),
            preferred_maintenance_window="sun:06:30-sun:07:30",
            cloudwatch_logs_exports=["postgresql"],
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        self.cluster.node.add_dependency(self.log_group)
        assert self.cluster.secret is not None
        acknowledge(self.cluster, "AwsSolutions-SMG4", secrets.NO_ROTATION)
        self.master_secret: sm.ISecret = self.cluster.secret
        self.owner_secret = secrets.generated(
            self,
            "OwnerCredentials",
            key=key,
            username=OWNER_ROLE,
            description="pocdojo_owner: owns the schemas, runs `pocdojo migrate`",
        )
        self.service_secret = secrets.generated(
            self,
            "ServiceCredentials",
            key=key,
            username=SERVICE_ROLE,
            description="pocdojo_service: the role every service connects as (NOSUPERUSER NOBYPASSRLS)",
        )
        self.service_url = self._url_secret("ServiceUrl", self.service_secret, SERVICE_ROLE, key)
        self.owner_url = self._url_secret("OwnerUrl", self.owner_secret, OWNER_ROLE, key)
        self.admin_url = self._url_secret("AdminUrl", self.master_secret, MASTER_USER, key, database="postgres")

    def _url_secret(
        self, construct_id: str, credentials: sm.ISecret, role: str, key: kms.IKey, *, database: str = DATABASE
    ) -> sm.Secret:
        endpoint = self.cluster.cluster_endpoint
        url = Fn.join(
            "",
            [
                f"postgresql://{role}:",
                secrets.field(credentials, "password"),
                "@",
                endpoint.hostname,
                f":{POSTGRES_PORT}/{database}?sslmode=require",
            ],
        )
        return secrets.derived(self, construct_id, key=key, description=f"DATABASE_URL of {role}", value=url)


class Cache(Construct):
    """A Valkey replication group: a primary and replicas in other AZs, automatic failover, TLS and AUTH."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, network: Network, key: kms.IKey):
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="ElastiCache: Valkey from the tasks only",
            allow_all_outbound=False,
        )
        subnets = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="POC Dojo cache: isolated data subnets",
            subnet_ids=network.vpc.select_subnets(subnet_group_name="data").subnet_ids,
        )
        self.auth_token = secrets.generated(self, "AuthToken", key=key, description="Valkey AUTH token", length=64)
        slow_log = logs.LogGroup(
            self,
            "SlowLog",
            retention=retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        nodes = config.cache_replicas + 1
        azs = config.availability_zones
        self.replication_group_id = f"{config.name}-cache"
        self.group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_id=self.replication_group_id,
            replication_group_description="POC Dojo realtime fan-out and streams",
            engine="valkey",
            engine_version="8.0",
            cache_node_type=config.cache_node_type,
            num_node_groups=1,
            replicas_per_node_group=config.cache_replicas,
            preferred_cache_cluster_a_zs=[azs[i % len(azs)] for i in range(nodes)],
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            auth_token=secrets.field(self.auth_token),
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[self.security_group.security_group_id],
            port=REDIS_PORT,
            snapshot_retention_limit=7,
            snapshot_window="04:00-05:00",
            preferred_maintenance_window="sun:07:30-sun:08:30",
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=slow_log.log_group_name
                        )
                    ),
                )
            ],
        )
        self.node_ids = [f"{self.replication_group_id}-{i + 1:03d}" for i in range(nodes)]
        """ElastiCache names the group's nodes `<group>-001`, `-002`...: their CloudWatch `CacheClusterId`."""
        url = Fn.join(
            "",
            [
                "rediss://:",
                secrets.field(self.auth_token),
                "@",
                self.group.attr_primary_end_point_address,
                f":{REDIS_PORT}/0",
            ],
        )
        self.url = secrets.derived(self, "Url", key=key, description="REDIS_URL (TLS, AUTH)", value=url)


class MediaBucket(Construct):
    """The reports and videos bucket (private, versioned, TLS only) and the access-log bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig):
        super().__init__(scope, construct_id)
        # ALB access logs require S3-managed keys; server access logs are not logged again (a loop).
        self.logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire", expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(7)
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Objects",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="s3/media/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="reports",
                    prefix=REPORTS_PREFIX,
                    expiration=Duration.days(config.report_expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="videos",
                    prefix=VIDEOS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)
                        )
                    ],
                    expiration=Duration.days(config.video_expiry_days),
                    noncurrent_version_expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
