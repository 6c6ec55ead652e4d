"""Choosing the VGG-19's arithmetic: bfloat16 where the hardware computes it natively."""

from __future__ import annotations

import functools
import os
from typing import Any

#: Arithmetic of the VGG-19 forward and backward pass. Losses and Grams are always float32.
PRECISIONS = ("auto", "float32", "mixed_bfloat16")


def check_precision(precision: Any) -> str:
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {PRECISIONS}. Received: precision={precision!r}"
        )
    return precision


#: CPU flags (Linux /proc/cpuinfo) of bfloat16 matrix arithmetic fast enough to pay: AMX.
#: AVX512-BF16 alone is not: on a 2-core Xeon with `avx512_bf16` but no `amx_bf16`, a 256 px
#: step took 512 ms in bfloat16 against 303 ms in float32 (with AMX: 99 ms against 334 ms).
BFLOAT16_CPU_FLAGS = ("amx_bf16",)
#: NVIDIA GPUs compute bfloat16 natively from Ampere (compute capability 8.0) on.
BFLOAT16_MIN_COMPUTE_CAPABILITY = (8, 0)


#: CPU flags with which TensorFlow on Linux runs its CPU kernels through oneDNN by default
#: (its `DefaultOneDnnPolicy`: VNNI, AVX512-BF16 or AMX); elsewhere it runs its own (Eigen).
ONEDNN_CPU_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


def onednn_kernels() -> bool:
    """Whether TensorFlow computes convolutions on this CPU with oneDNN: as
    `TF_ENABLE_ONEDNN_OPTS` says when it is set, else as TensorFlow's default for the CPU.

    It matters for memory: TensorFlow's own kernels hold about twice as much per VGG-19
    activation value (`keras_nst.memory`)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    return bool(_cpu_flags() & set(ONEDNN_CPU_FLAGS))


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's flags (read once: memory estimates ask for them many times)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def native_bfloat16() -> bool:
    """Whether the device TensorFlow computes on has native bfloat16 arithmetic.

    With GPUs present, all of them must be of compute capability 8.0 or newer; otherwise the
    CPU must have AMX-BF16 (AVX512-BF16 alone computes bfloat16 convolutions slower than
    float32 ones).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [
            tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
            for gpu in gpus
        ]
        return all(tuple(c) >= BFLOAT16_MIN_COMPUTE_CAPABILITY for c in capabilities)
    return bool(_cpu_flags() & set(BFLOAT16_CPU_FLAGS))


def resolve_precision(precision: str = "auto") -> str:
    """`"float32"` or `"mixed_bfloat16"`; `"auto"` picks bfloat16 where it is native."""
    check_precision(precision)
    if precision == "auto":
        return "mixed_bfloat16" if native_bfloat16() else "float32"
    return precision


def resolve_precision_on_cpu(precision: str = "auto") -> str:
    """As `resolve_precision` for a machine without GPUs, without starting TensorFlow."""
    check_precision(precision)
    if precision == "auto":
        return "mixed_bfloat16" if _cpu_flags() & set(BFLOAT16_CPU_FLAGS) else "float32"
    return precision
