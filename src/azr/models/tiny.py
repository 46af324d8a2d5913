"""`tiny-random`: a tiny randomly initialised Qwen2 and a byte-level BPE tokenizer, built in memory.

For fast tests of everything that needs a real `transformers` model (rollout, learner, checkpoints): no
download, no packaged weights, deterministic for a given seed, built in well under a second. Its outputs are
noise; tests must assert properties (shapes, log-probs, stopping), never content.
"""

from __future__ import annotations

import functools

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# Qwen's chat format, minus tools: enough for `apply_chat_template(..., add_generation_prompt=True)`.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Text that looks like AZR prompts and answers, so the merges cover the tags and Python the tests use.
_CORPUS = [
    "<think> Let me reason step by step. </think> <answer> 42 </answer>",
    "```python\ndef f(x):\n    return [i * 2 for i in range(x)]\n```",
    "```input\nf(3, 'abc')\n``` ```output\n[0, 2, 4]\n```",
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it.",
    "def f(a, b):\n    if a > b:\n        return a - b\n    return sum(range(b))",
    "Given the code snippet and the input, predict the output. Deduce the input. Infer the function.",
    "for i in range(10): print(i, len(s), sorted(d.items()), x + y, 'hello world')",
]


@functools.lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    # Byte-level BPE: any text (arbitrary model code, unicode) encodes without an unknown token. The normalizer and
    # pre-tokenizer are Qwen2's own: `AutoTokenizer` loads the tokenizer of any qwen2 model directory (a checkpoint)
    # as `Qwen2Tokenizer`, which rebuilds exactly this pipeline, so a saved tiny tokenizer reloads with the same ids.
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok.to_str()


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A fresh tokenizer (callers may mutate it); the trained BPE is cached per process."""
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.padding_side = "left"
    return tok


def tiny_random(
    seed: int = 0, dtype: torch.dtype = torch.float32, heads: int = 4
) -> tuple[Qwen2ForCausalLM, PreTrainedTokenizerFast]:
    """A 2-layer, 64-wide Qwen2 (about 0.1M parameters) with random weights from `seed`, and its tokenizer.
    `heads` attention heads (half as many KV heads): vLLM's CPU attention needs a head size of at least 32, so
    tests that serve the model with vLLM take `heads=2`."""
    tokenizer = tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # Seed a private generator so building a model never disturbs the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(dtype).eval(), tokenizer
