"""Interpreters for the cold-start figure, and the bench's gitignored cache directory.

Python 3.11 is the project's own virtualenv. Python 3.13 (the Lambda runtime) has none: the
bench makes one under `.bench-cache/` with the runtime dependencies only (pyproject's
`[project].dependencies`) and reuses it while they stay the same.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
CACHE_ROOT: Final = PROJECT_ROOT / ".bench-cache"
LAMBDA_PYTHON: Final = "3.13"


def runtime_requirements() -> list[str]:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{result.stderr[-3000:]}")


def lambda_python_executable() -> str:
    """A working `python3.13` (a pyenv shim may refuse to run: every candidate is tried)."""
    from infra.bundling import lambda_python  # noqa: PLC0415 - the infra's own finder

    return lambda_python()


def runtime_venv(python: str, name: str) -> Path:
    """`.bench-cache/<name>`: a venv of `python` with the runtime dependencies, its
    site-packages byte-compiled (pip compiles on install); rebuilt when they change."""
    requirements = runtime_requirements()
    marker_value = hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()
    venv = CACHE_ROOT / name
    marker = venv / ".requirements"
    if marker.is_file() and marker.read_text() == marker_value:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    CACHE_ROOT.mkdir(exist_ok=True)
    _run([python, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--disable-pip-version-check", "--compile", *requirements])
    marker.write_text(marker_value)
    return venv


def interpreters() -> dict[str, str]:
    """Python version → interpreter to measure with."""
    lambda_venv = runtime_venv(lambda_python_executable(), f"venv-{LAMBDA_PYTHON}")
    return {
        f"{sys.version_info.major}.{sys.version_info.minor}": sys.executable,
        LAMBDA_PYTHON: str(lambda_venv / "bin" / "python"),
    }


def compiled_code_copy(python: str, destination: Path) -> Path:
    """The `meetings` package copied and byte-compiled by `python`, as the asset ships it
    (unchecked-hash bytecode, see infra/bundling.py); PYTHONDONTWRITEBYTECODE would otherwise
    leave every cold start compiling the sources."""
    target = destination / "meetings"
    shutil.copytree(
        PROJECT_ROOT / "lambdas" / "meetings",
        target,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    _run([python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(target)])
    return destination
