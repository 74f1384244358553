"""The application stack of one region: every construct of the deployment, wired together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, CfnParameter, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from deploy.aws import secrets
from deploy.aws.cognito import UserDirectory
from deploy.aws.compute import APP_PORT, Compute, grant_objects
from deploy.aws.config import DeployConfig
from deploy.aws.data import POSTGRES_PORT, REDIS_PORT, Cache, Database, MediaBucket
from deploy.aws.edge import Edge
from deploy.aws.network import Network
from deploy.aws.observability import Observability
from deploy.aws.routes import listener_rules, websocket_services
from deploy.aws.turn import Turn
from deploy.aws.workers import WorkerSpec
from deploy.services import ServiceSpec

IDENTITY = "identity"
MEDIA_STORE_USERS = frozenset({"media", "media-worker"})
"""The deployables that read and write the media bucket (the task roles granted access)."""


class PocDojoStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        repository: ecr.IRepository,
        services: Mapping[str, ServiceSpec],
        workers: Mapping[str, WorkerSpec],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        certificate = CfnParameter(
            self,
            "CertificateArn",
            type="String",
            description="ACM certificate (same region) for the ALB's HTTPS listener",
            allowed_pattern=r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+",
        )
        image_tag = CfnParameter(
            self, "ImageTag", type="String", description="Tag of the image the services run", min_length=1
        )
        migration_tag = CfnParameter(
            self,
            "MigrationImageTag",
            type="String",
            description="Tag of the image the migration task runs (set first, run the task, then ImageTag)",
            min_length=1,
        )
        key = self._key(config)
        network = Network(self, "Network", config=config, key=key)
        database = Database(self, "Database", config=config, network=network, key=key)
        cache = Cache(self, "Cache", config=config, network=network, key=key)
        media = MediaBucket(self, "Media", config=config)
        users = UserDirectory(self, "Identity", config=config)
        app_secrets = self._app_secrets(config, key)
        edge = Edge(
            self,
            "Edge",
            config=config,
            network=network,
            certificate_arn=certificate.value_as_string,
            access_logs=media.logs,
            key=key,
        )
        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            cluster_name=config.name,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        turn = Turn(
            self,
            "Turn",
            config=config,
            network=network,
            cluster=cluster,
            secret=app_secrets["POCDOJO_TURN_SECRET"],
            key=key,
        )
        environment = {
            "POCDOJO_ENV": "production",
            "POCDOJO_LOG_JSON": "true",
            "POCDOJO_PUBLIC_URL": config.public_url,
            "POCDOJO_TRUSTED_PROXY_HOPS": "1",
            "POCDOJO_AUTH_MODE": config.auth_mode,
            "POCDOJO_MEDIA_STORE": "s3",
            "POCDOJO_MEDIA_S3_BUCKET": media.bucket.bucket_name,
            "POCDOJO_MEDIA_S3_REGION": config.region,
            "POCDOJO_TURN_URLS": turn.urls,
        }
        if config.auth_mode == "cognito":
            environment["POCDOJO_AUTH_ISSUER"] = users.issuer
            environment["POCDOJO_AUTH_CLIENT_IDS"] = users.app_client.user_pool_client_id
        service_secrets: dict[str, sm.ISecret] = {
            **app_secrets,
            "DATABASE_URL": database.service_url,
            "REDIS_URL": cache.url,
        }
        compute = Compute(
            self,
            "Compute",
            config=config,
            network=network,
            cluster=cluster,
            repository=repository,
            image_tag=image_tag.value_as_string,
            migration_image_tag=migration_tag.value_as_string,
            environment=environment,
            secrets=service_secrets,
            migration_database_url=database.owner_url,
            bootstrap_secrets={
                "POCDOJO_BOOTSTRAP_ADMIN_URL": ecs.Secret.from_secrets_manager(database.admin_url),
                "POCDOJO_OWNER_PASSWORD": ecs.Secret.from_secrets_manager(database.owner_secret, "password"),
                "POCDOJO_SERVICE_PASSWORD": ecs.Secret.from_secrets_manager(database.service_secret, "password"),
            },
            key=key,
        )
        # The identity service loads its signing keys at start in every auth mode (it issues its own tokens
        # in local mode); Secrets Manager cannot generate PEM keys: the operator puts them (docs/deploy.md).
        signing_keys = secrets.generated(
            self, "SigningKeys", key=key, description="identity's PEM signing keys: replace the generated value"
        )
        only_for = {IDENTITY: {"POCDOJO_SIGNING_KEYS": signing_keys}}
        if not config.with_services:
            services, workers = {}, {}
        live = websocket_services(services)
        for spec in services.values():
            compute.add_http_service(spec, websocket=spec.name in live, extra_secrets=only_for.get(spec.name, {}))
        for worker in workers.values():
            compute.add_worker(worker)
        edge.add_routes(listener_rules(services), compute.target_groups)
        compute.scale_on_requests()

        tasks = compute.security_group
        tasks.add_ingress_rule(edge.security_group, ec2.Port.tcp(APP_PORT), "the ALB")
        edge.security_group.add_egress_rule(tasks, ec2.Port.tcp(APP_PORT), "to the service tasks")
        database.security_group.add_ingress_rule(tasks, ec2.Port.tcp(POSTGRES_PORT), "service and migration tasks")
        cache.security_group.add_ingress_rule(tasks, ec2.Port.tcp(REDIS_PORT), "service tasks")
        for name, service in compute.services.items():
            if name in MEDIA_STORE_USERS:
                grant_objects(service.task_definition, media.bucket)

        alarms = Observability(self, "Observability", config=config, key=key)
        for name, service in compute.services.items():
            if name in compute.target_groups:
                alarms.http_service(name, compute.target_groups[name], service)
                if name in live:
                    alarms.websocket_service(name)
        for worker in workers.values():
            alarms.worker(worker.name, compute.services[worker.name], worker.queue_age_metric)
        alarms.ecs_service("turn", turn.service)
        alarms.database(database.cluster)
        alarms.cache(cache.node_ids)
        alarms.summary()

        self.compute = compute
        self.alarm_topic = alarms.topic
        CfnOutput(self, "AlbDnsName", value=edge.alb.load_balancer_dns_name)
        CfnOutput(self, "TurnDnsName", value=turn.nlb.load_balancer_dns_name)
        CfnOutput(self, "ClusterName", value=cluster.cluster_name)
        CfnOutput(self, "MigrationTaskDefinition", value=compute.migration.task_definition_arn)
        CfnOutput(self, "BootstrapTaskDefinition", value=compute.bootstrap.task_definition_arn)
        CfnOutput(
            self,
            "TaskSubnets",
            value=",".join(network.vpc.select_subnets(subnet_group_name="tasks").subnet_ids),
        )
        CfnOutput(self, "TaskSecurityGroup", value=tasks.security_group_id)
        CfnOutput(self, "UserPoolId", value=users.pool.user_pool_id)
        CfnOutput(self, "AppClientId", value=users.app_client.user_pool_client_id)
        CfnOutput(self, "MasterSecretArn", value=database.master_secret.secret_arn)

    def _key(self, config: DeployConfig) -> kms.Key:
        """One customer-managed key for data at rest (Aurora, Valkey, secrets, logs, the alarm topic)."""
        key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{config.name}-data",
            description="POC Dojo data at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        logs_arn = f"arn:{self.partition}:logs:{config.region}:{self.account}:*"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{config.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": logs_arn}},
            )
        )
        return key

    def _app_secrets(self, config: DeployConfig, key: kms.IKey) -> dict[str, sm.ISecret]:
        """The services' own secrets, by the environment variable each is read from."""
        made: dict[str, sm.ISecret] = {
            "POCDOJO_TICKET_SECRET": secrets.generated(
                self, "TicketSecret", key=key, description="collab tickets (HMAC)"
            ),
            "POCDOJO_TURN_SECRET": secrets.generated(self, "TurnSecret", key=key, description="TURN REST credentials"),
            "POCDOJO_OPERATOR_TOKEN": secrets.generated(
                self, "OperatorToken", key=key, description="operator token (POST /v1/tenants)"
            ),
            "POCDOJO_MEDIA_URL_SECRET": secrets.generated(
                self, "MediaUrlSecret", key=key, description="media download links (HMAC)"
            ),
        }
        return made
