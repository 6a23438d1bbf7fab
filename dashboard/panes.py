"""Shared look of the page: the local style sheet, HTML panes that carry it, and the Bokeh theme of every plot.

Panes render in shadow DOM, where page-wide CSS does not reach, so every HTML pane carries the style sheet.
Nothing here is fetched from outside the server (system fonts only).
"""

from __future__ import annotations

from pathlib import Path

import panel as pn
from bokeh.themes import Theme

THEME_CSS = (Path(__file__).parent / "theme.css").read_text()
FONT = "system-ui, 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif"
#: Bokeh theme of every plot: the system sans-serif font (no web font), readable sizes, quiet grid and axes.
PLOT_THEME = Theme(json={"attrs": {
    "Title": {"text_font": FONT, "text_font_size": "16px", "text_font_style": "bold", "text_color": "#17202a"},
    "Axis": {"axis_label_text_font": FONT, "axis_label_text_font_style": "normal", "axis_label_text_font_size": "14px",
             "major_label_text_font": FONT, "major_label_text_font_size": "13px", "axis_line_color": "#8a949c",
             "major_tick_line_color": "#8a949c", "minor_tick_line_color": "#b5bcc2"},
    "ColorBar": {"title_text_font": FONT, "title_text_font_style": "normal", "major_label_text_font": FONT,
                 "major_label_text_font_size": "13px", "background_fill_alpha": 0},
    "Legend": {"label_text_font": FONT, "label_text_font_size": "13px"},
    "Grid": {"grid_line_color": "#e3e7ea"},
    "Toolbar": {"logo": None},
}})


def html_pane(obj, **params) -> pn.pane.HTML:
    """An HTML pane with the theme's styles."""
    return pn.pane.HTML(obj, stylesheets=[THEME_CSS, *params.pop("stylesheets", [])], **params)
