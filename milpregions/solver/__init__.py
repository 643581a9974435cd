"""The solver boundary: the only code that imports highspy (``highs``) or Pyomo's solver
interfaces (``pyomo_highs``)."""
