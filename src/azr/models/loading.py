"""`load(spec)`: resolve a model spec and load it, converting GGUF weights to safetensors once.

Dequantizing a GGUF file takes 15-60 s on a CPU; a `save_pretrained` copy reloads in about a second. So GGUF
sources (packaged or a file) are converted once into the cache (`model.cache_dir`, else `$AZR_CACHE`, else
`~/.cache/azr`) and loaded from there afterwards. Every cache entry is written to a temporary directory and
renamed into place, so a crash never leaves a half-written entry and concurrent first loads are safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azr.models.dtypes import weights_dtype
from azr.models.packaged import PACKAGED, ModelError, PackagedModel, assemble

__all__ = ["ModelError", "Resolved", "cache_root", "converted_dir", "hub_unreachable", "load", "resolve"]


@dataclass(frozen=True)
class Resolved:
    """What a spec names. kind: `tiny-random`, `packaged`, `gguf`, `dir`, `adapter` (a PEFT adapter directory, such
    as a LoRA checkpoint's `model/`, whose base is itself a spec) or `hub`."""

    kind: str
    spec: str
    path: Path | None = None
    packaged: PackagedModel | None = None


def resolve(spec: str) -> Resolved:
    """Classify a spec without loading anything (unknown packaged names fail here, with the known ones)."""
    if spec == "tiny-random":
        return Resolved("tiny-random", spec)
    if spec.startswith("packaged:"):
        name = spec.removeprefix("packaged:")
        if name not in PACKAGED:
            raise ModelError(f"unknown packaged model {name!r}: choose one of {', '.join(sorted(PACKAGED))}")
        return Resolved("packaged", spec, packaged=PACKAGED[name])
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"GGUF file {spec} does not exist: check the path in model.spec")
        return Resolved("gguf", spec, path=path.resolve())
    if path.is_dir():
        path = _checkpoint_model_dir(path)
        kind = "adapter" if (path / "adapter_config.json").is_file() else "dir"
        return Resolved(kind, spec, path=path.resolve())
    if spec.startswith(("/", ".", "~")):
        raise ModelError(f"model directory {spec} does not exist: check the path in model.spec")
    return Resolved("hub", spec)


def _checkpoint_model_dir(path: Path) -> Path:
    """The model directory an `azr train` path stands for: a run directory's newest checkpoint's `model/`, a
    checkpoint directory's `model/`; any other directory is itself."""
    if (path / "checkpoints").is_dir() and not (path / "config.json").is_file():
        from azr.checkpoint import latest_checkpoint

        latest = latest_checkpoint(path)
        if latest is None:
            raise ModelError(f"run directory {path} has no complete checkpoint yet")
        path = latest
    if (path / "state.json").is_file() and (path / "model").is_dir():
        return path / "model"
    return path


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where converted models live: `cache_dir`, else `$AZR_CACHE`, else `~/.cache/azr`."""
    return Path(cache_dir or os.environ.get("AZR_CACHE") or Path.home() / ".cache" / "azr").expanduser()


def converted_dir(spec: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """A `save_pretrained` directory holding `spec` (converting GGUF sources once), or None for hub ids and
    `tiny-random`. For engines such as vLLM that load from a directory themselves."""
    r = resolve(spec)
    if r.kind == "packaged":
        assert r.packaged is not None
        return _converted_packaged(r.packaged, cache_root(cache_dir))
    if r.kind == "gguf":
        assert r.path is not None
        return _converted_gguf(r.path, cache_root(cache_dir))
    return r.path if r.kind == "dir" else None


def resolve_device(name: str = "auto") -> Any:
    """The `torch.device` for `model.device`: `auto` is the first CUDA GPU when one is visible, else the CPU.
    Raises ModelError when a GPU is asked for and none is visible."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        index = int(name.split(":")[1]) if ":" in name else 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise ModelError(f"model.device={name}, but this machine has no such CUDA device; use auto or cpu")
    return torch.device(name)


