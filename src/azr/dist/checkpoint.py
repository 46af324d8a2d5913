"""Sharded checkpoints of a multi-rank run with `torch.distributed.checkpoint` (DCP), and `azr export`.

Layout beside the single-process flavour (`azr.checkpoint`), same `checkpoints/step_N/` + `latest` protocol:

```
checkpoints/step_000010/
  dcp/                 DCP: the model's trainable tensors (fp32 master shards; LoRA: only the adapter) and the
                       AdamW state, written in parallel by every rank (`__<rank>_0.distcp` + `.metadata`)
  rng/rank_<r>.pt      every rank's RNG states (python/numpy/torch, the self-play sampler, the rollout backend)
  rng.pt               rank 0's copy (what `azr.checkpoint.latest_checkpoint` checks for completeness)
  config.yaml, state.json   as in a single-process checkpoint, plus "format": "dcp", "world_size", "learner_steps"
```

Writes go to a temporary directory that rank 0 renames into place after every rank finished (two barriers), so a
rank killed at any moment leaves the previous checkpoint complete and `latest` pointing at it. Multi-node runs
need the run directory on a filesystem every node sees (DCP writes one file per rank).

Resume: at the same world size every rank restores exactly its own state. At another world size (2 -> 1, 1 -> 2
ranks of a DCP run, ...) DCP re-shards the model and optimizer on load (it stores global shapes and offsets),
and every rank takes rank 0's RNG states; the sampler and every RNG that decides what is generated are the same
on all ranks, so the run continues as it would have at the old world size (up to float summation order). A
one-process run's checkpoint continues on N ranks through `load_single_process`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from azr import checkpoint as ckpt
from azr.config import Config, save_config
from azr.dist import comm, world
from azr.io import atomic_write_text, fsync_dir

FORMAT = "dcp"


def is_dcp(checkpoint: Path) -> bool:
    """True for a checkpoint written by `save` (a multi-rank run)."""
    try:
        return json.loads((Path(checkpoint) / "state.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def _options() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # Frozen tensors (a LoRA run's base model) never change: the spec rebuilds them, the checkpoint skips them.
    return StateDictOptions(ignore_frozen_params=True)


def _states(learner: Any) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_sd, optim_sd = get_state_dict(learner.model, learner.optimizer, options=_options())
    return {"model": model_sd, "optim": optim_sd}


def save(run_dir: Path, step: int, cfg: Config, learner: Any, rng: dict[str, Any], keep: int) -> Path:
    """Write checkpoint `step` from every rank (a collective); returns its final path on every rank."""
    import torch.distributed.checkpoint as dcp

    w = world()
    root = Path(run_dir) / "checkpoints"
    final = root / ckpt.step_name(step)
    tmp = root / f".tmp-{ckpt.step_name(step)}-dcp"
    if w.main:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "rng").mkdir(parents=True)
    comm.barrier("checkpoint")
    if learner is not None:  # None: scripted rollouts, nothing trains
        with comm.guard("checkpoint"):
            dcp.save(_states(learner), checkpoint_id=tmp / "dcp")
    torch.save(rng, tmp / "rng" / f"rank_{w.rank}.pt")
    comm.barrier("checkpoint")
    if w.main:
        torch.save(rng, tmp / "rng.pt")
        save_config(cfg, tmp / "config.yaml")
        meta = {
            "step": step,
            "log_sizes": ckpt._log_sizes(run_dir),
            "has_model": learner is not None,
            "format": FORMAT,
            "world_size": w.size,
            "learner_steps": int(learner.steps) if learner is not None else 0,
        }
        (tmp / "state.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        ckpt._fsync_tree(tmp)
        if final.exists():  # re-saving the same step (the end of a resumed run that made no new step)
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(root)
        atomic_write_text(root / ckpt.LATEST, final.name + "\n")
        ckpt._prune(root, keep, final)
    comm.barrier("checkpoint")
    return final


def resume(loaded: ckpt.Checkpoint, learner: Any) -> dict[str, Any]:
    """Restore a checkpoint of either flavour into the sharded learner; returns this rank's RNG states."""
    if loaded.state.get("format") == FORMAT:
        return load(loaded.path, learner)
    return load_single_process(loaded, learner)


