"""The dark, fixed pyqtgraph plot the side panels share (histogram, camera response).

pyqtgraph is imported here, on the first call: importing it takes ~0.3 s, which would otherwise
delay the window's first appearance."""

from __future__ import annotations


def fixed_plot():
    """A pyqtgraph PlotWidget on a dark background with no menu, no mouse zoom/pan, no buttons."""
    import pyqtgraph as pg

    plot = pg.PlotWidget(background=(30, 30, 30))
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    return plot
