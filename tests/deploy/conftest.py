"""The CDK app synthesized once per session (offline: no AWS, Docker or network), and helpers to read it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.aws.app import build_app  # sets JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION before aws_cdk starts


@dataclass(frozen=True)
class Synthesized:
    directory: Path
    templates: dict[str, dict[str, Any]]
    """Stack name -> CloudFormation template."""

    @property
    def main(self) -> dict[str, Any]:
        return self.templates["pocdojo"]

    def resources(self, kind: str, stack: str = "pocdojo") -> dict[str, dict[str, Any]]:
        """Logical id -> resource, of one CloudFormation type."""
        return {rid: r for rid, r in self.templates[stack]["Resources"].items() if r["Type"] == kind}


def synthesize(outdir: Path, context: dict[str, object] | None = None) -> Synthesized:
    assembly = build_app(context, outdir=str(outdir)).synth()
    templates = {
        stack.stack_name: json.loads((Path(assembly.directory) / stack.template_file).read_text())
        for stack in assembly.stacks
    }
    return Synthesized(Path(assembly.directory), templates)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))
