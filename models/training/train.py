"""Training the plate recogniser on one CPU thread (``lanewarden plates train``).

A run is reproducible from its seed: the batches come from
:class:`models.training.data.Samples` seeded by (seed, step), torch's seed
is fixed, and one thread is used unless asked otherwise (it leaves the other
core to the lane, and keeps float sums in one order). Every
``checkpoint_every`` steps the run writes ``checkpoint.pt`` (weights,
optimiser, step) and ``plate_net.onnx`` into its folder, so a run that is
stopped loses little and resumes where it stopped (``--resume``).

The learning rate warms up, then follows a cosine to zero at ``steps``.
Progress goes to ``train.log`` in the folder as JSON lines.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.plate_net import CHARSET, HEIGHT, WIDTH, prepare
from models.training import manifest
from models.training.data import Samples, encode, load_real
from models.training.fonts import PlateFonts
from models.training.render import Renderer
from models.training.strings import ChineseStrings

CHECKPOINT = "checkpoint.pt"
MODEL = "plate_net.onnx"
LOG = "train.log"
WARMUP = 500


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    shared: Path
    steps: int = 20000
    batch: int = 32
    seed: int = 0
    threads: int = 1
    lr: float = 2e-3
    real_share: float = 0.15
    checkpoint_every: int = 500
    log_every: int = 50
    resume: bool = False
    manifest: Path = manifest.MANIFEST
    #: One font for everything (tests: the bundled subset); else the Debian fonts.
    font: Path | None = None


def build_samples(config: TrainConfig) -> Samples:
    sets = manifest.load(config.manifest)
    pool = ChineseStrings.from_file(
        config.shared / "plates-train" / "ccpd_plate_strings.txt",
        exclude=manifest.validation_plates(sets),
    )
    fonts = PlateFonts.single(config.font) if config.font else PlateFonts.system()
    real = load_real(config.shared, sets) if config.real_share > 0 else []
    return Samples(Renderer(fonts, pool), real, config.real_share)


def learning_rate(config: TrainConfig, step: int) -> float:
    if step < WARMUP:
        return config.lr * (step + 1) / WARMUP
    done = (step - WARMUP) / max(1, config.steps - WARMUP)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def train(config: TrainConfig) -> Path:
    """Train (or resume) into ``config.out``; the exported ONNX model's path."""
    import torch
    from torch.nn import functional

    from models.training.net import PlateCRNN

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    config.out.mkdir(parents=True, exist_ok=True)
    samples = build_samples(config)
    net = PlateCRNN()
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    start = 0
    checkpoint = config.out / CHECKPOINT
    if config.resume and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)
        net.load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        start = int(state["step"])
    log = (config.out / LOG).open("a", encoding="utf-8")
    _log(log, {"event": "start", "step": start, **_jsonable(asdict(config))})
    clock, seen, losses = time.perf_counter(), 0, []
    net.train()
    try:
        for step in range(start, config.steps):
            batch = samples.batch(config.seed, step, config.batch)
            images = torch.from_numpy(prepare([img for img, _ in batch]))
            labels = [encode(text) for _, text in batch]
            targets = torch.tensor([i for label in labels for i in label], dtype=torch.long)
            lengths = torch.tensor([len(label) for label in labels], dtype=torch.long)
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(config, step)
            log_probs = net(images).log_softmax(-1).transpose(0, 1)  # T, N, C
            steps_in = torch.full((len(batch),), log_probs.shape[0], dtype=torch.long)
            loss = functional.ctc_loss(log_probs, targets, steps_in, lengths, zero_infinity=True)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimiser.step()
            losses.append(float(loss.detach()))
            seen += len(batch)
            done = step + 1
            if done % config.log_every == 0:
                elapsed = time.perf_counter() - clock
                _log(
                    log,
                    {
                        "event": "progress",
                        "step": done,
                        "loss": round(sum(losses) / len(losses), 4),
                        "lr": round(learning_rate(config, step), 6),
                        "samples_per_s": round(seen / elapsed, 1),
                        "elapsed_s": round(elapsed, 1),
                    },
                )
                losses = []
            if done % config.checkpoint_every == 0 or done == config.steps:
                _save(net, optimiser, done, config.out)
                _log(log, {"event": "checkpoint", "step": done})
    finally:
        log.close()
    return config.out / MODEL


def _save(net: Any, optimiser: Any, step: int, out: Path) -> None:
    import torch

    tmp = out / (CHECKPOINT + ".tmp")
    torch.save({"net": net.state_dict(), "optimiser": optimiser.state_dict(), "step": step}, tmp)
    tmp.replace(out / CHECKPOINT)
    export(net, out / MODEL, {"step": str(step)})


def export(net: Any, path: Path, metadata: dict[str, str]) -> None:
    """Write ``net`` (with a softmax) as ONNX with its character set in the metadata."""
    import onnx
    import torch

    from models.training.net import Probabilities

    was_training = net.training
    net.eval()
    dummy = torch.zeros(1, 3, HEIGHT, WIDTH)
    tmp = path.with_suffix(".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            Probabilities(net),
            (dummy,),
            str(tmp),
            dynamo=False,
            input_names=["image"],
            output_names=["probs"],
            dynamic_axes={"image": {0: "n"}, "probs": {0: "n"}},
            opset_version=17,
        )
    model = onnx.load(str(tmp))
    for key, value in {"charset": CHARSET, **metadata}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp))
    tmp.replace(path)
    net.train(was_training)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def _log(fh: Any, record: dict[str, Any]) -> None:
    fh.write(json.dumps({"time": round(time.time(), 1), **record}, ensure_ascii=False) + "\n")
    fh.flush()
