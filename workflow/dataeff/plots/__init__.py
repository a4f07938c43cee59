"""Figures. Import :mod:`dataeff.plots.style` first: it selects the non-interactive Agg backend
and the project's shared look, so every figure of the project reads the same."""
