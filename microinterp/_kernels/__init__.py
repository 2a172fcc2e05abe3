"""Compiled Cython kernels, built from the sources in kernels/ (arithmetic only, no validation)."""
