"""Research and measurement, kept apart from the product.

- `gap_instance`, `gap`, `gap_search`, `cli_gap`: the generalized assignment problem
  (GAP), the engine's method measured on public instances with published optima
  (`placement gap`);
- `dense`: the peer model an analyst would write in PuLP with CBC;
- `bench`, `bench_backends`: the declarative benchmark harness (`placement bench`).

The GAP solver's knapsack kernels are compiled with numba, which only the `research`
extra installs; everything else here runs on the product's own dependencies.
"""

INSTALL_HINT = "install the research extra: pip install 'placement-optimiser[research]'"


def missing_extra(error: ImportError) -> bool:
    """Whether `error` is a dependency of the research extra that is not installed."""
    return isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in (
        "numba", "llvmlite")
