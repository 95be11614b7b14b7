"""The one Lambda code asset, built from `lambdas/` on this machine, without Docker.

The asset holds the `meetings` package and the project's runtime dependencies as wheels
for the Lambda platform (Python 3.13 on arm64), plus bytecode compiled by Python 3.13, so a
cold start does not compile anything. The bytecode is `unchecked-hash`: CDK zips assets with
fixed timestamps, which would make timestamp-checked `.pyc` files look stale and be ignored.

Dependencies are installed once per requirement set into a cache directory outside the
repository (pip's download cache alone would still re-install and re-compile each synth).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
SOURCE_ROOT: Final = PROJECT_ROOT / "lambdas"
PACKAGES: Final = ("meetings",)
LAMBDA_PYTHON: Final = "3.13"
PIP_PLATFORM: Final = "manylinux2014_aarch64"
# Bump when the way the asset is built changes: it is part of the asset hash.
BUNDLE_FORMAT: Final = "1"
_ELF_MAGIC: Final = b"\x7fELF"
_ELF_MACHINE_AARCH64: Final = 183
_SKIPPED_NAMES: Final = ("__pycache__", "*.pyc", "*.pyo")


class BundlingError(RuntimeError):
    """The asset cannot be built; the message says what to fix."""


def runtime_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """The functions' dependencies: pyproject's `[project].dependencies`, nothing else."""
    with pyproject.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def dependencies_key(requirements: Iterable[str]) -> str:
    """Identifies an installed dependency set: the requirements and the target platform."""
    material = json.dumps(
        {
            "requirements": sorted(requirements),
            "python": LAMBDA_PYTHON,
            "platform": PIP_PLATFORM,
            "format": BUNDLE_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def source_fingerprint(source_root: Path = SOURCE_ROOT) -> str:
    digest = hashlib.sha256()
    for path in _source_files(source_root):
        digest.update(path.relative_to(source_root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def asset_hash(requirements: Iterable[str], source_root: Path = SOURCE_ROOT) -> str:
    """The asset's identity: changes exactly when the code, the dependencies or the recipe do."""
    material = f"{dependencies_key(requirements)}:{source_fingerprint(source_root)}"
    return hashlib.sha256(material.encode()).hexdigest()


