"""A trial that shares its GPU gets a memory cap of its share (search/machine/gpu.py)."""

from __future__ import annotations

import pytest

from search.machine.gpu import CONTEXT_MARGIN_MB, memory_limit_mb


@pytest.mark.parametrize("share", [0.25, 0.5])
def test_a_shared_gpu_is_capped_to_the_trials_share_less_the_cuda_context(share):
    total = 143_771  # an H200, as nvidia-smi reports it in MiB
    assert memory_limit_mb(share, total) == int(share * total) - CONTEXT_MARGIN_MB
    assert memory_limit_mb(share, total) * round(1 / share) < total, "the trials that share a GPU fit in it"


@pytest.mark.parametrize("share", [0, 1, 2])
def test_a_trial_with_a_whole_gpu_or_none_grows_as_it_needs(share):
    assert memory_limit_mb(share, 80_000) is None
