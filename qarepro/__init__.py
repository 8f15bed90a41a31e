"""qarepro: reproduce knowledge distillation for extractive question answering.

Pipeline stages, one module each: data -> features -> (distill) -> predict -> decode ->
metrics -> evaluate -> report. `paths` says where everything lives, `config` loads YAML strictly.
"""

__version__ = "0.1.0"