def _source_files(source_root: Path) -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((source_root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return files


def default_cache_root() -> Path:
    override = os.environ.get("MEETINGS_BUNDLE_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chime-meetings-backend" / "lambda-dependencies"


@cache
def lambda_python() -> str:
    """The interpreter that byte-compiles the asset: it must be the runtime's version.

    `python3.13` on PATH may be a pyenv shim that refuses to run outside a configured
    directory, so every candidate is tried, not just found.
    """
    for candidate in _python_candidates():
        if _reports_lambda_version(candidate):
            return candidate
    raise BundlingError(
        f"no working Python {LAMBDA_PYTHON} found (tried $MEETINGS_LAMBDA_PYTHON, "
        f"python{LAMBDA_PYTHON} on PATH, pyenv): the Lambda runtime is Python {LAMBDA_PYTHON} "
        "and the asset's bytecode must be compiled by that version"
    )


def _python_candidates() -> list[str]:
    candidates = [os.environ.get("MEETINGS_LAMBDA_PYTHON", "")]
    candidates.append(shutil.which(f"python{LAMBDA_PYTHON}") or "")
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += [
        str(path) for path in sorted(pyenv_root.glob(f"versions/{LAMBDA_PYTHON}*/bin/python3"))
    ]
    candidates += [f"/usr/bin/python{LAMBDA_PYTHON}", f"/usr/local/bin/python{LAMBDA_PYTHON}"]
    return [candidate for candidate in candidates if candidate]


def _reports_lambda_version(executable: str) -> bool:
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run(  # noqa: S603
            [executable, "-c", probe], capture_output=True, text=True, check=False, timeout=30
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == LAMBDA_PYTHON


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BundlingError(f"{what} failed ({result.returncode}):\n{result.stderr[-4000:]}")


def install_dependencies(requirements: list[str], target: Path) -> None:
    """pip installs wheels for the Lambda platform only (no source builds for x86 by mistake)."""
    only_lambda_wheels = ["--only-binary=:all:", "--implementation", "cp"]
    only_lambda_wheels += ["--platform", PIP_PLATFORM, "--python-version", LAMBDA_PYTHON]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # --no-compile: pip would write this interpreter's bytecode, not Python 3.13's.
    _run(
        [*pip, "--no-compile", *only_lambda_wheels, "--target", str(target), *requirements],
        "pip install of the Lambda dependencies",
    )
    # Console scripts are useless in a function and only add size.
    shutil.rmtree(target / "bin", ignore_errors=True)


def wheel_tags(site_dir: Path) -> dict[str, list[str]]:
    """Each installed distribution's wheel tags, as its WHEEL metadata records them."""
    tags = {}
    for wheel_file in sorted(site_dir.glob("*.dist-info/WHEEL")):
        lines = wheel_file.read_text().splitlines()
        tags[wheel_file.parent.name] = [
            line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")
        ]
    return tags


def _tag_fits_lambda(tag: str) -> bool:
    _interpreter, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none"
    native_abi = abi in ("abi3", "cp" + LAMBDA_PYTHON.replace(".", ""))
    return native_abi and platform.startswith("manylinux") and platform.endswith("_aarch64")


def shared_object_machines(site_dir: Path) -> dict[str, int]:
    """The ELF machine of every shared object (183 is AArch64, 62 is x86-64)."""
    machines = {}
    for path in sorted(site_dir.rglob("*.so*")):
        if not path.is_file():
            continue
        with path.open("rb") as file:
            header = file.read(20)
        if header[:4] == _ELF_MAGIC:
            machines[path.relative_to(site_dir).as_posix()] = int.from_bytes(
                header[18:20], "little"
            )
    return machines


def verify_platform(site_dir: Path) -> None:
    """Refuse a dependency set that would not load on Lambda's arm64 Python 3.13."""
    problems = [
        f"{dist}: wheel tags {tags}"
        for dist, tags in wheel_tags(site_dir).items()
        if not tags or not all(_tag_fits_lambda(tag) for tag in tags)
    ]
    problems += [
        f"{name}: ELF machine {machine}, not AArch64"
        for name, machine in shared_object_machines(site_dir).items()
        if machine != _ELF_MACHINE_AARCH64
    ]
    if problems:
        raise BundlingError("dependencies built for the wrong platform:\n" + "\n".join(problems))


def compile_bytecode(directory: Path) -> None:
    compileall = [lambda_python(), "-m", "compileall", "-q", "-j", "0"]
    _run(
        [*compileall, "--invalidation-mode", "unchecked-hash", str(directory)],
        f"byte-compiling with Python {LAMBDA_PYTHON}",
    )


def cached_dependencies(requirements: list[str], cache_root: Path) -> Path:
    """The installed, verified, compiled dependency set; built on first use, then reused."""
    final = cache_root / dependencies_key(requirements)
    if final.is_dir():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="building-", dir=cache_root))
    try:
        install_dependencies(requirements, staging)
        verify_platform(staging)
        compile_bytecode(staging)
        try:
            staging.rename(final)
        except OSError:
            if not final.is_dir():  # not another synth winning the race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def build_bundle(
    output_dir: Path,
    *,
    requirements: list[str],
    source_root: Path = SOURCE_ROOT,
    cache_root: Path | None = None,
) -> None:
    """Write the function asset's contents into output_dir."""
    dependencies = cached_dependencies(requirements, cache_root or default_cache_root())
    shutil.copytree(dependencies, output_dir, dirs_exist_ok=True)
    for package in PACKAGES:
        shutil.copytree(
            source_root / package,
            output_dir / package,
            ignore=shutil.ignore_patterns(*_SKIPPED_NAMES),
            dirs_exist_ok=True,
        )
        compile_bytecode(output_dir / package)


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """CDK's local bundling hook: builds the asset here, so Docker is never needed."""

    def __init__(self, requirements: list[str], source_root: Path = SOURCE_ROOT) -> None:
        self._requirements = requirements
        self._source_root = source_root

    def try_bundle(self, output_dir: str, *_docker_options: Any, **_unused: Any) -> bool:
        # The Docker bundling options (jsii passes them positionally) do not apply here.
        try:
            build_bundle(
                Path(output_dir), requirements=self._requirements, source_root=self._source_root
            )
        except BundlingError as error:
            # Returning False would make CDK fall back to `docker run`: fail with the reason.
            print(f"Lambda asset bundling failed: {error}", file=sys.stderr)
            raise
        return True


def function_code(source_root: Path = SOURCE_ROOT) -> lambda_.Code:
    """The code asset all four functions share."""
    requirements = runtime_requirements()
    return lambda_.Code.from_asset(
        str(source_root),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(requirements, source_root),
        bundling=BundlingOptions(
            # Never run: the local bundler always builds or fails. CDK requires an image.
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=LocalPythonBundler(requirements, source_root),
        ),
    )