def load(checkpoint: Path, learner: Any) -> dict[str, Any]:
    """Load weights and optimizer state into the (sharded) learner (None: nothing trains); returns this rank's
    RNG states."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_state_dict

    checkpoint = Path(checkpoint)
    state = json.loads((checkpoint / "state.json").read_text())
    if learner is not None:
        states = _states(learner)
        with comm.guard("checkpoint load"):
            dcp.load(states, checkpoint_id=checkpoint / "dcp")
            set_state_dict(
                learner.model,
                learner.optimizer,
                model_state_dict=states["model"],
                optim_state_dict=states["optim"],
                options=_options(),
            )
        learner.steps = int(state.get("learner_steps", state["step"]))
    w = world()
    own = checkpoint / "rng" / f"rank_{w.rank}.pt"
    path = own if int(state.get("world_size", 0)) == w.size and own.is_file() else checkpoint / "rng.pt"
    return torch.load(path, weights_only=False)  # our own file: python/numpy states are not tensors


def load_single_process(loaded: ckpt.Checkpoint, learner: Any) -> dict[str, Any]:
    """A one-process run's checkpoint (`azr.checkpoint`) into the sharded learner (1 -> N ranks): every rank
    rebuilds the model as that run did, loads its weights and optimizer state, and hands them to FSDP as full
    tensors (the fp32 masters where the run kept them, else the weights; AdamW state keyed by parameter name).
    Returns the RNG states (rank 0's of the one process)."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    if learner is None:
        return loaded.rng
    state = loaded.learner_state()
    if loaded.model_dir is None or state is None:
        raise FileNotFoundError(f"checkpoint {loaded.path} holds no model weights or optimizer state")
    plain = plain_model(loaded.cfg)[0]
    ckpt.load_model_weights(plain, loaded.model_dir)
    trainable = [(n, p) for n, p in plain.named_parameters() if p.requires_grad]
    masters = state.get("masters") or [None] * len(trainable)
    weights = {n: (m if m is not None else p).detach().float() for (n, p), m in zip(trainable, masters)}
    names = [n for n, _ in trainable]
    opt = state["optimizer"]
    optim = {
        "state": {names[int(i)]: v for i, v in opt["state"].items()},
        "param_groups": [{**g, "params": [names[int(i)] for i in g["params"]]} for g in opt["param_groups"]],
    }
    with comm.guard("checkpoint load"):
        set_model_state_dict(learner.model, weights, options=StateDictOptions(full_state_dict=True, strict=False))
        set_optimizer_state_dict(
            learner.model, learner.optimizer, optim, options=StateDictOptions(full_state_dict=True)
        )
    learner.steps = int(state.get("steps", loaded.step))
    return loaded.rng


def plain_model(cfg: Config) -> tuple[torch.nn.Module, Any]:
    """(model, tokenizer) built the way a run builds them: the spec in its dtype, with the LoRA adapter when the
    run trains one (its random init is overwritten by whatever checkpoint is loaded next)."""
    from azr.learner.hf import apply_lora
    from azr.models import load

    model, tokenizer = load(cfg.model.spec, dtype=cfg.model.dtype, cache_dir=cfg.model.cache_dir or None)
    if cfg.model.lora:
        with torch.random.fork_rng(devices=[]):
            model = apply_lora(model, cfg.model)
    return model, tokenizer


def load_model_only(checkpoint: Path, model: torch.nn.Module) -> None:
    """Load a DCP checkpoint's weights into an unsharded model in this process (no process group needed)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

    sd = get_model_state_dict(model, options=_options())
    dcp.load({"model": sd}, checkpoint_id=Path(checkpoint) / "dcp")
    set_model_state_dict(model, sd, options=_options())


# ----------------------------------------------------------------------------------------------------------------
# azr export


def export(run_dir: Path, out_dir: Path, step: int | None = None) -> tuple[Path, int]:
    """Write the run's latest (or `step`'s) checkpoint as a consolidated Hugging Face directory: full weights +
    config + tokenizer (loads with `from_pretrained`), or for LoRA a PEFT adapter directory whose
    `base_model_name_or_path` is the run's model spec. Works for DCP and single-process checkpoints alike.
    Returns (checkpoint path, step)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    path = ckpt.latest_checkpoint(run_dir) if step is None else run_dir / "checkpoints" / ckpt.step_name(step)
    if path is None or not path.is_dir() or not (path / "state.json").is_file():
        raise FileNotFoundError(f"{run_dir} has no complete checkpoint" + (f" for step {step}" if step else ""))
    loaded = ckpt.load_checkpoint(path)
    cfg = loaded.cfg
    model, tokenizer = plain_model(cfg)
    if is_dcp(path):
        load_model_only(path, model)
    elif loaded.model_dir is not None:
        ckpt.load_model_weights(model, loaded.model_dir)
    else:
        raise FileNotFoundError(f"checkpoint {path} holds no model weights")
    if cfg.model.lora:
        for peft_cfg in model.peft_config.values():
            peft_cfg.base_model_name_or_path = cfg.model.spec  # the spec string, not a cache path
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt.save_model(model, out_dir)
    tokenizer.save_pretrained(out_dir)
    return path, loaded.step
