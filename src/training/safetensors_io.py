"""
Minimal safetensors writer and reader (no dependency on the `safetensors` package).

File layout (https://github.com/huggingface/safetensors):
    u64 little-endian N | N bytes of JSON header | raw little-endian tensor data
Header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
with offsets relative to the first byte after the header. Like the reference implementation, the header is
padded with spaces so that the data starts at an 8-byte boundary, and tensors are laid out by descending
element size, then by name.

Supported dtypes: F32, F16, BF16, I32, I64 (plus F64, I16, I8, U8, BOOL when reading and writing; the model
format only uses the first five). BF16 goes through torch because numpy has no bfloat16.
"""

import json
import struct

import numpy as np
import torch

# dtype tag -> (torch dtype, numpy dtype used for the raw bytes, element size)
_DTYPES = {
    "F64": (torch.float64, np.dtype("<f8"), 8),
    "F32": (torch.float32, np.dtype("<f4"), 4),
    "F16": (torch.float16, np.dtype("<f2"), 2),
    "BF16": (torch.bfloat16, np.dtype("<i2"), 2),  # raw 16-bit pattern, reinterpreted by torch
    "I64": (torch.int64, np.dtype("<i8"), 8),
    "I32": (torch.int32, np.dtype("<i4"), 4),
    "I16": (torch.int16, np.dtype("<i2"), 2),
    "I8": (torch.int8, np.dtype("i1"), 1),
    "U8": (torch.uint8, np.dtype("u1"), 1),
    "BOOL": (torch.bool, np.dtype("?"), 1),
}
_TAG_OF = {torch_dtype: tag for tag, (torch_dtype, _, _) in _DTYPES.items()}

MAX_HEADER_BYTES = 100_000_000  # same limit as the reference implementation


class SafetensorsError(ValueError):
    """The bytes are not a valid safetensors file (message says why)."""


def _tensor_bytes(t):
    """Raw little-endian bytes of a tensor (C order)."""
    t = t.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2", copy=False).tobytes()
    tag = _TAG_OF.get(t.dtype)
    if tag is None:
        raise TypeError(f"unsupported dtype {t.dtype}")
    return t.numpy().astype(_DTYPES[tag][1], copy=False).tobytes()


def serialize(tensors, metadata=None):
    """dict name -> torch.Tensor (+ optional dict str -> str) -> bytes of a safetensors file."""
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must map str to str")
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in _TAG_OF:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
    # descending element size, then name (the reference's layout; keeps every tensor aligned)
    order = sorted(tensors, key=lambda n: (-_DTYPES[_TAG_OF[tensors[n].dtype]][2], n))
    header, chunks, offset = {}, [], 0
    for name in order:
        t = tensors[name]
        raw = _tensor_bytes(t)
        header[name] = {"dtype": _TAG_OF[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header = {"__metadata__": dict(sorted(metadata.items())), **header}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_file(tensors, path, metadata=None):
    """Write tensors (dict name -> torch.Tensor) to a safetensors file."""
    data = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)


def deserialize(data):
    """bytes of a safetensors file -> (dict name -> torch.Tensor, metadata dict or {}). Validates everything."""
    data = memoryview(data)
    if len(data) < 8:
        raise SafetensorsError(f"file is {len(data)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES:
        raise SafetensorsError(f"header length {n} exceeds {MAX_HEADER_BYTES}")
    if 8 + n > len(data):
        raise SafetensorsError(f"header length {n} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"header is not valid UTF-8 JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    body = data[8 + n:]
    spans, out = [], {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{name}: entry must have exactly dtype, shape, data_offsets")
        tag, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if tag not in _DTYPES:
            raise SafetensorsError(f"{name}: unknown dtype {tag!r}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise SafetensorsError(f"{name}: shape must be a list of non-negative integers, got {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)
                or not 0 <= offs[0] <= offs[1] <= len(body)):
            raise SafetensorsError(f"{name}: data_offsets {offs!r} out of range (data is {len(body)} bytes)")
        torch_dtype, np_dtype, size = _DTYPES[tag]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if offs[1] - offs[0] != numel * size:
            raise SafetensorsError(f"{name}: {offs[1] - offs[0]} bytes for shape {shape} of {tag} "
                                   f"(expected {numel * size})")
        spans.append((offs[0], offs[1], name))
        arr = np.frombuffer(body[offs[0]:offs[1]], dtype=np_dtype).copy().reshape(shape)
        t = torch.from_numpy(arr)
        out[name] = t.view(torch.bfloat16) if tag == "BF16" else t.to(torch_dtype)
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError(f"tensors {n0} [{b0}, {e0}) and {n1} [{b1}, {e1}) overlap")
    return out, metadata


def load_file(path, with_metadata=False):
    """Read a safetensors file -> dict name -> torch.Tensor (and metadata when with_metadata)."""
    with open(path, "rb") as f:
        tensors, metadata = deserialize(f.read())
    return (tensors, metadata) if with_metadata else tensors
