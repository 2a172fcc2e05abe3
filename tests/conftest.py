"""Shared fixtures: the external conformance models, the bundled reference models, the oracle worker."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_MODELS = ROOT / "reference_models"
# The fuzz package (mutators, crash-isolating worker) sits beside microinterp, outside tests/.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def shared_models_dir() -> Path:
    """MICROINTERP_SHARED_MODELS, or ../shared/models beside the project root."""
    env = os.environ.get("MICROINTERP_SHARED_MODELS")
    return Path(env) if env else ROOT.parent / "shared" / "models"


def require_shared_models() -> Path:
    """The shared models folder; skip when absent, but fail on CI (a wrong path must not hide tests)."""
    path = shared_models_dir()
    if not path.is_dir():
        reason = (f"shared conformance models not found at {path} "
                  f"(set MICROINTERP_SHARED_MODELS to the folder holding mlperf_tiny/, tflm_examples/, single_op/)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """The shared conformance models (see require_shared_models)."""
    return require_shared_models()


@pytest.fixture(scope="session")
def oracle():
    """One persistent worker process running the official interpreters for the whole session.

    With MICROINTERP_OP_COVERAGE set, every model it runs is counted for the README's operator table.
    """
    from microinterp.oracles import OracleWorker
    from op_coverage import recorder_from_env

    recorder = recorder_from_env()

    class Worker(OracleWorker):
        def run(self, model, *args, **kwargs):
            if recorder is not None:
                recorder.record(model if isinstance(model, bytes) else Path(model).read_bytes())
            return super().run(model, *args, **kwargs)

    with Worker() as worker:
        yield worker
    if recorder is not None:
        recorder.save()
