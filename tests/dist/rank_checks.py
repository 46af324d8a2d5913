"""Run under `torchrun --nproc-per-node 2` by tests/dist/test_ranks.py: every check compares what the data-parallel
pieces compute on 2 ranks with what one process computes on the whole batch (built in the same process, since
every rank can afford the reference on the tiny model). Each rank writes `rank_<r>.json` into argv[1]."""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import torch

from azr.config import load_config
from azr.dist import comm, launch, world
from azr.learner.base import Sample
from azr.learner.hf import HFLearner
from azr.models import tiny_random
from azr.rollout.base import Completion, SamplingParams
from azr.tasks.types import Role, TaskType

OUT = Path(sys.argv[1])


def cfg(*overrides: str):
    base = ["model.spec=tiny-random", "optim.lr=1e-3", "optim.micro_batch_size=2", "algo.entropy_coef=0.01"]
    return load_config(None, base + list(overrides))


def samples(n: int = 5, seed: int = 0) -> tuple[list[Sample], list[float]]:
    """n completions of different lengths with non-trivial advantages (5 samples, micro-batch 2: rank 0 gets 3
    samples = 2 passes, rank 1 gets 2 = 1 pass + 1 lockstep pass)."""
    g = torch.Generator().manual_seed(seed)
    out, adv = [], []
    for i in range(n):
        p = torch.randint(3, 300, (3 + i % 3,), generator=g).tolist()
        r = torch.randint(3, 300, (2 + 2 * i,), generator=g).tolist()
        lps = (-torch.rand(len(r), generator=g) * 5).tolist()
        out.append(
            Sample(TaskType.DEDUCTION, Role.SOLVE, Completion("p", "t", tuple(p), tuple(r), tuple(lps)), 0.0, f"g{i}")
        )
        adv.append(float(torch.randn((), generator=g)))
    return out, adv


def full_params(model) -> dict[str, torch.Tensor]:
    return {
        n: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().float().clone()
        for n, p in model.named_parameters()
        if p.requires_grad
    }


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def learner_case(*overrides: str, dtype=torch.float32) -> dict:
    """Two updates of the FSDP learner (this rank's shard) vs HFLearner (whole batch, one process)."""
    from azr.dist.fsdp import FSDPLearner

    c = cfg(*overrides)
    torch.manual_seed(0)  # LoRA's adapter init draws from the global RNG: same on both sides
    ref_model, tok = tiny_random(0, dtype)
    ref = HFLearner(ref_model, c, tok.pad_token_id)
    torch.manual_seed(0)
    model, _ = tiny_random(0, dtype)
    dl = FSDPLearner(model, c, tok.pad_token_id)
    res = {"metrics": [], "max_param_diff": 0.0, "moved": 0.0}
    start = full_params(ref.model)
    for step in range(2):
        s, a = samples(seed=step)
        m_ref = ref.update(s, a)
        m_dist = dl.update(s, a)
        res["metrics"].append({k: [m_dist[k], m_ref[k]] for k in ("loss", "pg_loss", "entropy", "grad_norm", "tokens")})
    mine = full_params(dl.model)
    theirs = trained_weights(ref)
    res["max_param_diff"] = max((mine[n] - theirs[n]).abs().max().item() for n in theirs)
    res["moved"] = max((theirs[n] - start[n]).abs().max().item() for n in theirs)
    # |update difference| / |update| over all trainable weights: the bf16 comparison (see test_ranks.py)
    diff = sum(float((mine[n] - theirs[n]).pow(2).sum()) for n in theirs) ** 0.5
    res["rel_update_diff"] = diff / sum(float((theirs[n] - start[n]).pow(2).sum()) for n in theirs) ** 0.5
    res["trainable"] = len(theirs)
    return res


def rollout_case() -> dict:
    """ShardedRollout over the HF backend returns exactly what one process generates for the whole call."""
    from azr.dist.rollout import ShardedRollout
    from azr.rollout.hf import HFBackend

    model, tok = tiny_random(0)
    prompts = ["def f(x):\n    return", "Given the code <think>", "for i in", "x = [", "print(", "<answer>"]
    params = SamplingParams(max_new_tokens=8, stop=("</answer>",), seed=123)
    whole = HFBackend(model, tok, micro_batch_size=4).generate(prompts, params, n=2)
    sharded = ShardedRollout(HFBackend(copy.deepcopy(model), tok, micro_batch_size=3)).generate(prompts, params, n=2)
    same = [[a.token_ids == b.token_ids and a.text == b.text for a, b in zip(x, y)] for x, y in zip(whole, sharded)]
    lp = max(abs(p - q) for x, y in zip(whole, sharded) for a, b in zip(x, y) for p, q in zip(a.logprobs, b.logprobs))
    return {"same": same, "max_logprob_diff": lp}


