"""Subnormal weights flushed to zero in a model's bytes, as onnxruntime then runs it."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest

from kuaichu.errors import MediaError
from kuaichu.media.plate_reader.detector import det_candidates
from kuaichu.media.plate_reader.models import (
    DET_MODEL,
    default_model_dir,
    one_thread_session,
)
from kuaichu.media.plate_reader.subnormals import flush_subnormal_weights
from sim.plates import render_scene

# ---- a model written by hand, in protobuf's wire format -------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, n: int) -> bytes:
    dim = _bytes(1, _int(1, n))  # TensorShapeProto.dim { dim_value }
    tensor = _int(1, 1) + _bytes(2, dim)  # elem_type FLOAT, shape
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor))


def _tensor(name: str, values: list[float], *, packed: bool) -> bytes:
    data = struct.pack(f"<{len(values)}f", *values)
    body = _int(1, len(values)) + _int(2, 1) + _bytes(8, name)
    return body + (_bytes(4, data) if packed else _bytes(9, data))


def _model(weights: list[float], bias: list[float]) -> bytes:
    """y = x * w + b, both initializers float: w in raw_data, b in packed float_data; and an
    int64 initializer nothing reads (must pass through as it is)."""
    n = len(weights)
    mul = _bytes(1, "x") + _bytes(1, "w") + _bytes(2, "xw") + _bytes(4, "Mul")
    add = _bytes(1, "xw") + _bytes(1, "b") + _bytes(2, "y") + _bytes(4, "Add")
    shape = _int(1, 2) + _int(2, 7) + _bytes(8, "unused") + _bytes(9, struct.pack("<2q", 1, 2))
    graph = (
        _bytes(1, mul)
        + _bytes(1, add)
        + _bytes(2, "g")
        + _bytes(5, _tensor("w", weights, packed=False))
        + _bytes(5, _tensor("b", bias, packed=True))
        + _bytes(5, shape)
        + _bytes(11, _value_info("x", n))
        + _bytes(12, _value_info("y", n))
    )
    opset = _bytes(1, "") + _int(2, 13)
    return _int(1, 7) + _bytes(7, graph) + _bytes(8, opset)


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    out: np.ndarray = session.run(None, {"x": x})[0]
    return out


# ---- tests ----------------------------------------------------------------------------------


def test_the_model_runs_with_its_subnormal_weights_at_zero_and_the_rest_unchanged() -> None:
    weights = [1.0, 1e-40, -3e-39, 0.25, 2.5e-41]
    bias = [0.0, 0.0, 0.0, 0.5, 1e-39]
    model = _model(weights, bias)
    x = np.ones(5, np.float32)

    before = _run(model, x)
    # What the test guards: onnxruntime really computes with them (on this thread, no FTZ).
    assert before[1] != 0.0 and before[2] != 0.0 and before[4] != 0.0

    flushed, count = flush_subnormal_weights(model)
    assert count == 4  # three in w, one in b
    assert len(flushed) == len(model)
    after = _run(flushed, x)
    assert after.tolist() == [1.0, 0.0, 0.0, 0.75, 0.0]
    # Flushing twice finds nothing more.
    assert flush_subnormal_weights(flushed) == (flushed, 0)


def test_the_reader_loads_every_model_flushed(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    path.write_bytes(_model([1e-40, 2.0], [0.0, 1e-39]))
    out = one_thread_session(path).run(None, {"x": np.ones(2, np.float32)})[0]
    assert out.tolist() == [0.0, 2.0]


def test_a_model_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read the model"):
        one_thread_session(tmp_path / "missing.onnx")


def test_a_model_without_subnormal_weights_is_left_byte_for_byte() -> None:
    model = _model([1.0, -2.0, 0.0], [0.5, 0.0, 3.0])
    assert flush_subnormal_weights(model) == (model, 0)


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m[:-3],  # cut short: the opset's length runs past the end
        lambda m: m[:40] + b"\xff" * 11,  # a varint that never ends
        lambda m: b"\x0b" + m,  # wire type 3 (a group): not ONNX
    ],
)
def test_a_damaged_model_is_a_clear_error(damage: object) -> None:
    model = _model([1.0, 1e-40], [0.0, 0.0])
    with pytest.raises(MediaError, match="ONNX model"):
        flush_subnormal_weights(damage(model))  # type: ignore[operator]


def test_the_shipped_detector_finds_the_same_text_as_the_wheels_unflushed_file() -> None:
    """The detector as the reader loads it (flushed) against the file as the wheel ships it,
    on a plate scene: the same probability map bit for bit, so the same candidates."""
    path = default_model_dir() / DET_MODEL
    _, count = flush_subnormal_weights(path.read_bytes())
    assert count > 100_000  # the two 384x768 convolutions' (what made it slow on Intel)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    as_shipped = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    as_loaded = one_thread_session(path)

    rng = np.random.default_rng([7, 1])
    frame = render_scene("苏E5K2N8", "blue", rng, difficulty="medium")
    bgr = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    small = cv2.resize(bgr, (640, 352), interpolation=cv2.INTER_AREA)
    x = (small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    assert np.array_equal(as_shipped.run(None, {"x": x})[0], as_loaded.run(None, {"x": x})[0])
    boxes = [c.quad.tolist() for c in det_candidates(as_loaded, bgr)]
    assert boxes and boxes == [c.quad.tolist() for c in det_candidates(as_shipped, bgr)]
