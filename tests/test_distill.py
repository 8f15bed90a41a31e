"""Distillation engine: config, loss, optimizer, teacher-logit cache, student start, training, errors.

Tiny offline models on CPU. The multi-process and kill/resume runs are in test_distill_runs.py.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from qarepro import config as qconfig
from qarepro import distill, optim, paths, teacher as qteacher
from qarepro.config import ConfigError
from qarepro.distill import DistillConfig, distillation_loss, load_distill_config

FIXTURES = paths.FIXTURES
TRAIN_SAMPLE = FIXTURES / "squad-v1.1-train-sample.json"
SQUAD2_SAMPLE = FIXTURES / "squad-v2.0-dev-sample.json"


# --------------------------------------------------------------------------------------------
# Tiny teacher/student pair sharing one tokenizer (importable by test_distill_runs.py)


def make_pair(root: Path, *, teacher_layers: int = 4, student_layers: int = 2, hidden: int = 32) -> dict[str, Path]:
    """A tiny BERT teacher and a shallower student with the very same tokenizer (random weights)."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qarepro.tiny import build_tiny_qa_model, fixture_texts

    teacher = build_tiny_qa_model("bert", root / "teacher", fixture_texts([SQUAD2_SAMPLE, TRAIN_SAMPLE]),
                                  num_layers=teacher_layers, hidden_size=hidden, intermediate_size=2 * hidden,
                                  seed=0)
    config = AutoModelForQuestionAnswering.from_pretrained(teacher).config
    config.num_hidden_layers = student_layers
    torch.manual_seed(1)
    AutoModelForQuestionAnswering.from_config(config).save_pretrained(root / "student")
    AutoTokenizer.from_pretrained(teacher).save_pretrained(root / "student")
    return {"teacher": teacher, "student": root / "student"}


def tiny_config(pair: dict[str, Path], **overrides) -> DistillConfig:
    base = dict(
        name="tiny", teacher=str(pair["teacher"]), student=str(pair["student"]), train_data=str(TRAIN_SAMPLE),
        max_train_examples=24, max_seq_len=64, max_query_length=16, doc_stride=32, batch_size=4, epochs=2,
        learning_rate=1e-3, temperature=2.0, distillation_loss_weight=0.5, checkpoint_every=0, log_every=2,
        teacher_batch_size=16,
    )
    base.update(overrides)
    return qconfig.from_mapping(DistillConfig, base)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models on a shared CPU: one intra-op thread is many times faster (no oversubscription)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("pair"))


