"""Arena planning: sizes, lifetimes and sharing declarations in, offsets out.

The planners see buffers only; sharing.py and access.py read off the ops which buffers may share bytes
and how each kernel walks its input and output, so that the checker can verify every shared byte.
"""
from .check import PlanError
from .plan import STRATEGIES, Allocation, MemoryPlan, SharedBytes, plan_memory

__all__ = ["STRATEGIES", "Allocation", "MemoryPlan", "PlanError", "SharedBytes", "plan_memory"]