def weight_sync_case() -> dict:
    """sync_weights gathers the FSDP shards into the rollout mirror: afterwards mirror == full weights."""
    from azr.dist.fsdp import build

    c = cfg()
    model, tok = tiny_random(0)
    learner, rollout = build(c, model, tok)
    s, a = samples()
    learner.update(s, a)
    t0 = time.perf_counter()
    rollout.sync_weights(learner.model)
    seconds = time.perf_counter() - t0
    full = full_params(learner.model)
    diff = max((full[n] - p.float()).abs().max().item() for n, p in rollout.mirror.named_parameters())
    return {"diff": diff, "seconds": seconds}


def engine_case() -> dict:
    """rollout.backend=vllm wiring, with a recording stand-in for the engine (no vLLM here): the engine is asked
    for torchrun data parallelism, and its sync_weights gets the gathered full weights (full fine-tuning) or the
    CPU mirror with the trained adapter in it (LoRA, which the engine merges)."""
    import azr.rollout as rollout_pkg
    from azr.dist.fsdp import build

    class Engine:
        def __init__(self, kwargs: dict) -> None:
            self.kwargs, self.synced = kwargs, []

        def sync_weights(self, model) -> None:
            self.synced.append({k: v.detach().float().clone() for k, v in model.state_dict().items()})

    made: list[Engine] = []

    def make_backend(cfg, model=None, tokenizer=None, **kwargs):
        made.append(Engine({"model": model, **kwargs}))
        return made[-1]

    original, rollout_pkg.make_backend = rollout_pkg.make_backend, make_backend
    out = {}
    try:
        for lora in (False, True):
            extra = ["model.lora=true", "model.lora_r=4"] if lora else []
            learner, rollout = build(cfg("rollout.backend=vllm", *extra), tiny_random(0)[0], tiny_random(0)[1])
            s, a = samples()
            learner.update(s, a)
            rollout.sync_weights(learner.model)
            engine = made[-1]
            full = full_params(learner.model)
            last = engine.synced[-1]
            out["lora" if lora else "full"] = {
                "kwargs": {k: v for k, v in engine.kwargs.items() if k != "model"},
                "model_given": engine.kwargs["model"] is not None,
                "syncs": len(engine.synced),
                "equal": all(torch.equal(last[n], full[n]) for n in full),
                "adapter_keys": sum(".lora_" in k for k in last),
            }
    finally:
        rollout_pkg.make_backend = original
    return out


def executor_case() -> dict:
    from azr.config import ExecutorConfig
    from azr.dist.executor import ShardedExecutor
    from azr.executor import ExecRequest, Executor

    reqs = [ExecRequest(f"def f(x):\n    return x * {k}", (str(k), "'ab'")) for k in range(5)]
    with Executor(ExecutorConfig(workers=1, timeout=5.0)) as ex:
        got = ShardedExecutor(ex).run(reqs)
        whole = ex.run(reqs)
    return {
        "same": [[a.status == b.status and a.output == b.output for a, b in zip(x, y)] for x, y in zip(got, whole)],
        "outputs": [[r.output for r in x] for x in got],
    }


def checkpoint_case(directory: Path) -> dict:
    """DCP round trip: save after one update, load into a fresh learner, the next update is identical."""
    from azr.dist import checkpoint as dckpt
    from azr.dist.fsdp import FSDPLearner

    c = cfg()
    model, tok = tiny_random(0)
    a = FSDPLearner(model, c, tok.pad_token_id)
    s, adv = samples()
    a.update(s, adv)
    path = dckpt.save(directory, 1, c, a, {"note": world().rank}, keep=2)
    b = FSDPLearner(tiny_random(7)[0], c, tok.pad_token_id)
    rng = dckpt.load(path, b)
    s2, adv2 = samples(seed=1)
    ma, mb = a.update(s2, adv2), b.update(s2, adv2)
    fa, fb = full_params(a.model), full_params(b.model)
    return {
        "rng": rng["note"],
        "equal": all(torch.equal(fa[n], fb[n]) for n in fa),
        "loss": [ma["loss"], mb["loss"]],
        "steps": b.steps,
    }


