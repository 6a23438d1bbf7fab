"""The page's own link: the URL follows every setting (``history.replaceState``, no reload), is shown in a box,
and a button copies it. The settings' link form is :mod:`dashboard.links`; nothing here is fetched."""

from __future__ import annotations

import panel as pn
import param

from dashboard import links
from dashboard.settings import Settings

#: Replace the address bar's query with the box's (same page, no history entry, no reload).
REPLACE_JS = """
try {
  const url = new URL(cb_obj.value, window.location.href);
  if (url.search !== window.location.search) {
    window.history.replaceState(window.history.state, '', window.location.pathname + url.search);
  }
} catch (err) { console.warn('link not applied', err); }
"""
COPY_JS = """
const text = box.value;
const done = () => { button.label = 'Copied ✓'; setTimeout(() => { button.label = 'Copy link'; }, 2500); };
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(text).then(done, () => { button.label = 'Select the box and copy'; });
} else {
  button.label = 'Select the box and copy';
}
"""


def base_url() -> str:
    """``protocol://host/path`` of the page this session was opened at ('' outside a server)."""
    doc = pn.state.curdoc
    request = getattr(getattr(doc, "session_context", None), "request", None)
    if request is None:
        return ""
    protocol = getattr(request, "protocol", "http") or "http"
    host = getattr(request, "host", "") or ""
    path = getattr(request, "path", "") or ""
    return f"{protocol}://{host}{path}" if host else path


class LinkBar(pn.viewable.Viewer):
    """The link box and its copy button; the address bar follows the settings."""

    settings = param.ClassSelector(class_=Settings, constant=True)

    def __init__(self, **params):
        super().__init__(**params)
        self.base = base_url()
        self.box = pn.widgets.TextInput(label="Link to this view", value=self.url(), sizing_mode="stretch_width",
                                        css_classes=["sl-link"])
        self.box.jscallback(value=REPLACE_JS)
        self.copy = pn.widgets.Button(label="Copy link", css_classes=["sl-copy-link"], width=110, align="end")
        self.copy.js_on_click(args={"box": self.box, "button": self.copy}, code=COPY_JS)
        # the link table of dashboard.links is the one list of what the URL carries
        self.settings.param.watch(self._update, [f.param for f in links.FIELDS] + ["season"])

    def url(self) -> str:
        return self.base + self.settings.query()

    def _update(self, *events) -> None:
        self.box.value = self.url()

    def __panel__(self):
        return pn.Row(self.box, self.copy, sizing_mode="stretch_width", margin=0)
