"""Coverage-guided fuzzing of load + allocate_tensors + invoke with atheris (libFuzzer for Python).

    python -m fuzz.atheris_harness [libFuzzer flags] [CORPUS_DIR ...]

Without a corpus directory the shared and reference models are copied into ./fuzz-corpus (libFuzzer
adds the inputs that reach new coverage there). A MicrointerpError is a correct rejection; any other
exception, a crash or a hang (libFuzzer's -timeout, 10 s per input unless given) is a finding that
libFuzzer saves as crash-*/timeout-* files. Half of the mutations are libFuzzer's own, half are
fuzz/mutations.py's field patches, which keep the flatbuffer well formed so that inputs reach the
checks behind the verifier and the kernels. See fuzz/README.md for the sanitizer build of the Cython
kernels, needed for coverage of (and memory-error detection in) the Cython code.
"""
from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["microinterp"]):
    from microinterp import MicrointerpError

from fuzz.mutations import corpus_paths, field_slots, patch_field
from fuzz.target import exercise

DEFAULT_FLAGS = ["-timeout=10", "-rss_limit_mb=4096"]
DEFAULT_CORPUS = Path("fuzz-corpus")


def test_one_input(data: bytes) -> None:
    """The fuzz target: only MicrointerpError may escape microinterp (and it is swallowed here)."""
    try:
        exercise(data)
    except MicrointerpError:
        pass


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's mutation, or a field patch when the input is a well-formed model."""
    rng = random.Random(seed)
    if rng.random() < 0.5:
        try:
            slots = field_slots(data)
        except MicrointerpError:  # not well formed: only byte-level mutation applies
            slots = ()
        if slots:
            out = data
            for _ in range(rng.choice([1, 1, 2, 3])):
                out = patch_field(rng, out, slots)
            return out[:max_size]
    return atheris.Mutate(data, max_size)


def _seed_corpus(directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    for path in corpus_paths():
        target = directory / f"{path.parent.name}__{path.name}"
        if not target.exists():
            shutil.copyfile(path, target)


def main(argv: list[str]) -> None:
    """Add the default flags and corpus unless given, then hand over to libFuzzer."""
    flags = [a for a in argv[1:] if a.startswith("-")]
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    for default in DEFAULT_FLAGS:
        if not any(f.startswith(default.split("=")[0] + "=") for f in flags):
            flags.append(default)
    if not dirs:
        _seed_corpus(DEFAULT_CORPUS)
        dirs = [str(DEFAULT_CORPUS)]
    atheris.Setup([argv[0], *flags, *dirs], test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
