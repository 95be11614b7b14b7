"""cdk-nag AwsSolutions: zero unacknowledged findings, and every acknowledgment earned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Acknowledgment, Token
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct
from synth_support import CONSOLE_CONTEXT, CUSTOM_CONTEXT, SKIP_BUNDLING

from app import build_app
from infra import acknowledgments
from infra.acknowledgments import Acknowledged, acknowledged
from infra.stack import MeetingsStack

DEPLOY_DOCS = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "custom": CUSTOM_CONTEXT,
    "console": CONSOLE_CONTEXT,
}


def build_stack(context: dict[str, Any], outdir: Path) -> MeetingsStack:
    app = build_app(outdir=str(outdir), context={**SKIP_BUNDLING, **context}, environ={})
    return next(child for child in app.node.children if isinstance(child, MeetingsStack))


def findings(stack: MeetingsStack) -> set[tuple[str, str]]:
    """(finding id, construct path) of every finding the checks report."""
    report = AwsSolutionsChecks().validate_scope(stack)
    return {
        (violation.rule_name, resource.construct_path or "")
        for violation in report.violations
        for resource in violation.violating_resources
    }


@pytest.fixture(params=list(CONFIGURATIONS))
def context(request: pytest.FixtureRequest) -> dict[str, Any]:
    return CONFIGURATIONS[request.param]


def test_no_unacknowledged_findings(context: dict[str, Any], tmp_path: Path) -> None:
    assert findings(build_stack(context, tmp_path)) == set()


def test_every_acknowledgment_matches_a_finding_and_no_more(
    context: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the acknowledgments only planned, not applied, the findings are exactly those
    planned: none is stale (covering nothing) and none is missing."""
    planned: list[Acknowledged] = []

    class Planner:
        """Stands in for CDK's Validations: records each acknowledgment, makes none."""

        def __init__(self, scope: IConstruct) -> None:
            self.scope = scope

        @classmethod
        def of(cls, scope: IConstruct) -> Planner:
            return cls(scope)

        def acknowledge(self, *rules: Acknowledgment) -> None:
            path = self.scope.node.path
            planned.extend(Acknowledged(path, rule.id, rule.reason) for rule in rules)

    monkeypatch.setattr(acknowledgments, "Validations", Planner)
    stack = build_stack(context, tmp_path)
    raw = findings(stack)
    assert raw, "the checks found nothing at all: are they running?"

    def covers(item: Acknowledged, finding: str, path: str) -> bool:
        return item.finding == finding and path.startswith(item.path + "/")

    for finding, path in raw:
        assert any(covers(item, finding, path) for item in planned), (finding, path)
    for item in planned:
        assert any(covers(item, finding, path) for finding, path in raw), item


def test_every_acknowledgment_gives_a_real_reason(default: Any, console: Any) -> None:
    for stack in (default.stack, console.stack):
        for item in acknowledged(stack):
            assert len(item.reason) >= 80, item


def test_the_deploy_docs_list_every_acknowledgment_with_its_reason(
    default: Any, custom: Any, console: Any
) -> None:
    docs = " ".join(DEPLOY_DOCS.read_text().split())
    for stack in (default.stack, custom.stack, console.stack):
        for item in acknowledged(stack):
            finding = item.finding.replace(f":chime:{stack.region}:", ":chime:<region>:")
            finding = finding.replace(
                f"-assets-<AWS::AccountId>-{stack.region}/", "-assets-<AWS::AccountId>-<region>/"
            )
            if not Token.is_unresolved(stack.account):
                finding = finding.replace(stack.account, "<AWS::AccountId>")
            assert f"`{finding}`" in docs, finding
            assert item.reason in docs, item.reason
