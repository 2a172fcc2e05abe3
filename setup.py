"""Build the Cython kernels in kernels/ as private submodules microinterp._kernels.<name>."""
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
KERNEL_DIR = "kernels"
HEADERS = [f"{KERNEL_DIR}/{path.name}" for path in sorted((HERE / KERNEL_DIR).glob("*.h"))]

extensions = [
    Extension(
        f"microinterp._kernels.{path.stem}",
        [f"{KERNEL_DIR}/{path.name}"],
        include_dirs=[numpy.get_include(), KERNEL_DIR],
        depends=HEADERS,  # a header change rebuilds the modules
        extra_compile_args=["-O3", "-ffp-contract=off"],  # no FMA: float32 sums stay bit-exact with TFLM
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for path in sorted((HERE / KERNEL_DIR).glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=[KERNEL_DIR],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "initializedcheck": False, "cdivision": True},
    ),
)
