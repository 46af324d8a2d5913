"""Where a run's per-step records go: metrics.jsonl, TensorBoard, W&B, samples/ and oversight.jsonl.

Every metrics writer takes the same flat `{key: float}` dict (keys in docs/ARCHITECTURE.md). TensorBoard and W&B
are imported only when enabled, so a plain install never needs them. Writers never raise into the training loop
for a logging backend's own failure after start-up; start-up errors (missing package) are reported as one line.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Protocol

from azr.config import Config
from azr.io import append_jsonl, atomic_write_text, read_jsonl


class MetricsWriter(Protocol):
    def write(self, step: int, metrics: dict[str, float]) -> None: ...

    def close(self) -> None: ...


def _finite(metrics: dict[str, Any]) -> dict[str, float]:
    """Numbers only; NaN/inf become None-free by being dropped (JSON has no NaN and TensorBoard rejects it)."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, bool):
            v = float(v)
        if isinstance(v, (int, float)) and math.isfinite(v):
            out[k] = float(v)
    return out


class JsonlWriter:
    """`RUN_DIR/metrics.jsonl`: one object per step with `step`, `time` and the step's metrics."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "metrics.jsonl"

    def write(self, step: int, metrics: dict[str, float]) -> None:
        append_jsonl(self.path, [{**_finite(metrics), "step": step, "time": time.time()}])

    def close(self) -> None:
        pass


class TensorBoardWriter:
    def __init__(self, run_dir: Path, start_step: int) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:  # the `logging` extra
            raise RuntimeError("trainer.tensorboard needs the tensorboard package: pip install 'azr[logging]'") from e
        # purge_step drops events an interrupted run wrote after the checkpoint being resumed
        self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=start_step + 1 if start_step else None)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        for k, v in _finite(metrics).items():
            self.tb.add_scalar(k, v, step)
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()


class WandbWriter:
    def __init__(self, run_dir: Path, cfg: Config) -> None:
        try:
            import wandb
        except ImportError as e:
            raise RuntimeError("trainer.wandb needs the wandb package: pip install 'azr[logging]'") from e
        id_file = run_dir / "wandb-id"
        run_id = id_file.read_text().strip() if id_file.exists() else wandb.util.generate_id()
        atomic_write_text(id_file, run_id + "\n")
        self.wandb = wandb
        self.run = wandb.init(
            project=cfg.trainer.wandb_project, id=run_id, resume="allow", dir=str(run_dir), config=cfg.to_dict()
        )

    def write(self, step: int, metrics: dict[str, float]) -> None:
        self.run.log(_finite(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


def make_writers(cfg: Config, run_dir: Path, start_step: int) -> list[MetricsWriter]:
    writers: list[MetricsWriter] = [JsonlWriter(run_dir)]
    if cfg.trainer.tensorboard:
        writers.append(TensorBoardWriter(run_dir, start_step))
    if cfg.trainer.wandb:
        writers.append(WandbWriter(run_dir, cfg))
    return writers


def write_samples(run_dir: Path, step: int, samples: list[dict[str, Any]]) -> Path | None:
    """`samples/step_NNNNNN.jsonl`: the step's inspection records (proposals and answers), written atomically."""
    if not samples:
        return None
    path = run_dir / "samples" / f"step_{step:06d}.jsonl"
    text = "".join(json.dumps(s, ensure_ascii=False, sort_keys=True, default=str) + "\n" for s in samples)
    atomic_write_text(path, text)
    return path


def write_flags(run_dir: Path, flags: list[Any]) -> None:
    """Append oversight flags (`Flag.to_json()`) to `oversight.jsonl`."""
    append_jsonl(run_dir / "oversight.jsonl", [f.to_json() if hasattr(f, "to_json") else dict(f) for f in flags])


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(run_dir / "metrics.jsonl"))
