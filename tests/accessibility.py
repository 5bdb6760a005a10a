"""Accessibility checks for the browser tests: axe-core (vendored in ``tests/vendor/axe-core``) run in a page.

``axe_violations(page)`` evaluates axe in the page (through the DevTools protocol, so the page's
Content-Security-Policy, which allows no inline script, is not involved) and returns its serious and critical
violations as short strings. ``page_overflow(page)`` says by how many pixels the page is wider than its window
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


def axe_violations(page: Any, context: str | None = None) -> list[str]:
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(f"() => {{ {AXE_SOURCE}\n; window.axe = axe; }}")
    violations: list[str] = page.evaluate(RUN_AXE, context)
    return violations


def page_overflow(page: Any) -> int:
    overflow: int = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    return overflow
