"""Findings of the stack's two checkers it accepts: each construct acknowledges the findings
it causes.

An acknowledgment is made on the narrowest construct that raises the finding, by the
construct that creates it, with its written reason beside the code that causes it.

- cdk-nag (`acknowledge`): CDK records each as metadata on the construct's node;
  `acknowledged` reads them back so the tests and docs/deploy.md can list them. A finding
  nobody acknowledges fails `make synth` and the tests.
- checkov (`acknowledge_scan`), the independent scanner of the synthesized template: each is
  written into the resource's template `Metadata`, where checkov reads it
  (`{"checkov": {"skip": [{"id": ..., "comment": ...}]}}`). A finding nobody acknowledges
  fails `make scan` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

# The template Metadata key checkov reads its skips from.
SCAN_METADATA_KEY: Final = "checkov"


@dataclass(frozen=True)
class Acknowledged:
    path: str
    finding: str
    reason: str


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Accept `finding` (a cdk-nag rule id, with its bracketed resource if any) on `scope`.

    Acknowledging the same finding on the same scope again replaces its reason, as CDK reads
    acknowledgments (the last one recorded on a construct wins).
    """
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledged(root: IConstruct) -> list[Acknowledged]:
    """Every acknowledgment made on `root` or below it, the last one per construct and finding."""
    found: dict[tuple[str, str], str] = {}
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            data: dict[str, Any] = entry.data
            for qualified_id, reason in data.items():
                # CDK stores the id behind a namespace ("Annotation::AwsSolutions-L1"); the
                # rule's own id may hold "::" too, inside its brackets, so split once.
                _, _, finding = qualified_id.partition("::")
                found[(construct.node.path, finding)] = reason
    return [Acknowledged(path, finding, reason) for (path, finding), reason in found.items()]


def acknowledge_scan(scope: IConstruct, check: str, reason: str) -> None:
    """Accept checkov's `check` (a check id, `CKV_AWS_...`) on the resource `scope` is or
    makes (its default child, as `Function` makes `AWS::Lambda::Function`).

    Acknowledging the same check on the same resource again replaces its reason.
    """
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} makes no resource to acknowledge {check} on")
    metadata = resource.get_metadata(SCAN_METADATA_KEY) or {}
    skips = [skip for skip in metadata.get("skip", []) if skip["id"] != check]
    skips.append({"id": check, "comment": reason})
    resource.add_metadata(SCAN_METADATA_KEY, {"skip": skips})
