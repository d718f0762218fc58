"""The install stays CPU-only: no CUDA wheels, and torch is the pinned CPU build."""

from __future__ import annotations

from importlib import metadata


def test_no_nvidia_packages_installed() -> None:
    names = sorted(d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"])
    assert [n for n in names if n.lower().startswith("nvidia")] == []


def test_torch_is_the_cpu_build() -> None:
    version = metadata.version("torch")
    assert version.startswith("2.13.0")
    import torch

    assert torch.version.cuda is None
