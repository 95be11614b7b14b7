"""The synthesized template the local stack runs: `cdk.out/local/`, synthesized by `app.py`'s
`build_app` when missing or stale, and read from there otherwise.

Stale means: the SHA-256 of everything the template is made from — infra/, app.py, cdk.json,
the shared modules of the installed `meetings` package the stack imports, the local context
below and the installed aws-cdk-lib — differs from the one recorded beside the template. A
content hash, not file times: a checkout or a copy does not force a synth, and an edit always
does. The synth runs in
a child process (jsii starts a Node process; the local stack's own process stays free of it)
with bundling skipped: the local workers import the handlers from the source tree, so the
asset is not needed. A file lock makes concurrent starts (test workers) share one synth.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import meetings

from local.auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER

PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
TEMPLATE_DIR: Final = PROJECT_ROOT / "cdk.out" / "local"
# What the template is made of, besides infra/ (every file of it): the app, its context, and
# the modules of `meetings` the stack imports (wherever the installed package lives).
_INPUT_FILES: Final = ("app.py", "cdk.json")
_SHARED_MODULES: Final = ("deployment.py", "settings.py", "observability.py")
# Context on top of cdk.json for the local template: bundling skipped, and the JWT authorizer
# trusting the local issuer (the deployed default is a Cognito user pool, which the local
# stack does not run). Everything else is cdk.json's.
LOCAL_CONTEXT: Final[dict[str, Any]] = {
    "aws:cdk:bundling-stacks": [],
    "jwtIssuer": DEFAULT_ISSUER,
    "jwtAudience": [DEFAULT_AUDIENCE],
}
_HASH_FILE: Final = "inputs.sha256"
log = logging.getLogger("local.template")


class SynthError(RuntimeError):
    """`python app.py` failed for the local template (its output says why)."""


def inputs_hash(root: Path = PROJECT_ROOT, package: Path | None = None) -> str:
    """`package`: the `meetings` package's directory (default: the one Python imports)."""
    package = package or Path(meetings.__file__).parent
    digest = hashlib.sha256()
    files = sorted((root / "infra").rglob("*.py")) + [root / name for name in _INPUT_FILES]
    for path in files + [package / name for name in _SHARED_MODULES]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(json.dumps(LOCAL_CONTEXT, sort_keys=True).encode())
    digest.update(metadata.version("aws-cdk-lib").encode())
    return digest.hexdigest()


def _template_file(directory: Path) -> Path | None:
    found = sorted(directory.glob("*.template.json"))
    return found[0] if len(found) == 1 else None


def template_path(directory: Path = TEMPLATE_DIR) -> Path:
    """The current local template, synthesized first if missing or stale."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = inputs_hash()
    with (directory / "synth.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one synth at a time; the others then read it
        stamp = directory / _HASH_FILE
        found = _template_file(directory)
        if found is None or not stamp.exists() or stamp.read_text().strip() != wanted:
            log.info("synthesizing the template into %s (missing or stale)", directory)
            _synthesize(directory)
            found = _template_file(directory)
            if found is None:
                raise SynthError(f"the synth wrote no single template into {directory}")
            stamp.write_text(wanted + "\n")
        return found


def _synthesize(directory: Path) -> None:
    for old in directory.glob("*.template.json"):
        old.unlink()
    script = (
        "import json, sys\n"
        "from app import build_app\n"
        "build_app(outdir=sys.argv[1], context=json.loads(sys.argv[2]), environ={}).synth()\n"
    )
    # The child imports the same `meetings` as this process (the one the hash covers).
    path = [str(Path(meetings.__file__).parent.parent), str(PROJECT_ROOT)]
    inherited = os.environ.get("PYTHONPATH")
    environment = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPATH": os.pathsep.join([*path, *([inherited] if inherited else [])]),
    }
    environment.pop("CDK_OUTDIR", None)
    done = subprocess.run(  # noqa: S603 - this interpreter running the project's own app
        [sys.executable, "-c", script, str(directory), json.dumps(LOCAL_CONTEXT)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SynthError(f"synthesizing the local template failed:\n{done.stderr[-4000:]}")


@cache
def _read(path: str, stamp: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(Path(path).read_text())
    return template


def load_template(directory: Path = TEMPLATE_DIR) -> dict[str, Any]:
    """The parsed local template (parsed once per process and inputs hash)."""
    path = template_path(directory)
    return _read(str(path), (directory / _HASH_FILE).read_text())
