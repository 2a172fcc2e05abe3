"""Lets the benchmark tests import run.py (benchmarks/ is not a package)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
