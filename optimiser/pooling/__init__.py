"""Regional co-operatives: authorities pooling children and placements, the gain shared
fairly (Shapley value). `pool` and `run_pool` (run.py) are the entries; `split` says who
owns what, `coalition` prices a coalition, `shapley` shares the gain, `report` writes it."""

from .coalition import CoalitionCosts, Solved
from .run import Pooling, pool, run_pool
from .shapley import Check, Shares, shapley_exact, shapley_sampled, stand_alone_check
from .split import PoolingError, Split, coalition_instance, split_instance

__all__ = ["Check", "CoalitionCosts", "Pooling", "PoolingError", "Shares", "Solved", "Split",
           "coalition_instance", "pool", "run_pool", "shapley_exact", "shapley_sampled",
           "split_instance", "stand_alone_check"]
