"""The solver's tuning: sizes that choose a route and shares of the time limit per stage.

One frozen dataclass, validated when made, passed in as `SolveOptions.tuning`: a test or
an experiment sets a field instead of patching a module. The defaults are the engine's
tuning (models/formulation.md explains the stages they steer). None of them changes what
"optimal" means: a proof is a proof whatever the sizes; they decide which route is tried
and how the time is shared, so they change how often a run ends proven in its limit.

Shares are fractions of `SolveOptions.time_limit`; "elapsed" is time since the solve began.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SolverParams:
    # --- route: which solver and which relaxation, by size ---------------------------------
    # "auto" backend: HiGHS's branch and cut up to this many units, CP-SAT above (HiGHS
    # proves authority-sized registers sooner; CP-SAT copes better with national ones)
    auto_highs_units: int = 3_000
    # pairs in the first restricted LP at most (the candidate limit per unit is lowered to
    # fit); pricing brings back any pair the smaller start leaves out
    lp_columns: int = 250_000
    # the fewest pairs per unit the lowered candidate limit keeps
    min_candidates: int = 8
    # restricted LPs from this many pairs are re-solved warm by the LP server
    lp_server_pairs: int = 20_000
    # pools above this many pairs: the LP is a transportation problem solved by min-cost
    # flow (far faster than the simplex at regional scale)
    transport_pairs: int = 5_000_000
    # pools above this many pairs: a line search between successive duals each LP round
    # (a restricted LP's duals are poor early on, and there is no time for many rounds)
    line_search_pairs: int = 5_000_000
    # registers of more than this many units x placements: the candidate and pricing
    # passes search by space with bounds (optimiser/spatial.py) instead of enumerating
    spatial_cells: int = 1_000_000_000
    # clique cuts are separated on registers of at most this many units
    clique_units: int = 3_000
    # clique cuts added per LP round at most (the most violated first)
    cliques_per_round: int = 2_000

    # the candidate pass stops by this share of the limit (units it has not reached then
    # have no candidates: a plan in time rather than a complete pass late)
    candidates_share: float = 0.75

    # --- column generation --------------------------------------------------------------------
    # LP rounds stop past this share of the limit (elapsed)
    lp_share: float = 0.3
    # each LP solve may take at least this share of the limit
    lp_round_min_share: float = 0.35
    # no LP (greedy and the zero-dual bound) when the candidate pass took more than this
    # share; also the latest elapsed share for a line search
    no_lp_share: float = 0.5
    # no pricing pass over a register too large to hold when elapsed plus the candidate
    # pass's time (what a pass costs) passes this share
    register_pricing_share: float = 0.8
    # transportation rounds are not started if they would end past this share
    transport_rounds_share: float = 0.75
    # the same on the spatial route (a national register), where the fill of free beds
    # after the rounding needs a good share of the time
    spatial_rounds_share: float = 0.5
    # transport rounds on short supply price at this blend of the best bound's prices
    # and the flow's (Wentges smoothing: 0 prices at the flow's own)
    smoothing: float = 0.0
    # transport rounds that stop short of the LP on short supply lift their last prices
    # to a common floor on every bed, in this many bound passes (0: never)
    lift_evaluations: int = 6
    # pairs priced in per unit each LP round (simplex route / cut rounds)
    price_per_unit: int = 25
    transport_price_per_unit: int = 10
    # pairs priced in per unit each transport round (at least transport_price_per_unit,
    # and no more than transport_round_total a round in all)
    transport_round_pairs: int = 60
    transport_round_total: int = 1_000_000

    # --- re-allocation with a moves limit at regional scale (pipeline/moves_relax.py) ---------
    # held pools above this many pairs take the moves route: flows at a moves price, then
    # simplex rounds with every row
    moves_flow_pairs: int = 2_000_000
    # flow rounds: at most this many, none ending past this share of the limit
    moves_flow_rounds: int = 3
    moves_flow_share: float = 0.4
    # the simplex rounds after the flows: none started past moves_no_lp_share of the
    # limit, none after the first past moves_lp_share; pairs priced in per unit a round
    moves_lp_share: float = 0.55
    moves_no_lp_share: float = 0.6
    moves_lp_price_per_unit: int = 60
    # the simplex LP starts from each unit's this many best pairs by reduced cost (with
    # the flows' support and every stay pair)
    moves_simplex_pairs: int = 8

    # --- hints (incumbent before fixing) ------------------------------------------------------
    # HiGHS dive: on each unit's this many best pairs by reduced cost (and the LP's, and
    # staying)
    dive_pairs_per_unit: int = 6
    # HiGHS dive's time, as a share of the limit
    dive_share: float = 0.4
    # the dive runs at least this share before a ready cut bound may stop it (none: the
    # cut search fixes against a target, so it needs no better incumbent than the dive's
    # so far, and the time is the last MIP's)
    dive_min_share: float = 0.0
    # a warm start within this relative gap of the LP bound is the incumbent without the
    # LP's roundings (the flow rounding lands about 0.2% above on an authority, the LP a
    # few thousandths of a percent below the optimum). Not wider: a start one placement
    # old can be 0.01% above the new optimum, and the dive from it then finds a better
    # plan for a run that ends before its proof
    warm_gap: float = 1e-4
    # the dive beside the root cuts runs at this niceness (0: as the others). Niced, the
    # root cuts (the proof's path) come first on a busy machine, but the dive then finds
    # little, and it is the plan of a run that ends before its proof
    dive_nice: int = 0
    # CP-SAT route's LP dive: min(cpsat_dive_seconds, cpsat_dive_share x limit)
    cpsat_dive_seconds: float = 5.0
    cpsat_dive_share: float = 0.15
    # the fast path's flow, expected to take more than this share of the time left or
    # more than these seconds, runs in a worker process stopped at the deadline: an
    # inline flow cannot be stopped, and forking costs a few hundredths of a second
    flow_inline_share: float = 0.25
    flow_inline_seconds: float = 1.0
    # flow rounding of the kept pairs: re-solves for this share of the limit
    flow_hint_share: float = 0.1
    # transport route: the flow rounding's re-solves end by this elapsed share
    transport_hint_share: float = 0.8
    # no LP in time: the flow rounding alone, re-solving until this elapsed share
    flow_only_share: float = 0.85

    # --- reduced-cost fixing ------------------------------------------------------------------
    # fixing may keep up to max(fixing_factor x column-generation pairs, fixing_pairs) in
    # the search model; more, and the search keeps the column-generation pairs (the rest
    # go to the proof stage or the cut proof)
    fixing_pairs: int = 200_000
    fixing_factor: int = 3
    # pools up to this many pairs are priced whole when fixing (else each unit's
    # `fixing_per_unit` best, and the proof may be incomplete)
    fixing_whole_pairs: int = 5_000_000
    fixing_per_unit: int = 50
    # transport route: the search model holds each unit's this many best pairs
    transport_dive_pairs: int = 6

    # --- root cuts and the cut proof (cutpool.py) ---------------------------------------------
    # whether the cut proof may run at all (where its packing rows apply)
    cut_proof: bool = True
    # HiGHS's root must end by this elapsed share (else no cuts, the search has the rest)
    harvest_share: float = 0.8
    # ... and is not started when elapsed + this many times the LP stage passes it
    harvest_vs_lp: float = 1.5
    # HiGHS's root runs on each unit's this many best pairs by reduced cost (and the LP's)
    harvest_pairs_per_unit: int = 30
    # the cut proof is wanted when fixing leaves a search model of at least this many pairs
    cut_proof_min_pairs: int = 20_000
    # more pairs left by the cut bound than max(fixing_factor x search model, this): the
    # last MIP searches, it does not prove
    cut_proof_pairs: int = 200_000
    # the cut search fixes against the incumbent, or, when that keeps more than this many
    # pairs, against the least gap that keeps about this many: the pairs left out then
    # have a reduced cost above it, and its optimum is proven when within it (else the
    # search is repeated against the plan it found)
    cut_target_pairs: int = 10_000
    # pricing rounds with the certified cuts, at most
    cut_rounds: int = 6
    # the cut rounds leave this share of what time is left for the last MIP
    cut_rounds_share: float = 0.5
    # the last MIP needs final_mip_seconds + final_mip_share x limit, else only the bound
    final_mip_seconds: float = 1.0
    final_mip_share: float = 0.05

    # --- search and proof ---------------------------------------------------------------------
    # more pairs than this in the search model: no branch and cut on all, a wider dive
    highs_pairs: int = 400_000
    # the wider dive goes on while more than this share is left, giving each MIP
    # `wide_dive_share` of what is left, and stops below `wide_dive_stop_share`
    wide_dive_min_share: float = 0.05
    wide_dive_share: float = 0.8
    wide_dive_stop_share: float = 0.25
    # the search MIP gets this share of what is left (HiGHS checks its clock only between
    # LP solves, so it overruns a little)
    search_share: float = 0.9
    # HiGHS processes racing the last MIP at most (one per worker)
    race_max: int = 4
    # the largest pair set the proof stage takes on
    proof_pairs: int = 1_000_000
    # the proof stage runs with more than this share left, and takes this share of it
    proof_min_share: float = 0.15
    proof_share: float = 0.85
    # seconds kept back for writing up: margin_seconds + margin_share x limit
    margin_seconds: float = 0.5
    margin_share: float = 0.02
    # a run ending past this share of its limit reports "time_limit", not "feasible"
    time_limit_share: float = 0.95

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("bool", bool):
                if not isinstance(v, bool):
                    raise ValueError(f"SolverParams.{f.name} must be a bool, not {v!r}")
            elif f.type in ("int", int):
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"SolverParams.{f.name} must be an integer >= 0, "
                                     f"not {v!r}")
            elif not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"SolverParams.{f.name} must be a number >= 0, not {v!r}")
            elif f.name.endswith("_share") and v > 1:
                raise ValueError(f"SolverParams.{f.name} is a share of the time limit: "
                                 f"between 0 and 1, not {v!r}")
        if self.smoothing >= 1:
            raise ValueError("SolverParams.smoothing must be below 1 (1 never moves the "
                             "prices)")
        if self.race_max < 1:
            raise ValueError("SolverParams.race_max must be at least 1")
        if self.min_candidates < 1:
            raise ValueError("SolverParams.min_candidates must be at least 1")
