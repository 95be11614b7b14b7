"""cfn-lint on the synthesized templates: zero errors (warnings such as W3005 on CDK's
explicit DependsOn are CDK's style, not defects)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from synth_support import Deployment


def lint_errors(template: dict[str, Any], region: str) -> list[str]:
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region]))
    return [
        f"{match.rule.id} {match.message}" for match in matches if match.rule.id.startswith("E")
    ]


@pytest.mark.parametrize("stack_name", ["default", "custom"])
def test_the_template_has_no_cfn_lint_errors(
    stack_name: str, request: pytest.FixtureRequest
) -> None:
    stack: Deployment = request.getfixturevalue(stack_name)
    assert lint_errors(stack.json, stack.stack.region) == []


def test_cfn_lint_does_report_errors(default: Deployment) -> None:
    """The gate above can fail: a table without its key schema is an error."""
    broken = json.loads(json.dumps(default.json))
    table = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    del table["Properties"]["KeySchema"]
    assert lint_errors(broken, "us-east-1")
