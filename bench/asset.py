"""The Lambda asset's size, built exactly as `cdk synth` builds it (infra/bundling.py), against
the floor of its dependencies alone. Its dependency cache lives in `.bench-cache/`."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from bench.environments import CACHE_ROOT, PROJECT_ROOT
from bench.stats import Figure, Sample

LAMBDA_UNZIPPED_LIMIT_MB = 250


def _bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _zipped_bytes(directory: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(directory).as_posix())
    return archive.stat().st_size


def measure() -> list[Figure]:
    from infra.bundling import build_bundle, cached_dependencies, runtime_requirements  # noqa: PLC0415

    requirements = runtime_requirements(PROJECT_ROOT / "pyproject.toml")
    cache_root = CACHE_ROOT / "lambda-dependencies"
    with tempfile.TemporaryDirectory(prefix="asset-") as scratch:
        asset = Path(scratch) / "asset"
        build_bundle(asset, requirements=requirements, cache_root=cache_root)
        dependencies = cached_dependencies(requirements, cache_root)
        unzipped, floor_unzipped = _bytes(asset), _bytes(dependencies)
        zipped = _zipped_bytes(asset, Path(scratch) / "asset.zip")
        floor_zipped = _zipped_bytes(dependencies, Path(scratch) / "dependencies.zip")
        ours = _bytes(asset / "meetings")
    mb = 1024 * 1024
    return [
        Figure(
            "Lambda asset size ratio, zipped (vs its dependencies alone)",
            Sample.of([zipped / mb]),
            Sample.of([floor_zipped / mb]),
            " MB",
            notes={
                "unzipped MB": round(unzipped / mb, 1),
                "dependencies unzipped MB": round(floor_unzipped / mb, 1),
                "meetings package (with .pyc) KB": round(ours / 1024, 1),
                "Lambda unzipped limit MB": LAMBDA_UNZIPPED_LIMIT_MB,
            },
        )
    ]
