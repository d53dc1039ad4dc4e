"""requirements.lock, which `make setup` installs with --require-hashes, covers pyproject.toml:
every dependency it names is pinned to one exact version within its range, with hashes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def locked(text: str) -> dict[str, list[tuple[Version, int]]]:
    """(version, number of hashes) of each pinned package; one per environment marker."""
    pins: dict[str, list[tuple[Version, int]]] = {}
    hashes: list[int] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash="):
            hashes[-1] += 1
            continue
        requirement = Requirement(stripped.removesuffix("\\").strip())
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        hashes.append(0)
        pins.setdefault(canonicalize_name(requirement.name), []).append(
            (Version(specifier.version), len(hashes) - 1)
        )
    return {
        name: [(version, hashes[i]) for version, i in entries] for name, entries in pins.items()
    }


def test_every_dependency_is_locked_in_its_range_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        for version, _ in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements.lock pins {name} {version}, outside {requirement.specifier}: "
                "run `make lock`"
            )
    unhashed = [name for name, entries in pins.items() if any(n == 0 for _, n in entries)]
    assert not unhashed, f"no hashes in requirements.lock for {unhashed}: run `make lock`"


def test_the_lock_reader_sees_pins_markers_and_hashes() -> None:
    text = (
        "# a header\n"
        "numpy==2.4.6 ; python_full_version < '3.12' \\\n"
        "    --hash=sha256:aa \\\n"
        "    --hash=sha256:bb\n"
        "    # via pipeline-analytics\n"
        "numpy==2.5.5 ; python_full_version >= '3.12' \\\n"
        "    --hash=sha256:cc\n"
        "Jinja2==3.1.6\n"
    )
    assert locked(text) == {
        "numpy": [(Version("2.4.6"), 2), (Version("2.5.5"), 1)],
        "jinja2": [(Version("3.1.6"), 0)],
    }
