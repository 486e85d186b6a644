"""Colour contrast of the stylesheet's text styles meets WCAG AA (4.5:1) in light and dark mode,
measured on the rendered page by chromium."""

from __future__ import annotations

from typing import Literal

import pytest

from tests.support.live_server import BrowserSession, LiveServer

pytestmark = pytest.mark.browser

SAMPLES = """
<p class="sample">Body text</p>
<p class="sample muted">Muted text</p>
<p><a class="sample" href="#x">A link</a></p>
<button class="sample" type="button">Primary</button>
<button class="sample secondary" type="button">Secondary</button>
<button class="sample danger" type="button">Danger</button>
<button class="sample link" type="button">Link button</button>
<div class="flash flash-info"><span class="sample">Info</span></div>
<div class="flash flash-success"><span class="sample">Success</span></div>
<div class="flash flash-error"><span class="sample">Error</span></div>
<div class="flash flash-warning"><span class="sample">Warning</span></div>
<div class="errors-summary"><a class="sample" href="#x">Summary link</a></div>
<span class="sample badge badge-admin">admin</span>
<span class="sample badge badge-user">user</span>
<span class="sample badge badge-active">active</span>
<span class="sample badge badge-inactive">inactive</span>
<span class="sample badge badge-warning">warning</span>
<p class="sample field-help">Help</p>
<p class="sample field-error">Error</p>
<p><code class="sample">code</code></p>
<div class="table-wrap"><table><thead><tr><th class="sample">Head</th></tr></thead>
<tbody><tr><td class="sample">Cell</td></tr></tbody></table></div>
<nav class="pager"><ul><li><span class="sample" aria-current="page">1</span></li>
<li><a class="sample" href="#x">2</a></li></ul></nav>
<span class="sample card-label">Card label</span>
"""

MEASURE = """
(html) => {
  const box = document.createElement('div');
  box.innerHTML = html;
  document.getElementById('main').appendChild(box);
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...box.querySelectorAll('.sample')].map(el => {
    const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    return [el.className + ' ' + el.textContent.trim(), Math.round(ratio * 100) / 100];
  });
}
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_styles_meet_wcag_aa(
    page_context: BrowserSession, live_server: LiveServer, scheme: Literal["light", "dark"]
) -> None:
    page = page_context.new_page(color_scheme=scheme)
    page.goto(live_server.url + "/")

    ratios = dict(page.evaluate(MEASURE, SAMPLES))

    assert len(ratios) == SAMPLES.count('class="sample')
    too_low = {name: ratio for name, ratio in ratios.items() if ratio < 4.5}
    assert not too_low, f"below 4.5:1 in {scheme} mode: {too_low}"
