"""Load the configured sentence-transformers model and encode texts with it.

Built-in names (``e5``, ``static``) resolve to the models ``duijie model build`` writes into the
data directory; anything else is a local path or a hub name, loaded by sentence-transformers as
usual. Encoding is batched and normalized; texts longer than the model's window are split into
consecutive windows whose mean-pooled vectors are averaged by length (what the packed e5 engine
does), so a long need or document is never silently cut at 512 tokens. Vectors of unchanged
texts come from a cache keyed by the model's fingerprint, the prompt and the text."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matcher.config import Settings, get_settings
from matcher.embedding.cache import EmbeddingCache
from matcher.errors import ModelUnavailable

BUILTIN_MODELS = ("e5", "static")
MANIFEST = "duijie-model.json"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    location: str
    dim: int
    vocab_size: int | None
    fingerprint: str
    query_prompt: str
    document_prompt: str
    max_tokens: int | None
    manifest: dict[str, Any]


def builtin_dir(name: str, settings: Settings) -> Path:
    return settings.models_dir / name


def read_manifest(path: Path) -> dict[str, Any]:
    manifest = path / MANIFEST
    if not manifest.exists():
        return {}
    try:
        return dict(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _files_fingerprint(path: Path) -> str:
    """Identify a local model directory without hashing gigabytes: names, sizes, mtimes."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}:{stat.st_size}:{int(stat.st_mtime)}\n".encode())
    return digest.hexdigest()[:16]


def resolve_model(name: str, settings: Settings) -> tuple[str, dict[str, Any], str]:
    """(what to load, duijie manifest or {}, fingerprint) for a model setting."""
    if name in BUILTIN_MODELS:
        path = builtin_dir(name, settings)
        manifest = read_manifest(path)
        if not manifest:
            raise ModelUnavailable(
                f"内置模型「{name}」尚未构建（DUIJIE_EMBEDDING_MODEL={name}）：请运行 `duijie model build`"
                f"（或 make setup），它会写入 {path}"
            )
        return str(path), manifest, str(manifest["fingerprint"])
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "modules.json").exists() and not (local / "config.json").exists():
            raise ModelUnavailable(
                f"DUIJIE_EMBEDDING_MODEL={name} 指向的目录不是 sentence-transformers 模型（缺少 modules.json / config.json）"
            )
        manifest = read_manifest(local)
        return str(local), manifest, str(manifest.get("fingerprint") or _files_fingerprint(local))
    return name, {}, "hub:" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _load_sentence_transformer(location: str, device: str | None, setting: str) -> Any:
    try:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(location, device=device or "cpu")
    except Exception as exc:  # loaders raise many types; the user needs the setting and a way out
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise ModelUnavailable(
            f"无法加载向量模型 DUIJIE_EMBEDDING_MODEL={setting}：{reason}。"
            "无网络时请使用内置模型 e5 或 static（先运行 `duijie model build`），或填写本地模型目录"
        ) from exc


