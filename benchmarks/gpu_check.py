"""GPU readiness check: the HF backend and the learner on CUDA in bf16, one self-play step each with the scripted
and the HF backend, on a model built from the real Qwen2.5-Coder-0.5B config with random weights.

    python benchmarks/gpu_check.py                  # on a GPU machine (about 2-4 minutes on one H200)
    python benchmarks/gpu_check.py --tiny           # the same code path on the CPU in seconds (a unit test runs it)

Why random weights: a device machine receives at most 64 MiB with a run, so neither the packaged weights (~1 GB)
nor vLLM's GPU wheel (~400 MB plus CUDA libraries) can go there; the config (benchmarks/configs/) and this repo
can. Outputs of a random model are noise, so the step checks that everything runs on the device and what it
costs (tokens/s, step time, peak memory), not what it learns. The tokenizer is the tiny test BPE padded with
placeholder tokens up to the config's vocabulary size, so every sampled id decodes.

Each check is a function in CHECKS that takes the Setup and returns its numbers; `--checks` picks some. To add
one (e.g. a 1-GPU FSDP2 learner step), write `def check_x(setup: Setup) -> dict[str, float]` and register it in
CHECKS: it gets the built model, tokenizer, config and device, and its dict is printed as one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from azr.config import Config, load_config, resolve_preset

CONFIG = Path(__file__).resolve().parent / "configs" / "qwen2.5-coder-0.5b.json"


@dataclasses.dataclass(frozen=True)
class Setup:
    cfg: Config
    learner: Any
    """`azr.learner.hf.HFLearner` on the device (shared by the checks, so later ones see its optimizer state)."""
    tokenizer: Any
    device: torch.device
    workdir: Path

    @property
    def model(self) -> Any:
        return self.learner.model  # PEFT-wrapped when the config trains a LoRA adapter


def build(args: argparse.Namespace, workdir: Path) -> Setup:
    """Random weights from the real config (or tiny_random's for --tiny), the cpu-demo's step shape."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from azr.learner.hf import HFLearner
    from azr.models import weights_dtype
    from azr.models.tiny import tiny_random, tiny_tokenizer

    device = torch.device(args.device)
    overrides = [f"model.dtype={args.dtype}", f"rollout.micro_batch_size={args.micro_batch}", "selfplay.seed_size=0"]
    if args.tiny:
        overrides += ["rollout.max_new_tokens=16", "selfplay.batch_size=1", "selfplay.mc_samples=2"]
    cfg = load_config(resolve_preset("cpu-demo"), overrides)
    tokenizer = tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if args.tiny:
            model = tiny_random(seed=0)[0]
        else:
            model = Qwen2ForCausalLM(Qwen2Config.from_dict(json.loads(CONFIG.read_text())))
    # Placeholder tokens up to the model's vocabulary: a random model samples any id, and each must decode.
    tokenizer.add_tokens([f"<t{i}>" for i in range(model.config.vocab_size - len(tokenizer))])
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model = model.to(device=device, dtype=weights_dtype(args.dtype)).eval()
    return Setup(cfg, HFLearner(model, cfg, tokenizer.pad_token_id), tokenizer, device, workdir)


def self_play_step(setup: Setup, rollout: Any, name: str) -> dict[str, float]:
    """One `selfplay.step` (generate, execute, update) on the setup's learner, timed; the memory peak is this
    step's (on the CPU: the process's so far)."""
    from azr.buffer import TaskBuffers
    from azr.executor import Executor
    from azr.selfplay import SelfPlayContext, step
    from azr.tasks import prompts

    cfg, tok = setup.cfg, setup.tokenizer
    reset_peak(setup.device)
    with Executor(cfg.executor) as executor:
        ctx = SelfPlayContext(
            cfg=cfg,
            rollout=rollout,
            render=lambda messages: prompts.render(messages, tok, cfg.model.template),
            executor=executor,
            buffers=TaskBuffers(setup.workdir / name, cfg),
            rng=random.Random(cfg.trainer.seed),
            learner=setup.learner,
        )
        start = time.perf_counter()
        out = step(ctx, 1)
        seconds = time.perf_counter() - start
    m = out.metrics
    tokens, gen_s = m.get("rollout/tokens", 0.0), m.get("timing/generate", 0.0)
    return {
        "check": name,
        "step_s": round(seconds, 2),
        "generate_s": round(gen_s, 2),
        "update_s": round(m.get("timing/update", 0.0), 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / gen_s, 1) if gen_s > 0 else 0.0,
        "trained_sequences": m.get("update/sequences", 0.0),
        "grad_norm": round(m.get("update/grad_norm", float("nan")), 4),
        "peak_memory_gb": round(peak_gb(setup.device), 2),
    }


def check_scripted(setup: Setup) -> dict[str, float]:
    """Canned rollouts (no generation on the device), then the learner's update on the device."""
    from azr.rollout.scripted import ScriptedBackend

    result = self_play_step(setup, ScriptedBackend(seed=setup.cfg.trainer.seed), "scripted")
    del result["tokens_per_s"]  # canned text: nothing was generated on the device
    return result


def check_hf(setup: Setup) -> dict[str, float]:
    """The HF backend generating on the device with the learner's own model, then the update."""
    from azr.rollout.hf import HFBackend

    cfg = setup.cfg
    rollout = HFBackend(
        setup.model, setup.tokenizer, micro_batch_size=cfg.rollout.micro_batch_size, dtype=cfg.model.dtype, seed=0
    )
    return self_play_step(setup, rollout, "hf")


CHECKS: dict[str, Callable[[Setup], dict[str, float]]] = {"scripted": check_scripted, "hf": check_hf}
"""name -> check; the extension point for further device checks (see the module docstring)."""


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device: torch.device) -> float:
    """Peak device memory (CUDA allocator) or, on the CPU, the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny random model on the CPU (CI: the same code path)")
    p.add_argument("--device", default=None, help="default: cuda, or cpu with --tiny")
    p.add_argument("--dtype", default=None, choices=("fp32", "bf16", "autocast-bf16"), help="default: bf16")
    p.add_argument("--micro-batch", type=int, default=64, help="rollout.micro_batch_size (sequences at once)")
    p.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated, of {', '.join(CHECKS)}")
    args = p.parse_args(argv)
    args.device = args.device or ("cpu" if args.tiny else "cuda")
    args.dtype = args.dtype or ("fp32" if args.tiny else "bf16")
    names = args.checks.split(",")
    if unknown := [n for n in names if n not in CHECKS]:
        print(f"gpu_check: unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (use --tiny for the CPU code path)", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        setup = build(args, Path(tmp))
        info = {"device": str(setup.device), "dtype": args.dtype, "build_s": round(time.perf_counter() - start, 1)}
        if setup.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(setup.device)
        info["parameters_m"] = round(sum(p.numel() for p in setup.model.parameters()) / 1e6, 1)
        print(json.dumps(info), flush=True)
        for name in names:
            print(json.dumps(CHECKS[name](setup)), flush=True)
        print(f"gpu_check: ok ({', '.join(names)}) in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
