"""HF rollout backend on `tiny-random`: the RolloutBackend contract, log-probs, stopping, padding, seeds."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from azr.config import Config
from azr.models import tiny_random, token_logprobs
from azr.rollout import make_backend
from azr.rollout.base import SamplingParams
from azr.rollout.hf import HFBackend

PROMPTS = ["def f(x):\n    return", "Given the code snippet and the input, predict the output. <think>", "for i in"]


@pytest.fixture
def backend() -> HFBackend:
    model, tok = tiny_random()
    return HFBackend(model, tok, micro_batch_size=4, seed=0)


def _teacher_forced(backend: HFBackend, c, temperature: float) -> torch.Tensor:
    ids = torch.tensor([list(c.prompt_ids) + list(c.token_ids)])
    with torch.no_grad():
        return token_logprobs(backend.model, ids, torch.ones_like(ids), temperature, response_len=len(c.token_ids))[0]


def test_n_completions_per_prompt_in_prompt_order(backend):
    calls = []
    backend.progress = lambda done, total: calls.append((done, total))
    out = backend.generate(PROMPTS, SamplingParams(max_new_tokens=6, stop=(), seed=1), n=3)
    assert [len(group) for group in out] == [3, 3, 3]
    assert calls == [(0, 9), (4, 9), (8, 9), (9, 9)]  # the start, then micro-batches of 4 sequences
    for prompt, group in zip(PROMPTS, out):
        for c in group:
            assert c.prompt == prompt and list(c.prompt_ids) == backend.tokenizer(prompt)["input_ids"]
            assert len(c.token_ids) == len(c.logprobs) <= 6
            assert c.finish_reason in ("stop", "length")
    assert len({c.token_ids for group in out for c in group}) > 1  # samples differ


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 1.0), (0.7, 0.9), (0.0, 1.0)])
def test_logprobs_match_a_teacher_forced_pass(backend, temperature, top_p):
    params = SamplingParams(max_new_tokens=12, temperature=temperature, top_p=top_p, stop=(), seed=2)
    for group in backend.generate(PROMPTS, params, n=2):
        for c in group:
            got = torch.tensor(c.logprobs)
            torch.testing.assert_close(got, _teacher_forced(backend, c, temperature), rtol=0, atol=1e-4)


def test_stop_string_ends_the_text_and_the_tokens(backend):
    free = backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=24, temperature=0.0, stop=()))[0][0]
    stop = free.text[8:11]  # a stop string the greedy continuation is known to produce
    assert len(stop) == 3
    cut = backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=24, temperature=0.0, stop=(stop,)))[0][0]
    first = free.text.find(stop) + len(stop)
    assert cut.text == free.text[:first] and cut.finish_reason == "stop"
    # Tokens stop at the one that completed the stop string, and are a prefix of the free run.
    assert cut.token_ids == free.token_ids[: len(cut.token_ids)]
    assert stop not in backend.tokenizer.decode(cut.token_ids[:-1])
    assert stop in backend.tokenizer.decode(cut.token_ids)


def test_max_new_tokens_and_eos(backend):
    c = backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=5, stop=(), seed=0))[0][0]
    assert len(c.token_ids) == 5 and c.finish_reason == "length"
    greedy_first = backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=1, temperature=0.0))[0][0].token_ids[0]
    backend.model.generation_config.eos_token_id = [backend.tokenizer.eos_token_id, greedy_first]
    eos_backend = HFBackend(backend.model, backend.tokenizer)
    c = eos_backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=5, temperature=0.0))[0][0]
    assert c.token_ids == (greedy_first,) and c.finish_reason == "stop"


def test_left_padding_and_batching_do_not_change_greedy_output(backend):
    params = SamplingParams(max_new_tokens=10, temperature=0.0, stop=())
    alone = [backend.generate([p], params)[0][0] for p in PROMPTS]
    batched = HFBackend(backend.model, backend.tokenizer, micro_batch_size=8).generate(PROMPTS, params, n=2)
    for a, group in zip(alone, batched):
        for c in group:
            assert c.token_ids == a.token_ids
            torch.testing.assert_close(torch.tensor(c.logprobs), torch.tensor(a.logprobs), rtol=0, atol=1e-4)


def test_seed_reproducibility(backend):
    params = SamplingParams(max_new_tokens=8, stop=(), seed=123)
    first = backend.generate(PROMPTS, params, n=2)
    assert backend.generate(PROMPTS, params, n=2) == first
    other = backend.generate(PROMPTS, dataclasses.replace(params, seed=124), n=2)
    assert other != first
    # seed=None continues the backend's own generator: two calls differ, a fresh backend repeats the first.
    unseeded = dataclasses.replace(params, seed=None)
    a, b = backend.generate(PROMPTS, unseeded), backend.generate(PROMPTS, unseeded)
    assert a != b
    model, tok = tiny_random()
    assert HFBackend(model, tok, micro_batch_size=4, seed=0).generate(PROMPTS, unseeded) == a


def test_tiny_top_p_is_greedy(backend):
    greedy = backend.generate(PROMPTS, SamplingParams(max_new_tokens=8, temperature=0.0, stop=()))
    nucleus = backend.generate(PROMPTS, SamplingParams(max_new_tokens=8, top_p=1e-6, stop=(), seed=5))
    assert [g[0].token_ids for g in greedy] == [n[0].token_ids for n in nucleus]


def test_sync_weights_shared_model_is_free_and_a_copy_takes_effect(backend):
    params = SamplingParams(max_new_tokens=8, temperature=0.0, stop=())
    before = backend.generate(PROMPTS, params)
    backend.sync_weights(backend.model)  # same object: nothing to do
    assert backend.generate(PROMPTS, params) == before
    trained, _ = tiny_random(seed=7)
    backend.sync_weights(trained)
    after = backend.generate(PROMPTS, params)
    assert after != before
    assert after == HFBackend(trained, backend.tokenizer).generate(PROMPTS, params)


def test_count_tokens_and_factory(backend):
    assert backend.count_tokens(PROMPTS[0]) == len(backend.tokenizer(PROMPTS[0])["input_ids"])
    cfg = Config()
    cfg = dataclasses.replace(cfg, rollout=dataclasses.replace(cfg.rollout, backend="hf", micro_batch_size=3))
    made = make_backend(cfg, backend.model, backend.tokenizer)
    assert isinstance(made, HFBackend) and made.micro_batch_size == 3 and made.dtype == cfg.model.dtype


def test_autocast_bf16_generation_runs(backend):
    bf16 = HFBackend(backend.model, backend.tokenizer, dtype="autocast-bf16")
    out = bf16.generate(PROMPTS, SamplingParams(max_new_tokens=4, stop=(), seed=0), n=2)
    assert all(len(c.token_ids) == 4 for group in out for c in group)


def _same(a: list[list], b: list[list]) -> bool:
    """Same tokens; log-probs equal up to float rounding (the forward pass pads differently per batch)."""
    return [[c.token_ids for c in g] for g in a] == [[c.token_ids for c in g] for g in b] and all(
        torch.allclose(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5)
        for ga, gb in zip(a, b)
        for x, y in zip(ga, gb)
    )


def test_a_prompts_samples_do_not_depend_on_the_rest_of_the_call(backend):
    """Per-prompt seeds: sharding a call (as data parallelism does) with the matching seeds, or another
    micro-batch size, gives exactly the same samples; identical prompts in one call are independent samples."""
    params = SamplingParams(max_new_tokens=8, stop=(), seeds=(11, 12, 13))
    whole = backend.generate(PROMPTS, params, n=2)
    shards = [
        backend.generate(PROMPTS[:1], dataclasses.replace(params, seeds=(11,)), n=2),
        backend.generate(PROMPTS[1:], dataclasses.replace(params, seeds=(12, 13)), n=2),
    ]
    assert _same(shards[0] + shards[1], whole)
    other_batching = HFBackend(backend.model, backend.tokenizer, micro_batch_size=1).generate(PROMPTS, params, n=2)
    assert _same(other_batching, whole)
    rev = backend.generate(PROMPTS[::-1], dataclasses.replace(params, seeds=(13, 12, 11)), n=2)
    assert _same(rev[::-1], whole)
    # `seed` without `seeds` is a fixed mix of (seed, i): a repeated prompt gets different samples
    same = backend.generate([PROMPTS[0]] * 2, SamplingParams(max_new_tokens=8, stop=(), seed=3), n=2)
    assert len({c.token_ids for group in same for c in group}) == 4
    with pytest.raises(ValueError, match="seeds"):
        backend.generate(PROMPTS, dataclasses.replace(params, seeds=(1,)))


def test_rng_state_round_trip_repeats_unseeded_sampling(backend):
    params = SamplingParams(max_new_tokens=8, stop=())
    backend.generate(PROMPTS, params)
    state = backend.get_rng_state()
    first = backend.generate(PROMPTS, params)
    backend.set_rng_state(state)
    assert _same(backend.generate(PROMPTS, params), first)
    # a seeded call does not advance the backend's own generator
    backend.set_rng_state(state)
    backend.generate(PROMPTS, dataclasses.replace(params, seed=9))
    assert _same(backend.generate(PROMPTS, params), first)
    backend.sleep()
    backend.wake_up()  # no-ops on the HF backend


def test_stop_after_ignores_a_stop_string_before_the_marker(backend):
    """An `</answer>` inside <think> must not end the response: stop strings count only after `stop_after`."""
    params = SamplingParams(max_new_tokens=40, stop=(), seed=4)
    free = backend.generate(PROMPTS[:1], params)[0][0]
    text = free.text
    marker = text[len(text) // 2 : len(text) // 2 + 3]
    m_start = text.find(marker)
    m_end = m_start + len(marker)
    # a one-character stop string written both before and after the marker
    stop = next(ch for ch in sorted(set(text), key=text.count, reverse=True) if ch in text[:m_start] and ch in text[m_end:])
    plain = backend.generate(PROMPTS[:1], dataclasses.replace(params, stop=(stop,)))[0][0]
    assert plain.text == text[: text.find(stop) + 1] and plain.finish_reason == "stop"
    after = backend.generate(PROMPTS[:1], dataclasses.replace(params, stop=(stop,), stop_after=marker))[0][0]
    assert after.text == text[: text.find(stop, m_end) + 1] and after.finish_reason == "stop"
    assert after.token_ids == free.token_ids[: len(after.token_ids)] and len(after.text) > len(plain.text)
    # a marker the text never contains: the stop string never counts and the row runs to the cap
    never = backend.generate(PROMPTS[:1], dataclasses.replace(params, stop=(stop,), stop_after="\x00none"))[0][0]
    assert never.token_ids == free.token_ids and never.finish_reason == free.finish_reason