class Encoder:
    """One loaded model plus its prompts, fingerprint and cache."""

    def __init__(
        self, settings: Settings | None = None, *, model: str | None = None, use_cache: bool = True
    ) -> None:
        settings = settings or get_settings()
        self.setting = model or settings.embedding_model
        location, manifest, fingerprint = resolve_model(self.setting, settings)
        self.location = location
        self.manifest = manifest
        self.fingerprint = fingerprint
        self.model = _load_sentence_transformer(location, settings.embedding_device, self.setting)
        prompts = dict(getattr(self.model, "prompts", {}) or {})
        self.query_prompt: str = (
            settings.query_prompt
            if settings.query_prompt is not None
            else str(prompts.get("query") or "")
        )
        self.document_prompt: str = (
            settings.document_prompt
            if settings.document_prompt is not None
            else str(prompts.get("document") or prompts.get("passage") or "")
        )
        self.batch_size = settings.embedding_batch_size
        self.dim = int(embedding_dimension(self.model) or 0)
        if not self.dim:
            raise ModelUnavailable(f"模型 {self.setting} 没有固定的向量维度")
        self.tokenizer = getattr(self.model, "tokenizer", None)
        max_len = getattr(self.model, "max_seq_length", None)
        self.max_tokens: int | None = (
            int(max_len) if isinstance(max_len, int) and max_len > 0 else None
        )
        self.cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite") if use_cache else None
        self._lock = threading.Lock()
        # What this process asked the model for (documents: index rows; computed: texts that
        # went through the model, not the cache) — a web process loading stored vectors asks nothing.
        self.documents_requested = 0
        self.texts_computed = 0
        self._fast: Callable[[str], np.ndarray] | bool | None = None  # None: not tried yet

    # --- public ------------------------------------------------------------------------------
    def info(self) -> ModelInfo:
        vocab = None
        if self.tokenizer is not None:
            vocab = (
                len(self.tokenizer.get_vocab()) if hasattr(self.tokenizer, "get_vocab") else None
            )
        else:
            first = self.model[0]
            vocab = getattr(first, "num_embeddings", None)
        return ModelInfo(
            name=self.setting,
            location=self.location,
            dim=self.dim,
            vocab_size=vocab,
            fingerprint=self.fingerprint,
            query_prompt=self.query_prompt,
            document_prompt=self.document_prompt,
            max_tokens=self.max_tokens,
            manifest=self.manifest,
        )

    def encode_queries(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self.encode(texts, self.query_prompt, progress=progress)

    def encode_documents(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        self.documents_requested += len(texts)
        return self.encode(texts, self.document_prompt, progress=progress)

    def encode(
        self, texts: Sequence[str], prompt: str, progress: Progress | None = None
    ) -> np.ndarray:
        """Unit vectors (float32, one row per text), from the cache when the text is unchanged."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        keys = [self._key(prompt, t) for t in texts]
        cached = self.cache.get_many(keys) if self.cache is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in cached]
        for i, k in enumerate(keys):
            if k in cached:
                out[i] = cached[k]
        done = len(texts) - len(todo)
        if progress:
            progress(done, len(texts))
        step = max(self.batch_size * 8, 64)
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            vectors = self._encode_uncached([texts[i] for i in chunk], prompt)
            for row, i in enumerate(chunk):
                out[i] = vectors[row]
            if self.cache is not None:
                self.cache.put_many([(keys[i], vectors[row]) for row, i in enumerate(chunk)])
            done += len(chunk)
            if progress:
                progress(done, len(texts))
        return out

    def warm_up(self) -> None:
        """Do first-call work now (tracing the single-query path) rather than inside a request."""
        with self._lock:
            fast = self._fast_single()
            if fast is not None:
                # TorchScript profiles the first calls and optimizes on a later one: pay for that here.
                for text in (
                    "预热",
                    "高炉炉况在线监测与异常预警",
                    "企业希望引进一种耐高温耐腐蚀的陶瓷涂层材料用于锅炉防护" * 3,
                ):
                    fast(self.query_prompt + text)

    # --- internals ---------------------------------------------------------------------------
    def _key(self, prompt: str, text: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\x1f{prompt}\x1f{text}".encode()).hexdigest()

    def _fast_single(self) -> Callable[[str], np.ndarray] | None:
        """A TorchScript-frozen forward for one text at a time (the search box's query): about a
        third faster than the eager model on a CPU, and checked equal to it before use. Only for
        the usual [Transformer, mean Pooling, Normalize] stack; anything else keeps the eager path."""
        if self._fast is not None:
            return self._fast or None  # type: ignore[return-value]
        self._fast = False
        try:
            import warnings

            import torch

            modules = list(self.model)
            if [type(m).__name__ for m in modules][:2] != ["Transformer", "Pooling"]:
                return None
            pooling = modules[1]
            mode = getattr(pooling, "pooling_mode", None)
            if mode is None and hasattr(pooling, "get_pooling_mode_str"):
                mode = pooling.get_pooling_mode_str()
            if (
                mode != "mean"
                or not getattr(pooling, "include_prompt", True)
                or self.tokenizer is None
            ):
                return None
            auto = modules[0].auto_model
            tok = self.tokenizer
            probe = tok(["query: 高炉炉况在线监测与预警"], return_tensors="pt")
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(
                    auto, (probe["input_ids"], probe["attention_mask"]), strict=False
                )
                frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))

            def encode_one(text: str) -> np.ndarray:
                features = tok(
                    [text], return_tensors="pt", truncation=True, max_length=self.max_tokens or 512
                )
                with torch.inference_mode():
                    out = frozen(features["input_ids"], features["attention_mask"])
                hidden = out["last_hidden_state"] if isinstance(out, dict) else out[0]
                mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1))[0].numpy()
                return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

            check = "query: 企业希望引进一种耐高温、耐腐蚀的新型陶瓷涂层材料，用于锅炉受热面防护。"
            eager = self.model.encode(
                [check], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )[0]
            if float(encode_one(check) @ eager) < 0.9999:
                return None
            self._fast = encode_one
            return encode_one
        except Exception:  # any tracing problem: the eager path is always correct
            return None

    def _encode_uncached(self, texts: list[str], prompt: str) -> np.ndarray:
        with self._lock:  # one forward pass at a time: torch already uses every core
            self.texts_computed += len(texts)
            if len(texts) == 1 and not self._long_rows(texts, prompt):
                fast = self._fast_single()
                if fast is not None:
                    return fast(prompt + texts[0])[None, :]
            long_rows = self._long_rows(texts, prompt)
            out = np.zeros((len(texts), self.dim), dtype=np.float32)
            short = [i for i in range(len(texts)) if i not in long_rows]
            if short:
                vectors = self.model.encode(
                    [texts[i] for i in short],
                    prompt=prompt or None,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out[short] = vectors
            for i, ids in long_rows.items():
                out[i] = self._encode_windows(ids)
            return out

    def _long_rows(self, texts: list[str], prompt: str) -> dict[int, list[int]]:
        """Rows whose token count exceeds the window, with their content token ids."""
        if self.tokenizer is None or self.max_tokens is None:
            return {}
        limit = self.max_tokens
        rows: dict[int, list[int]] = {}
        # Cheap screen first: a text with fewer characters than the window cannot exceed it.
        candidates = [i for i, t in enumerate(texts) if len(prompt) + len(t) + 2 > limit // 4]
        if not candidates:
            return {}
        encoded = self.tokenizer(
            [prompt + texts[i] for i in candidates],
            add_special_tokens=False,
            truncation=False,
            verbose=False,
        )["input_ids"]
        extra = sum(len(part) for part in self._special_wrapping())
        for i, ids in zip(candidates, encoded, strict=True):
            if len(ids) + extra > limit:
                rows[i] = list(ids)
        return rows

    def _special_wrapping(self) -> tuple[list[int], list[int]]:
        """The ids the tokenizer puts before and after a text (<s> … </s>, [CLS] … [SEP], or none)."""
        tok = self.tokenizer
        bare = tok("x", add_special_tokens=False)["input_ids"]  # type: ignore[misc]
        full = tok("x", add_special_tokens=True)["input_ids"]  # type: ignore[misc]
        for i in range(len(full) - len(bare) + 1):
            if full[i : i + len(bare)] == bare:
                return list(full[:i]), list(full[i + len(bare) :])
        return [], []

    def _encode_windows(self, content: list[int]) -> np.ndarray:
        import torch

        prefix, suffix = self._special_wrapping()
        window = self.max_tokens - len(prefix) - len(suffix)  # type: ignore[operator]
        pieces = [content[s : s + window] for s in range(0, len(content), window)]
        inputs = [prefix + p + suffix for p in pieces]
        width = max(len(x) for x in inputs)
        pad = self.tokenizer.pad_token_id or 0  # type: ignore[union-attr]
        ids = torch.tensor([x + [pad] * (width - len(x)) for x in inputs])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in inputs])
        features: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in getattr(self.tokenizer, "model_input_names", []):
            features["token_type_ids"] = torch.zeros_like(ids)
        with torch.inference_mode():
            for module in self.model:
                if type(module).__name__ == "Normalize":
                    continue
                features = module(features)
        pooled = features["sentence_embedding"].float().cpu().numpy()
        weights = np.array([len(p) for p in pieces], dtype=np.float32)[:, None]
        vector = (pooled * weights).sum(0) / weights.sum()
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def embedding_dimension(model: Any) -> int | None:
    """The output dimension, under the method name of this sentence-transformers release."""
    method = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return method()


_ENCODERS: dict[tuple[str, str], Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(settings: Settings | None = None, *, model: str | None = None) -> Encoder:
    """The process-wide encoder for a model setting (loaded once)."""
    settings = settings or get_settings()
    key = (str(settings.home), model or settings.embedding_model)
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(key)
        if encoder is None:
            encoder = _ENCODERS[key] = Encoder(settings, model=model)
        return encoder


def forget_encoders() -> None:
    with _ENCODERS_LOCK:
        _ENCODERS.clear()
