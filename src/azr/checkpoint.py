"""Crash-safe checkpoints of a run: `RUN_DIR/checkpoints/step_NNNNNN/` plus `checkpoints/latest`.

A checkpoint holds the model (full weights or only the LoRA adapter, `save_pretrained` safetensors), the learner's
optimizer state (and fp32 master weights), every RNG state, the step, the resolved config and the sizes of the
run's append-only logs at that step (buffers, metrics, oversight). It is written into a temporary directory,
fsynced, renamed into place, and only then named in `latest` (itself replaced atomically), so a process killed
at any moment leaves the previous checkpoint complete and `latest` pointing at it. Resuming truncates the logs back
to the recorded sizes, dropping whatever the interrupted step had appended.

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

from azr.config import Config, config_from_dict, save_config
from azr.io import atomic_write_json, atomic_write_text, fsync_dir

LATEST = "latest"
# Logs appended during a step; their sizes are recorded so a resume can cut off an interrupted step's records.
LOG_GLOBS = ("metrics.jsonl", "oversight.jsonl")


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


def save_model(model: Any, directory: Path) -> None:
    """`save_pretrained` as safetensors: a PEFT model writes only its adapter."""
    if getattr(model, "hf_quantizer", None) is not None:
        # GGUF-loaded weights are already dequantized floats; the leftover marker only makes saving refuse.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    model.save_pretrained(directory, safe_serialization=True)


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
            save_model(model, tmp / "model")
        if learner is not None:
            torch.save(learner.state_dict(), tmp / "optimizer.pt")
        torch.save(rng if rng is not None else capture_rng(), tmp / "rng.pt")
        save_config(cfg, tmp / "config.yaml")
        meta = {"step": step, "log_sizes": _log_sizes(run_dir), "has_model": model is not None, **(state or {})}
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


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint: the one `latest` names, else the highest complete `step_*` directory."""
    root = Path(run_dir) / "checkpoints"
    try:
        named = root / (root / LATEST).read_text().strip()
        if named.name.startswith("step_") and _complete(named):
            return named
    except OSError:
        pass
    done = sorted(p for p in root.glob("step_*") if _complete(p))
    return done[-1] if done else None


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


def load_checkpoint(path: str | Path) -> Checkpoint:
    import yaml

    path = Path(path)
    state = json.loads((path / "state.json").read_text())
    cfg = config_from_dict(yaml.safe_load((path / "config.yaml").read_text()) or {})
    rng = torch.load(path / "rng.pt", weights_only=False)  # our own file: python/numpy states are not tensors
    return Checkpoint(path=path, step=int(state["step"]), cfg=cfg, state=state, rng=rng)


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


def write_run_state(run_dir: str | Path, data: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / "run.json", data)
