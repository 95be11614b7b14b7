"""Evaluating a role's identity-based policy statements as IAM does, for one request.

A request is (action, resource ARN, condition context). IAM's rules for one principal with
identity policies only: an explicit Deny in any matching statement wins; otherwise any
matching Allow allows; otherwise the request is implicitly denied. A statement matches when
its Action (or NotAction) matches the action — case-insensitively, `*` and `?` wildcards —,
its Resource (or NotResource) matches the ARN — case-sensitively, the same wildcards, which
span `:` and `/` —, and every condition holds. The condition operators are those IAM defines
for strings, ARNs, booleans and `Null`, with `...IfExists`; an operator outside that set is
refused when the policy is loaded, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

Decision = Literal["allow", "explicit-deny", "implicit-deny"]
# Condition context: key (case-insensitive, stored lower-case) → its values.
Context = Mapping[str, Sequence[str]]


class UnsupportedPolicyError(ValueError):
    """The policy uses a construct this evaluator does not model (so cannot judge faithfully)."""


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob
    )
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters (colons and slashes included), `?` one."""
    return _pattern(glob, ignore_case).match(value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _string_like(pattern: str, value: str) -> bool:
    return matches(pattern, value)


def _bool(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


# Operator → (compare one policy value with one request value, negated?)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnLike": (_string_like, False),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
}


@dataclass(frozen=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]

    def holds(self, context: Context) -> bool:
        present = context.get(self.key.lower())
        if self.operator == "Null":
            # "true": the key must be absent; "false": it must be present.
            wants_absent = self.values[0].lower() == "true"
            return (not present) == wants_absent
        base = self.operator.removesuffix("IfExists")
        if not present:
            return self.operator.endswith("IfExists")
        compare, negated = _OPERATORS[base]
        hit = any(compare(policy, value) for policy in self.values for value in present)
        return not hit if negated else hit


def _conditions(block: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    out = []
    for operator, keys in (block or {}).items():
        base = operator.removesuffix("IfExists")
        if operator != "Null" and base not in _OPERATORS:
            raise UnsupportedPolicyError(f"condition operator {operator} is not modelled")
        for key, values in keys.items():
            out.append(Condition(operator, key, tuple(str(v) for v in _as_list(values))))
    return tuple(out)


@dataclass(frozen=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    sid: str = ""

    @classmethod
    def from_json(cls, statement: Mapping[str, Any]) -> Statement:
        """A statement whose values are plain strings (intrinsics already resolved)."""
        known = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        unknown = set(statement) - known
        if unknown:
            raise UnsupportedPolicyError(f"statement keys {sorted(unknown)} are not modelled")
        effect = statement["Effect"]
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"effect {effect!r}")

        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in _as_list(statement.get(key, [])))

        return cls(
            effect=effect,
            actions=strings("Action"),
            not_actions=strings("NotAction"),
            resources=strings("Resource"),
            not_resources=strings("NotResource"),
            conditions=_conditions(statement.get("Condition")),
            sid=str(statement.get("Sid", "")),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Effect": self.effect}
        for key, values in (
            ("Sid", self.sid),
            ("Action", list(self.actions)),
            ("NotAction", list(self.not_actions)),
            ("Resource", list(self.resources)),
            ("NotResource", list(self.not_resources)),
        ):
            if values:
                out[key] = values
        if self.conditions:
            block: dict[str, dict[str, list[str]]] = {}
            for condition in self.conditions:
                block.setdefault(condition.operator, {})[condition.key] = list(condition.values)
            out["Condition"] = block
        return out

    def matches_action(self, action: str) -> bool:
        if self.not_actions:
            return not any(matches(a, action, ignore_case=True) for a in self.not_actions)
        return any(matches(a, action, ignore_case=True) for a in self.actions)

    def matches_resource(self, resource: str) -> bool:
        if self.not_resources:
            return not any(matches(r, resource) for r in self.not_resources)
        return any(matches(r, resource) for r in self.resources)

    def applies(self, request: Request) -> bool:
        return (
            self.matches_action(request.action)
            and self.matches_resource(request.resource)
            and all(c.holds(request.context) for c in self.conditions)
        )


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes for a call (a call may need several)."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def described(self) -> str:
        return f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class Policy:
    """A role's statements, every policy attached to it taken together."""

    statements: tuple[Statement, ...]

    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]]) -> Policy:
        return cls(
            tuple(
                Statement.from_json(statement)
                for document in documents
                for statement in _as_list(document.get("Statement", []))
            )
        )

    def to_documents(self) -> list[dict[str, Any]]:
        return [{"Version": "2012-10-17", "Statement": [s.to_json() for s in self.statements]}]

    def decide(self, request: Request) -> Decision:
        allowed = False
        for statement in self.statements:
            if statement.applies(request):
                if statement.effect == "Deny":
                    return "explicit-deny"
                allowed = True
        return "allow" if allowed else "implicit-deny"

    def granting(self, request: Request) -> list[Statement]:
        """The Allow statements that grant `request` (what a usage table credits)."""
        return [s for s in self.statements if s.effect == "Allow" and s.applies(request)]

    def without_action(self, action: str) -> Policy:
        """This policy with `action` taken out of every Allow statement's Action list (a
        statement left with no action goes): what removing one grant from a construct does."""
        kept = []
        for statement in self.statements:
            if statement.effect == "Allow" and action in statement.actions:
                rest = tuple(a for a in statement.actions if a != action)
                if not rest:
                    continue
                kept.append(replace(statement, actions=rest))
                continue
            kept.append(statement)
        return Policy(tuple(kept))
