#!/usr/bin/env python3
"""CDK entry point: cdk.json context → one typed config → MeetingsStack.

Runs the same way under the CDK CLI (`npx aws-cdk synth|deploy`, which reads cdk.json and
adds `-c key=value` overrides) and as `python app.py` (`make synth`), which reads cdk.json
itself and writes cdk.out/ offline. cdk-nag's AwsSolutions checks run on every synth: an
unacknowledged finding fails it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, load_config
from infra.stack import MeetingsStack

PROJECT_ROOT = Path(__file__).resolve().parent
# CDK feature flags the stack relies on (fixed, not knobs, so they live here, not in cdk.json):
# S3 server access logs reach their bucket through its bucket policy, not a legacy ACL (the
# log bucket keeps ACLs disabled, as every bucket of the stack does).
FEATURE_FLAGS: dict[str, Any] = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}


def cdk_json_context() -> dict[str, Any]:
    with (PROJECT_ROOT / "cdk.json").open() as file:
        context: dict[str, Any] = json.load(file).get("context", {})
    return context


def build_app(
    *,
    outdir: str | None = None,
    context: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> App:
    """The app with its one stack; `context` overrides cdk.json (as `-c` does on the CLI)."""
    app = App(
        outdir=outdir or environ.get("CDK_OUTDIR") or str(PROJECT_ROOT / "cdk.out"),
        # The CLI's context (cdk.json and -c, via CDK_CONTEXT_JSON) still wins over this.
        context={**FEATURE_FLAGS, **cdk_json_context(), **(context or {})},
    )
    config = load_config(app.node.get_all_context(), environ)
    MeetingsStack(app, config.stack_name, config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
