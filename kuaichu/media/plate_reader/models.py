"""The PP-OCR models shipped inside the ``rapidocr`` wheel, loaded once with one thread each."""

from __future__ import annotations

import logging
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Final

import cv2

from kuaichu.errors import MediaError

from .grammar import Fold
from .province_net import WEIGHTS as PROVINCE_NET
from .province_net import ProvinceNet
from .subnormals import flush_subnormal_weights

logger = logging.getLogger(__name__)

REC_MODEL: Final = "PP-OCRv6_rec_small.onnx"
DET_MODEL: Final = "PP-OCRv6_det_small.onnx"
REC_HEIGHT: Final = 48


class Models:
    """The two ONNX sessions, the recogniser's alphabet and the province net, loaded once."""

    def __init__(self, model_dir: Path) -> None:
        self.rec: Any = one_thread_session(model_dir / REC_MODEL)
        self.det: Any = one_thread_session(model_dir / DET_MODEL)
        meta = self.rec.get_modelmeta().custom_metadata_map
        # PaddleOCR's CTC layout: blank first, the dictionary, then a space.
        alphabet = ["<blank>", *meta["character"].split("\n"), " "]
        self.alphabet = alphabet
        index = {ch: i for i, ch in enumerate(alphabet)}
        self.index = index
        self.fold = Fold(alphabet, index)
        self.province = ProvinceNet(one_thread_session(PROVINCE_NET))


def one_thread_session(path: Path) -> Any:
    """An onnxruntime session on one thread: the server's calls share two cores with us. The
    model's subnormal weights are zeroed first (:mod:`.subnormals`: the detector runs 3x faster
    on an Intel core, its output bit for bit the same)."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    try:
        model, flushed = flush_subnormal_weights(path.read_bytes())
    except OSError as exc:
        raise MediaError(f"cannot read the model {path}: {exc}") from exc
    if flushed:
        logger.debug("plate reader: %d subnormal weights of %s set to zero", flushed, path.name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


_loaded: dict[Path, Models] = {}
_loading = threading.Lock()


def load_models(model_dir: Path) -> Models:
    """The models of ``model_dir``, loaded once per process. The sessions only read their
    weights, and one server holds one reader; a process that builds several apps (the tests,
    the benchmarks) would otherwise spend a second of CPU on each."""
    with _loading:
        models = _loaded.get(model_dir)
        if models is None:
            models = _loaded[model_dir] = Models(model_dir)
        return models


def one_opencv_thread() -> None:
    """Set OpenCV to one thread, for the whole process (``cv2.setNumThreads`` is global): its
    own thread pool would take the second core from the calls. A side effect of the first model
    load (:meth:`PlateReader.warm_up` or the first :meth:`PlateReader.read`), on purpose."""
    cv2.setNumThreads(1)


def default_model_dir() -> Path:
    try:
        root = resources.files("rapidocr") / "models"
    except ModuleNotFoundError as exc:
        raise MediaError("the rapidocr package (PP-OCR models) is not installed") from exc
    path = Path(str(root))
    if not (path / REC_MODEL).exists() or not (path / DET_MODEL).exists():
        raise MediaError(f"PP-OCR models {REC_MODEL}, {DET_MODEL} not found in {path}")
    return path
