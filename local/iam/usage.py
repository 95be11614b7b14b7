"""Least privilege, measured: each function's granted permissions against the calls the tests
made with them.

The local stack writes, into its usage directory, each function's resolved role policy
(`<function>.policy.json`), the names of the local ARNs in it (`names.json`: ARN → the
template resource it stands for) and the decisions of its calls (`<function>.jsonl`, one line
per distinct action, resource and condition context). `python -m local.iam.usage DIR` prints
the used/granted table; the test session writes it to build/iam-usage.md.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.iam.policy import Policy, Request, Statement, matches
from local.template.model import UNBOUND_PREFIX


@dataclass(frozen=True)
class Grant:
    """One action of one Allow statement: a row of the table."""

    function: str
    action: str
    statement: Statement

    def covers(self, request: Request) -> bool:
        return matches(self.action, request.action, ignore_case=True) and self.statement.applies(
            request
        )


def grants(function: str, policy: Policy) -> list[Grant]:
    return [
        Grant(function, action, statement)
        for statement in policy.statements
        if statement.effect == "Allow"
        for action in statement.actions
    ]


def requests(records: Iterable[Mapping[str, Any]]) -> list[Request]:
    return [
        Request(r["action"], r["resource"], {k: tuple(v) for k, v in r["context"].items()})
        for r in records
        if r["decision"] == "allow"
    ]


@dataclass(frozen=True)
class Row:
    function: str
    action: str
    resources: tuple[str, ...]
    condition: str
    used: int  # distinct (resource, context) calls it authorized


def table(directory: Path) -> list[Row]:
    names = _names(directory)
    rows = []
    for policy_file in sorted(directory.glob("*.policy.json")):
        function = policy_file.name.removesuffix(".policy.json")
        policy = Policy.from_documents(json.loads(policy_file.read_text())["documents"])
        usage = directory / f"{function}.jsonl"
        lines = usage.read_text().splitlines() if usage.exists() else []
        made = requests(json.loads(line) for line in dict.fromkeys(lines))
        for grant in grants(function, policy):
            rows.append(
                Row(
                    function,
                    grant.action,
                    tuple(_name(r, names) for r in grant.statement.resources),
                    " ".join(
                        f"{c.operator} {c.key} {'|'.join(c.values)}"
                        for c in grant.statement.conditions
                    ),
                    sum(1 for request in made if grant.covers(request)),
                )
            )
    return rows


def _names(directory: Path) -> dict[str, str]:
    path = directory / "names.json"
    return json.loads(path.read_text()) if path.exists() else {}


_LOGICAL_ID_HASH = re.compile(r"[0-9A-F]{8}$")


def _name(resource: str, names: Mapping[str, str]) -> str:
    """A local ARN as the template resource it stands for (`<DataTable>/index/byHost`)."""
    if resource.startswith(UNBOUND_PREFIX):
        logical_id = resource.removeprefix(UNBOUND_PREFIX).split(".", 1)[0]
        return f"<{_LOGICAL_ID_HASH.sub('', logical_id)}>"
    for arn in sorted(names, key=len, reverse=True):
        if resource.startswith(arn):
            return f"<{names[arn]}>{resource[len(arn) :]}"
    return resource


def render(rows: list[Row]) -> str:
    lines = [
        "| function | action | resource | condition | distinct calls |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        used = str(row.used) if row.used else "**unused**"
        resources = ", ".join(f"`{r}`" for r in row.resources)
        condition = f"`{row.condition}`" if row.condition else ""
        lines.append(f"| {row.function} | `{row.action}` | {resources} | {condition} | {used} |")
    return "\n".join(lines) + "\n"


def logical_name(logical_id: str) -> str:
    return _LOGICAL_ID_HASH.sub("", logical_id)


if __name__ == "__main__":
    sys.stdout.write(render(table(Path(sys.argv[1]))))
