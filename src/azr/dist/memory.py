"""What fits per GPU: a memory model of one rank of a data-parallel run, computed from the model's shape.

`python -m azr.dist.memory` prints the table in docs/distributed.md (a test checks the two agree). Terms, per GPU,
for N ranks with FSDP2 and this project's learner (bf16 compute, fp32 masters and reduction, AdamW):

- masters    trainable parameters as fp32 shards: 4 T / N bytes; a LoRA run's frozen base is sharded in bf16 (2 F / N)
- grads      fp32 gradient shards: 4 T / N
- optimizer  AdamW exp_avg + exp_avg_sq in fp32: 8 T / N
- gathered   bf16 parameters FSDP all-gathers for compute: the root unit (embeddings, LM head, final norm) plus two
             decoder layers (the one computing and the one prefetched): 2 (R + 2 D)
- activations  one micro-batch of `micro_batch` sequences of `seq_len` tokens with gradient checkpointing: every
             layer keeps its bf16 input (2 L s h) plus one layer recomputed in full (2 s (8 h + 2 kv + 4 i)), and
             the fp32 log-softmax work over the vocabulary for the `response_len` positions that are scored: about
             four V-wide fp32 tensors per token (logits upcast, log-softmax, entropy, their gradient) = 16 r V
- rollout    the generation copy of the weights in bf16, whole on every rank (the HF mirror or the colocated vLLM
             engine at tensor parallel 1): 2 P; the vLLM KV cache takes what `gpu_memory_utilization` leaves:
             (u * GPU - 2 P) / (2 * 2 L kv_heads head_dim) tokens
- peak       training phase = masters + grads + optimizer + gathered + activations (+ rollout weights unless the
             engine sleeps during the update); rollout phase = masters + optimizer + u * GPU (gradients are freed after
             the step).

These are estimates of the dominant terms (no allocator fragmentation, CUDA context ~0.5 GiB, or NCCL buffers);
the shapes are the published Hugging Face configs of the Qwen2.5 family (the paper's models are the Coder
variants, which share these shapes).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Shape:
    """A Qwen2-style decoder (GQA attention with q/k/v biases, SwiGLU MLP, RMSNorm)."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear of one decoder layer."""
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def layer_params(self) -> int:
        weights = sum(a * b for a, b in self.linears().values())
        return weights + self.hidden + 2 * self.kv_dim + 2 * self.hidden  # q/k/v biases, two RMSNorms

    def root_params(self) -> int:
        """Embeddings, final norm and (untied) LM head: the FSDP root unit."""
        return self.vocab * self.hidden * (1 if self.tied else 2) + self.hidden

    def params(self) -> int:
        return self.layers * self.layer_params() + self.root_params()

    def lora_params(self, r: int, targets: tuple[str, ...] = LORA_TARGETS) -> int:
        """Adapter parameters: A (r x in) and B (out x r) for every targeted linear of every layer."""
        return self.layers * sum(r * (a + b) for name, (a, b) in self.linears().items() if name in targets)

    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_dim * 2  # K and V, bf16

    def hf_config(self) -> object:
        """The transformers `Qwen2Config` of this shape (for random-weight benchmarks and the count test)."""
        from transformers import Qwen2Config

        return Qwen2Config(
            vocab_size=self.vocab,
            hidden_size=self.hidden,
            intermediate_size=self.intermediate,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads,
            tie_word_embeddings=self.tied,
        )


def shape_from_config(name: str, config: object) -> Shape:
    """A `Shape` from a transformers `Qwen2Config` (or any config with the same fields)."""
    c = config
    return Shape(
        name,
        c.hidden_size,  # type: ignore[attr-defined]
        c.intermediate_size,  # type: ignore[attr-defined]
        c.num_hidden_layers,  # type: ignore[attr-defined]
        c.num_attention_heads,  # type: ignore[attr-defined]
        c.num_key_value_heads,  # type: ignore[attr-defined]
        c.vocab_size,  # type: ignore[attr-defined]
        bool(c.tie_word_embeddings),  # type: ignore[attr-defined]
    )


