"""Model specs, the packaged-model cache (assembly, checksum, errors) and local-directory loading."""

from __future__ import annotations

import hashlib
import importlib

import pytest
import torch

from azr import models
from azr.models import ModelError, PackagedModel, load, resolve
from azr.models.packaged import assemble, part_paths


def test_resolve_classifies_every_kind(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve("tiny-random").kind == "tiny-random"
    assert resolve("packaged:qwen2.5-coder-0.5b-instruct").packaged.size == 491_400_064
    assert resolve(str(gguf)).kind == "gguf"
    assert resolve(str(tmp_path)).kind == "dir"
    assert resolve("Qwen/Qwen2.5-Coder-0.5B-Instruct").kind == "hub"


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("packaged:nope", "choose one of"),
        ("/no/such/model.gguf", "does not exist"),
        ("./no/such/dir", "does not exist"),
    ],
)
def test_bad_specs_fail_with_one_line(spec, needle):
    with pytest.raises(ModelError) as e:
        resolve(spec)
    assert needle in str(e.value) and "\n" not in str(e.value)


def _fake_parts(tmp_path, monkeypatch, chunks: list[bytes]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Namespace packages `azrfake_partN/data/partNN.bin` on sys.path, like the PyPI part packages."""
    modules = []
    for i, data in enumerate(chunks, start=1):
        (tmp_path / "site" / f"azrfake_part{i}" / "data").mkdir(parents=True)
        (tmp_path / "site" / f"azrfake_part{i}" / "data" / f"part{i:02d}.bin").write_bytes(data)
        modules.append(f"azrfake_part{i}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    return tuple(modules), tuple(f"data/part{i:02d}.bin" for i in range(1, len(chunks) + 1))


def _packaged(modules, files, data: bytes, sha256: str | None = None) -> PackagedModel:
    return PackagedModel(
        name="fake", modules=modules, files=files, gguf_name="fake.gguf", size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(), install="pip install azrfake",
    )  # fmt: skip


def test_assemble_concatenates_parts_in_order_and_checks_sha256(tmp_path, monkeypatch):
    chunks = [b"first-", b"second-", b"third"]
    modules, files = _fake_parts(tmp_path, monkeypatch, chunks)
    out = assemble(_packaged(modules, files, b"".join(chunks)), tmp_path / "cache" / "fake.gguf")
    assert out.read_bytes() == b"first-second-third"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["fake.gguf"]  # no temp file left behind


def test_bad_checksum_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    modules, files = _fake_parts(tmp_path, monkeypatch, [b"abc", b"def"])
    pm = _packaged(modules, files, b"abcdef", sha256="0" * 64)
    with pytest.raises(ModelError) as e:
        assemble(pm, tmp_path / "cache" / "fake.gguf")
    msg = str(e.value)
    assert "checksum" in msg and "--force-reinstall" in msg and "\n" not in msg
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_package_names_the_fix(monkeypatch, tmp_path):
    pm = _packaged(("azr_definitely_missing_part1",), ("data/part01.bin",), b"x")
    with pytest.raises(ModelError) as e:
        part_paths(pm)
    assert "pip install azrfake" in str(e.value) and "\n" not in str(e.value)
    # Through the public entry point too: a packaged spec whose packages are absent.
    monkeypatch.setitem(models.PACKAGED, "fake", pm)
    with pytest.raises(ModelError, match="not installed"):
        load("packaged:fake", cache_dir=tmp_path)
    assert not (tmp_path / "packaged" / "fake").exists()


def test_hub_id_without_network_names_the_alternatives(monkeypatch):
    import huggingface_hub.constants

    # Offline mode fails at once instead of retrying the connection for most of a minute.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError) as e:
        load("azr-test/definitely-not-a-model")
    assert "packaged:" in str(e.value) and "\n" not in str(e.value)


def test_local_directory_round_trip(tmp_path):
    model, tok = load("tiny-random")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    assert load(str(tmp_path), dtype="bf16")[0].dtype == torch.bfloat16
    again, tok2 = load(str(tmp_path), dtype="fp32")
    ids = torch.tensor([tok("def f(x): return x")["input_ids"]])
    assert tok2("def f(x): return x")["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(again(ids).logits, model(ids).logits, rtol=0, atol=1e-6)


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("AZR_CACHE", str(tmp_path / "env"))
    assert models.cache_root() == tmp_path / "env"
    assert models.cache_root(tmp_path / "cfg") == tmp_path / "cfg"
    monkeypatch.delenv("AZR_CACHE")
    assert models.cache_root().name == "azr"