def load_params(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


# Two parameters add one constant to every position's start (end) logit: the QA head's bias, and
# the bias of the last encoder layer's output LayerNorm (it reaches the logits as W_qa @ b). Softmax
# is shift-invariant, so with dropout off their true gradient is exactly 0: what they get is
# rounding noise, which Adam turns into lr-sized steps of random sign. They are compared loosely
# (a few learning-rate steps); every other parameter tightly.
def noise_only(keys) -> set[str]:
    layers = [int(k.split("encoder.layer.")[1].split(".")[0]) for k in keys if "encoder.layer." in k]
    last = max(layers)
    return {"qa_outputs.bias"} | {k for k in keys if k.endswith(f"encoder.layer.{last}.output.LayerNorm.bias")}


def assert_same_params(a: dict, b: dict, atol: float, lr: float, steps: int) -> dict[str, float]:
    assert a.keys() == b.keys()
    loose = noise_only(a)
    diffs = {k: (a[k].double() - b[k].double()).abs().max().item() for k in a}
    bad = {k: d for k, d in diffs.items() if d > (2 * lr * steps if k in loose else atol)}
    assert not bad, f"parameters differ beyond {atol}: {bad}"
    return {k: d for k, d in diffs.items() if k not in loose}
    return diffs


# --------------------------------------------------------------------------------------------
# Config


CARD = {
    "roberta-base-squad2-distilled": dict(
        teacher="deepset/roberta-large-squad2", student="FacebookAI/roberta-base", batch_size=80, epochs=4,
        temperature=1.5, distillation_loss_weight=0.75),
    "bert-medium-squad2-distilled": dict(
        teacher="deepset/bert-large-uncased-whole-word-masking-squad2", student="prajjwal1/bert-medium",
        batch_size=6, epochs=2, temperature=5.0, distillation_loss_weight=1.0),
}


@pytest.mark.parametrize("card", sorted(CARD))
def test_card_configs_follow_reference(card):
    cfg = load_distill_config(card)  # a bare name resolves to configs/<name>.yaml
    for key, value in CARD[card].items():
        assert getattr(cfg, key) == value, key
    assert cfg.name == card and cfg.student_init == "pretrained" and cfg.train_data == "squad_v2-train"
    assert (cfg.max_seq_len, cfg.doc_stride, cfg.stride_mode, cfg.max_query_length) == (384, 128, "haystack", 64)
    assert (cfg.learning_rate, cfg.warmup_proportion, cfg.weight_decay) == (3e-5, 0.2, 0.01)
    assert (cfg.correct_bias, cfg.max_grad_norm, cfg.seed, cfg.embeds_dropout_prob) == (False, 1.0, 42, 0.1)
    assert cfg.loss_variant == "haystack" and cfg.teacher_logits == "cached" and cfg.teacher_logits_dtype == "float32"
    assert cfg.teacher_precision == "fp32"
    assert cfg.teacher_revision
    # Haystack v1 source (REFERENCE §6): fp32, the learnable logit divisor, its labelling rule
    assert cfg.precision == "fp32" and cfg.tf32 is False
    assert cfg.learnable_logit_divisor is True and cfg.label_mode == "haystack"


def test_config_is_strict_and_overridable(tmp_path):
    cfg = load_distill_config("bert-medium-squad2-distilled", ["epochs=3", "temperature=2", "student_layers=[0, 3]"])
    assert cfg.epochs == 3 and cfg.temperature == 2.0 and isinstance(cfg.temperature, float)
    assert load_distill_config("bert-medium-squad2-distilled", {"precision": "fp32"}).precision == "fp32"
    with pytest.raises(ConfigError, match="unknown key.*'epoch'"):
        load_distill_config("bert-medium-squad2-distilled", ["epoch=3"])
    with pytest.raises(ConfigError, match="'batch_size': expected an integer"):
        load_distill_config("bert-medium-squad2-distilled", ["batch_size=six"])
    with pytest.raises(ConfigError, match="'loss_variant': 'kd' is not one of"):
        load_distill_config("bert-medium-squad2-distilled", ["loss_variant=kd"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstudent: s\nlearning_rat: 1.0e-5\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*unknown key\(s\) 'learning_rat'"):
        load_distill_config(bad)
    with pytest.raises(ConfigError, match="teacher is null"):
        load_distill_config("bert-medium-squad2-distilled", ["teacher=null"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_distill_config("no-such-card")


# --------------------------------------------------------------------------------------------
# Loss


def _np_log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _np_loss(s, e, ts, te, sp, ep, T, w, variant="haystack"):
    """The REFERENCE §2 formula, written out in numpy."""
    def kl(student, teacher):
        log_p_t, log_p_s = _np_log_softmax(teacher / T), _np_log_softmax(student / T)
        return (np.exp(log_p_t) * (log_p_t - log_p_s)).sum() / student.shape[0]

    def ce(logits, pos):
        return -_np_log_softmax(logits)[np.arange(len(pos)), pos].mean()

    k = kl(s, ts) + kl(e, te)
    if variant == "hf":
        k = k / 2
    return w * T ** 2 * k + (1 - w) * (ce(s, sp) + ce(e, ep)) / 2


def _logits(seed, batch=3, seq=7, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    s, e, ts, te = (torch.randn(batch, seq, generator=g, dtype=dtype) * 3 for _ in range(4))
    sp = torch.randint(0, seq, (batch,), generator=g)
    ep = torch.randint(0, seq, (batch,), generator=g)
    return s, e, ts, te, sp, ep


@pytest.mark.parametrize("w, T", [(0.75, 1.5), (1.0, 5.0), (0.3, 1.0)])
@pytest.mark.parametrize("variant", ["haystack", "hf"])
def test_loss_matches_hand_computation(w, T, variant):
    args = _logits(0)
    got = distillation_loss(*args, temperature=T, weight=w, variant=variant)
    want = _np_loss(*(a.numpy() for a in args), T, w, variant)
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_loss_card_weights_spelled_out():
    s, e, ts, te, sp, ep = _logits(1)
    kl = lambda a, b: F.kl_div(F.log_softmax(a / 1.5, -1), F.softmax(b / 1.5, -1), reduction="batchmean")
    ce = lambda a, p: F.cross_entropy(a, p)
    roberta = 1.6875 * (kl(s, ts) + kl(e, te)) + 0.125 * (ce(s, sp) + ce(e, ep))
    assert distillation_loss(s, e, ts, te, sp, ep, 1.5, 0.75).item() == pytest.approx(roberta.item(), rel=1e-12)
    kl5 = lambda a, b: F.kl_div(F.log_softmax(a / 5, -1), F.softmax(b / 5, -1), reduction="batchmean")
    bert = 25 * (kl5(s, ts) + kl5(e, te))
    assert distillation_loss(s, e, ts, te, sp, ep, 5.0, 1.0).item() == pytest.approx(bert.item(), rel=1e-12)


def test_loss_at_w0_is_plain_qa_cross_entropy(pair):
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(pair["student"]).eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (3, 16), generator=g)
    sp, ep = torch.tensor([0, 3, 5]), torch.tensor([0, 4, 9])
    with torch.no_grad():
        out = model(input_ids=ids, start_positions=sp, end_positions=ep)
        ours = distillation_loss(out.start_logits, out.end_logits, None, None, sp, ep, 3.0, 0.0)
        with_teacher = distillation_loss(out.start_logits, out.end_logits, out.start_logits * 2, out.end_logits,
                                         sp, ep, 3.0, 0.0)
    assert ours.item() == pytest.approx(out.loss.item(), rel=1e-6)  # HF's (CE_s + CE_e) / 2
    assert with_teacher.item() == pytest.approx(out.loss.item(), rel=1e-6)


def test_loss_gradcheck():
    s, e, ts, te, sp, ep = _logits(2, batch=2, seq=5)
    s.requires_grad_(True)
    e.requires_grad_(True)
    for w, T, variant in [(0.75, 1.5, "haystack"), (1.0, 5.0, "haystack"), (0.5, 2.0, "hf")]:
        assert torch.autograd.gradcheck(
            lambda a, b: distillation_loss(a, b, ts, te, sp, ep, T, w, variant), (s, e))


def test_loss_rejects_bad_input():
    s, e, ts, te, sp, ep = _logits(3)
    with pytest.raises(ValueError, match="teacher logits are needed"):
        distillation_loss(s, e, None, None, sp, ep, 1.0, 0.5)
    with pytest.raises(ValueError, match="differ in shape"):
        distillation_loss(s, e, ts[:, :-1], te, sp, ep, 1.0, 0.5)
    with pytest.raises(ValueError, match="variant"):
        distillation_loss(s, e, ts, te, sp, ep, 1.0, 0.5, variant="mse")


# --------------------------------------------------------------------------------------------
# Optimizer


def _np_adamw_no_bias_correction(p, grads, lr, betas, eps, wd):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for g in grads:
        p = p * (1 - lr * wd)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        p = p - lr * m / (np.sqrt(v) + eps)
    return p


IMPLEMENTATIONS = {"fused": dict(fused=True), "foreach": dict(foreach=True), "single": dict(foreach=False)}


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_adamw_without_bias_correction_matches_hand_rule(impl):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(6)]
    param = torch.nn.Parameter(torch.tensor(p0))
    opt = optim.AdamW([param], lr=0.01, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, correct_bias=False,
                      **IMPLEMENTATIONS[impl])
    for g in grads:
        param.grad = torch.tensor(g)
        opt.step()
    want = _np_adamw_no_bias_correction(p0, grads, 0.01, (0.9, 0.999), 1e-6, 0.01)
    np.testing.assert_allclose(param.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    # the first step without bias correction is (1 - beta1) / sqrt(1 - beta2) ~ 3.2x larger than Adam's lr
    q = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = optim.AdamW([q], lr=1.0, eps=0.0, correct_bias=False, **IMPLEMENTATIONS[impl])
    q.grad = torch.ones(1, dtype=torch.float64)
    opt.step()
    assert q.item() == pytest.approx(-0.1 / math.sqrt(0.001))


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_adamw_with_bias_correction_equals_torch(impl):
    torch.manual_seed(0)
    shapes = [(5, 4), (4,), (3, 2, 2)]
    ours = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    kw = dict(lr=3e-3, betas=(0.85, 0.99), eps=1e-6, weight_decay=0.05)
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "weight_decay": 0.0}]
    a = optim.AdamW(groups(ours), correct_bias=True, **IMPLEMENTATIONS[impl], **kw)
    b = torch.optim.AdamW(groups(ref), foreach=False, **kw)
    sched_a = optim.linear_warmup_schedule(a, 10, 0.2)
    sched_b = optim.linear_warmup_schedule(b, 10, 0.2)
    for step in range(8):
        for p, q in zip(ours, ref):
            g = torch.randn(p.shape)
            p.grad, q.grad = g.clone(), g.clone()
        a.step(), b.step(), sched_a.step(), sched_b.step()
        for p, q in zip(ours, ref):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    # state survives a round trip (resume)
    c = optim.AdamW(groups([torch.nn.Parameter(p.detach().clone()) for p in ours]), correct_bias=True, **kw)
    c.load_state_dict(a.state_dict())
    assert c.state_dict()["state"][0]["step"] == 8


def test_linear_warmup_schedule_floors_warmup():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = optim.AdamW([p], lr=1.0)
    sched = optim.linear_warmup_schedule(opt, 11, 0.2)  # warmup int(2.2) = 2 steps
    lrs = []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert lrs[:4] == pytest.approx([0.0, 0.5, 1.0, 8 / 9])
    assert lrs[-1] == pytest.approx(1 / 9)


# --------------------------------------------------------------------------------------------
# Student start


def test_student_from_teacher_layers(pair):
    from transformers import AutoModelForQuestionAnswering

    teacher = AutoModelForQuestionAnswering.from_pretrained(pair["teacher"])
    student = distill.init_student_from_teacher(teacher, [0, 3])
    assert student.config.num_hidden_layers == 2 and type(student) is type(teacher)
    t, s = teacher.state_dict(), student.state_dict()
    for name, value in s.items():
        src = name.replace("encoder.layer.1.", "encoder.layer.3.")
        assert torch.equal(value, t[src]), name
    assert torch.equal(s["qa_outputs.weight"], t["qa_outputs.weight"])
    assert torch.equal(s["bert.embeddings.word_embeddings.weight"], t["bert.embeddings.word_embeddings.weight"])
    with pytest.raises(distill.DistillError, match="layers 0..3"):
        distill.init_student_from_teacher(teacher, [0, 4])


def test_embeds_dropout_only_in_training(pair):
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(pair["student"], hidden_dropout_prob=0.0,
                                                          attention_probs_dropout_prob=0.0)
    ids = torch.randint(5, 100, (2, 12))
    model.eval()
    before = model(input_ids=ids).start_logits
    distill.add_embeds_dropout(model, 0.5)
    assert torch.equal(model(input_ids=ids).start_logits, before)  # eval: no dropout
    model.train()
    assert not torch.equal(model(input_ids=ids).start_logits, before)
    assert set(model.state_dict()) == set(AutoModelForQuestionAnswering.from_pretrained(pair["student"]).state_dict())


# --------------------------------------------------------------------------------------------
# Teacher-logit cache


class CountingTeacher:
    """Wraps qarepro.teacher.load_teacher to count teacher forward calls."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = qteacher.load_teacher

        def load(cfg):
            model = original(cfg)
            model.register_forward_hook(lambda *a: setattr(self, "calls", self.calls + 1))
            return model

        monkeypatch.setattr(qteacher, "load_teacher", load)
        monkeypatch.setattr(distill, "load_teacher", load)


def test_teacher_cache_matches_teacher_and_is_reused(pair, monkeypatch):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    counter = CountingTeacher(monkeypatch)
    cfg = tiny_config(pair)
    logits = distill.cache_teacher(cfg)
    n = len(logits)
    assert counter.calls == math.ceil(n / cfg.teacher_batch_size)
    assert logits.array.dtype == np.float32 and logits.array.shape == (n, 2, 64)
    meta = json.loads((logits.path / "meta.json").read_text())
    assert meta["rows"] == n and meta["teacher"] == cfg.teacher and meta["key"] in logits.path.name

    # rows are the teacher's logits of the same features, in feature order
    tok = AutoTokenizer.from_pretrained(pair["student"])
    feats, _ = qteacher.training_features(cfg, tok)
    model = AutoModelForQuestionAnswering.from_pretrained(pair["teacher"]).eval()
    rows = [0, n // 2, n - 1]
    batch = feats.select(rows).with_format("torch", columns=qteacher.model_inputs(tok, feats))
    with torch.no_grad():
        out = model(**{k: v.long() for k, v in batch[:].items()})
    got = logits.gather(torch.tensor(rows))
    torch.testing.assert_close(got[:, 0], out.start_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[:, 1], out.end_logits, rtol=1e-5, atol=1e-5)

    again = distill.cache_teacher(cfg)  # reused, teacher not run
    assert counter.calls == math.ceil(n / cfg.teacher_batch_size) and again.path == logits.path

    # a different window, teacher or storage dtype is a different cache
    other_teacher = Path(str(pair["teacher"]) + "-copy")
    shutil.copytree(pair["teacher"], other_teacher, dirs_exist_ok=True)
    from safetensors.torch import load_file, save_file

    weights = load_file(str(other_teacher / "model.safetensors"))
    weights["qa_outputs.bias"] = weights["qa_outputs.bias"] + 1.0
    save_file(weights, str(other_teacher / "model.safetensors"), metadata={"format": "pt"})
    paths_seen = {logits.path}
    for change in [dict(max_seq_len=56), dict(teacher=str(other_teacher)), dict(teacher_logits_dtype="float16")]:
        new = distill.cache_teacher(tiny_config(pair, **change))
        assert new.path not in paths_seen, change
        paths_seen.add(new.path)
    assert len(list(paths.teacher_cache().iterdir())) == 4


def test_mismatched_teacher_cache_is_refused(pair):
    cfg = tiny_config(pair)
    logits = distill.cache_teacher(cfg)
    folder, n = logits.path, len(logits)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text())

    meta_path.write_text(json.dumps({**meta, "rows": n + 1}))
    with pytest.raises(distill.TeacherCacheError, match=r"rows .* != \d+ training features"):
        distill.cache_teacher(cfg)

    meta_path.write_text(json.dumps({**meta, "key": "0" * 20}))
    with pytest.raises(distill.TeacherCacheError, match="key .* != expected"):
        distill.cache_teacher(cfg)

    meta_path.write_text(json.dumps(meta))
    np.save(folder / "logits.npy", np.zeros((n - 1, 2, 64), dtype=np.float32))
    with pytest.raises(distill.TeacherCacheError, match="array shape"):
        distill.cache_teacher(cfg)

    meta_path.unlink()
    with pytest.raises(distill.TeacherCacheError, match="incomplete"):
        distill.cache_teacher(cfg)


def test_cache_teacher_cli(pair, tmp_path, capsys):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(qconfig.to_dict(tiny_config(pair))))
    assert distill.cache_teacher_main(["--config", str(cfg_path), "teacher_logits_dtype=float16"]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert np.load(folder / "logits.npy", mmap_mode="r").dtype == np.float16
    assert distill.cache_teacher_main(["--config", str(cfg_path), "teacher=null",
                                       "distillation_loss_weight=0"]) == 1
    assert "no teacher" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Training


def test_training_runs_teacher_once_and_writes_a_model(pair, monkeypatch):
    counter = CountingTeacher(monkeypatch)
    cfg = tiny_config(pair, epochs=3, checkpoint_every=40)
    model_dir = distill.train(cfg)
    n_features = json.loads((model_dir / "train_metrics.json").read_text())["features"]
    assert counter.calls == math.ceil(n_features / cfg.teacher_batch_size)  # once, not once per epoch

    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(model_dir)
    assert model.config.num_hidden_layers == 2
    assert AutoTokenizer.from_pretrained(model_dir).get_vocab() == AutoTokenizer.from_pretrained(pair["student"]).get_vocab()
    assert load_distill_config(model_dir / "config.yaml") == cfg
    metrics = json.loads((model_dir / "train_metrics.json").read_text())
    assert metrics["global_step"] == 3 * math.ceil(n_features / 4) and metrics["teacher_cache"]
    run = paths.runs() / "tiny"
    log_text = (run / "train.log").read_text()
    assert "samples_per_second" in log_text and '"loss"' in log_text
    card = (model_dir / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["model-index"][0]["results"][0]["metrics"][0]["value"] is None

    # a second run reuses the cache; an existing run folder needs --resume or overwrite
    with pytest.raises(distill.DistillError, match="already has checkpoints"):
        distill.train(cfg)
    distill.train(tiny_config(pair, epochs=1, overwrite=True))
    assert counter.calls == math.ceil(n_features / cfg.teacher_batch_size)


def test_plain_fine_tuning_needs_no_teacher(pair, monkeypatch):
    def no_teacher(cfg):
        raise AssertionError("the teacher must not be loaded")

    monkeypatch.setattr(qteacher, "load_teacher", no_teacher)
    monkeypatch.setattr(distill, "load_teacher", no_teacher)
    cfg = tiny_config(pair, teacher=None, distillation_loss_weight=0.0, max_steps=3, name="base")
    model_dir = distill.train(cfg)
    assert (model_dir / "model.safetensors").is_file()
    assert "fine-tuned on the hard labels only" in (model_dir / "README.md").read_text()
    assert not paths.teacher_cache().exists() or not any(paths.teacher_cache().iterdir())


def test_gradient_accumulation_matches_full_batch(pair):
    """Global batch 4 as one micro-batch or as 2 x 2 accumulated: same parameters (dropout off)."""
    common = dict(model_dropout=0.0, embeds_dropout_prob=0.0, max_steps=4)
    a = distill.train(tiny_config(pair, name="full", **common))
    b = distill.train(tiny_config(pair, name="accum", per_device_batch_size=2, **common))
    assert json.loads((b / "train_metrics.json").read_text())["gradient_accumulation_steps"] == 2
    diffs = assert_same_params(load_params(a), load_params(b), atol=1e-6, lr=1e-3, steps=4)
    print("max |diff|", max(diffs.values()))


def test_student_from_teacher_layers_trains(pair):
    cfg = tiny_config(pair, name="layers", student=None, student_init="teacher_layers", student_layers=[1, 3],
                      max_steps=2)
    model_dir = distill.train(cfg)
    from transformers import AutoModelForQuestionAnswering

    assert AutoModelForQuestionAnswering.from_pretrained(model_dir).config.num_hidden_layers == 2


def test_online_teacher_gives_same_result_as_cache(pair):
    common = dict(model_dropout=0.0, embeds_dropout_prob=0.0, max_steps=3)
    a = load_params(distill.train(tiny_config(pair, name="cached", **common)))
    b = load_params(distill.train(tiny_config(pair, name="online", teacher_logits="online", **common)))
    assert_same_params(a, b, atol=1e-6, lr=1e-3, steps=3)


# --------------------------------------------------------------------------------------------
# Bad input


def test_different_tokenizers_are_refused_before_training(pair, tiny_roberta, tmp_path):
    from qarepro.tiny import build_tiny_qa_model, fixture_texts

    with pytest.raises(distill.DistillError, match="do not tokenise identically.*vocabularies differ"):
        distill.train(tiny_config(pair, student=str(tiny_roberta)))
    # same family, own WordPiece trained on other text: ids differ
    other = build_tiny_qa_model("bert", tmp_path / "other", fixture_texts([SQUAD2_SAMPLE]), vocab_size=800)
    with pytest.raises(distill.DistillError, match="do not tokenise identically"):
        distill.train(tiny_config(pair, student=str(other)))
    assert not (paths.runs() / "tiny" / "checkpoints").exists()


def test_empty_training_set_is_an_error(pair, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"version": "1.1", "data": []}))
    with pytest.raises(distill.DistillError, match="training set is empty.*empty.json"):
        distill.train(tiny_config(pair, train_data=str(empty)))
    with pytest.raises(distill.DistillError, match="training set is empty"):
        distill.train(tiny_config(pair, max_train_examples=0))


def test_non_finite_loss_stops_with_step_and_keeps_last_checkpoint(pair, monkeypatch):
    calls = {"n": 0}
    real = distill.distillation_loss

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(distill, "distillation_loss", poisoned)
    cfg = tiny_config(pair, name="nan", checkpoint_every=2, max_steps=8)
    with pytest.raises(distill.NonFiniteLossError, match="at step 5 .*checkpoint-4"):
        distill.train(cfg)
    run = paths.runs() / "nan"
    assert [p.name for p in distill.complete_checkpoints(run / "checkpoints")] == ["checkpoint-2", "checkpoint-4"]
    assert not (run / "model").exists()


def test_batch_plan_errors():
    cfg = qconfig.from_mapping(DistillConfig, {"name": "x", "student": "s", "batch_size": 6})
    assert distill.batch_plan(cfg, 1) == (6, 1) and distill.batch_plan(cfg, 2) == (3, 1)
    with pytest.raises(distill.DistillError, match="not a multiple"):
        distill.batch_plan(cfg, 4)
    cfg.per_device_batch_size = 1
    assert distill.batch_plan(cfg, 2) == (1, 3)


# --------------------------------------------------------------------------------------------
# Model card


# --------------------------------------------------------------------------------------------
# Learnable logit divisor (Haystack's temperature_for_confidence)


def test_logit_divisor_divides_both_losses_inputs_and_gets_gradient(pair):
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(0)
    inner = AutoModelForQuestionAnswering.from_pretrained(pair["student"]).eval()
    model = distill.with_logit_divisor(inner)
    ids = torch.randint(5, 100, (2, 16))
    with torch.no_grad():
        model.temperature_for_confidence.fill_(2.0)
        raw, div = inner(input_ids=ids), model(input_ids=ids)
    assert torch.allclose(div.start_logits, raw.start_logits / 2) and torch.allclose(div.end_logits, raw.end_logits / 2)
    # the loss is computed on the divided logits, so the divisor receives a gradient from both terms
    model.temperature_for_confidence.data.fill_(1.0)
    teacher = torch.randn(2, 2, 16)
    pos = torch.tensor([3, 5])
    for w in (0.0, 1.0):  # CE alone, KL alone
        model.zero_grad()
        out = model(input_ids=ids)
        distillation_loss(out.start_logits, out.end_logits, teacher[:, 0], teacher[:, 1], pos, pos,
                          temperature=1.5, weight=w).backward()
        assert model.temperature_for_confidence.grad.abs().item() > 0, w
    # it is a parameter of the trained module: AdamW (built over model.parameters()) decays it too
    names = [n for n, _ in model.named_parameters()]
    assert "temperature_for_confidence" in names and len(names) == len(list(inner.parameters())) + 1
    opt = optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.01, correct_bias=False)
    model.zero_grad()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # zero gradient: only the decoupled decay moves it
    assert model.temperature_for_confidence.item() == pytest.approx(1.0 * (1 - 0.1 * 0.01), abs=1e-7)
    assert distill.unwrap_divisor(model)[0] is inner and distill.unwrap_divisor(inner) == (inner, None)


def test_logit_divisor_is_trained_recorded_and_not_exported(pair):
    from safetensors.torch import load_file

    cfg = tiny_config(pair, name="divisor", learnable_logit_divisor=True, max_steps=4, checkpoint_every=2)
    model_dir = distill.train(cfg)
    metrics = json.loads((model_dir / "train_metrics.json").read_text())
    assert metrics["learnable_logit_divisor"] is True
    assert isinstance(metrics["logit_divisor"], float) and metrics["logit_divisor"] != 1.0  # it was trained
    exported = load_params(model_dir)
    assert not [k for k in exported if "temperature" in k]  # Haystack's conversion drops it as well
    from transformers import AutoModelForQuestionAnswering

    AutoModelForQuestionAnswering.from_pretrained(model_dir)  # a plain transformers checkpoint
    ckpt = distill.complete_checkpoints(model_dir.parent / "checkpoints")[-1]
    saved = load_file(str(ckpt / "model.safetensors"))
    assert saved["temperature_for_confidence"].item() == pytest.approx(metrics["logit_divisor"], abs=0)
    # without the option nothing changes: no divisor anywhere
    plain = distill.train(tiny_config(pair, name="no-divisor", max_steps=2))
    assert json.loads((plain / "train_metrics.json").read_text())["logit_divisor"] is None


def test_resume_with_logit_divisor_is_exact(pair):
    """The divisor lives in the Trainer checkpoint, so a resumed run ends where an uninterrupted one does."""
    common = dict(learnable_logit_divisor=True, max_steps=6, checkpoint_every=3, keep_checkpoints=None,
                  model_dropout=0.0, embeds_dropout_prob=0.0)
    ref = distill.train(tiny_config(pair, name="div-ref", **common))
    cut = distill.train(tiny_config(pair, name="div-cut", **common))
    run = cut.parent
    shutil.rmtree(run / "checkpoints" / "checkpoint-6")
    shutil.rmtree(cut)
    resumed = distill.train(tiny_config(pair, name="div-cut", **common), resume=True)
    m_ref = json.loads((ref / "train_metrics.json").read_text())
    m_res = json.loads((resumed / "train_metrics.json").read_text())
    assert m_res["resumed_from"].endswith("checkpoint-3")
    assert m_res["logit_divisor"] == m_ref["logit_divisor"] != 1.0
    a, b = load_params(ref), load_params(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_haystack_label_mode_trains_and_records_its_counts(pair):
    model_dir = distill.train(tiny_config(pair, name="hs-labels", label_mode="haystack", max_steps=2))
    labels = json.loads((model_dir / "train_metrics.json").read_text())["labels"]
    assert labels["label_mode"] == "haystack" and labels["questions"] == 24
    assert {"features_end_on_special_token", "questions_dropped", "features_relabelled"} <= set(labels)


def test_model_card_with_results(tmp_path):
    cfg = load_distill_config("roberta-base-squad2-distilled")
    path = distill.write_model_card(tmp_path, cfg, {"squad_v2-validation": {"exact": 80.86, "f1": 84.01},
                                                    "squadshifts-amazon": {"exact_match": 60.0, "f1": 70.123456}})
    text = path.read_text()
    front = yaml.safe_load(text.split("---")[1])
    results = front["model-index"][0]["results"]
    assert front["model-index"][0]["name"] == "roberta-base-squad2-distilled"
    assert results[0]["dataset"] == {"name": "rajpurkar/squad_v2", "type": "rajpurkar/squad_v2", "config": "squad_v2",
                                     "split": "validation"}
    assert [m["value"] for m in results[0]["metrics"]] == [80.86, 84.01]
    assert results[1]["dataset"]["name"] == "ludwigschmidt/squadshifts amazon" and results[1]["metrics"][1]["value"] == 70.1235
    assert "deepset/roberta-large-squad2" in text and "temperature 1.5" in text