# Qwen2.5 config.json values (Qwen2.5-Coder-{0.5,1.5,3,7,14}B have the same shapes).
QWEN25 = {
    "0.5B": Shape("0.5B", 896, 4864, 24, 14, 2, 151936, True),
    "1.5B": Shape("1.5B", 1536, 8960, 28, 12, 2, 151936, True),
    "3B": Shape("3B", 2048, 11008, 36, 16, 2, 151936, True),
    "7B": Shape("7B", 3584, 18944, 28, 28, 4, 152064, False),
    "14B": Shape("14B", 5120, 13824, 48, 40, 8, 152064, False),
}
# README of the official code: 3B on 2x80 GB, 7B on 4x80 GB, 14B on 8x80 GB.
PAPER_GPUS = {"0.5B": 1, "1.5B": 1, "3B": 2, "7B": 4, "14B": 8}


@dataclass(frozen=True)
class Estimate:
    shape: Shape
    world: int
    lora: bool
    masters: float
    grads: float
    optimizer: float
    gathered: float
    activations: float
    rollout_weights: float
    kv_tokens: int
    train_peak: float
    rollout_peak: float
    """Bytes per GPU, except kv_tokens (tokens the vLLM KV cache holds at the given utilisation)."""

    def fits(self, gpu_bytes: float) -> bool:
        return max(self.train_peak, self.rollout_peak) <= gpu_bytes and self.kv_tokens > 0


def estimate(
    shape: Shape,
    world: int,
    *,
    lora: bool = False,
    lora_r: int = 16,
    micro_batch: int = 1,
    seq_len: int = 4096,
    response_len: int = 2048,
    gpu_gib: float = 80.0,
    gpu_memory_utilization: float = 0.4,
    sleep: bool = True,
) -> Estimate:
    """Per-GPU bytes of one rank (see the module docstring for every term)."""
    if world < 1:
        raise ValueError("world must be >= 1")
    p = shape.params()
    trainable = shape.lora_params(lora_r) if lora else p
    frozen = p if lora else 0
    masters = (4 * trainable + 2 * frozen) / world
    grads = 4 * trainable / world
    optimizer = 8 * trainable / world
    gathered = 2 * (shape.root_params() + 2 * shape.layer_params())
    h, kv, i = shape.hidden, shape.kv_dim, shape.intermediate
    tokens = micro_batch * seq_len
    activations = 2 * shape.layers * tokens * h + 2 * tokens * (8 * h + 2 * kv + 4 * i)
    activations += 16 * micro_batch * response_len * shape.vocab
    rollout_weights = 2 * p
    budget = gpu_memory_utilization * gpu_gib * GIB
    kv_tokens = max(0, int((budget - rollout_weights) // shape.kv_bytes_per_token()))
    train = masters + grads + optimizer + gathered + activations + (0 if sleep else budget)
    rollout = masters + optimizer + budget
    return Estimate(
        shape, world, lora, masters, grads, optimizer, gathered, activations, rollout_weights, kv_tokens, train, rollout
    )


def table(gpu_gib: float = 80.0, **kwargs: object) -> str:
    """The markdown table of docs/distributed.md: each Qwen2.5 size at 1 GPU and at the paper's GPU count."""
    rows = [
        "| model | params | method | GPUs | masters+grads+Adam | gathered bf16 | activations | rollout weights | "
        "KV tokens | train peak | rollout peak | fits 80 GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, shape in QWEN25.items():
        for lora in (False, True):
            for n in sorted({1, PAPER_GPUS[name]}):
                e = estimate(shape, n, lora=lora, gpu_gib=gpu_gib, **kwargs)  # type: ignore[arg-type]
                state = e.masters + e.grads + e.optimizer
                rows.append(
                    f"| {name} | {shape.params() / 1e9:.2f}B | {'LoRA r16' if lora else 'full'} | {n} | "
                    f"{_g(state)} | {_g(e.gathered)} | {_g(e.activations)} | {_g(e.rollout_weights)} | "
                    f"{e.kv_tokens:,} | {_g(e.train_peak)} | {_g(e.rollout_peak)} | "
                    f"{'yes' if e.fits(gpu_gib * GIB) else 'no'} |"
                )
    return "\n".join(rows)


def _g(b: float) -> str:
    return f"{b / GIB:.1f}"


if __name__ == "__main__":
    print(table())
