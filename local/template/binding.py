"""The template, bound to the local stand-ins: resolved environments, routes, the authorizer's
issuer and audience, rule patterns, event sources, the schedule, and each function's role
policy with every reference resolved to a local ARN."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.apigw import Route, compile_route
from local.iam.usage import logical_name
from local.template.check import check
from local.template.model import (
    Bindings,
    DeployedTemplate,
    FunctionSpec,
    TemplateError,
    resolve,
    target_of,
)
from local.template.synth import TEMPLATE_DIR, load_template


class BoundTemplate:
    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        account: str,
        region: str,
        check_constants: bool = True,
    ) -> None:
        self.template = DeployedTemplate(template)
        if check_constants:
            check(self.template)
        self.bindings = Bindings(account=account, region=region)

    @classmethod
    def load(cls, directory: Path = TEMPLATE_DIR, **kwargs: Any) -> BoundTemplate:
        return cls(load_template(directory), **kwargs)

    # --- binding the stand-ins ---------------------------------------------------------------
    def bind_table(self, name: str, arn: str, stream_arn: str) -> None:
        table = self.template.the_one("AWS::DynamoDB::Table")
        self.bindings.bind(table, Ref=name, Arn=arn, StreamArn=stream_arn)

    def bind_bus(self, name: str, arn: str) -> None:
        bus = self.template.the_one("AWS::Events::EventBus")
        self.bindings.bind(bus, Ref=name, Arn=arn, Name=name)

    def bind_environment_target(self, variable: str, **attributes: str) -> None:
        """The resource a function variable names (e.g. RECORDINGS_BUCKET → the bucket)."""
        reference = self.function("api").environment[variable]
        try:
            logical_id = target_of(reference)
        except TemplateError as error:
            raise TemplateError(f"{variable}: {error}") from None
        self.bindings.bind(logical_id, **attributes)

    def bind_queue(self, logical_id: str, url: str, arn: str) -> None:
        name = arn.rsplit(":", 1)[1]
        self.bindings.bind(logical_id, Ref=url, QueueUrl=url, Arn=arn, QueueName=name)

    def bind_function(self, name: str, local_name: str) -> None:
        spec = self.function(name)
        arn = f"arn:aws:lambda:{self.bindings.region}:{self.bindings.account}:function:{local_name}"
        self.bindings.bind(spec.logical_id, Ref=local_name, Arn=arn)

    # --- what the stack runs ---------------------------------------------------------------
    def function(self, name: str) -> FunctionSpec:
        return self.template.functions[name]

    def environment(self, name: str) -> dict[str, str]:
        """A function's environment as the template sets it, references resolved locally."""
        resolved = {}
        for variable, value in self.function(name).environment.items():
            try:
                resolved[variable] = str(resolve(value, self.bindings))
            except TemplateError as error:
                raise TemplateError(f"function {name}: {variable}: {error}") from None
        return resolved

    def literal_environment(self, name: str) -> dict[str, str]:
        """The variables the template sets to plain values (no reference to resolve)."""
        return {k: v for k, v in self.function(name).environment.items() if isinstance(v, str)}

    def routes(self) -> tuple[Route, ...]:
        return tuple(
            compile_route(key.split(" ", 1)[0], key.split(" ", 1)[1], auth == "JWT")
            for key, auth in self.template.routes.items()
        )

    def authorizer(self) -> tuple[str, list[str]]:
        authorizer = self.template.authorizer
        issuer = str(resolve(authorizer.issuer, self.bindings))
        return issuer, [str(resolve(a, self.bindings)) for a in authorizer.audience]

    def policy_documents(self, name: str) -> list[dict[str, Any]]:
        """The function's role policies with every reference resolved (unbound ones to ARNs no
        local resource has)."""
        role = self.function(name).role_logical_id
        documents = self.template.role_policy_documents(role)
        return [resolve(document, self.bindings, strict=False) for document in documents]

    def write_policy(
        self,
        name: str,
        path: Path,
        documents: list[dict[str, Any]] | None = None,
        trace: Path | None = None,
    ) -> None:
        """Write a role's documents (default: as synthesized) where its workers read them,
        atomically: a worker reads the old file or the new one, never half of one. `trace`:
        a file that then receives the decisions of every call the function makes."""
        written = {
            "documents": self.policy_documents(name) if documents is None else documents,
            "trace": None if trace is None else str(trace),
        }
        _write_atomically(path, json.dumps(written))

    def write_arn_names(self, path: Path) -> None:
        """Local ARN → the template resource it stands for (readable usage tables)."""
        names = {
            attributes[key]: logical_name(logical_id) + suffix
            for logical_id, attributes in self.bindings.attributes.items()
            for key, suffix in (("Arn", ""), ("StreamArn", " stream"))
            if key in attributes
        }
        _write_atomically(path, json.dumps(names, indent=1))


def _write_atomically(path: Path, text: str) -> None:
    """Readers (workers, other stacks of a test session) see the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    temporary.write_text(text)
    temporary.replace(path)
