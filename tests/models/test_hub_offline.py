"""A hub id without network fails fast: one probe of the hub, then the local cache only, then one clear line
(instead of about a minute of download retries and twenty-odd warning lines)."""

from __future__ import annotations

import pytest

from azr.models import ModelError, load, loading


class _DeadSession:
    calls = 0

    def head(self, url: str, timeout: float):  # noqa: ANN201
        _DeadSession.calls += 1
        raise ConnectionError("[Errno -2] Name or service not known")

    def __getattr__(self, name: str):  # noqa: ANN204 - anything else (a download) must not happen at all
        raise AssertionError(f"the hub was contacted again ({name}) after the probe failed")


def test_no_network_is_one_probe_and_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.utils

    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: _DeadSession())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(ModelError) as e:
        load("azr-tests/no-such-model-anywhere")
    msg = str(e.value)
    assert "\n" not in msg and "unreachable" in msg and "not in the local cache" in msg and "packaged:" in msg
    assert _DeadSession.calls == 1


def test_hf_hub_offline_skips_even_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.utils

    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: _DeadSession())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert loading.hub_unreachable() == "HF_HUB_OFFLINE is set"
    before = _DeadSession.calls
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE is set"):
        load("azr-tests/no-such-model-anywhere")
    assert _DeadSession.calls == before
