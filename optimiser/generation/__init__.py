"""The synthetic instance generator's parts, one job a module.

`optimiser.generate` is the entry (`generate`, the recipes) and re-exports the public names.
In the order a draw runs: `world` (authorities, real geography and homes), `children`,
`placements` (with `homes`: real children's homes' places and ratings), `snapshot`
(exclusions and current placements), `tables` (the instance's data frames) and `files`
(the folder on disk). `codes` holds how categories are coded in the arrays; `sampling`
the small vectorised draws and the geometry they share.
"""
