"""`tiny-random`, dtype policies and the shared log-prob helper."""

from __future__ import annotations

import time

import pytest
import torch

from azr.models import autocast, load, logprobs_from_logits, tiny_random, token_logprobs, weights_dtype


def test_tiny_random_is_fast_and_deterministic():
    tiny_random()  # warm the per-process tokenizer cache
    start = time.perf_counter()
    a, tok = tiny_random(seed=3)
    assert time.perf_counter() - start < 1.0
    b, _ = tiny_random(seed=3)
    c, _ = tiny_random(seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters()))
    assert a.config.vocab_size == len(tok) and a.generation_config.eos_token_id == tok.eos_token_id


def test_tiny_tokenizer_round_trips_any_text_and_has_a_chat_template():
    _, tok = tiny_random()
    text = "def f(x):\n    return {'é': x ** 2}  # 你好 </answer>"
    assert tok.decode(tok(text)["input_ids"]) == text
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.pad_token_id != tok.eos_token_id


def test_dtype_policies():
    assert weights_dtype("fp32") == torch.float32 and weights_dtype("autocast-bf16") == torch.float32
    assert weights_dtype("bf16") == torch.bfloat16
    assert load("tiny-random", dtype="bf16")[0].dtype == torch.bfloat16
    with autocast("autocast-bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("fp32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(ValueError):
        weights_dtype("fp16")


def test_logprobs_from_logits_matches_log_softmax_with_temperature():
    logits = torch.randn(2, 5, 11, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(1))
    want = (logits / 0.7).log_softmax(-1).gather(-1, labels[..., None])[..., 0]
    torch.testing.assert_close(logprobs_from_logits(logits, labels, 0.7), want)
    # Greedy (T = 0) means the model's own distribution.
    torch.testing.assert_close(logprobs_from_logits(logits, labels, 0.0), logprobs_from_logits(logits, labels, 1.0))


def test_token_logprobs_ignores_left_padding_and_response_len_slices():
    model, tok = tiny_random()
    ids = tok("def f(a, b): return a - b")["input_ids"]
    alone = torch.tensor([ids])
    padded = torch.tensor([[tok.pad_token_id] * 4 + ids])
    mask = torch.tensor([[0] * 4 + [1] * len(ids)])
    with torch.no_grad():
        full = token_logprobs(model, alone, torch.ones_like(alone), 0.8)
        left = token_logprobs(model, padded, mask, 0.8)
        tail = token_logprobs(model, alone, torch.ones_like(alone), 0.8, response_len=5)
    torch.testing.assert_close(left[:, 4:], full, rtol=0, atol=1e-5)
    torch.testing.assert_close(tail, full[:, -5:], rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_fused_logprobs_and_entropy_match_the_reference_values_and_gradients(dtype, temperature, chunk):
    from azr.algo.losses import entropy_from_logits
    from azr.models import logprobs_and_entropy

    g = torch.Generator().manual_seed(0)
    z = (torch.randn(3, 7, 50, generator=g) * 3).to(dtype).requires_grad_(True)
    labels = torch.randint(0, 50, (3, 7), generator=g)
    w_lp, w_ent = torch.randn(3, 7, generator=g), torch.randn(3, 7, generator=g)
    lp, ent = logprobs_and_entropy(z, labels, temperature, chunk)
    assert lp.dtype == ent.dtype == torch.float32 and lp.shape == ent.shape == (3, 7)
    (lp * w_lp + ent * w_ent).sum().backward()
    fused_grad, z.grad = z.grad.clone(), None
    t = temperature if temperature > 0 else 1.0
    ref_lp, ref_ent = logprobs_from_logits(z, labels, temperature), entropy_from_logits(z.float() / t)
    (ref_lp * w_lp + ref_ent * w_ent).sum().backward()
    torch.testing.assert_close(lp, ref_lp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent, ref_ent, atol=1e-5, rtol=1e-5)
    assert fused_grad.dtype == dtype  # written straight into the logits' dtype, no float32 copy kept
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(fused_grad.float(), z.grad.float(), atol=tol, rtol=tol)
