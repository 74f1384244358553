"""Accepted findings of cdk-nag (AWS Solutions rules) and cfn-lint, each named and justified where it is made."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept `rule`'s finding on `scope` (and its children), for `reason`."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} on {scope.node.path} needs a reason")
    _validations_acknowledge(scope, rule, reason)


def _validations_acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def cfn_lint_ignore(scope: IConstruct, *checks: str) -> None:
    """Tell cfn-lint to skip `checks` on the CloudFormation resource of `scope` (template metadata); the
    caller says why in a comment."""
    resource = scope.node.default_child if not isinstance(scope, CfnResource) else scope
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource")
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": list(checks)}})