def load(spec: str, *, dtype: str = "fp32", cache_dir: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` for `spec` with weights in `weights_dtype(dtype)`, in eval mode on the CPU.

    Raises ModelError (one line naming the fix) for a missing package, a bad checksum, a missing path, or a hub
    id that cannot be fetched.
    """
    torch_dtype = weights_dtype(dtype)
    r = resolve(spec)
    if r.kind == "tiny-random":
        from azr.models.tiny import tiny_random

        return tiny_random(dtype=torch_dtype)
    if r.kind == "adapter":
        assert r.path is not None
        return _load_adapter(r.path, dtype, cache_dir)
    directory = converted_dir(spec, cache_dir)
    return _load_hub(spec, torch_dtype) if directory is None else _load_dir(directory, torch_dtype)


def _load_adapter(directory: Path, dtype: str, cache_dir: str | os.PathLike[str] | None) -> tuple[Any, Any]:
    """A PEFT adapter on its base: the base is loaded by its spec (azr checkpoints record `packaged:NAME`, which
    PEFT's own loader cannot resolve), the adapter merged in; the tokenizer is the adapter directory's when it
    has one (azr checkpoints do), else the base's."""
    try:
        base = json.loads((directory / "adapter_config.json").read_text()).get("base_model_name_or_path")
    except (OSError, ValueError) as e:
        raise ModelError(f"adapter {directory} has an unreadable adapter_config.json ({_first_line(e)})") from e
    if not base or Path(base).expanduser().resolve() == directory:
        raise ModelError(f"adapter {directory} does not name its base model (adapter_config.json)")
    model, tokenizer = load(str(base), dtype=dtype, cache_dir=cache_dir)
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, str(directory)).merge_and_unload()
    if (directory / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(directory)
    return model.eval(), tokenizer


def _load_dir(directory: Path, torch_dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch_dtype)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"could not load a model from {directory} ({_first_line(e)}): is it a save_pretrained directory?"
        ) from e
    return model.eval(), tokenizer


HUB_PROBE_TIMEOUT = 5.0
"""Seconds the hub may take to answer one request before azr treats it as unreachable."""


def hub_unreachable(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the Hugging Face hub cannot be used now (`HF_HUB_OFFLINE`, or no answer to one request within
    `timeout`), or None when it answered. Without this, a hub id with no network costs about a minute of
    retries and twenty-odd warning lines before the download's own error."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - DNS, TLS, proxy and timeout errors differ by HTTP stack version
        return f"{constants.ENDPOINT} did not answer: {_first_line(e)}"
    return None


def _load_hub(spec: str, torch_dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Offline, a model already in the local HF cache still loads (no update check); any other is one clear line.
    offline = hub_unreachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec, local_files_only=offline is not None)
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=torch_dtype, local_files_only=offline is not None)
    except Exception as e:  # noqa: BLE001 - hub failures come as many types; all get the same advice
        why = f"the hub is unreachable ({offline}) and it is not in the local cache" if offline else _first_line(e)
        raise ModelError(
            f"could not load {spec!r} from the Hugging Face hub ({why}): without network access use "
            f"packaged:<name> (one of {', '.join(sorted(PACKAGED))}), a .gguf file or a local directory"
        ) from e
    return model.eval(), tokenizer


def _converted_packaged(pm: PackagedModel, root: Path) -> Path:
    final = root / "packaged" / pm.name
    if final.is_dir():
        return final
    gguf = assemble(pm, root / "packaged" / f".{pm.gguf_name}")
    try:
        _convert(gguf, final, {"spec": f"packaged:{pm.name}", "gguf_sha256": pm.sha256, "packages": list(pm.modules)})
    finally:
        if gguf.parent == final.parent:  # an assembled copy, not the package's own file
            gguf.unlink(missing_ok=True)
    return final


def _converted_gguf(path: Path, root: Path) -> Path:
    # Key on path, size and mtime: hashing a multi-GB file on every load would cost more than the cache saves.
    st = path.stat()
    key = hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    final = root / "gguf" / f"{path.stem}-{key}"
    if not final.is_dir():
        _convert(path, final, {"spec": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return final


def _convert(gguf: Path, final: Path, provenance: dict[str, Any]) -> None:
    """Dequantize `gguf` into a safetensors `save_pretrained` directory at `final`, atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"azr: converting {gguf.name} to safetensors in {final} (once; about a minute)", file=sys.stderr)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are already dequantized into float Linear layers; the leftover GGUF quantizer marker
        # only makes save_pretrained refuse.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "azr-source.json").write_text(json.dumps(provenance, indent=2) + "\n")
        del model
        # mkdtemp creates 0700; a shared cache must be readable by every user of the machine.
        for f in [tmp, *tmp.iterdir()]:
            f.chmod(0o755 if f.is_dir() else 0o644)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # a concurrent loader that finished first is fine; anything else is not
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
