"""The only module that imports Pyomo's solver interfaces: a persistent HiGHS through Pyomo, and
its termination conditions reduced to what a caller acts on (``solve_status``)."""

from __future__ import annotations

from enum import Enum

from ..errors import SolverError

#: HiGHS options for every MILP solve (tolerances well below the MILP's eps).
HIGHS_OPTIONS = {
    "output_flag": False,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
    "small_matrix_value": 1e-12,       # keep small coefficients (HiGHS drops those below 1e-9)
}


class Status(Enum):
    FEASIBLE = "feasible"          # an optimal (for a feasibility model: any) solution
    INFEASIBLE = "infeasible"
    TIMEOUT = "timeout"


def make_solver(new_vars: bool = False):
    """A persistent HiGHS solver (through Pyomo) for repeated solves of one model.

    Between solves only constraints are added or removed (no-good cuts, parity blocks), and,
    with ``new_vars``, variables: the other change checks are skipped.
    """
    from pyomo.contrib.appsi.solvers import Highs

    class KeepSmallCoefficients(Highs):
        """Pyomo's persistent HiGHS sets its options only at solve time, but HiGHS drops matrix
        entries below ``small_matrix_value`` when the rows are loaded: set it first."""

        def add_block(self, block):
            self._solver_model.setOptionValue("small_matrix_value", HIGHS_OPTIONS["small_matrix_value"])
            super().add_block(block)

    solver = KeepSmallCoefficients()
    if not solver.available():
        raise SolverError("HiGHS is not available to Pyomo (pip install highspy)")
    solver.config.load_solution = False
    solver.config.stream_solver = False
    solver.highs_options = dict(HIGHS_OPTIONS)
    uc = solver.update_config
    uc.check_for_new_or_removed_vars = new_vars
    uc.check_for_new_or_removed_constraints = True
    uc.check_for_new_or_removed_params = False
    uc.check_for_new_objective = False
    uc.update_constraints = False
    uc.update_vars = False
    uc.update_params = False
    uc.update_named_expressions = False
    return solver


def solve_status(solver, model, time_limit: float | None, what: str):
    """Solve ``model``; returns (Status, results). Every variable of our models is bounded, so
    "infeasible or unbounded" means infeasible; any status other than optimal, infeasible or
    the time limit is a SolverError naming ``what`` was being solved."""
    from pyomo.contrib.appsi.base import TerminationCondition as TC

    solver.config.time_limit = time_limit
    res = solver.solve(model)
    tc = res.termination_condition
    if tc in (TC.infeasible, TC.infeasibleOrUnbounded):
        return Status.INFEASIBLE, res
    if tc == TC.maxTimeLimit:
        return Status.TIMEOUT, res
    if tc != TC.optimal:
        raise SolverError(f"HiGHS (via Pyomo) stopped with {tc.name} on {what}")
    return Status.FEASIBLE, res
