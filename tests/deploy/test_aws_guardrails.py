"""What the whole template must never hold (Lambda, lookups) and the linters it must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from deploy.aws import nag
from deploy.aws.config import DeployConfig
from deploy.aws.errors import DeployConfigError
from tests.deploy.conftest import Synthesized, synthesize


def test_no_lambda_and_no_lambda_backed_custom_resource(synthesized: Synthesized) -> None:
    for name, template in synthesized.templates.items():
        for rid, resource in template["Resources"].items():
            kind = resource["Type"]
            assert not kind.startswith("AWS::Lambda::"), f"{name}/{rid} is {kind}"
            assert not kind.startswith("AWS::Serverless::"), f"{name}/{rid} is {kind}"
            assert not kind.startswith("Custom::") and kind != "AWS::CloudFormation::CustomResource", f"{name}/{rid}"
            assert "ServiceToken" not in resource.get("Properties", {}), f"{name}/{rid} is a custom resource"


def test_synthesis_made_no_lookup(synthesized: Synthesized) -> None:
    """A lookup (AZs, VPC, AMI...) shows as missing context: the CLI would call AWS to fill it in."""
    manifest = json.loads((synthesized.directory / "manifest.json").read_text())
    assert "missing" not in manifest
    assert "dummy" not in json.dumps(synthesized.templates)


def test_cfn_lint_is_clean(synthesized: Synthesized) -> None:
    templates = sorted(str(p) for p in synthesized.directory.glob("*.template.json"))
    assert len(templates) == 2
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_cdk_nag_aws_solutions_found_nothing_unacknowledged(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.directory / "validation-report.json").read_text())
    assert report["pluginReports"]
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])


def test_cdk_nag_checks_this_app_and_each_acknowledgement_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the acknowledgements (each with its reason, in code), the AWS Solutions checks stop synthesis
    on exactly the findings they accept."""
    acknowledged: set[str] = set()
    monkeypatch.setattr(nag, "_validations_acknowledge", lambda scope, rule, reason: acknowledged.add(rule))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(tmp_path)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    found = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert found == acknowledged


def test_cdk_nag_fails_synthesis_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The check the app relies on can fail: an open security group, not acknowledged, stops synthesis."""
    app = App(outdir=str(tmp_path), context={"@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": False})
    stack = Stack(app, "Probe")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, restrict_default_security_group=False)
    group = ec2.SecurityGroup(stack, "Open", vpc=vpc)
    group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for v in report["pluginReports"][0]["violations"]}
    assert "AwsSolutions-EC23" in rules


def test_region_and_azs_are_parameters(tmp_path: Path) -> None:
    other = synthesize(tmp_path, {"region": "us-east-2", "nat_gateways": "2", "azs": "us-east-2a,us-east-2b"})
    azs = {s["Properties"]["AvailabilityZone"] for s in other.resources("AWS::EC2::Subnet").values()}
    assert azs == {"us-east-2a", "us-east-2b"}
    assert len(other.resources("AWS::EC2::NatGateway")) == 2
    manifest = json.loads((other.directory / "manifest.json").read_text())
    assert manifest["artifacts"]["pocdojo"]["environment"] == "aws://unknown-account/us-east-2"


def test_the_first_deployment_has_no_service_to_wait_for_but_can_bootstrap_and_migrate(tmp_path: Path) -> None:
    first = synthesize(tmp_path, {"services": "false"})
    names = {s["Properties"]["ServiceName"] for s in first.resources("AWS::ECS::Service").values()}
    assert names == {"turn"}, "coturn needs no database"
    families = {t["Properties"]["Family"] for t in first.resources("AWS::ECS::TaskDefinition").values()}
    assert {"pocdojo-bootstrap", "pocdojo-migrate"} <= families
    assert first.resources("AWS::ElasticLoadBalancingV2::ListenerRule") == {}
    assert {"BootstrapTaskDefinition", "MigrationTaskDefinition"} <= set(first.main["Outputs"])


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ({"region": "São Paulo"}, "region"),
        ({"azs": "sa-east-1a"}, "azs"),
        ({"azs": "us-east-1a,us-east-1b"}, "azs"),
        ({"account": "1234"}, "account"),
        ({"aurora_version": "16.4"}, "aurora_version"),
        ({"min_tasks": "1"}, "min_tasks"),
        ({"nat_gateways": "4"}, "nat_gateways"),
        ({"public_url": "http://api.example.com"}, "public_url"),
        ({"cache_replicas": "0"}, "cache_replicas"),
        ({"auth_mode": "ldap"}, "auth_mode"),
        ({"db_max_acu": "many"}, "db_max_acu"),
        ({"services": "no"}, "services"),
    ],
)
def test_bad_context_is_refused_naming_the_key(context: dict[str, object], problem: str) -> None:
    with pytest.raises(DeployConfigError, match=problem):
        DeployConfig.from_context(context)


def test_defaults_are_sao_paulo_over_three_azs() -> None:
    config = DeployConfig.from_context({})
    assert config == DeployConfig()
    assert (config.region, config.availability_zones) == ("sa-east-1", ("sa-east-1a", "sa-east-1b", "sa-east-1c"))
