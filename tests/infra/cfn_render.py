"""Readable strings for CloudFormation values, so tests can state expectations plainly.

`{"Fn::GetAtt": ["Table", "Arn"]}` → `Table.Arn`, `{"Ref": "AWS::Partition"}` →
`<AWS::Partition>`, `{"Ref": "Bus"}` → `Bus`, `Fn::Join` → its rendered parts joined.
"""

from __future__ import annotations

from typing import Any

PSEUDO_PREFIX = "AWS::"


def render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), *_ = value.items()
        if function == "Ref":
            return f"<{argument}>" if argument.startswith(PSEUDO_PREFIX) else argument
        if function == "Fn::GetAtt":
            return ".".join(argument)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render(part) for part in parts)
    raise ValueError(f"cannot render {value!r}")


def render_all(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return sorted(render(item) for item in values)
