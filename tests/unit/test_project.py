"""House rules that are cheap to check: the README's commands, a pure analytics package."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def makefile_targets():
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_readme_opens_with_the_two_commands_and_they_exist():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert "make demo" in head and "make test" in head
    mentioned = set(re.findall(r"`make ([a-z-]+)`", (ROOT / "README.md").read_text()))
    assert {"demo", "test"} <= mentioned
    assert mentioned <= makefile_targets(), mentioned - makefile_targets()


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_analytics_package_imports_no_django():
    code = (
        "import sys, pkgutil, importlib, opencommissioning.analytics as a\n"
        "for m in pkgutil.walk_packages(a.__path__, a.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'django' or n.startswith(('django.', 'ninja')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_import_contract_holds():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_shared_data_file_is_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    data = ROOT.parent / "shared" / "data"
    if data.is_dir():
        names = {p.name for p in data.rglob("*") if p.is_file()}
        assert not [f for f in tracked if Path(f).name in names and f.endswith((".csv", ".json", ".zip"))]


def test_static_css_loads_nothing_from_outside_hosts():
    for css in (ROOT / "src" / "opencommissioning" / "static").rglob("*.css"):
        urls = re.findall(r"url\(([^)]*)\)", css.read_text())
        outside = [u for u in urls if re.match(r"['\"]?(https?:)?//", u)]
        assert not outside, (css, outside[:3])
