"""checkov, a scanner independent of cdk-nag, over the synthesized templates: no finding that
no construct acknowledges, every acknowledgment earned and read, docs/deploy.md in step.

Two templates are scanned, in one checkov run per module (it takes seconds): the custom
configuration of the other infra tests, and the default one with every switch that is off by
default turned on, so the optional resources those switches add are scanned too. Each is
scanned with its acknowledgments stripped, so the findings are all there is to acknowledge;
a one-queue probe made with `acknowledge_scan` shows that checkov honours what it writes.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from synth_support import Deployment

from infra.acknowledgments import SCAN_METADATA_KEY, acknowledge_scan
from infra.config import MeetingsConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = PROJECT_ROOT / ".venv-scan" / "bin" / "checkov"
DEPLOY_DOCS = PROJECT_ROOT / "docs" / "deploy.md"
DOCS_SECTION = "## checkov acknowledgments"
# Offline: no update check against PyPI, no download of the vendor's check metadata.
OFFLINE = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}

Finding = tuple[str, str]  # (check id, logical id of the resource)


def every_switch_on() -> dict[str, bool]:
    """Every boolean context key that is off by default, turned on."""
    return {
        field.alias or name: True
        for name, field in MeetingsConfig.model_fields.items()
        if field.annotation is bool and field.default is False
    }


def acknowledgments(template: dict[str, Any]) -> dict[Finding, str]:
    """(check, resource) → reason, as the template's Metadata tells checkov."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get(SCAN_METADATA_KEY, {}).get("skip", []):
            found[(skip["id"], logical_id)] = skip["comment"]
    return found


def without_acknowledgments(template: dict[str, Any]) -> dict[str, Any]:
    bare = copy.deepcopy(template)
    for resource in bare["Resources"].values():
        resource.get("Metadata", {}).pop(SCAN_METADATA_KEY, None)
    return bare


@dataclass(frozen=True)
class Report:
    """What checkov reported for one template file."""

    failed: dict[Finding, str]  # → the check's name
    skipped: dict[Finding, str]  # → the reason checkov read
    passed: int


@dataclass(frozen=True)
class Scan:
    templates: dict[str, dict[str, Any]]
    bare: dict[str, Report]  # each template's, its acknowledgments stripped
    probe: Report
    probe_queue: str  # the probe queue's logical id
    parsing_errors: list[str]


PROBE_CHECK = "CKV_AWS_27"  # SQS queue without a KMS key: the probe's one finding
PROBE_REASON = "The probe acknowledges its one finding the way the stack's constructs do."


def probe_template() -> tuple[dict[str, Any], str]:
    """A stack of one queue that fails PROBE_CHECK, acknowledged: the template, the queue's
    logical id."""
    stack = Stack(App(), "Probe")
    queue = sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED)
    acknowledge_scan(queue, PROBE_CHECK, PROBE_REASON)
    template: dict[str, Any] = App.of(stack).synth().get_stack_by_name("Probe").template
    return template, stack.get_logical_id(queue.node.default_child)


