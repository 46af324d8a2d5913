"""Crash-safe checkpoints of a run: `RUN_DIR/checkpoints/step_NNNNNN/` plus `checkpoints/latest`.

A checkpoint holds the model as a complete Hugging Face directory (`model/`: full weights or only the LoRA
adapter, as `save_pretrained` safetensors, plus the tokenizer and its chat template; an adapter names its base by
the portable spec, e.g. `packaged:qwen2.5-coder-0.5b-instruct`), the learner's optimizer state (and fp32 master
weights), every RNG state, the step, the resolved config, the sizes of its own files, and the sizes of the run's
append-only logs at that step (metrics, oversight). It is written into a temporary directory, fsynced, renamed
into place, and only then named in `latest` (itself replaced atomically), so a process killed at any moment leaves
the previous checkpoint complete. Resuming truncates the logs back to the recorded sizes, dropping whatever the
interrupted step had appended; a damaged checkpoint (truncated or garbage files) is set aside and the newest
intact one is used instead.

This module does not decide when to checkpoint (the trainer does) and does not build models.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from azr.config import Config, ConfigError, config_from_dict, save_config
from azr.io import FileError, atomic_write_text, fsync_dir, remove_stale_tmp

LATEST = "latest"
# Logs appended during a step; their sizes are recorded so a resume can cut off an interrupted step's records.
LOG_GLOBS = ("metrics.jsonl", "oversight.jsonl")
DAMAGED_PREFIX = "damaged-"


class CheckpointError(FileError):
    """A checkpoint cannot be used (damaged files, no intact checkpoint left); one-line message."""


def step_name(step: int) -> str:
    return f"step_{step:06d}"


# ----------------------------------------------------------------------------------------------------------------
# RNG states


def capture_rng(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Python, NumPy and torch global RNG states, plus named extra states (the self-play sampler, the backend)."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        **(extra or {}),
    }


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------------------------
# model weights


def portable_spec(spec: str) -> str:
    """How a checkpoint names its base model: the spec itself (`packaged:NAME`, a hub id, `tiny-random`), or for a
    local directory or .gguf file its absolute path, so the name does not depend on the working directory."""
    path = Path(spec).expanduser()
    return str(path.resolve()) if not spec.startswith("packaged:") and path.exists() else spec


def save_model(model: Any, directory: Path, tokenizer: Any = None, base_spec: str | None = None) -> None:
    """A complete Hugging Face model directory: `save_pretrained` safetensors (a PEFT model writes only its
    adapter, whose `base_model_name_or_path` becomes `base_spec`) plus the tokenizer with its chat template."""
    if getattr(model, "hf_quantizer", None) is not None:
        # GGUF-loaded weights are already dequantized floats; the leftover marker only makes saving refuse.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    model.save_pretrained(directory, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    adapter = directory / "adapter_config.json"
    if base_spec is not None and adapter.is_file():
        # PEFT records the base's load path, for packaged models a machine-local cache directory; the spec is
        # what another machine can resolve (`azr.models.load`, and AutoPeftModel for hub ids and directories).
        meta = json.loads(adapter.read_text())
        meta["base_model_name_or_path"] = base_spec
        adapter.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_model_weights(model: Any, directory: Path) -> None:
    """Load weights saved by `save_model` into an already built model of the same spec (and LoRA shape)."""
    from safetensors.torch import load_file

    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(directory / "adapter_model.safetensors"))
        return
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no safetensors weights in {directory}")
    own = model.state_dict()
    loaded: set[str] = set()
    with torch.no_grad():
        for f in files:
            for name, tensor in load_file(f).items():
                if name in own:
                    own[name].copy_(tensor.to(own[name].dtype))
                    loaded.add(name)
    # save_pretrained drops tied duplicates (lm_head = embeddings); everything else must have been in the files.
    tied = {n for n, t in own.items() if any(t.data_ptr() == own[m].data_ptr() for m in loaded)}
    missing = sorted(set(own) - loaded - tied)
    if missing:
        raise ValueError(f"checkpoint {directory} lacks weights for {missing[0]} (and {len(missing) - 1} more)")


# ----------------------------------------------------------------------------------------------------------------
# save / find / load


def _log_sizes(run_dir: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for pattern in LOG_GLOBS:
        for p in sorted(run_dir.glob(pattern)):
            sizes[str(p.relative_to(run_dir))] = p.stat().st_size
    return sizes


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    cfg: Config,
    *,
    model: Any = None,
    learner: Any = None,
    tokenizer: Any = None,
    rng: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write checkpoint `step` atomically, point `latest` at it, keep the newest `keep` checkpoints."""
    run_dir = Path(run_dir)
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_name(step)
    tmp = root / f".tmp-{step_name(step)}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if model is not None:
            save_model(model, tmp / "model", tokenizer, portable_spec(cfg.model.spec))
        if learner is not None:
            torch.save(learner.state_dict(), tmp / "optimizer.pt")
        torch.save(rng if rng is not None else capture_rng(), tmp / "rng.pt")
        save_config(cfg, tmp / "config.yaml")
        # The size of every file, so a resume can tell a truncated one from an intact one without reading it all.
        files = {str(f.relative_to(tmp)): f.stat().st_size for f in sorted(tmp.rglob("*")) if f.is_file()}
        meta = {
            "step": step,
            "log_sizes": _log_sizes(run_dir),
            "has_model": model is not None,
            "files": files,
            **(state or {}),
        }
        (tmp / "state.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        _fsync_tree(tmp)
        if final.exists():  # re-saving the same step (e.g. the end of a resumed run that made no new step)
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / LATEST, final.name + "\n")
    _prune(root, keep, final)
    return final


