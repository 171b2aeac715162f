"""The encoder: model resolution and clear errors, prompts, long-text windows, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.config import Settings
from matcher.embedding.encoder import Encoder
from matcher.errors import ModelUnavailable


def test_missing_builtin_model_names_the_setting_and_the_fix(settings: Settings) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        Encoder(settings, model="e5")
    assert (
        "DUIJIE_EMBEDDING_MODEL=e5" in caught.value.message
        and "duijie model build" in caught.value.message
    )


def test_a_directory_that_is_not_a_model_is_refused(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    with pytest.raises(ModelUnavailable, match="不是 sentence-transformers 模型"):
        Encoder(settings, model=str(tmp_path / "junk"))


def test_an_unreachable_hub_name_is_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as caught:
        Encoder(settings, model="BAAI/bge-small-zh-v1.5")
    assert "DUIJIE_EMBEDDING_MODEL=BAAI/bge-small-zh-v1.5" in caught.value.message


def test_tiny_model_encodes_unit_vectors_and_caches(
    settings: Settings, tiny_model_dir: Path
) -> None:
    encoder = Encoder(settings, model=str(tiny_model_dir))
    texts = ["高炉炉况监测", "食品包装保鲜", ""]
    first = encoder.encode_documents(texts)
    assert first.shape == (3, encoder.dim)
    assert np.allclose(np.linalg.norm(first[:2], axis=1), 1.0, atol=1e-5)
    calls = []
    original = encoder.model.encode
    encoder.model.encode = lambda *a, **k: calls.append(1) or original(*a, **k)  # type: ignore[method-assign]
    again = encoder.encode_documents(texts)
    assert calls == [] and np.array_equal(first, again)
    encoder.encode_documents(["一段新的文字"])
    assert calls == [1]


def test_prompt_overrides(settings: Settings, tiny_model_dir: Path) -> None:
    custom = settings.model_copy(update={"query_prompt": "查询：", "document_prompt": ""})
    encoder = Encoder(custom, model=str(tiny_model_dir), use_cache=False)
    assert encoder.query_prompt == "查询：" and encoder.document_prompt == ""


@pytest.mark.slow
def test_e5_prompts_come_from_the_model_config(settings: Settings, real_models: Path) -> None:
    encoder = Encoder(settings, model="e5", use_cache=False)
    assert (encoder.query_prompt, encoder.document_prompt) == ("query: ", "passage: ")
    info = encoder.info()
    assert (
        info.dim == 384 and info.vocab_size and info.vocab_size > 250_000 and info.max_tokens == 512
    )


@pytest.mark.slow
def test_long_texts_are_windowed_not_truncated(settings: Settings, real_models: Path) -> None:
    """A text longer than the window: its vector is the length-weighted average of its windows'
    mean-pooled vectors (what the packed engine does), so its tail still counts."""
    encoder = Encoder(settings, model="e5", use_cache=False)
    encoder.max_tokens = 24  # a small window makes the test fast; the logic is the same at 512
    head = "高炉炉况在线监测与异常预警，提前发现炉凉和悬料。"
    tail = "另外还需要解决绿茶长期储存后颜色发黄的问题。"
    long_vec = encoder.encode_documents([head + tail])[0]
    ids = encoder.tokenizer(encoder.document_prompt + head + tail, add_special_tokens=False)[
        "input_ids"
    ]
    assert len(ids) + 2 > encoder.max_tokens
    manual = encoder._encode_windows(list(ids))
    assert np.allclose(long_vec, manual, atol=1e-5)
    head_only = encoder.encode_documents([head])[0]
    assert float(long_vec @ head_only) < 0.999  # the tail changed the vector: nothing was cut
