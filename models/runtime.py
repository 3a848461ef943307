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
(peak 390 MB over the benchmark sets against 272 MB now, same CPU time).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"


#: glibc ``mallopt`` parameter and value: allocations above 256 KiB are
#: mapped and unmapped on their own instead of being carved from the heap.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 256 * 1024


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


def bound_heap_growth() -> bool:
    """Pin glibc's mmap threshold so model activations go back to the system.

    Without onnxruntime's arena every run allocates its activations with
    malloc. glibc raises its mmap threshold each time a large block is freed,
    so after a few frames those blocks come from the heap, which fragments and
    only grows: a lane process would creep up by tens of megabytes per frame
    size. A fixed threshold keeps large blocks mapped and returned on free.
    Returns False where there is no glibc (nothing to do).
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))


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

    bound_heap_growth()

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