def run_checkov(files: list[Path]) -> tuple[dict[Path, Report], list[str]]:
    """Each file's report, and the files checkov could not parse."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make scan-venv` creates it (`make test` does)")
    command = [str(CHECKOV), "--framework", "cloudformation", "--output", "json"]
    command += ["--skip-download", *[arg for file in files for arg in ("--file", str(file))]]
    # Exit status 1 means findings; the JSON says which.
    result = subprocess.run(  # noqa: PLW1510
        command, capture_output=True, text=True, env={**os.environ, **OFFLINE}, timeout=600
    )
    assert result.returncode in (0, 1), result.stderr
    output = json.loads(result.stdout)
    reports = {file: Report({}, {}, 0) for file in files}
    by_name = {file.name: file for file in files}

    def file_of(check: dict[str, Any]) -> Path:
        return by_name[Path(check["file_abs_path"]).name]

    def finding(check: dict[str, Any]) -> Finding:
        _, logical_id = check["resource"].split(".", 1)
        return check["check_id"], logical_id

    results = output["results"]
    for check in results["failed_checks"]:
        reports[file_of(check)].failed[finding(check)] = check["check_name"]
    for check in results["skipped_checks"]:
        reason = check["check_result"]["suppress_comment"]
        reports[file_of(check)].skipped[finding(check)] = reason
    passed = {file: 0 for file in files}
    for check in results["passed_checks"]:
        passed[file_of(check)] += 1
    reports = {
        file: Report(report.failed, report.skipped, passed[file])
        for file, report in reports.items()
    }
    return reports, list(results.get("parsing_errors", []))


@pytest.fixture(scope="module")
def scan(
    custom: Deployment,
    deploy: Callable[[dict[str, Any]], Deployment],
    tmp_path_factory: pytest.TempPathFactory,
) -> Scan:
    templates = {"custom": custom.json, "switched on": deploy(every_switch_on()).json}
    directory = tmp_path_factory.mktemp("scan")
    files = {}
    for name, template in templates.items():
        files[name] = directory / f"{name.replace(' ', '-')}.template.json"
        files[name].write_text(json.dumps(without_acknowledgments(template)))
    files["probe"] = directory / "probe.template.json"
    probe, probe_queue = probe_template()
    files["probe"].write_text(json.dumps(probe))
    reports, parsing_errors = run_checkov(list(files.values()))
    return Scan(
        templates=templates,
        bare={name: reports[files[name]] for name in templates},
        probe=reports[files["probe"]],
        probe_queue=probe_queue,
        parsing_errors=parsing_errors,
    )


def test_checkov_scanned_every_template(scan: Scan) -> None:
    assert "createServiceLinkedRoles" in every_switch_on()
    assert scan.parsing_errors == []
    for name, report in scan.bare.items():
        assert report.passed > 50, f"{name}: checkov passed almost nothing: did it read it?"
        assert report.failed, f"{name}: no finding at all without the acknowledgments"


def test_no_finding_is_unacknowledged(scan: Scan) -> None:
    for name, template in scan.templates.items():
        unacknowledged = {
            finding: check_name
            for finding, check_name in scan.bare[name].failed.items()
            if finding not in acknowledgments(template)
        }
        assert unacknowledged == {}, name


def test_every_acknowledgment_matches_a_finding(scan: Scan) -> None:
    """None is stale: without it, the resource it is on fails the check it names."""
    for name, template in scan.templates.items():
        stale = set(acknowledgments(template)) - set(scan.bare[name].failed)
        assert stale == set(), name


def test_checkov_honours_what_acknowledge_scan_writes(scan: Scan) -> None:
    """The probe's one finding is skipped, with the reason given, and nothing fails."""
    assert scan.probe.failed == {}
    assert scan.probe.skipped == {(PROBE_CHECK, scan.probe_queue): PROBE_REASON}


def test_every_acknowledgment_gives_a_real_reason(scan: Scan) -> None:
    for template in scan.templates.values():
        for finding, reason in acknowledgments(template).items():
            assert len(reason) >= 80, finding


def documented() -> set[tuple[str, str]]:
    """(check, reason) of each row of the deploy docs' table of checkov acknowledgments."""
    text = DEPLOY_DOCS.read_text()
    section = text.split(DOCS_SECTION, 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        if not line.startswith("| `CKV"):
            continue
        check, resources, reason = (cell.strip() for cell in line.strip("| ").split(" | "))
        check_id = re.match(r"`(CKV_\w+)`", check)
        assert check_id is not None and resources, line
        rows.add((check_id.group(1), reason))
    return rows


def test_the_deploy_docs_list_every_acknowledgment_and_no_other(scan: Scan) -> None:
    made = {
        (check, reason)
        for template in scan.templates.values()
        for (check, _), reason in acknowledgments(template).items()
    }
    assert documented() == made
