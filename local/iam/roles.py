"""Each local function's role: its synthesized policies where its workers read them, the guard
that enforces them, and the usage files the used/granted table is made of."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from local.iam.guard import IamGuard
from local.template.binding import BoundTemplate


class LocalRoles:
    def __init__(self, deployed: BoundTemplate, account: str, usage_dir: str | None) -> None:
        self.deployed = deployed
        self.account = account
        self.usage_dir = None if usage_dir is None else Path(usage_dir)
        self._policies = Path(tempfile.mkdtemp(prefix="meetings-local-iam-"))
        self._guards: dict[str, IamGuard] = {}

    def guard(self, function: str) -> IamGuard:
        """The function's guard; its policy written as synthesized on first use."""
        if function in self._guards:
            return self._guards[function]
        self.deployed.write_policy(function, self.policy_path(function))
        usage_path = None
        if self.usage_dir is not None:
            # What the used/granted table reads (local/iam/usage.py).
            self.usage_dir.mkdir(parents=True, exist_ok=True)
            self.deployed.write_policy(function, self.usage_dir / f"{function}.policy.json")
            self.deployed.write_arn_names(self.usage_dir / "names.json")
            usage_path = str(self.usage_dir / f"{function}.jsonl")
        self._guards[function] = IamGuard(
            function=function,
            role=self.deployed.function(function).role_logical_id,
            account=self.account,
            policy_path=str(self.policy_path(function)),
            usage_path=usage_path,
        )
        return self._guards[function]

    def policy_path(self, function: str) -> Path:
        """Where the function's workers read its role's statements."""
        return self._policies / f"{function}.policy.json"

    def set_policy(
        self,
        function: str,
        documents: list[dict[str, Any]] | None = None,
        *,
        trace: Path | None = None,
    ) -> None:
        """What the function's role allows from its next call on (None: as synthesized), and
        where its decisions are traced (None: nowhere). Tests remove one permission with it."""
        self.deployed.write_policy(function, self.policy_path(function), documents, trace)

    def close(self) -> None:
        shutil.rmtree(self._policies, ignore_errors=True)
