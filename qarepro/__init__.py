"""qarepro: reproduce knowledge distillation for extractive question answering.

Pipeline stages, one module each: data -> features -> (distill) -> predict -> decode ->
metrics -> evaluate -> report. `paths` says where everything lives, `config` loads YAML strictly.
"""

import warnings

# tqdm.auto warns "IProgress not found" in a kernel without ipywidgets. `datasets` imports it before
# any stage code runs, so the filter must be in place as soon as qarepro is imported (reports would
# otherwise open with that warning).
warnings.filterwarnings("ignore", message="IProgress not found")

# the hub libraries' environment (Xet off, no safetensors conversion requests), set before any of
# them is imported: see qarepro/hub.py
from . import hub as _hub  # noqa: E402,F401

__version__ = "0.1.0"
