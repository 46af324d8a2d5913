"""`SamplingParams.suppress_eos`: EOS is never sampled, a stop string or the token cap ends the sequence, and the
recorded log-probs stay those of the unmasked distribution."""

from __future__ import annotations

import torch

from azr.models import tiny_random
from azr.rollout.base import SamplingParams
from azr.rollout.hf import HFBackend, _sample


def test_sample_never_picks_a_banned_token_and_reports_unmasked_logprobs() -> None:
    logits = torch.tensor([[10.0, 0.0, 1.0], [0.0, 9.0, 0.5]])  # token 0 dominates row 0
    gen = torch.Generator().manual_seed(0)
    banned = torch.tensor([0])
    for temperature in (0.0, 1.0):
        params = SamplingParams(temperature=temperature)
        for _ in range(20):
            tokens, logps = _sample(logits, params, [gen, gen], banned)
            assert 0 not in tokens.tolist()
            t = temperature if temperature > 0 else 1.0
            expected = (logits / t).log_softmax(-1).gather(-1, tokens[:, None]).squeeze(1)
            assert torch.allclose(logps, expected)


def test_backend_with_eos_suppressed_runs_to_the_cap_without_emitting_eos() -> None:
    model, tok = tiny_random(seed=0)
    backend = HFBackend(model, tok, micro_batch_size=4, seed=0)
    eos = backend._eos_ids
    # A 'stop string' the random model will not write: rows can only end at max_new_tokens.
    params = SamplingParams(max_new_tokens=24, temperature=1.0, stop=("\x00never\x00",), seed=3, suppress_eos=True)
    for group in backend.generate(["hello", "a longer prompt here"], params, n=3):
        for c in group:
            assert not eos & set(c.token_ids)
            assert c.finish_reason == "length" and len(c.token_ids) == 24