def single_process_case(directory: Path, *overrides: str, dtype=torch.float32) -> dict:
    """A one-process checkpoint (azr.checkpoint) continued on 2 ranks: the FSDP learner gets the same weights
    (the fp32 masters for bf16) and AdamW state, so the next update matches the one process's."""
    from azr import checkpoint as ck
    from azr.dist import checkpoint as dckpt
    from azr.dist.fsdp import FSDPLearner

    c = cfg(*overrides)
    torch.manual_seed(0)
    model, tok = tiny_random(0, dtype)
    single = HFLearner(model, c, tok.pad_token_id)
    s, a = samples()
    single.update(s, a)
    directory = Path(comm.broadcast(str(directory)))
    if world().main:
        ck.save_checkpoint(directory, 1, c, model=single.model, learner=single)
    comm.barrier()
    # Other weights, so all must come from the file; a LoRA run's frozen base comes from its spec (seed 0 here).
    dl = FSDPLearner(tiny_random(0 if c.model.lora else 5, dtype)[0], c, tok.pad_token_id)
    dckpt.load_single_process(ck.load_checkpoint(directory / "checkpoints" / "step_000001"), dl)
    before = trained_weights(single)
    s2, a2 = samples(seed=1)
    m_one, m_two = single.update(s2, a2), dl.update(s2, a2)
    # the second AdamW step uses the loaded moments: without them it would be a first step (~lr * sign(grad))
    after, mine = trained_weights(single), full_params(dl.model)
    diff = sum(float((mine[n] - after[n]).pow(2).sum()) for n in after) ** 0.5
    moved = sum(float((after[n] - before[n]).pow(2).sum()) for n in after) ** 0.5
    return {
        "loss": [m_two["loss"], m_one["loss"]],
        "grad_norm": [m_two["grad_norm"], m_one["grad_norm"]],
        "steps": dl.steps,
        "rel_update_diff": diff / moved,
    }


def trained_weights(learner: HFLearner) -> dict[str, torch.Tensor]:
    """One process's trainable weights: the fp32 masters where it keeps them (bf16), else the parameters."""
    named = [(n, p) for n, p in learner.model.named_parameters() if p.requires_grad]
    return {n: (m if m is not None else p).detach().float().clone() for (n, p), m in zip(named, learner.masters)}


def timeout_case() -> dict:
    """A collective that one rank never joins fails with RankLost within the group's timeout (no hang)."""
    import datetime

    import torch.distributed as dist

    group = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=3))
    t0 = time.perf_counter()
    raised, seconds = "", 0.0
    if world().rank == 0:
        try:
            with comm.guard("test all_reduce"):
                dist.all_reduce(torch.ones(1), group=group)
        except comm.RankLost as e:
            raised, seconds = str(e), time.perf_counter() - t0
    else:
        time.sleep(6)
    comm.barrier()
    return {"raised": raised, "seconds": seconds}


def main() -> None:
    with launch.process_group(load_config(None, ["dist.timeout=60"]).dist) as w:
        result = {
            "world": [w.rank, w.size],
            "fp32": learner_case(),
            "lora": learner_case("model.lora=true", "model.lora_r=4", "model.lora_targets=[q_proj,v_proj]"),
            "kl": learner_case("algo.kl_coef=0.1"),
            "checkpointing": learner_case("model.gradient_checkpointing=true", "model.lora=true", "model.lora_r=4"),
            "bf16": learner_case("model.dtype=bf16", dtype=torch.bfloat16),
            "rollout": rollout_case(),
            "sync": weight_sync_case(),
            "engine": engine_case(),
            "executor": executor_case(),
            "checkpoint": checkpoint_case(OUT / "run"),
            "single_fp32": single_process_case(OUT / "single_fp32"),
            "single_bf16_lora": single_process_case(
                OUT / "single_bf16_lora", "model.dtype=bf16", "model.lora=true", "model.lora_r=4", dtype=torch.bfloat16
            ),
            "timeout": timeout_case(),
        }
        (OUT / f"rank_{w.rank}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
