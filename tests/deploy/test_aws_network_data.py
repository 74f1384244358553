"""The VPC over three AZs and the data tier: private, encrypted, Multi-AZ."""

from __future__ import annotations

import json
from typing import Any

from deploy.aws.config import DeployConfig
from tests.deploy.conftest import Synthesized


def _subnet_ids(value: list[dict[str, str]]) -> set[str]:
    return {ref["Ref"] for ref in value}


def _routes_of(synthesized: Synthesized, subnet_id: str) -> list[dict[str, Any]]:
    tables = {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in synthesized.resources("AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"]["Ref"] == subnet_id
    }
    return [
        r["Properties"]
        for r in synthesized.resources("AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"]["Ref"] in tables
    ]


def _tag(resource: dict[str, Any], key: str) -> str:
    return next(t["Value"] for t in resource["Properties"]["Tags"] if t["Key"] == key)


def test_the_vpc_spans_the_three_azs_with_public_task_and_data_subnets(synthesized: Synthesized) -> None:
    subnets = synthesized.resources("AWS::EC2::Subnet").values()
    by_group: dict[str, set[str]] = {}
    for subnet in subnets:
        by_group.setdefault(_tag(subnet, "aws-cdk:subnet-name"), set()).add(subnet["Properties"]["AvailabilityZone"])
    azs = set(DeployConfig().availability_zones)
    assert azs == {"sa-east-1a", "sa-east-1b", "sa-east-1c"}
    assert by_group == {"public": azs, "tasks": azs, "data": azs}
    nats = synthesized.resources("AWS::EC2::NatGateway")
    assert len(nats) == 3, "one NAT gateway per AZ"


def test_data_and_task_subnets_are_not_public(synthesized: Synthesized) -> None:
    subnets = synthesized.resources("AWS::EC2::Subnet")
    for subnet_id, subnet in subnets.items():
        group = _tag(subnet, "aws-cdk:subnet-name")
        routes = _routes_of(synthesized, subnet_id)
        if group == "public":
            continue
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        assert not any("GatewayId" in r for r in routes), f"{subnet_id} routes to the internet gateway"
        if group == "data":
            assert routes == [], f"data subnet {subnet_id} has a route out"
        else:
            assert [("NatGatewayId" in r) for r in routes] == [True]
    data = {rid for rid, s in subnets.items() if _tag(s, "aws-cdk:subnet-name") == "data"}
    (db_subnets,) = synthesized.resources("AWS::RDS::DBSubnetGroup").values()
    (cache_subnets,) = synthesized.resources("AWS::ElastiCache::SubnetGroup").values()
    assert _subnet_ids(db_subnets["Properties"]["SubnetIds"]) == data
    assert _subnet_ids(cache_subnets["Properties"]["SubnetIds"]) == data
    for service in synthesized.resources("AWS::ECS::Service").values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        assert all(_tag(subnets[ref["Ref"]], "aws-cdk:subnet-name") == "tasks" for ref in network["Subnets"])


def test_the_default_security_group_is_left_alone_without_a_lambda(synthesized: Synthesized) -> None:
    """`restrictDefaultSecurityGroup` would add a Lambda-backed custom resource."""
    assert not [r for r in synthesized.main["Resources"].values() if r["Type"].startswith("Custom::")]


def test_aurora_is_postgresql_17_multi_az_encrypted_protected_and_backed_up(synthesized: Synthesized) -> None:
    (cluster,) = synthesized.resources("AWS::RDS::DBCluster").values()
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    assert props["EngineVersion"].startswith("17.")
    assert props["StorageEncrypted"] is True
    assert "KmsKeyId" in props
    assert props["DeletionProtection"] is True
    assert props["BackupRetentionPeriod"] >= 7
    assert cluster["DeletionPolicy"] == "Snapshot"
    instances = synthesized.resources("AWS::RDS::DBInstance").values()
    assert len(instances) == 2, "a writer and a reader (promoted when the writer's AZ fails)"
    assert all(i["Properties"]["PubliclyAccessible"] is False for i in instances)
    (parameters,) = synthesized.resources("AWS::RDS::DBClusterParameterGroup").values()
    assert parameters["Properties"]["Parameters"]["rds.force_ssl"] == "1"


def test_no_secret_has_a_rotation_lambda(synthesized: Synthesized) -> None:
    for kind in ("AWS::SecretsManager::RotationSchedule", "AWS::Serverless::Application"):
        assert synthesized.resources(kind) == {}


def test_valkey_fails_over_across_azs_with_tls_and_auth(synthesized: Synthesized) -> None:
    (group,) = synthesized.resources("AWS::ElastiCache::ReplicationGroup").values()
    props = group["Properties"]
    assert props["Engine"] == "valkey"
    assert props["AutomaticFailoverEnabled"] is True
    assert props["MultiAZEnabled"] is True
    assert props["ReplicasPerNodeGroup"] >= 1
    assert len(set(props["PreferredCacheClusterAZs"])) == 3
    assert props["TransitEncryptionEnabled"] is True
    assert props["TransitEncryptionMode"] == "required"
    assert props["AtRestEncryptionEnabled"] is True
    token = json.dumps(props["AuthToken"])
    assert "{{resolve:secretsmanager:" in token, "the AUTH token is a Secrets Manager reference, not a value"


def test_every_store_is_encrypted_at_rest(synthesized: Synthesized) -> None:
    for bucket in synthesized.resources("AWS::S3::Bucket").values():
        assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    for secret_id, secret in synthesized.resources("AWS::SecretsManager::Secret").items():
        assert "KmsKeyId" in secret["Properties"], secret_id
    for group_id, group in synthesized.resources("AWS::Logs::LogGroup").items():
        assert "KmsKeyId" in group["Properties"], group_id
    (topic,) = synthesized.resources("AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    (repository,) = synthesized.resources("AWS::ECR::Repository", stack="pocdojo-registry").values()
    assert repository["Properties"]["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    (key,) = synthesized.resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True


def test_the_media_bucket_is_private_versioned_tls_only_with_report_and_video_lifecycles(
    synthesized: Synthesized,
) -> None:
    buckets = synthesized.resources("AWS::S3::Bucket")
    (media_id,) = [rid for rid in buckets if rid.startswith("MediaObjects")]
    props = buckets[media_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Prefix"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert set(rules) == {"reports/", "videos/"}
    assert all(rule["ExpirationInDays"] > 0 and rule["Status"] == "Enabled" for rule in rules.values())
    bucket_policies = synthesized.resources("AWS::S3::BucketPolicy").values()
    (policy,) = [p for p in bucket_policies if p["Properties"]["Bucket"] == {"Ref": media_id}]
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    assert "AutoDeleteObjects" not in json.dumps(synthesized.main)


def test_cognito_keeps_the_tenant_out_of_the_app_client_and_has_role_groups(synthesized: Synthesized) -> None:
    (pool,) = synthesized.resources("AWS::Cognito::UserPool").values()
    (tenant,) = [a for a in pool["Properties"]["Schema"] if a["Name"] == "tenant"]
    assert tenant["Mutable"] is False
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    (client,) = synthesized.resources("AWS::Cognito::UserPoolClient").values()
    assert "custom:tenant" in client["Properties"]["ReadAttributes"]
    assert "custom:tenant" not in client["Properties"]["WriteAttributes"]
    groups = {g["Properties"]["GroupName"] for g in synthesized.resources("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"role:admin", "role:member"}
    assert synthesized.resources("AWS::Lambda::Permission") == {}
    assert "LambdaConfig" not in pool["Properties"]
