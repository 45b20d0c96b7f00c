"""Register-map library: one data file per meter model (placeholder until the collectors work)."""

from __future__ import annotations

from pathlib import Path

BUILTIN_DIR = Path(__file__).parent / "maps"


def available_models(extra_dirs: list[Path] | None = None) -> dict[str, Path]:
    """Model name → file for every register map in the built-in library and ``extra_dirs``."""
    found: dict[str, Path] = {}
    for folder in [BUILTIN_DIR, *(extra_dirs or [])]:
        if folder.is_dir():
            for f in sorted(folder.glob("*.toml")):
                found[f.stem] = f
    return found
