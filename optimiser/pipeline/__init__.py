"""The solve as a pipeline of named stages (`optimiser.solver.solve` runs them in order).

Shared pieces, lowest first: `plans` (a plan's objective, admissibility, greedy),
`rows` (the model's rows and cuts), `lp` (the LP relaxation, `Duals`), `pricing`
(Lagrangian bound over every pair), `highs_model` and `cpsat_model` (the restricted
model in each MIP solver), `types` (`SolveOptions`, `Result`), `context`
(`SolveContext`: what crosses stages, the clock, the worker processes).

Stages, in the order they run: `setup` (candidates, fast path, re-allocation facts),
`colgen` (column generation), `cutproof` (root cuts and the cut proof), `hints`,
`fixing` (reduced-cost fixing), `search`, `proof`, `finish`.
"""
