"""Real packaged models through the cache (slow: the first run converts the GGUF, about a minute)."""

from __future__ import annotations

import time

import pytest
import torch

from azr.models import cache_root, load, token_logprobs
from azr.rollout.base import SamplingParams
from azr.rollout.hf import HFBackend

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"])
def test_packaged_model_loads_through_the_cache_and_generates(name):
    spec = f"packaged:{name}"
    if not (cache_root() / "packaged" / name).is_dir():
        load(spec, dtype="fp32")  # the first load converts the GGUF into the cache
    assert (cache_root() / "packaged" / name / "model.safetensors").is_file()
    start = time.perf_counter()
    model, tok = load(spec, dtype="fp32")
    assert time.perf_counter() - start < 30  # a cached load reads safetensors; it never dequantizes again

    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    backend = HFBackend(model, tok, micro_batch_size=2)
    out = backend.generate([prompt], SamplingParams(max_new_tokens=8, temperature=0.0), n=2)
    a, b = out[0]
    assert a.token_ids == b.token_ids and len(a.token_ids) == 8 and a.text.strip()
    ids = torch.tensor([list(a.prompt_ids) + list(a.token_ids)])
    with torch.no_grad():
        want = token_logprobs(model, ids, torch.ones_like(ids), 1.0, response_len=len(a.token_ids))[0]
    torch.testing.assert_close(torch.tensor(a.logprobs), want, rtol=0, atol=2e-3)
