#!/usr/bin/env python3
"""Copy the front-end assets from node_modules into the static files.

Standard library only, so it runs before the project's own dependencies are installed:

    python scripts/build_assets.py

What it does:

- copies the NHS.UK frontend's compiled CSS, its JavaScript (an ES module: load it with
  ``<script type="module">`` and call ``initAll()``) and its images, htmx, and the Vega,
  Vega-Lite and vega-embed browser builds (for the charts), into
  ``src/opencommissioning/static/vendor/`` (generated, gitignored);
- removes every ``@font-face`` rule that loads a font from another host: the NHS.UK CSS
  loads Frutiger from assets.nhs.uk, which we never call (the fonts are licensed and not
  in the package), so the font stack falls back to Arial and sans-serif;
- rewrites ``url(/assets/images/...)`` to ``url(/static/vendor/nhsuk/assets/images/...)``;
- strips ``sourceMappingURL`` comments (we do not ship source maps);
- fails (exit 1) if any ``http://``, ``https://`` or protocol-relative ``//`` URL is left
  inside a ``url(...)`` or an ``@import`` in the CSS it would write. Nothing is written
  when a check fails.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NODE_MODULES = ROOT / "node_modules"
DEFAULT_DEST = ROOT / "src" / "opencommissioning" / "static" / "vendor"
STATIC_URL = "/static/"

# Where the rewritten image URLs point: STATIC_URL + vendor/nhsuk/assets/images/
IMAGES_URL = f"{STATIC_URL}vendor/nhsuk/assets/images/"

FONT_FACE = re.compile(r"@font-face\s*\{[^{}]*\}", re.IGNORECASE)
# url(...) with or without quotes; group "url" is the address itself.
CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<url>[^'")]*?)(?P=q)\s*\)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?(?P<url>[^'");\s]+)""", re.IGNORECASE)
OUTSIDE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_SOURCE_MAP = re.compile(r"/\*#\s*sourceMappingURL=[^*]*\*/\s*")
JS_SOURCE_MAP = re.compile(r"^[ \t]*//[#@]\s*sourceMappingURL=\S*[ \t]*$", re.MULTILINE)
JS_SOURCE_MAP_INLINE = re.compile(r"//[#@]\s*sourceMappingURL=\S*\s*$")


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def did(self, message: str) -> None:
        self.lines.append(message)

    def fail(self, message: str) -> None:
        self.problems.append(message)


def process_css(text: str, name: str, report: Report) -> str:
    """Remove outside fonts, rewrite image URLs, strip source maps; report what is left."""

    def drop_outside_font_face(match: re.Match[str]) -> str:
        rule = match.group(0)
        urls = [m.group("url") for m in CSS_URL.finditer(rule)]
        if any(OUTSIDE.match(u) for u in urls):
            family = re.search(r"font-family\s*:\s*([^;}]*)", rule, re.IGNORECASE)
            report.did(
                f"  {name}: removed @font-face {family.group(1).strip() if family else '(unnamed)'} "
                f"loading {', '.join(u for u in urls if OUTSIDE.match(u))}"
            )
            return ""
        return rule

    text = FONT_FACE.sub(drop_outside_font_face, text)

    rewritten = 0

    def rewrite_image_url(match: re.Match[str]) -> str:
        nonlocal rewritten
        url = match.group("url")
        if url.startswith("/assets/images/"):
            rewritten += 1
            quote = match.group("q")
            return f"url({quote}{IMAGES_URL}{url[len('/assets/images/') :]}{quote})"
        return match.group(0)

    text = CSS_URL.sub(rewrite_image_url, text)
    report.did(f"  {name}: rewrote {rewritten} url(/assets/images/...) to url({IMAGES_URL}...)")

    text, maps = CSS_SOURCE_MAP.subn("", text)
    if maps:
        report.did(f"  {name}: stripped {maps} sourceMappingURL comment(s)")

    check_css(text, name, report)
    return text


