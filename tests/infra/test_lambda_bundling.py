"""The Lambda code asset: built without Docker, for arm64 Python 3.13, with its bytecode.

The unit tests here need no network. `test_make_synth_builds_the_real_asset` runs the
same synth as `make synth`, bundling included: the first run on a machine downloads the
wheels from PyPI, later runs reuse the dependency cache (about the cost of a copy).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from meetings import deployment

from app import build_app
from infra import bundling

AARCH64, X86_64 = 183, 62
PYC_FLAG_UNCHECKED_HASH = 0b01  # hash-based, source not checked (PEP 552)


def fake_distribution(site: Path, name: str, tags: list[str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Wheel-Version: 1.0", *(f"Tag: {tag}" for tag in tags)]
    (info / "WHEEL").write_text("\n".join(lines) + "\n")


def fake_shared_object(path: Path, machine: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little")
    path.write_bytes(header + bytes(44))


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("cp313-cp313-manylinux2014_aarch64", True),
        ("cp313-cp313-manylinux_2_17_aarch64", True),
        ("cp38-abi3-manylinux_2_28_aarch64", True),
        ("cp313-cp313-manylinux2014_x86_64", False),
        ("cp312-cp312-manylinux2014_aarch64", False),
        ("cp313-cp313-musllinux_1_2_aarch64", False),
        ("cp313-cp313-macosx_11_0_arm64", False),
    ],
)
def test_wheel_tags_that_load_on_lambda(tag: str, fits: bool) -> None:
    assert bundling._tag_fits_lambda(tag) is fits


def test_verify_platform_accepts_arm64_wheels(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "pure", ["py3-none-any"])
    fake_distribution(tmp_path, "native", ["cp313-cp313-manylinux2014_aarch64"])
    fake_shared_object(tmp_path / "native" / "_speedups.cpython-313-aarch64-linux-gnu.so", AARCH64)
    bundling.verify_platform(tmp_path)


def test_verify_platform_refuses_a_wheel_for_another_platform(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "native", ["cp313-cp313-manylinux2014_x86_64"])
    with pytest.raises(bundling.BundlingError, match=re.escape("native-1.0.dist-info")):
        bundling.verify_platform(tmp_path)


def test_verify_platform_refuses_an_x86_shared_object(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "native", ["cp313-cp313-manylinux2014_aarch64"])
    fake_shared_object(tmp_path / "native" / "_speedups.so", X86_64)
    message = re.escape("native/_speedups.so: ELF machine 62")
    with pytest.raises(bundling.BundlingError, match=message):
        bundling.verify_platform(tmp_path)


def test_the_runtime_requirements_are_pyprojects_dependencies() -> None:
    requirements = bundling.runtime_requirements()
    names = {r.split("[")[0].split(">")[0].split("=")[0].strip() for r in requirements}
    assert {"aws-lambda-powertools", "pydantic", "boto3"} <= names


def test_the_asset_hash_follows_code_and_dependencies(tmp_path: Path) -> None:
    source = tmp_path / "lambdas"
    shutil.copytree(bundling.SOURCE_ROOT / "meetings", source / "meetings")
    requirements = ["pydantic>=2"]
    first = bundling.asset_hash(requirements, source)
    assert bundling.asset_hash(requirements, source) == first
    assert bundling.asset_hash(["pydantic>=2.1"], source) != first
    (source / "meetings" / "__pycache__").mkdir(exist_ok=True)
    (source / "meetings" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"noise")
    assert bundling.asset_hash(requirements, source) == first  # bytecode is not source
    (source / "meetings" / "settings.py").write_text("# changed\n")
    assert bundling.asset_hash(requirements, source) != first


def test_a_python_313_interpreter_is_found() -> None:
    assert bundling._reports_lambda_version(bundling.lambda_python())


@pytest.mark.bundling
def test_make_synth_builds_the_real_asset(tmp_path: Path) -> None:
    """What `make synth` does, offline apart from PyPI on a machine's first run."""
    build_app(outdir=str(tmp_path), context={}, environ={}).synth()

    (asset,) = [p for p in tmp_path.glob("asset.*") if p.is_dir()]
    template = json.loads((tmp_path / "ChimeMeetings-dev.template.json").read_text())

    # The functions run the asset that was built, all four the same one.
    keys = {
        resource["Properties"]["Code"]["S3Key"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert keys == {f"{asset.name.removeprefix('asset.')}.zip"}

    # Every handler module and its Python 3.13 bytecode, checked by hash (zip timestamps lie).
    for handler in deployment.HANDLERS.values():
        module = Path(*handler.split(".")[:-1])
        source = asset / module.with_suffix(".py")
        assert source.is_file() or (asset / module / "__init__.py").is_file(), handler
    for source in (asset / "meetings").rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == PYC_FLAG_UNCHECKED_HASH, compiled
    assert not [p for p in asset.rglob("*.pyc") if "cpython-313" not in p.name]

    # The dependencies, for arm64 only; native code present and AArch64.
    bundling.verify_platform(asset)
    machines = bundling.shared_object_machines(asset)
    assert any(name.startswith("pydantic_core/") for name in machines)
    assert set(machines.values()) == {AARCH64}
    installed = {info.name.split("-")[0].lower() for info in asset.glob("*.dist-info")}
    assert {"aws_lambda_powertools", "pydantic", "pydantic_core", "boto3"} <= installed
    assert (asset / "pydantic" / "__pycache__" / "main.cpython-313.pyc").is_file()
    assert not (asset / "bin").exists()

    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert [m for m in matches if m.rule.id.startswith("E")] == []
