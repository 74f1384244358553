"""The edge: an internet-facing ALB (HTTPS only; HTTP redirects), its listener rules generated from
`deploy/services.py`, and a WAF web ACL (AWS managed rule groups plus a per-address rate limit)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from deploy.aws.config import DeployConfig
from deploy.aws.nag import acknowledge
from deploy.aws.network import Network, retention
from deploy.aws.routes import ListenerRuleSpec

WEBSOCKET_IDLE_TIMEOUT = Duration.seconds(3600)
"""The ALB closes a connection idle this long. It is one value per load balancer, not per rule, so the
WebSocket paths set it for all: an hour, so a quiet collab socket survives between y-websocket's
keep-alives; plain HTTP requests are bounded by the services' own timeouts."""

MANAGED_RULE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (rule group, its rules only counted): the API accepts JSON bodies up to 1 MiB (POCDOJO_MAX_BODY_BYTES),
    # over the common rule set's 8 KB body limit; the services enforce their own limit with a 413.
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("AWSManagedRulesAmazonIpReputationList", ()),
    ("AWSManagedRulesSQLiRuleSet", ()),
)


class Edge(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        network: Network,
        certificate_arn: str,
        access_logs: s3.IBucket,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="ALB: HTTPS and HTTP (redirected) from anywhere",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS")
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP, redirected to HTTPS")
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "The public entry point: clients anywhere reach 443 (and 80, which only redirects); WAF filters.",
        )
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=network.vpc,
            vpc_subnets=network.public_subnets,
            internet_facing=True,
            security_group=self.security_group,
            idle_timeout=WEBSOCKET_IDLE_TIMEOUT,
            drop_invalid_header_fields=True,
            deletion_protection=True,
            http2_enabled=True,
        )
        self.alb.log_access_logs(access_logs, prefix="alb")
        self.https = self.alb.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
            default_action=elbv2.ListenerAction.fixed_response(
                404,
                content_type="application/json",
                message_body='{"type":"about:blank","title":"Not Found","status":404}',
            ),
        )
        self.alb.add_redirect(
            source_port=80,
            source_protocol=elbv2.ApplicationProtocol.HTTP,
            target_port=443,
            target_protocol=elbv2.ApplicationProtocol.HTTPS,
            open=False,
        )
        self.web_acl = self._waf(config, key)

    def add_routes(self, rules: list[ListenerRuleSpec], targets: Mapping[str, elbv2.IApplicationTargetGroup]) -> None:
        """One listener rule per `rules` entry, forwarding to its service's target group."""
        for rule in rules:
            elbv2.ApplicationListenerRule(
                self,
                rule.construct_id,
                listener=self.https,
                priority=rule.priority,
                conditions=[elbv2.ListenerCondition.path_patterns(list(rule.patterns))],
                action=elbv2.ListenerAction.forward([targets[rule.service]]),
            )

    def _waf(self, config: DeployConfig, key: kms.IKey) -> wafv2.CfnWebACL:
        rules: list[wafv2.CfnWebACL.RuleProperty] = [
            wafv2.CfnWebACL.RuleProperty(
                name="rate-per-address",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=config.waf_rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                visibility_config=_visibility("rate-per-address"),
            )
        ]
        for index, (group, counted) in enumerate(MANAGED_RULE_GROUPS, start=1):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=index,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                                )
                                for rule in counted
                            ]
                            or None,
                        )
                    ),
                    visibility_config=_visibility(group),
                )
            )
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{config.name}-web-acl"),
            rules=rules,
        )
        wafv2.CfnWebACLAssociation(self, "WebAclAlb", resource_arn=self.alb.load_balancer_arn, web_acl_arn=acl.attr_arn)
        # WAF requires its log group's name to start with aws-waf-logs-.
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"aws-waf-logs-{config.name}",
            retention=retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=acl.attr_arn, log_destination_configs=[waf_logs.log_group_arn]
        )
        return acl


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )
