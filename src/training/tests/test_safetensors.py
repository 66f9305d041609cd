import json
import struct

import pytest
import torch

from safetensors_io import SafetensorsError, deserialize, load_file, save_file, serialize


def _sample():
    g = torch.Generator().manual_seed(0)
    return {
        "f32": torch.randn(3, 5, generator=g),
        "f16": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 3, 4, generator=g).bfloat16(),
        "i32": torch.randint(-1000, 1000, (4, 2), generator=g, dtype=torch.int32),
        "i64": torch.tensor([-(2 ** 40), 0, 2 ** 40 + 7]),
        "f64": torch.randn(2, generator=g, dtype=torch.float64),
        "u8": torch.arange(5, dtype=torch.uint8),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }


def test_round_trip_every_dtype(tmp_path):
    tensors = _sample()
    path = tmp_path / "x.safetensors"
    save_file(tensors, path, metadata={"format": "pt", "note": "héllo"})
    back, meta = load_file(path, with_metadata=True)
    assert meta == {"format": "pt", "note": "héllo"}
    assert set(back) == set(tensors)
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype, name
        assert back[name].shape == t.shape, name
        assert torch.equal(back[name], t), name


def test_layout_matches_spec():
    t = {"b": torch.tensor([1.0, 2.0]), "a": torch.tensor([1, 2], dtype=torch.int64),
         "h": torch.tensor([1.5], dtype=torch.bfloat16)}
    data = serialize(t, {"k": "v"})
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0 and (8 + n) % 8 == 0
    raw = data[8:8 + n]
    assert raw.rstrip(b" ") == raw.rstrip()  # padding is spaces
    header = json.loads(raw)
    assert header["__metadata__"] == {"k": "v"}
    body = data[8 + n:]
    # 8-byte elements first, then 4, then 2 (keeps alignment)
    assert header["a"] == {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}
    assert header["b"] == {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}
    assert header["h"] == {"dtype": "BF16", "shape": [1], "data_offsets": [24, 26]}
    assert body[0:16] == struct.pack("<2q", 1, 2)
    assert body[16:24] == struct.pack("<2f", 1.0, 2.0)
    assert body[24:26] == struct.pack("<H", 0x3FC0)  # bf16(1.5) = top half of f32 0x3FC00000
    assert len(body) == 26


def _file(header, body=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00", "shorter than the 8-byte"),
    (struct.pack("<Q", 100) + b"{}", "runs past the end"),
    (struct.pack("<Q", 3) + b"{x}", "not valid UTF-8 JSON"),
    (_file({"t": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "unknown dtype"),
    (_file({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "out of range"),
    (_file({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 8), "expected 8"),
    (_file({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "u": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), "overlap"),
    (_file({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "non-negative"),
    (_file({"t": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "exactly dtype"),
    (_file({"__metadata__": {"a": 1}}), "__metadata__"),
    (_file([1, 2]), "not a JSON object"),
])
def test_rejects_invalid_files(data, message):
    with pytest.raises(SafetensorsError, match=message):
        deserialize(data)


def test_rejects_unsupported_inputs():
    with pytest.raises(TypeError):
        serialize({"c": torch.zeros(2, dtype=torch.complex64)})
    with pytest.raises(TypeError):
        serialize({"x": torch.zeros(1)}, {"k": 1})
    with pytest.raises(ValueError):
        serialize({"__metadata__": torch.zeros(1)})


def test_bf16_bits_are_torch_bf16():
    x = torch.tensor([1.0, -2.5, 3.140625, 1e-3]).bfloat16()
    back, _ = deserialize(serialize({"x": x}))
    assert torch.equal(back["x"].view(torch.int16), x.view(torch.int16))


def test_non_contiguous_tensor_is_written_in_c_order():
    x = torch.arange(12, dtype=torch.float32).view(3, 4).t()
    back, _ = deserialize(serialize({"x": x}))
    assert torch.equal(back["x"], x)
