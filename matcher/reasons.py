"""Why a hit was found, in words a plant engineer reads: the shared domain terms, the matched
passage, and one consistent explanation of the relevance figure and its adjustments.

Shared terms are domain terms only. A word is left out when it is a function or filler word
(基于、系统、采用、过程 …), a bare number, common in general Chinese (jieba's IDF table, the one
its TF-IDF keyword extraction uses), or common on the platform itself (its own BM25 IDF over the
listings). What is left is ranked by the platform's IDF, so the most specific words come first.

The matched passage is the clause of the query and the sentence of the hit that share the most
specific words: 「您的需求『…』对应成果中『…』」. It quotes only text the viewer may already see: the
query they typed (or their own listing) and a hit that passed the visibility checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

# Words that carry no subject matter in needs and abstracts, beyond matcher.text.STOPWORDS.
FILLER = frozenset(
    [
        "基于",
        "系统",
        "得到",
        "过程",
        "各个",
        "应用",
        "采用",
        "利用",
        "使用",
        "实现",
        "提高",
        "提升",
        "降低",
        "增加",
        "减少",
        "具有",
        "存在",
        "表明",
        "显示",
        "发现",
        "提出",
        "建立",
        "构建",
        "设计",
        "开发",
        "完成",
        "达到",
        "获得",
        "给出",
        "作为",
        "以及",
        "一种",
        "一定",
        "相关",
        "相应",
        "不同",
        "各种",
        "多种",
        "主要",
        "重要",
        "有效",
        "较好",
        "良好",
        "显著",
        "明显",
        "进一步",
        "本文",
        "文中",
        "结果表明",
        "研究",
        "分析",
        "方法",
        "技术",
        "问题",
        "情况",
        "影响",
        "作用",
        "效果",
        "特点",
        "条件",
        "因素",
        "方面",
        "部分",
        "整体",
        "基础",
        "我们",
        "我厂",
        "我司",
        "我院",
        "我所",
        "公司",
        "企业",
        "单位",
        "希望",
        "需要",
        "要求",
        "寻求",
        "引进",
        "合作",
        "提供",
        "解决",
        "能够",
        "可以",
        "目前",
        "现有",
        "已有",
        "传统",
        "常规",
        "一般",
        "通常",
        "长期",
        "经常",
        "成本",
        "费用",
        "效率",
        "质量",
        "水平",
        "能力",
        "工作",
        "生产",
        "产品",
        "项目",
        "方案",
        "团队",
        "服务",
        "领域",
        "行业",
        "国内",
        "国外",
        "结果",
        "数据",
        "模型",
        "参数",
        "指标",
        "性能",
        "因此",
        "同时",
        "通过",
        "其中",
        "之间",
        "以上",
        "以下",
        "左右",
        "为主",
        "为了",
        "对于",
        "关于",
        "根据",
        "按照",
        "主要是",
        "进行",
        "开展",
        "实际",
        "相比",
        "比较",
        "较大",
        "较高",
        "较低",
        "大量",
        "少量",
        "适用",
        "适合",
        "稳定",
        "快速",
        "简单",
        "复杂",
        "有限",
        "一直",
        "依靠",
        "靠",
        "人工",
        "经验",
        "周期",
    ]
)
GENERAL_IDF_MIN = 6.5  # below this, jieba's IDF says the word is everyday Chinese
PLATFORM_SHARE_MAX = 0.08  # a word in more than this share of listings is not specific
PLATFORM_MIN_DOCS = 50  # below this many listings, the platform's own IDF says little
_CLAUSE = re.compile(r"[^。；;！!？?\n]+[。；;！!？?]?")
_DIGITS = re.compile(r"^[\d.%％]+$")


@lru_cache(maxsize=1)
def general_idf() -> tuple[dict[str, float], float]:
    """jieba's IDF table (the one `jieba.analyse` TF-IDF uses) and its median."""
    import jieba.analyse

    tfidf = jieba.analyse.default_tfidf
    return tfidf.idf_freq, float(tfidf.median_idf)


