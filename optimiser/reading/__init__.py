"""The instance reader's parts, one job a module.

`optimiser.reader.load_instance` is the entry and re-exports the public names. In the order
a load runs: `raw` (files and workbook sheets into text tables, keeping spreadsheet row
numbers), `policy` (policy.toml or the policy sheet, checked), `columns` (every table has
the columns it needs), `cells` (each column's cells parsed, every bad cell named), `tables`
(the children's and placements' columns, the exclusions and distances) and `checks` (rules
across rows and tables). `collect` gathers the problems and warnings of the whole load.
"""
