"""IAM at the boundary of every AWS call a local function makes.

`IamGuard.install()` (in a worker process, before the handler is imported) hooks every
botocore client the process creates — the Lambda code's, Powertools' — so that each call is
first described as IAM requests (local/iam/actions.py) and evaluated against the function's
role (local/iam/policy.py). A refused call never leaves the process: botocore receives the
error answer the service would send (its own code and HTTP status) and raises it as it would
raise AWS's. The Lambda code is unchanged and cannot tell.

Every decision is recorded once per distinct (action, resource, condition context) as a JSON
line in the guard's usage file, which the used/granted report reads. The role's statements
are read from a JSON file the local stack writes (`{"documents": [...], "trace": path|null}`);
a test may rewrite it — one permission removed, or a trace file that then receives every
decision of the function's calls until the next rewrite — and the workers follow from their
next call.

A presigned URL is authorized when it is used, with the signer's permissions; locally the
guard judges it when it is signed and refuses to sign one its role could not use (the same
permission, found one step earlier).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

import botocore.session
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from local.iam.actions import UnmodelledOperationError, Where, requests_for
from local.iam.policy import Decision, Policy, Request

# The error each service answers an unauthorized call with: (code, HTTP status).
_DENIALS: Final[dict[str, tuple[str, int]]] = {
    "dynamodb": ("AccessDeniedException", 400),
    "dynamodbstreams": ("AccessDeniedException", 400),
    "sqs": ("AccessDenied", 403),
    "events": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
    "s3": ("AccessDenied", 403),
    "chime-sdk-meetings": ("AccessDeniedException", 403),
    "chime-sdk-media-pipelines": ("AccessDeniedException", 403),
}
_REFUSAL: Final = "local_iam_refusal"


@dataclass(frozen=True)
class IamGuard:
    """The role one function runs with (picklable: handed to its worker processes)."""

    function: str
    role: str
    account: str
    policy_path: str
    usage_path: str | None = None

    # --- installing ------------------------------------------------------------------------
    def install(self) -> None:
        """Every botocore client created from now on in this process is guarded."""
        guard = self
        create_client = botocore.session.Session.create_client

        def guarded_create_client(session: Any, *args: Any, **kwargs: Any) -> BaseClient:
            client = create_client(session, *args, **kwargs)
            guard.attach(client)
            return client

        botocore.session.Session.create_client = guarded_create_client  # type: ignore[method-assign,assignment]

    def attach(self, client: BaseClient) -> None:
        """Guard one client (the local event sources' pollers call as the function's role)."""
        state = _State.of(self)
        events = client.meta.events
        events.register("before-parameter-build", state.judge, unique_id=f"iam-judge-{id(state)}")
        events.register("before-call", state.answer_refusal, unique_id=f"iam-refuse-{id(state)}")

    def principal(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role}/{self.function}"


class _State:
    """Per process: the current policy (reloaded when its file changes) and what was recorded."""

    _by_guard: ClassVar[dict[IamGuard, _State]] = {}
    _creating: ClassVar = threading.Lock()

    def __init__(self, guard: IamGuard) -> None:
        self.guard = guard
        self._lock = threading.Lock()
        self._policy_stamp: tuple[int, int] | None = None
        self._policy = Policy(())
        self._trace: str | None = None
        self._recorded: set[tuple[str, str, str, str]] = set()
        self._traced: set[tuple[str, str, str, str]] = set()

    @classmethod
    def of(cls, guard: IamGuard) -> _State:
        with cls._creating:
            return cls._by_guard.setdefault(guard, cls(guard))

    def policy(self) -> Policy:
        stat = os.stat(self.guard.policy_path)
        stamp = (stat.st_ino, stat.st_mtime_ns)
        if stamp != self._policy_stamp:
            with self._lock:
                written = json.loads(Path(self.guard.policy_path).read_text())
                self._policy = Policy.from_documents(written["documents"])
                self._trace = written.get("trace")
                self._traced = set()
                self._policy_stamp = stamp
        return self._policy

    # before-parameter-build: the call's own parameters, before botocore serializes them.
    def judge(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        where = Where(self.guard.account, context.get("client_region") or "us-east-1")
        try:
            requests = requests_for(service, model.name, params, where)
        except UnmodelledOperationError as error:
            context[_REFUSAL] = _answer(service, str(error))
            return
        policy = self.policy()
        for request in requests:
            decision = policy.decide(request)
            self.record(request, decision)
            if decision != "allow":
                refusal = _answer(service, self._message(request, decision))
                if context.get("is_presign_request"):
                    raise ClientError(refusal[1], model.name)  # type: ignore[arg-type]
                context[_REFUSAL] = refusal
                return

    # before-call: a refused call is answered here and never sent.
    def answer_refusal(self, context: dict[str, Any], **_: Any) -> Any:
        return context.get(_REFUSAL)

    def _message(self, request: Request, decision: Decision) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if decision == "explicit-deny"
            else f"because no identity-based policy allows the {request.action} action"
        )
        return (
            f"User: {self.guard.principal()} is not authorized to perform: {request.action} "
            f"on resource: {request.resource} {why}"
        )

    def record(self, request: Request, decision: Decision) -> None:
        context = json.dumps({k: list(v) for k, v in request.context.items()}, sort_keys=True)
        key = (request.action, request.resource, context, decision)
        line = {
            "function": self.guard.function,
            "action": request.action,
            "resource": request.resource,
            "context": json.loads(context),
            "decision": decision,
        }
        with self._lock:
            for path, seen in (
                (self.guard.usage_path, self._recorded),
                (self._trace, self._traced),
            ):
                if path is not None and key not in seen:
                    seen.add(key)
                    with open(path, "a") as out:
                        out.write(json.dumps(line) + "\n")


def _answer(service: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    code, status = _DENIALS.get(service, ("AccessDeniedException", 403))
    http = AWSResponse(url="", status_code=status, headers=HTTPHeaders(), raw=None)
    parsed = {
        "Error": {"Code": code, "Message": message, "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    return http, parsed
