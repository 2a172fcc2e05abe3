"""Arena planning: lifetimes and sizes in, offsets out. Sees buffers, not kernels."""
from .plan import STRATEGIES, Allocation, MemoryPlan, live_bytes_peak, plan_memory

__all__ = ["STRATEGIES", "Allocation", "MemoryPlan", "live_bytes_peak", "plan_memory"]
