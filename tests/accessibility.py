"""Accessibility checks for the browser tests: axe-core (vendored in ``tests/vendor/axe-core``) run in a page.

``axe_violations(page, browser)`` evaluates axe in the page (through the DevTools protocol, so the page's
Content-Security-Policy, which allows no inline script, is not involved) and returns its serious and critical
violations as short strings. axe compiles its message templates with ``new Function`` and probes styles with
inline ``<style>`` elements, which the policy refuses: the violations reported while axe loads and runs are
axe's (the page is idle meanwhile) and are taken out of the browser's list; every other one stays and fails
the test. ``page_overflow(page)`` says by how many pixels the page is wider than its window
(0 when nothing scrolls sideways).
"""

from pathlib import Path
from typing import Any

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
SERIOUS = ("serious", "critical")

RUN_AXE = """async (context) => {
  const result = await window.axe.run(context ? document.querySelector(context) : document,
                                      { resultTypes: ["violations"] });
  return result.violations
    .filter((violation) => ["serious", "critical"].includes(violation.impact))
    .map((violation) => `${violation.impact} ${violation.id}: ${violation.help} at ` +
      violation.nodes.slice(0, 3).map((node) => node.target.join(" ")).join(", "));
}"""


def axe_violations(page: Any, browser: Any, context: str | None = None) -> list[str]:
    reported = getattr(browser, "violations", None)
    before = len(reported) if reported is not None else 0
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(f"() => {{ {AXE_SOURCE}\n; window.axe = axe; }}")
    violations: list[str] = page.evaluate(RUN_AXE, context)
    page.evaluate("() => 0")  # a round trip: the console messages axe caused have all arrived
    if reported is not None:
        del reported[before:]
    return violations


def page_overflow(page: Any) -> int:
    overflow: int = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    return overflow
