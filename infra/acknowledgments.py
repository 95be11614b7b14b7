"""cdk-nag findings the stack accepts: each construct acknowledges the findings it causes.

An acknowledgment is made on the narrowest construct that raises the finding, by the
construct that creates it, with its written reason beside the code that causes it. CDK
records each as metadata on the construct's node; `acknowledged` reads them back so the tests
and docs/deploy.md can list them. A finding nobody acknowledges fails `make synth` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


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
