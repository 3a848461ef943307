"""Loading the ONNX models that ship inside the installed ``rapidocr`` wheel.

Nothing is downloaded: a lane may have no network. Each session is created
once, with a small thread count so recognition leaves CPU to the lane, and
with threads that sleep rather than spin between runs.

Memory: every session allocates from one process-wide onnxruntime arena,
so the detector and recogniser (run one after the other) share its blocks.
Without an arena each run's activations are freshly mapped pages and the
kernel's page faults cost more CPU than the model itself on some frames
(``lanewarden bench plates``: 17 s of system time against 1.7 s). The arena
grows in doubling regions and sessions allocate tensor by tensor, with no
per-shape memory pattern: every frame size and line width asked for a
pattern block of its own size, and regions grown by exactly one request
could not be reused by larger ones, so the arena kept growing over frames
(peak over the benchmark sets 390 MB, now under 300 MB, same CPU time).

glibc keeps its own malloc tuning: the arrays around a run (the recogniser's
output over its 18 000 symbols, a frame's float copy) are reused from the
heap. A fixed mmap threshold made each of them fresh pages again, 600 000
page faults over the benchmark sets (a crop read 2 ms slower) for 15 MB less
peak memory.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path
from typing import Any

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"


#: onnxruntime's arena extend strategy "kNextPowerOfTwo"; -1 leaves a setting at its default.
_ARENA_NEXT_POWER_OF_TWO = 0
_ARENA_DEFAULT = -1
_arena_lock = threading.Lock()


class ModelLoadError(RuntimeError):
    """A model file is missing or onnxruntime cannot load it."""


def model_dir() -> Path:
    """The ``models`` folder of the installed rapidocr package."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the rapidocr package is not installed; it carries the OCR models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def share_cpu_arena() -> None:
    """Register the process-wide CPU arena that sessions created here allocate from (once)."""
    with _arena_lock:
        _register_cpu_arena()


@functools.cache
def _register_cpu_arena() -> None:
    import onnxruntime as ort

    info = ort.OrtMemoryInfo(
        "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
    )
    config = ort.OrtArenaCfg(0, _ARENA_NEXT_POWER_OF_TWO, _ARENA_DEFAULT, _ARENA_DEFAULT)
    ort.create_and_register_allocator(info, config)


def load_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session for ``path``; ModelLoadError names the file when it fails."""
    import onnxruntime as ort

    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    share_cpu_arena()
    options = ort.SessionOptions()
    options.add_session_config_entry("session.use_env_allocators", "1")
    # A pattern is one block per input shape: see the module's note on memory.
    options.enable_mem_pattern = False
    # Spinning threads of one session would hold the cores while the other
    # session (or the lane) runs: on two cores that slowed every run.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelLoadError(f"cannot load model {path}: {exc}") from exc


def rec_symbols(session: Any, path: Path) -> list[str]:
    """The recogniser's output symbols: blank, the dictionary in its metadata, space."""
    meta = session.get_modelmeta().custom_metadata_map
    if "character" not in meta:
        raise ModelLoadError(f"recognition model {path} carries no character dictionary")
    return ["<blank>", *meta["character"].splitlines(), " "]
