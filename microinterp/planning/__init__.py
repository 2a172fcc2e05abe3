"""Arena planning: sizes, lifetimes and sharing declarations in, offsets out.

The planners see buffers only; sharing.py, schedules.py and access.py read off the ops which buffers may
share bytes and how the kernels that will run them walk their input and output, so that the checker
can verify every shared byte.
"""
from .check import PlanError
from .plan import STRATEGIES, Allocation, MemoryPlan, SharedBytes, plan_memory
from .schedules import SCHEDULES

__all__ = ["SCHEDULES", "STRATEGIES", "Allocation", "MemoryPlan", "PlanError", "SharedBytes", "plan_memory"]
