"""The ALB (HTTPS, redirect, rules equal to deploy/services.py, WebSocket idle timeout) and WAF."""

from __future__ import annotations

import json
import re
from typing import Any

from deploy.local import Dispatcher
from deploy.services import SERVICES
from tests.deploy.conftest import Synthesized


def _listener(synthesized: Synthesized, port: int) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (rid, r["Properties"])
        for rid, r in synthesized.resources("AWS::ElasticLoadBalancingV2::Listener").items()
        if r["Properties"]["Port"] == port
    ]
    return found


def _service_of_target_group(synthesized: Synthesized) -> dict[str, str]:
    return {
        binding["TargetGroupArn"]["Ref"]: s["Properties"]["ServiceName"]
        for s in synthesized.resources("AWS::ECS::Service").values()
        for binding in s["Properties"].get("LoadBalancers", [])
    }


def _rules(synthesized: Synthesized) -> list[tuple[int, tuple[str, ...], str]]:
    """(priority, path patterns, service) of every rule of the HTTPS listener."""
    https_id, _ = _listener(synthesized, 443)
    owner = _service_of_target_group(synthesized)
    rules = []
    for rule in synthesized.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values():
        props = rule["Properties"]
        assert props["ListenerArn"] == {"Ref": https_id}
        (condition,) = props["Conditions"]
        assert condition["Field"] == "path-pattern"
        (action,) = props["Actions"]
        patterns = tuple(condition["PathPatternConfig"]["Values"])
        rules.append((props["Priority"], patterns, owner[action["TargetGroupArn"]["Ref"]]))
    return sorted(rules)


def _alb_match(pattern: str, path: str) -> bool:
    """ALB path patterns: `*` any characters (none included), `?` one, the rest literal, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def test_listener_rules_are_the_path_prefixes_of_deploy_services(synthesized: Synthesized) -> None:
    expected = set()
    for name, spec in SERVICES.items():
        for prefix in spec.path_prefixes:
            patterns = [prefix + "*"]
            if prefix.endswith("/"):
                patterns.insert(0, prefix.rstrip("/"))
            expected.add((tuple(patterns), name))
    assert {(patterns, service) for _, patterns, service in _rules(synthesized)} == expected
    priorities = [priority for priority, _, _ in _rules(synthesized)]
    assert len(set(priorities)) == len(priorities)


def test_the_alb_routes_every_path_where_the_dev_dispatcher_does(synthesized: Synthesized) -> None:
    """The first rule by priority that matches = the service `deploy.local.Dispatcher` picks."""
    rules = _rules(synthesized)
    dispatcher = Dispatcher([(spec.path_prefixes, name) for name, spec in SERVICES.items()])  # type: ignore[misc]
    paths = {"/", "/v1", "/v1/unknown", "/healthz", "/metrics", "/docs"}
    for spec in SERVICES.values():
        for prefix in spec.path_prefixes:
            bare = prefix.rstrip("/")
            paths |= {prefix, bare, bare + "/x", prefix + "a/b?c", bare + "s", bare + "-x", bare.upper()}
    for path in sorted(paths):
        alb = next((service for _, patterns, service in rules if any(_alb_match(p, path) for p in patterns)), None)
        assert alb == dispatcher.app_for(path), path


def test_https_only_with_the_certificate_parameter_and_http_redirected(synthesized: Synthesized) -> None:
    _, https = _listener(synthesized, 443)
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (default,) = https["DefaultActions"]
    assert default["Type"] == "fixed-response" and default["FixedResponseConfig"]["StatusCode"] == "404"
    _, http = _listener(synthesized, 80)
    (redirect,) = http["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS" and redirect["RedirectConfig"]["Port"] == "443"
    assert "CertificateArn" in synthesized.main["Parameters"]


def test_websocket_idle_timeout_and_alb_attributes(synthesized: Synthesized) -> None:
    (alb,) = [
        lb["Properties"]
        for lb in synthesized.resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        if lb["Properties"]["Type"] == "application"
    ]
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert int(attributes["idle_timeout.timeout_seconds"]) >= 3600
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert alb["Scheme"] == "internet-facing"


def test_waf_has_managed_rule_groups_and_a_rate_rule_on_the_alb(synthesized: Synthesized) -> None:
    ((acl_id, acl),) = synthesized.resources("AWS::WAFv2::WebACL").items()
    rules = acl["Properties"]["Rules"]
    statements = [r["Statement"] for r in rules]
    managed = {s["ManagedRuleGroupStatement"]["Name"] for s in statements if "ManagedRuleGroupStatement" in s}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= managed
    (rate,) = [r for r in rules if "RateBasedStatement" in r["Statement"]]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    (association,) = synthesized.resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert "Alb" in json.dumps(association["Properties"]["ResourceArn"])
