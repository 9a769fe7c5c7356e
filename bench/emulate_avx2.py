"""A pytest plugin that makes the kit see an AVX2-only CPU: no bfloat16 flag, so it trains in float32.

With oneDNN capped at AVX2 it reproduces, on an AVX-512 machine, what the
tests compute on an AVX2-only one (bench/README.md: the Grad-CAM ratio of
such a CI run to all digits):

    TF_ENABLE_ONEDNN_OPTS=1 ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=bench \\
        .venv/bin/python -m pytest -p emulate_avx2 tests --deselect tests/test_pretrained.py

The shipped models are mixed bfloat16, which capped oneDNN cannot run (the
process aborts), hence the deselect; a real AVX2 CPU runs them.
"""

import ferlib.machine

_flags = ferlib.machine.cpu_flags
ferlib.machine.cpu_flags = lambda: _flags() - {"avx512_bf16", "amx_bf16"}