def check_css(text: str, name: str, report: Report) -> None:
    """Every URL the browser would fetch from this CSS must be on our own host."""
    for match in CSS_URL.finditer(text):
        if OUTSIDE.match(match.group("url")):
            report.fail(f"{name}: url({match.group('url')}) points at another host")
    for match in CSS_IMPORT.finditer(text):
        if OUTSIDE.match(match.group("url")):
            report.fail(f"{name}: @import {match.group('url')} points at another host")
    for match in CSS_URL.finditer(text):
        url = match.group("url")
        if url.startswith("/") and not url.startswith(STATIC_URL):
            report.fail(f"{name}: url({url}) is outside {STATIC_URL} and would not be served")


def process_js(text: str, name: str, report: Report) -> str:
    text, maps = JS_SOURCE_MAP.subn("", text)
    if not maps:
        text, maps = JS_SOURCE_MAP_INLINE.subn("", text)
    if maps:
        report.did(f"  {name}: stripped {maps} sourceMappingURL comment(s)")
    return text.rstrip() + "\n"


def build(node_modules: Path, dest: Path) -> int:
    nhsuk = node_modules / "nhsuk-frontend" / "dist" / "nhsuk"
    htmx = node_modules / "htmx.org" / "dist"
    sources = {
        "css": nhsuk / "nhsuk-frontend.min.css",
        "js": nhsuk / "nhsuk-frontend.min.js",
        "images": nhsuk / "assets" / "images",
        "htmx": htmx / "htmx.min.js",
        "vega": node_modules / "vega" / "build" / "vega.min.js",
        "vega-lite": node_modules / "vega-lite" / "build" / "vega-lite.min.js",
        "vega-embed": node_modules / "vega-embed" / "build" / "vega-embed.min.js",
    }
    missing = [source for source in sources.values() if not source.exists()]
    if missing:
        print("build_assets: FAILED. These are missing (run `npm ci` first):", file=sys.stderr)
        for source in missing:
            print(f"  {source}", file=sys.stderr)
        return 1

    report = Report()
    report.did(f"Reading from {node_modules}")

    # Everything is prepared in memory and checked before anything is written.
    outputs: dict[Path, bytes] = {}
    css = process_css(sources["css"].read_text(encoding="utf-8"), "nhsuk-frontend.min.css", report)
    outputs[dest / "nhsuk" / "nhsuk-frontend.min.css"] = css.encode("utf-8")
    js = process_js(sources["js"].read_text(encoding="utf-8"), "nhsuk-frontend.min.js", report)
    outputs[dest / "nhsuk" / "nhsuk-frontend.min.js"] = js.encode("utf-8")
    htmx_js = process_js(sources["htmx"].read_text(encoding="utf-8"), "htmx.min.js", report)
    outputs[dest / "htmx" / "htmx.min.js"] = htmx_js.encode("utf-8")
    for name in ("vega", "vega-lite", "vega-embed"):
        script = process_js(sources[name].read_text(encoding="utf-8"), f"{name}.min.js", report)
        outputs[dest / "vega" / f"{name}.min.js"] = script.encode("utf-8")
    images = sorted(p for p in sources["images"].iterdir() if p.is_file())
    for image in images:
        outputs[dest / "nhsuk" / "assets" / "images" / image.name] = image.read_bytes()

    # Any other CSS among the outputs gets the same check (there is none today).
    for path, data in outputs.items():
        if path.suffix == ".css" and path.name != "nhsuk-frontend.min.css":
            check_css(data.decode("utf-8"), path.name, report)

    if report.problems:
        print("\n".join(report.lines))
        print(
            "build_assets: FAILED. Outside URLs remain in the CSS; nothing was written:",
            file=sys.stderr,
        )
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1

    # Only the folders this script owns are replaced, so no stale file survives.
    for owned in (dest / "nhsuk", dest / "htmx", dest / "vega"):
        if owned.exists():
            shutil.rmtree(owned)
    for path, data in sorted(outputs.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    for path in sorted(outputs):
        if path.parent.name != "images":
            report.did(
                f"Wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
                f"({len(outputs[path]):,} bytes)"
            )
    report.did(f"Wrote {len(images)} images to {(dest / 'nhsuk' / 'assets' / 'images')}")
    report.did("Checked: no url(...) or @import in the CSS points at another host.")
    print("\n".join(report.lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, default=DEFAULT_NODE_MODULES)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args(argv)
    return build(args.node_modules.resolve(), args.dest.resolve())


if __name__ == "__main__":
    sys.exit(main())
