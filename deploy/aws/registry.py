"""The image repository, in its own stack: CI pushes the image (tagged with the commit) before the
application stack that runs it is deployed."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from deploy.aws.config import DeployConfig


class RegistryStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.repository = ecr.Repository(
            self,
            "Images",
            repository_name=config.name,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.KMS,
            lifecycle_rules=[ecr.LifecycleRule(description="keep the last 100 images", max_image_count=100)],
            removal_policy=RemovalPolicy.RETAIN,
        )