def _complete(path: Path) -> bool:
    return path.is_dir() and (path / "state.json").is_file() and (path / "rng.pt").is_file()


def _prune(root: Path, keep: int, current: Path) -> None:
    done = sorted(p for p in root.glob("step_*") if _complete(p))
    for old in done[: max(0, len(done) - keep)]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
    for stray in root.glob(".tmp-step_*"):  # left by a process killed mid-write
        if not stray.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(stray, ignore_errors=True)
    remove_stale_tmp(root, LATEST)  # a kill while `latest` was being replaced


def _step_dirs(root: Path) -> list[Path]:
    """`step_*` directories, newest step first."""
    dirs = [p for p in root.glob("step_*") if p.is_dir() and p.name[5:].isdigit()]
    return sorted(dirs, key=lambda p: int(p.name[5:]), reverse=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint: the one `latest` names, else the highest complete `step_*` directory."""
    root = Path(run_dir) / "checkpoints"
    try:
        named = root / (root / LATEST).read_text().strip()
        if named.name.startswith("step_") and _complete(named):
            return named
    except (OSError, ValueError):  # missing, torn or not UTF-8: fall back to the directories
        pass
    done = [p for p in _step_dirs(root) if _complete(p)]
    return done[0] if done else None


def has_checkpoints(run_dir: str | Path) -> bool:
    """True when the run holds any checkpoint directory, intact or not."""
    return bool(_step_dirs(Path(run_dir) / "checkpoints"))


@dataclass
class Checkpoint:
    path: Path
    step: int
    cfg: Config
    state: dict[str, Any]
    rng: dict[str, Any]

    @property
    def model_dir(self) -> Path | None:
        d = self.path / "model"
        return d if d.is_dir() else None

    def learner_state(self) -> dict[str, Any] | None:
        p = self.path / "optimizer.pt"
        return torch.load(p, weights_only=False) if p.is_file() else None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:160]


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint; CheckpointError (one line, naming the damaged file) if any part is unusable.

    Checks every file against the size recorded at save time, parses state.json, the config and the RNG states,
    and opens the optimizer state (memory-mapped) and the safetensors headers, so a damaged checkpoint is found
    here, before a model is built, not half-way through a resume."""
    import yaml

    path = Path(path)

    def damaged(what: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {path} is damaged: {what}")

    try:
        state = json.loads((path / "state.json").read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise damaged("state.json is missing") from None
    except (OSError, ValueError) as e:
        raise damaged(f"state.json is not valid JSON ({_first_line(e)})") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise damaged("state.json does not record the step")
    if path.name[5:].isdigit() and int(path.name[5:]) != state["step"]:
        raise damaged(f"state.json records step {state['step']}")
    files = state.get("files") or {}  # absent in checkpoints written before sizes were recorded
    if not isinstance(files, dict):
        raise damaged("state.json does not list the file sizes")
    for rel, size in files.items():
        f = path / rel
        actual = f.stat().st_size if f.is_file() else None
        if actual is None:
            raise damaged(f"{rel} is missing")
        if actual != size:
            raise damaged(f"{rel} has {actual} bytes, {size} were written")
    try:
        cfg = config_from_dict(yaml.safe_load((path / "config.yaml").read_bytes().decode("utf-8")) or {})
    except (OSError, ValueError, yaml.YAMLError, ConfigError, TypeError, AttributeError) as e:
        raise damaged(f"config.yaml is not a valid config ({_first_line(e)})") from None
    # Our own pickles (python/numpy RNG states are not tensors, so weights_only cannot hold them). Unpickling
    # garbage raises almost any exception type; each means the file is damaged.
    try:
        rng = torch.load(path / "rng.pt", weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise damaged(f"rng.pt cannot be read ({_first_line(e)})") from None
    if not isinstance(rng, dict) or not {"python", "numpy", "torch"} <= set(rng):
        raise damaged("rng.pt does not hold the RNG states")
    if (path / "optimizer.pt").is_file():
        try:  # memory-mapped: checks the archive without reading gigabytes of moments
            torch.load(path / "optimizer.pt", weights_only=False, mmap=True)
        except Exception as e:  # noqa: BLE001
            raise damaged(f"optimizer.pt cannot be read ({_first_line(e)})") from None
    model = path / "model"
    weights = sorted(model.glob("*.safetensors"))
    # A multi-rank run keeps its tensors in dcp/ instead (azr.dist.checkpoint), which DCP itself checks on load.
    if state.get("has_model") and not weights and not (path / "dcp").is_dir():
        raise damaged("model/ holds no safetensors weights")
    for f in weights:
        try:
            from safetensors import safe_open

            with safe_open(str(f), "pt"):  # parses the header and checks the file covers every tensor
                pass
        except Exception as e:  # noqa: BLE001 - SafetensorError is not importable by name in every version
            raise damaged(f"model/{f.name} cannot be read ({_first_line(e)})") from None
    return Checkpoint(path=path, step=state["step"], cfg=cfg, state=state, rng=rng)


def resume_point(run_dir: str | Path) -> tuple[Checkpoint | None, list[str]]:
    """The newest intact checkpoint of a run, and one line per damaged newer one (each is renamed to
    `damaged-step_N`, kept for inspection, out of the way of later saves). None when the run has no checkpoint;
    CheckpointError when it has some but none is intact."""
    root = Path(run_dir) / "checkpoints"
    bad: list[tuple[Path, str]] = []
    for path in _step_dirs(root):
        try:
            loaded = load_checkpoint(path)
        except CheckpointError as e:
            bad.append((path, str(e)))
            continue
        notes = []
        for damaged, why in bad:
            aside = root / f"{DAMAGED_PREFIX}{damaged.name}"
            shutil.rmtree(aside, ignore_errors=True)
            os.rename(damaged, aside)
            notes.append(f"{why}; set aside as {aside.name}, resuming from {path.name}")
        return loaded, notes
    notes = [why for _, why in bad]
    if notes:
        raise CheckpointError(
            f"no intact checkpoint in {root} ({notes[0].removeprefix('checkpoint ')}"
            + (f", and {len(notes) - 1} more" if len(notes) > 1 else "")
            + "): start a new run with another --out"
        )
    return None, []


def truncate_logs(run_dir: str | Path, sizes: dict[str, int], after_step: int) -> None:
    """Cut the run's append-only logs back to their sizes at the checkpoint, and delete per-step files
    (samples, eval) of later steps, so a resumed run writes each step exactly once."""
    run_dir = Path(run_dir)
    for pattern in LOG_GLOBS:
        for p in run_dir.glob(pattern):
            rel = str(p.relative_to(run_dir))
            size = sizes.get(rel, 0)
            if p.stat().st_size > size:
                with open(p, "r+b") as f:
                    f.truncate(size)
                    f.flush()
                    os.fsync(f.fileno())
    for sub, suffix in (("samples", ".jsonl"), ("eval", ".json")):
        for p in (run_dir / sub).glob(f"step_*{suffix}"):
            try:
                if int(p.stem.split("_")[1]) > after_step:
                    p.unlink()
            except (IndexError, ValueError):
                continue
