"""Text of the matching engine: what each item is matched on, and jieba tokens for BM25.

jieba runs in search mode (long words also yield their sub-words: 高炉炉况 → 高炉, 炉况, …), with
a domain dictionary of technical terms taken from the CSL keywords, lower-cased Latin words and
numbers kept whole, and function words dropped."""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from matcher.datasets import dataset

STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "是",
        "在",
        "对",
        "为",
        "以",
        "于",
        "中",
        "上",
        "下",
        "等",
        "并",
        "其",
        "之",
        "也",
        "而",
        "就",
        "都",
        "又",
        "从",
        "把",
        "被",
        "让",
        "给",
        "向",
        "到",
        "由",
        "用",
        "这",
        "那",
        "这些",
        "那些",
        "这个",
        "那个",
        "一个",
        "一种",
        "一些",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "他们",
        "它",
        "它们",
        "本",
        "该",
        "此",
        "各",
        "每",
        "有",
        "无",
        "没有",
        "能",
        "能够",
        "可以",
        "可",
        "将",
        "会",
        "要",
        "需要",
        "希望",
        "想",
        "想要",
        "请",
        "进行",
        "通过",
        "根据",
        "关于",
        "对于",
        "以及",
        "并且",
        "而且",
        "但是",
        "但",
        "如果",
        "因为",
        "所以",
        "由于",
        "目前",
        "现在",
        "已经",
        "还",
        "很",
        "较",
        "更",
        "最",
        "非常",
        "比较",
        "一直",
        "主要",
        "同时",
        "其中",
        "以上",
        "以下",
        "之后",
        "之前",
        "我厂",
        "我司",
        "我公司",
        "公司",
        "本公司",
        "我院",
        "我所",
        "我单位",
        "单位",
        "企业",
        "方面",
        "问题",
        "情况",
        "工作",
        "方法",
        "研究",
        "结果",
        "目的",
        "结论",
    ]
)
_LATIN = re.compile(r"[a-z0-9][a-z0-9.+\-]*")
_KEEP = re.compile(r"[\u4e00-\u9fffa-z0-9]")
_log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def domain_terms() -> tuple[str, ...]:
    """Technical terms for jieba's user dictionary: the Chinese CSL keywords of 2–8 characters."""
    terms: set[str] = set()
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            for kw in json.loads(line).get("keywords") or []:
                kw = kw.strip()
                if 2 <= len(kw) <= 8 and re.fullmatch(r"[\u4e00-\u9fff]+", kw):
                    terms.add(kw)
    return tuple(sorted(terms))


class Lexer:
    """jieba search-mode tokens with the domain dictionary; thread-safe and loaded once."""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for term in domain_terms():
            self._tokenizer.add_word(
                term, freq=max(self._tokenizer.suggest_freq(term, tune=False), 20)
            )
        self._lock = threading.Lock()
        digest = hashlib.sha256("\n".join(domain_terms()).encode())
        digest.update(" ".join(sorted(STOPWORDS)).encode())
        digest.update(b"search-mode-v1")
        self.fingerprint = digest.hexdigest()[:16]

    def tokens(self, text: str) -> list[str]:
        text = (text or "").lower()
        with self._lock:  # jieba's Tokenizer keeps mutable state
            words = self._tokenizer.lcut_for_search(text, HMM=True)
        out = []
        for word in words:
            word = word.strip()
            if not word or word in STOPWORDS or not _KEEP.search(word):
                continue
            out.append(word)
        return out

    def tokens_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]


_LEXER: Lexer | None = None
_LEXER_LOCK = threading.Lock()


def get_lexer() -> Lexer:
    global _LEXER
    with _LEXER_LOCK:
        if _LEXER is None:
            _LEXER = Lexer()
        return _LEXER


# --------------------------------------------------------------------------------------------
# what an item is matched on
# --------------------------------------------------------------------------------------------


def technology_text(tech: Any) -> str:
    parts = [tech.title, "、".join(tech.keywords or []), tech.summary]
    return "\n".join(p for p in parts if p)


def need_text(need: Any) -> str:
    parts = [need.title, need.description]
    if need.kind == "financing":
        parts += [need.stage or "", need.use_of_funds or ""]
    return "\n".join(p for p in parts if p)


def investor_text(org: Any, profile: Any) -> str:
    parts = [
        profile.preference if profile else "",
        "投资领域：" + "、".join(profile.fields) if profile and profile.fields else "",
        "投资阶段：" + "、".join(profile.stages) if profile and profile.stages else "",
        org.description or "",
    ]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------
# highlighting
# --------------------------------------------------------------------------------------------


def highlight(text: str, terms: Iterable[str], *, limit: int | None = None) -> str:
    """HTML-escaped text with the terms wrapped in <mark> (longest terms first, no overlaps)."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    wanted = sorted({t for t in terms if t and len(t) >= 1}, key=len, reverse=True)
    if not wanted:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    spans: list[list[int]] = []
    for m in pattern.finditer(text):
        if spans and m.start() <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], m.end())  # adjacent matches become one mark
        else:
            spans.append([m.start(), m.end()])
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(html.escape(text[last:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def snippet_around(text: str, terms: Iterable[str], width: int = 120) -> str:
    """A window of the text around the first matched term (plain text; escape when rendering)."""
    lowered = text.lower()
    positions = [lowered.find(t.lower()) for t in terms if t and lowered.find(t.lower()) >= 0]
    if not positions or len(text) <= width:
        return text[:width] + ("…" if len(text) > width else "")
    start = max(0, min(positions) - width // 4)
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
