"""Build the Cython kernels in kernels/ as private submodules microinterp._kernels.<name>.

Cython and numpy are needed only when extensions are built (build_ext), not to make an sdist. Both
steps of the build use every core: Cython translates the .pyx files in parallel, and the C compiler runs one
extension per core. Each module logs one line when it starts and when it is done (`pip install -v`,
`python -m build`). A compiled module is kept in build/kernel-cache/ (or $MICROINTERP_BUILD_CACHE),
keyed by a hash of its C source, the headers, the compiler flags and the Python/numpy versions, so that
installing again (another extra, an editable reinstall) copies it instead of compiling it again.
"""
import hashlib
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
KERNEL_DIR = "kernels"
HEADERS = [f"{KERNEL_DIR}/{path.name}" for path in sorted((HERE / KERNEL_DIR).glob("*.h"))]
# MICROINTERP_BUILD_CACHE shares one cache between builds in other folders (an sdist unpacked by pip).
CACHE_DIR = Path(os.environ.get("MICROINTERP_BUILD_CACHE") or HERE / "build" / "kernel-cache").resolve()
JOBS = os.cpu_count() or 1

# The kernels that inner loops run in get -O3; the rest (planning, conversions, rarely hot ops) -O2,
# which compiles in about half the time and runs them as fast within noise. -g0: no debug info, which is
# a third of the compile time of Cython's C and nothing a user of the wheel reads.
HOT_MODULES = {"conv", "steps", "fully_connected", "elementwise", "pooling", "softmax", "lstm", "svdf"}
# Their functions and loops start on 64-byte boundaries (2% more code): otherwise where a kernel's inner
# loop fell relative to the 64-byte windows of the CPU's instruction fetch moved with every unrelated
# change to the module, and its speed with it (a new 40-line function elsewhere in steps.pyx made
# ResNet large's int8 GEMM layers 5-14% slower on Zen 3; aligned, pretrainedResnet_quant's invoke took
# 0.89 of the time, kws 0.96, ResNet large 0.95, the other models within 1.5%).
HOT_FLAGS = ["-O3", "-falign-functions=64", "-falign-loops=64"]
# Cython's utility code (memoryviews, argument parsing, error handling) goes into one shared module
# instead of a copy in every kernel module: 40% less C to compile.
SHARED_UTILITY = "microinterp._kernels._cyutility"
SHARED_UTILITY_C = f"{KERNEL_DIR}/_cyutility.c"


def _kernel_extension(name: str, source: str, optimisation: list[str]) -> Extension:
    return Extension(
        name, [source],
        include_dirs=[KERNEL_DIR],  # numpy's headers are added when building
        depends=HEADERS,  # a header change rebuilds the modules
        extra_compile_args=[*optimisation, "-g0", "-ffp-contract=off"],  # FMA only where a kernel asks for it (float_mac.h)
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


extensions = [
    _kernel_extension(f"microinterp._kernels.{path.stem}", f"{KERNEL_DIR}/{path.name}",
                      HOT_FLAGS if path.stem in HOT_MODULES else ["-O2"])
    for path in sorted((HERE / KERNEL_DIR).glob("*.pyx"))
] + [_kernel_extension(SHARED_UTILITY, SHARED_UTILITY_C, ["-O2"])]


def _log(message: str) -> None:
    print(f"microinterp build: {message}", file=sys.stderr, flush=True)


class CachingParallelBuildExt(build_ext):
    """build_ext on every core, with one log line per module and a cache of compiled modules."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:
            self.parallel = JOBS

    def run(self) -> None:
        import numpy
        from Cython.Build import cythonize

        # A checkout translated before the shared utility module existed holds .c files with their own
        # utility code and newer than their .pyx: translate them all again once.
        first_shared_build = not (HERE / SHARED_UTILITY_C).exists()
        translated = cythonize(
            self.extensions, include_path=[KERNEL_DIR], nthreads=JOBS, force=first_shared_build,
            shared_utility_qualified_name=SHARED_UTILITY,
            compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                                 "initializedcheck": False, "cdivision": True})
        # numpy's include folder is added only now: given to Cython, its absolute path (another one in
        # every isolated build environment) ends up in the C source and the cache key would never match.
        for ext in self.extensions:
            ext.include_dirs.insert(0, numpy.get_include())
        # Keep the Extension objects finalize_options prepared; take the C sources Cython wrote.
        by_name = {ext.name: ext for ext in translated}
        for ext in self.extensions:
            ext.sources, ext.depends = by_name[ext.name].sources, by_name[ext.name].depends
        # Largest C file first, so that the long compiles do not end up alone on one core at the end.
        self.extensions.sort(key=lambda ext: -sum(os.path.getsize(HERE / src) for src in ext.sources))
        super().run()

    def _cache_key(self, ext: Extension) -> str:
        import numpy

        digest = hashlib.sha256()
        for name in [*ext.sources, *ext.depends]:
            digest.update(Path(name).name.encode())  # build folders differ (temporary build envs): names only
            digest.update((HERE / name).read_bytes() if not os.path.isabs(name) else Path(name).read_bytes())
        for part in (ext.extra_compile_args, ext.define_macros, sys.version, sysconfig.get_platform(),
                     numpy.__version__, os.environ.get("CFLAGS", ""), os.environ.get("CC", "")):
            digest.update(repr(part).encode())
        return digest.hexdigest()[:24]

    def build_extension(self, ext: Extension) -> None:
        target = Path(self.get_ext_fullpath(ext.name))
        cached = CACHE_DIR / f"{ext.name}-{self._cache_key(ext)}{target.suffix}"
        if cached.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, target)
            _log(f"{ext.name}: unchanged, taken from {CACHE_DIR}")
            return
        _log(f"{ext.name}: compiling")
        start = time.perf_counter()
        # a cache miss always compiles: distutils' own check compares file times only, so after a change of
        # flags (part of the key) it would keep the old binary and this cache would store it under the new key
        self.force = self.compiler.force = True
        super().build_extension(ext)
        _log(f"{ext.name}: done in {time.perf_counter() - start:.1f} s")
        try:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(target, partial)
            partial.replace(cached)
        except OSError as error:  # a read-only checkout still builds; it only cannot cache
            _log(f"{ext.name}: not cached ({error})")


setup(ext_modules=extensions, cmdclass={"build_ext": CachingParallelBuildExt})
