"""Distillation throughput: cached teacher logits versus the teacher run on the fly.

    python benchmarks/distill.py                 # tiny-but-not-trivial models, any machine (CPU ok)
    python benchmarks/distill.py --card          # the cards' real architectures, random weights (GPU)

Default mode trains, through `qarepro.distill.train` (the real Trainer path), a 2-layer student
(hidden 256) from a 4-layer teacher (hidden 256, 4 heads) at max_seq_len 256 on the fixture
sample (a few hundred features), one epoch with `teacher_logits: cached` and one with
`teacher_logits: online`, and reports the training loop's samples/s of each, their ratio, and
the one-time cost of filling the cache.

`--card` builds roberta-large -> roberta-base and bert-large -> bert-medium (L-8, H-512, A-8)
with random weights, seq 384 and the cards' batch sizes (80 and 6), and times optimizer steps
of our loss and AdamW with cached versus online teacher logits: samples/s, peak GPU memory and
model FLOPs utilisation (MFU). It needs CUDA (on CPU it refuses unless --allow-cpu).

Results go to outputs/bench/distill.json (or distill-card.json) with a machine description.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> dict:
    import torch

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    gpu_count=torch.cuda.device_count(), cuda=torch.version.cuda)
    return info


# --------------------------------------------------------------------------------------------
# Default mode: the real training path on small models


def bench_small(args) -> dict:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qarepro import config as qconfig
    from qarepro import paths
    from qarepro.distill import DistillConfig, train
    from qarepro.tiny import build_tiny_qa_model, fixture_texts

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    bench_dir = paths.bench()
    work = Path(tempfile.mkdtemp(prefix="qarepro-bench-distill-"))
    os.environ[paths.OUTPUTS_ENV] = str(work / "outputs")  # runs and caches stay out of the repo's outputs
    fx = paths.FIXTURES
    data = fx / "squad-v1.1-train-sample.json"
    texts = fixture_texts([fx / "squad-v2.0-dev-sample.json", data])
    teacher = build_tiny_qa_model("bert", work / "teacher", texts, vocab_size=2000, hidden_size=256, num_layers=4,
                                  num_heads=4, intermediate_size=1024, seed=0)
    cfg_t = AutoModelForQuestionAnswering.from_pretrained(teacher).config
    cfg_t.num_hidden_layers = 2
    AutoModelForQuestionAnswering.from_config(cfg_t).save_pretrained(work / "student")
    AutoTokenizer.from_pretrained(teacher).save_pretrained(work / "student")

    base = dict(teacher=str(teacher), student=str(work / "student"), train_data=str(data),
                max_train_examples=args.examples, max_seq_len=256, max_query_length=64, doc_stride=128,
                batch_size=args.batch_size, epochs=1, learning_rate=3e-5, temperature=2.0,
                distillation_loss_weight=0.75, checkpoint_every=0, log_every=10_000, precision="auto")
    results = {}
    # first: fill the cache (timed separately), so the "cached" epoch below reads a warm cache
    t0 = time.perf_counter()
    from qarepro.teacher import cache_teacher

    logits = cache_teacher(qconfig.from_mapping(DistillConfig, {**base, "name": "cache"}))
    cache_seconds = time.perf_counter() - t0
    n_features = len(logits)
    runs = {"cached": [], "online": []}
    for r in range(args.repeats):  # interleaved, so that a change in machine load hits both modes alike
        for mode in runs:
            cfg = qconfig.from_mapping(DistillConfig, {**base, "name": f"{mode}-{r}", "teacher_logits": mode})
            model_dir = train(cfg)
            m = json.loads((model_dir / "train_metrics.json").read_text())
            runs[mode].append(m["train_samples_per_second"])
    for mode, values in runs.items():
        results[mode] = {"samples_per_second": max(values), "all_repeats": values}
    out = {
        "benchmark": "distill epoch throughput: cached teacher logits vs teacher on the fly",
        "setup": {"teacher": "bert 4 layers, hidden 256, 4 heads, ffn 1024", "student": "bert 2 layers, hidden 256",
                  "vocab": len(AutoTokenizer.from_pretrained(teacher)), "max_seq_len": 256,
                  "features": n_features, "batch_size": args.batch_size, "epochs_timed": 1,
                  "repeats": args.repeats, "statistic": "best of repeats (Trainer's train_samples_per_second)"},
        "cached": results["cached"],
        "online": results["online"],
        "ratio_cached_over_online": round(results["cached"]["samples_per_second"]
                                          / results["online"]["samples_per_second"], 3),
        "cache_fill_seconds": round(cache_seconds, 3),
        "cache_fill_samples_per_second": round(n_features / cache_seconds, 2),
        "machine": machine(),
    }
    bench_dir.mkdir(parents=True, exist_ok=True)
    from qarepro.io import write_json

    path = write_json(bench_dir / "distill.json", out)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))
    print(f"written to {path}")
    return out


# --------------------------------------------------------------------------------------------
# --card mode: the real architectures, random weights, timed optimizer steps


CARDS = {
    "roberta-base-squad2-distilled": {
        "family": "roberta", "batch_size": 80, "temperature": 1.5, "weight": 0.75,
        "teacher": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
        "student": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    },
    "bert-medium-squad2-distilled": {
        "family": "bert", "batch_size": 6, "temperature": 5.0, "weight": 1.0,
        "teacher": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
        "student": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, intermediate_size=2048),
    },
}

# Dense bf16/fp16 tensor-core peak (no sparsity), FLOP/s, by substring of the device name.
PEAK_FLOPS = [
    ("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("A100", 312e12), ("L40S", 362e12),
    ("A10G", 125e12), ("A10", 125e12), ("L4", 121e12), ("V100", 125e12), ("T4", 65e12),
]


def _model_config(family: str, dims: dict):
    from transformers import BertConfig, RobertaConfig

    if family == "roberta":
        return RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                             bos_token_id=0, eos_token_id=2, **dims)
    return BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, pad_token_id=0, **dims)


def _flops_per_sample(config, seq: int, training: bool) -> float:
    """Matmul FLOPs of one sequence: 2 * non-embedding params * tokens + attention scores/values
    (4 * layers * seq^2 * hidden), times 3 for forward + backward when training."""
    h, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    params = layers * (4 * h * h + 2 * h * ffn) + 2 * h  # attention q,k,v,o + FFN + QA head
    forward = 2 * params * seq + 4 * layers * seq * seq * h
    return forward * (3 if training else 1)


def bench_card(args) -> dict:
    import torch
    from transformers import AutoModelForQuestionAnswering

    from qarepro import paths
    from qarepro.distill import distillation_loss
    from qarepro.io import write_json
    from qarepro.optim import AdamW

    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit("--card needs a CUDA GPU (the card models at seq 384 are far too slow on CPU); "
                         "pass --allow-cpu to try anyway")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    peak = args.peak_tflops * 1e12 if args.peak_tflops else None
    if peak is None and device == "cuda":
        name = torch.cuda.get_device_name(0)
        peak = next((f for key, f in PEAK_FLOPS if key in name), None)
    seq = 384
    results = {}
    cards = [args.only] if args.only else list(CARDS)
    for card in cards:
        spec = CARDS[card]
        batch = args.micro_batch or spec["batch_size"]
        torch.manual_seed(0)
        t_cfg, s_cfg = _model_config(spec["family"], spec["teacher"]), _model_config(spec["family"], spec["student"])
        teacher = AutoModelForQuestionAnswering.from_config(t_cfg).to(device).eval()
        student = AutoModelForQuestionAnswering.from_config(s_cfg).to(device).train()
        opt = AdamW(student.parameters(), lr=3e-5, eps=1e-6, weight_decay=0.01, correct_bias=False)
        ids = torch.randint(5, s_cfg.vocab_size - 1, (batch, seq), device=device)
        mask = torch.ones_like(ids)
        sp = torch.randint(0, seq, (batch,), device=device)
        ep = torch.randint(0, seq, (batch,), device=device)
        cached_logits = torch.randn(batch, 2, seq, device=device)
        amp = torch.autocast(device, dtype=dtype) if device == "cuda" else torch.autocast("cpu", enabled=False)

        def step(online: bool):
            if online:
                with torch.no_grad(), amp:
                    out = teacher(input_ids=ids, attention_mask=mask)
                t = torch.stack([out.start_logits, out.end_logits], 1).float()
            else:
                t = cached_logits
            with amp:
                out = student(input_ids=ids, attention_mask=mask)
            loss = distillation_loss(out.start_logits.float(), out.end_logits.float(), t[:, 0], t[:, 1], sp, ep,
                                     spec["temperature"], spec["weight"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        card_res = {"micro_batch": batch, "card_global_batch": spec["batch_size"], "seq": seq,
                    "precision": str(dtype).replace("torch.", "") if device == "cuda" else "fp32",
                    "student_params": sum(p.numel() for p in student.parameters()),
                    "teacher_params": sum(p.numel() for p in teacher.parameters())}
        for mode in ("cached", "online"):
            online = mode == "online"
            for _ in range(args.warmup):
                step(online)
            if device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step(online)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            sps = batch * args.steps / seconds
            flops = _flops_per_sample(s_cfg, seq, True) + (_flops_per_sample(t_cfg, seq, False) if online else 0)
            card_res[mode] = {
                "samples_per_second": round(sps, 2),
                "step_seconds": round(seconds / args.steps, 4),
                "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
                "model_tflops_per_second": round(sps * flops / 1e12, 1),
                "mfu": round(sps * flops / peak, 4) if peak else None,
            }
        card_res["ratio_cached_over_online"] = round(card_res["cached"]["samples_per_second"]
                                                     / card_res["online"]["samples_per_second"], 3)
        results[card] = card_res
        del teacher, student, opt
        if device == "cuda":
            torch.cuda.empty_cache()
    out = {"benchmark": "distill steps at the cards' architectures (random weights)", "steps": args.steps,
           "warmup": args.warmup, "peak_flops": peak, "cards": results, "machine": machine(),
           "flops_note": "matmul FLOPs: 6*N*tokens + 12*L*seq^2*H per trained sample; teacher 2*N*tokens + "
                         "4*L*seq^2*H per sample when run online; N = non-embedding parameters"}
    path = write_json(paths.bench() / "distill-card.json", out)
    print(json.dumps(out, indent=2))
    print(f"written to {path}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--card", action="store_true", help="time the cards' real architectures (needs CUDA)")
    p.add_argument("--examples", type=int, default=266, help="default mode: training questions (fixture sample)")
    p.add_argument("--batch-size", type=int, default=16, help="default mode: global batch")
    p.add_argument("--repeats", type=int, default=3, help="default mode: epochs timed per mode (best is kept)")
    p.add_argument("--threads", type=int, default=0,
                   help="default mode: torch intra-op threads (0: torch's default; 1 is steadier on a shared CPU)")
    p.add_argument("--keep", action="store_true", help="default mode: keep the temporary run folders")
    p.add_argument("--only", choices=sorted(CARDS), help="--card: one card only")
    p.add_argument("--micro-batch", type=int, default=0, help="--card: batch per step (default: the card's)")
    p.add_argument("--steps", type=int, default=20, help="--card: timed steps per mode")
    p.add_argument("--warmup", type=int, default=5, help="--card: untimed steps per mode")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="--card: device peak for MFU (default: by name)")
    p.add_argument("--allow-cpu", action="store_true", help="--card: run without CUDA (very slow)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    (bench_card if args.card else bench_small)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