def is_domain_term(term: str, platform_share: float | None = None) -> bool:
    """Whether a word is worth showing as a shared term (see the module's docstring)."""
    from matcher.text import STOPWORDS

    if len(term) < 2 or term in STOPWORDS or term in FILLER or _DIGITS.match(term):
        return False
    if re.fullmatch(r"[a-z0-9.+\-]+", term) and (len(term) < 3 or term.isdigit()):
        return False
    idf, median = general_idf()
    if idf.get(term, median) < GENERAL_IDF_MIN:
        return False
    return platform_share is None or platform_share <= PLATFORM_SHARE_MAX


def domain_terms(
    query_tokens: list[str],
    doc_tokens: set[str],
    platform_idf: Callable[[str], float],
    documents: int,
    limit: int = 6,
) -> list[str]:
    """The query's domain terms the document also contains, most specific first; a term inside
    a longer one already chosen is left out (高炉 adds nothing once 高炉炉况 is shown)."""
    import math

    def share(term: str) -> float | None:
        if documents < PLATFORM_MIN_DOCS:
            return None
        value = platform_idf(term)
        if value <= 0:
            return None
        # invert BM25's idf = ln(1 + (N − df + 0.5) / (df + 0.5)) for df / N
        df = (documents + 1.0) / math.exp(value) - 0.5
        return max(df, 0.0) / documents

    shared = [
        t for t in dict.fromkeys(query_tokens) if t in doc_tokens and is_domain_term(t, share(t))
    ]
    shared.sort(key=lambda t: (-platform_idf(t), -len(t), t))
    chosen: list[str] = []
    for term in shared:
        if any(term in longer for longer in chosen):
            continue
        chosen.append(term)
        if len(chosen) >= limit:
            break
    return chosen


def clauses(text: str, *, max_len: int = 60) -> list[str]:
    """Sentences (split on 。；！？ and line breaks), long ones cut at commas."""
    out: list[str] = []
    for sentence in _CLAUSE.findall(text or ""):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) <= max_len:
            out.append(sentence)
            continue
        piece = ""
        for part in re.split(r"(?<=[，,、：:])", sentence):
            if piece and len(piece) + len(part) > max_len:
                out.append(piece)
                piece = ""
            piece += part
        if piece:
            out.append(piece)
    return out


@dataclass(frozen=True)
class MatchedPassage:
    query: str
    hit: str

    def sentence(self, query_label: str = "您的需求", hit_label: str = "成果") -> str:
        return f"{query_label}『{self.query}』对应{hit_label}中『{self.hit}』"


def matched_passage(
    query_text: str,
    hit_text: str,
    terms: list[str],
    tokens_of: Callable[[str], list[str]],
    weight: Callable[[str], float],
    *,
    width: int = 40,
) -> MatchedPassage | None:
    """The query clause and hit sentence sharing the most weight of domain terms (at least one
    shared term, and not only the title's words repeated)."""
    if not terms:
        return None
    wanted = set(terms)
    query_parts = [(c, set(tokens_of(c)) & wanted) for c in clauses(query_text)]
    hit_parts = [(c, set(tokens_of(c)) & wanted) for c in clauses(hit_text)]
    best: tuple[float, str, str] | None = None
    for q, q_terms in query_parts:
        if not q_terms:
            continue
        for h, h_terms in hit_parts:
            common = q_terms & h_terms
            if not common:
                continue
            score = sum(weight(t) for t in common) - 0.001 * (len(q) + len(h))
            if best is None or score > best[0]:
                best = (score, q, h)
    if best is None:
        return None
    return MatchedPassage(_trim(best[1], width), _trim(best[2], width))


def _trim(text: str, width: int) -> str:
    text = text.strip().rstrip("。；;，,")
    return text if len(text) <= width else text[: width - 1] + "…"
