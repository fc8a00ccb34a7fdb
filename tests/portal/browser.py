"""The system's Chromium (Debian's ``chromium``) driven by Playwright, for the portal's
browser tests; nothing here downloads a browser. Missing, it fails the test under
``CI=true`` (CI installs it: scripts/install-sysdeps.sh) and skips it elsewhere, saying why.

:data:`A11Y_CHECK` is the accessibility check run in each page (axe-core cannot be had
offline): the document's language and title, a label for every input, alt text on
images and a title on charts, one h1 and no skipped heading level, a name on every link
and button, and WCAG AA contrast (4.5:1) of every text's colour on its background.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
#: where the tests also write their screenshots, when set (the docs' images: docs/img)
SHOTS_ENV = "DUALCARD_PORTAL_SCREENSHOTS"


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests: {reason}")
    pytest.skip(f"browser tests: {reason}")


def chromium_path() -> str:
    """The system Chromium's path; fails (CI) or skips the test when it cannot run."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright is not installed (pip install 'dualcard[dev]')")
    path = shutil.which("chromium")
    if path is None:
        skip_or_fail("the chromium package is not installed (scripts/install-sysdeps.sh)")
    assert path is not None
    return path


def launched() -> Iterator[Any]:
    """A headless system Chromium for a module's tests."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, directory: Path, name: str) -> Path:
    """A full-page PNG in ``directory`` (the test's), and in $DUALCARD_PORTAL_SCREENSHOTS."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    also = os.environ.get(SHOTS_ENV)
    if also:
        shutil.copyfile(path, Path(also) / path.name)
    return path


A11Y_CHECK = r"""
() => {
  const problems = [];
  const lang = document.documentElement.getAttribute('lang');
  if (!lang) problems.push('html has no lang');
  if (!document.title.trim()) problems.push('no title');
  for (const input of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const label = input.id && document.querySelector(`label[for="${input.id}"]`);
    if (!label && !input.getAttribute('aria-label') && !input.closest('label'))
      problems.push('input without a label: ' + (input.name || '?'));
  }
  for (const img of document.querySelectorAll('img'))
    if (!img.hasAttribute('alt')) problems.push('img without alt');
  for (const svg of document.querySelectorAll('svg'))
    if (!svg.querySelector('title') && svg.getAttribute('aria-hidden') !== 'true')
      problems.push('chart without a title');
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  if (levels.filter(l => l === 1).length !== 1) problems.push('not exactly one h1');
  let previous = 0;
  for (const level of levels) {
    if (level > previous + 1) problems.push(`heading h${previous} then h${level}`);
    previous = level;
  }
  for (const el of document.querySelectorAll('a, button'))
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) problems.push('nameless ' + el.tagName);
  const rgb = s => (s.match(/rgba?\(([^)]+)\)/) || [0, '0,0,0,0'])[1].split(',').map(Number);
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const pairs = {};
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === 'none' || style.visibility === 'hidden' || box.right < 0) continue;
    const fg = rgb(el instanceof SVGElement ? style.fill : style.color);
    const bg = background(el);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    pairs[`${fg.slice(0, 3)} on ${bg.slice(0, 3)}`] = Math.round(ratio * 100) / 100;
    if (ratio < 4.5)
      problems.push(`contrast ${ratio.toFixed(2)}: ${el.tagName} ${el.textContent.trim().slice(0, 30)}`);
  }
  return {problems, pairs};
}
"""


def accessibility_problems(page: Any) -> list[str]:
    """What :data:`A11Y_CHECK` finds wrong in the page (none: an empty list)."""
    found = page.evaluate(A11Y_CHECK)
    assert found["pairs"], "the check measured no text at all"
    return list(found["problems"])
