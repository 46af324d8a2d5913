"""`model.device`: validated up front; a GPU asked for on a machine without one is a one-line error before the
model loads; `auto` trains on the CPU here (the trainer used to leave the model on the CPU even with a GPU)."""

from __future__ import annotations

import pytest
import torch

from azr.config import ConfigError, load_config, resolve_preset
from azr.models import ModelError, resolve_device
from azr.trainer import TrainError, train


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "CPU", ""])
def test_unknown_devices_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="model.device"):
        load_config(None, [f"model.device={bad}"])


def test_auto_is_the_gpu_when_there_is_one() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_fails_before_loading(tmp_path) -> None:
    with pytest.raises(ModelError, match="no such CUDA device"):
        resolve_device("cuda:0")
    cfg = load_config(resolve_preset("debug"), ["model.spec=tiny-random", "model.device=cuda", "trainer.steps=1"])
    with pytest.raises(TrainError, match="model.device=cuda"):
        train(cfg, tmp_path / "run")
