"""Sufficiency: unmet demand, the value of a bed, whom to recruit where, the statement drafted.

`placement sufficiency INSTANCE --out DIR` (cli.py) runs `run.analyse` and writes its
folder; `statement.py` drafts the committee paper, `scenarios.py` repeats the
recommendations over next year's demand.
"""
