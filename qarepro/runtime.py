"""Where and in what precision models run: the device, what a precision name means on it, the
autocast and TF32 settings that go with it, and the one batched forward loop (teacher-logit cache,
prediction, speed measurement). Every module that runs a model asks here.

The cards trained, cached teacher logits and were scored in fp32 (Haystack v1 leaves `use_amp`
unset; shared/REFERENCE.md §6), so "fp32" is the default of the card configs and of the full
profile. "bf16" and "fp16" are autocast (mixed precision): the weights stay fp32, matrix products
run in the lower precision. "auto" is bf16 on a GPU that has it, fp16 on one that does not, and
fp32 on a CPU. bf16 also runs on a CPU (torch's CPU autocast; emulated, so slow, where the CPU
lacks native bf16 instructions); fp16 needs a GPU.

TF32 (the tensor-core format Ampere and later GPUs use for fp32 matrix products when allowed)
keeps only 10 mantissa bits, so "fp32" with TF32 on is not the cards' fp32. `fp32_matmul`
switches it off for the duration of a pass unless `allow_tf32` is given.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# what a QA model's forward takes from a feature row, in this order
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class PrecisionError(ValueError):
    """A precision the device cannot run (fp16 on a CPU)."""


@dataclass(frozen=True)
class DeviceInfo:
    """What precision resolution needs to know about a device (so it can be tested without one)."""

    type: str = "cpu"  # "cpu" or "cuda"
    bf16: bool = False  # bf16 arithmetic supported natively
    name: str = ""


def resolve_device(device: str | None = None) -> str:
    """The device a pass runs on: `device` when given, else cuda when torch sees a GPU, else cpu."""
    if device:
        return str(device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_device(device: str | None = None) -> DeviceInfo:
    """The device `device` names ("cuda", "cuda:1", "cpu"; None: cuda when torch sees a GPU)."""
    device = resolve_device(device)
    if str(device).startswith("cuda"):
        index = torch.device(device).index or 0
        return DeviceInfo("cuda", bool(torch.cuda.is_bf16_supported()), torch.cuda.get_device_name(index))
    native = False
    with contextlib.suppress(Exception):
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return DeviceInfo("cpu", native, "cpu")


def resolve_precision(precision: str, device: DeviceInfo | str | None = None) -> str:
    """The precision a pass actually runs in: "fp32", "bf16" or "fp16"."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    info = device if isinstance(device, DeviceInfo) else describe_device(device)
    if precision == "auto":
        if info.type != "cuda":
            return "fp32"
        return "bf16" if info.bf16 else "fp16"
    if precision == "fp16" and info.type != "cuda":
        raise PrecisionError("precision 'fp16' needs a GPU; use fp32 or bf16 on a CPU")
    return precision


def autocast(device: str, precision: str):
    """Autocast for `precision` on `device` ("auto" resolved here); a no-op for fp32."""
    resolved = resolve_precision(precision, device)
    if resolved == "fp32":
        return contextlib.nullcontext()
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    if kind == "cpu" and not describe_device("cpu").bf16:
        log.info("bf16 on a CPU without native bf16 instructions: emulated (bf16 rounding, fp32 speed or slower)")
    return torch.autocast(kind, dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[resolved])


def set_tf32(allow: bool) -> tuple[bool, bool]:
    """Allow or forbid TF32 for fp32 matrix products and convolutions; returns the old settings."""
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    return old


@contextlib.contextmanager
def fp32_matmul(allow_tf32: bool = False):
    """TF32 off (or on, when asked) inside the block; the previous settings come back after."""
    old = set_tf32(allow_tf32)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def model_columns(model, column_names) -> list[str]:
    """The feature columns `model`'s forward takes (a RoBERTa has no token_type_ids), in MODEL_INPUTS order."""
    params = inspect.signature(model.forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):  # a wrapper passes them on
        return [c for c in MODEL_INPUTS if c in column_names]
    return [c for c in MODEL_INPUTS if c in column_names and c in params]


# Logit of a position a dynamically padded batch did not compute (beyond the batch's longest window):
# far below any real logit, so it never ranks among a window's best starts or ends, and finite, so
# sums and softmaxes over a window stay finite.
UNCOMPUTED_LOGIT = -1.0e4
PADDINGS = ("max_length", "dynamic")


def forward_logits(model, features, *, batch_size: int, device: str | None = None, precision: str = "fp32",
                   allow_tf32: bool = False, out: np.ndarray | None = None, desc: str = "logits",
                   leave: bool = False, padding: str = "max_length") -> np.ndarray:
    """Start and end logits of `model` over `features`: an array [n_features, 2, seq_len] ([:, 0] start,
    [:, 1] end), filled batch by batch in eval mode, without gradients, under autocast unless fp32 (then
    TF32 off unless allow_tf32). `out` (e.g. a float16 memmap of the teacher cache) is filled in place
    and returned; by default a float32 array is made.

    padding "max_length": every window at its full padded length, in order (the cards' and run_qa's
    default; the teacher cache keeps it, since the KL term reads every position). "dynamic": windows
    sorted by length and each batch cut to its longest window, so a batch of short windows costs what
    they cost; the positions a batch did not compute read UNCOMPUTED_LOGIT (the padding tokens' own
    logits, which a full-length pass gives them, can differ)."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    device = resolve_device(device)
    model.to(device).eval()
    columns = model_columns(model, features.column_names)
    arrays = features.with_format("numpy", columns=columns)
    n = len(features)
    seq_len = len(features[0]["input_ids"]) if n else 0
    if out is None:
        out = np.empty((n, 2, seq_len), dtype=np.float32)
    if padding == "dynamic" and n:
        order, lengths = _length_order(features)
        out[:] = UNCOMPUTED_LOGIT
    with torch.inference_mode(), autocast(device, precision), fp32_matmul(allow_tf32):
        for lo in tqdm(range(0, n, batch_size), desc=desc, unit="batch", leave=leave, mininterval=5):
            if padding == "dynamic":
                rows = order[lo:lo + batch_size]
                width = int(lengths[rows].max())
                batch = arrays[rows.tolist()]
                inputs = {k: torch.as_tensor(np.asarray(batch[k])[:, :width], dtype=torch.long, device=device)
                          for k in columns}
            else:
                rows = slice(lo, lo + batch_size)
                width = seq_len
                batch = arrays[lo:lo + batch_size]
                inputs = {k: torch.as_tensor(np.asarray(batch[k]), dtype=torch.long, device=device) for k in columns}
            result = model(**inputs)
            logits = torch.stack([result.start_logits, result.end_logits], dim=1).float().cpu().numpy()
            out[rows, :, :width] = logits.astype(out.dtype, copy=False)
    return out


def _length_order(features) -> tuple[np.ndarray, np.ndarray]:
    """Feature indices sorted by window length (stable: equal lengths keep their order), and the lengths.
    Cutting a window to its length needs its padding at the end (right-padded, as every tokenizer here)."""
    mask = np.asarray(features.with_format("numpy", columns=["attention_mask"])[:]["attention_mask"])
    lengths = mask.sum(axis=1)
    if not np.all(mask[np.arange(mask.shape[1]) >= lengths[:, None]] == 0):
        raise ValueError("dynamic padding needs right-padded windows (padding after the last real token)")
    return np.argsort(lengths, kind="stable"), lengths
