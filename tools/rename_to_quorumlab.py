#!/usr/bin/env python3
# rename_to_quorumlab: skip-file (this file names the old modules on purpose)
"""Rewrite the source tree from the old top-level import names to the ``quorumlab.`` ones (issue 20).

The folders stay where they are (``core/``, ``algorithms/``, ``bench/``); setuptools installs
them as ``quorumlab.core``, ``quorumlab.algorithms``, ``quorumlab.bench`` (``package_dir`` in
setup.py). This script changes what names them:

* Python (``.py``, ``.pyi``): imports (``import core``, ``import core.sim as s``, ``from
  algorithms.raft import Raft``, ``from bench.cli import main``), found with ``ast``; every use
  of a name bound by ``import core``/``import core.x`` becomes ``quorumlab.core``; strings and
  comments get the text rules below; a bare top-level name given to an import function
  (``import_module("core")``, ``atheris.instrument_imports(include=["core"])``, ...) too.
* Text (strings and comments in Python; ``.pyx``/``.pxd``; Markdown; TOML, cfg, ini; Makefile;
  ``.ci/``; ``entry_points.txt``):
    - import statements written as text (``python -c "import core; ..."``, code blocks);
    - dotted module references ``core.sim.Simulation``, ``bench.cli``, ``algorithms.raft:Raft``,
      where the name after the first dot is a real module, subpackage or exported name of that
      package (read from the tree itself, so new modules are known), so prose ("the core. Then")
      and other dotted words are left alone;
    - ``core:NAME`` references whose NAME is exported by the package's ``__init__``.
  A reference already preceded by a dot or a word character (``quorumlab.core.sim``,
  ``tests.core.test_sim``, ``self.core``) or by ``/`` or ``-`` (paths, ``pytest-benchmark``) is
  never touched, which also makes the rewrite idempotent: a second run changes nothing.

The words ``core``, ``bench`` (the CLI's name) and ``algorithms`` on their own are not touched.
Files: what ``git ls-files`` lists (tracked and untracked-not-ignored), else a walk of the tree;
a file whose first lines contain ``rename_to_quorumlab: skip-file`` is left alone.

  python3 tools/rename_to_quorumlab.py            # rewrite in place, list the changed files
  python3 tools/rename_to_quorumlab.py --check    # change nothing; exit 1 if a file would change
  python3 tools/rename_to_quorumlab.py --diff     # print a unified diff of what would change

Whatever it cannot decide (a Python file that both imports ``core`` and uses ``core`` as a
variable, a file that does not parse) it names on stderr and exits 2 after doing the rest.
"""
from __future__ import annotations

import argparse
import ast
import bisect
import difflib
import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

PREFIX = "quorumlab"
TOPS = ("core", "algorithms", "bench")
SKIP_MARK = "rename_to_quorumlab: skip-file"

TEXT_SUFFIXES = {".pyx", ".pxd", ".pxi", ".md", ".rst", ".toml", ".cfg", ".ini", ".sh"}
PYTHON_SUFFIXES = {".py", ".pyi"}
TEXT_NAMES = {"Makefile", "entry_points.txt"}
TEXT_DIRS = (".ci/",)
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__", ".hypothesis",
             ".pytest_cache", ".benchmarks", ".fuzz", ".artifacts", ".tox", ".mypy_cache"}

# Functions whose string arguments are module names: a bare top-level name there is a module.
MODULE_FUNCS = {"import_module", "__import__", "find_spec", "find_loader", "instrument_imports", "files",
                "resolve_name", "walk_packages", "iter_modules"}

_TOP = "|".join(TOPS)
_NOT_AFTER = r"(?<![\w.\-/\\$@])"
DOTTED_RE = re.compile(_NOT_AFTER + r"(" + _TOP + r")\.([A-Za-z_]\w*|\{)")  # ``core.{name}``: a template
COLON_RE = re.compile(_NOT_AFTER + r"(" + _TOP + r"):([A-Za-z_]\w*)")
_NAME = r"[A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|\{\w*\}))*"
FROM_RE = re.compile(r"(?<![\w.])(from\s+)(" + _NAME + r")(?=\s+c?import\b)")
IMPORT_RE = re.compile(
    r"(?<![\w.])(c?import[ \t]+)(" + _NAME + r"(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*" + _NAME
    + r"(?:[ \t]+as[ \t]+\w+)?)*)(?=[ \t]*(?:$|[;#\"'`)\\]))", re.M)
_FROM_BEFORE_RE = re.compile(r"(?<![\w.])from\s+\.*[\w.]*\s*$")


def known_names(root: Path) -> dict[str, set[str]]:
    """For each old top-level package: its modules, subpackages and the names its ``__init__`` defines
    (under ``"core"``), and the latter alone (under ``"core:"``)."""
    known: dict[str, set[str]] = {}
    for top in TOPS:
        names: set[str] = set()
        folder = root / top
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_dir() and (entry / "__init__.py").exists():
                    names.add(entry.name)
                elif entry.suffix in {".py", ".pyx", ".pxd", ".so", ".pyd"}:
                    names.add(entry.name.split(".")[0])
        names.discard("__init__")
        exported = exported_names(folder / "__init__.py")
        known[top] = names | exported
        known[top + ":"] = exported  # what ``top:NAME`` may name
    return known


def exported_names(init: Path) -> set[str]:
    """What ``from <package> import NAME`` finds in an ``__init__.py``: defs, classes, assignments, imports."""
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
    return names


# -- text rules -------------------------------------------------------------------------------

def _prefix_module(name: str) -> str:
    return f"{PREFIX}.{name}" if name.split(".")[0] in TOPS else name


def rewrite_text(text: str, known: dict[str, set[str]]) -> str:
    """Apply the import, dotted-reference and ``module:attr`` rules to a piece of text."""
    text = FROM_RE.sub(lambda m: m.group(1) + _prefix_module(m.group(2)), text)

    def imports(m: re.Match) -> str:
        if _FROM_BEFORE_RE.search(text[max(0, m.start() - 200):m.start()]):
            return m.group(0)  # the names after ``from x import`` are not modules
        items = re.split(r"(\s*,\s*)", m.group(2))
        out = []
        for item in items:
            if item.strip() == "," or not item.strip():
                out.append(item)
                continue
            module, sep, rest = item.partition(" ")
            out.append(_prefix_module(module) + sep + rest)
        return m.group(1) + "".join(out)

    text = IMPORT_RE.sub(imports, text)
    text = DOTTED_RE.sub(lambda m: f"{PREFIX}.{m.group(0)}" if m.group(2) in known[m.group(1)] or m.group(2) == "{"
                         else m.group(0), text)
    text = COLON_RE.sub(lambda m: f"{PREFIX}.{m.group(0)}" if m.group(2) in known[m.group(1) + ":"] else m.group(0), text)
    return text


# -- Python files -----------------------------------------------------------------------------

class Unsure(Exception):
    """A file the script will not rewrite on its own; the message says why."""


def _bound_otherwise(tree: ast.AST, names: set[str]) -> set[str]:
    """Which of ``names`` the module also binds other than by ``import`` (assignment, argument, def, ...)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif isinstance(node, ast.arg) and node.arg in names:
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            found.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            found.update(a.asname or a.name for a in node.names if (a.asname or a.name) in names)
        elif isinstance(node, ast.Import):
            found.update(a.asname for a in node.names if a.asname in names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.update(n for n in node.names if n in names)
    return found


def _func_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def rewrite_python(source: str, known: dict[str, set[str]]) -> str:
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        return starts[lineno - 1] + col

    def char_col(lineno: int, byte_col: int) -> int:
        return len(lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    try:
        tree = ast.parse(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, tokenize.TokenError) as exc:
        raise Unsure(f"does not parse ({exc}); not rewritten") from None

    strings = [(offset(*t.start), offset(*t.end)) for t in tokens if t.type == tokenize.STRING]
    string_starts = [s for s, _ in strings]

    def in_string(pos: int) -> bool:
        i = bisect.bisect_right(string_starts, pos) - 1
        return i >= 0 and strings[i][0] <= pos < strings[i][1]

    names_at = {offset(*t.start): t for t in tokens if t.type == tokenize.NAME}
    name_positions = sorted(names_at)
    inserts: set[int] = set()  # positions to insert "quorumlab." at
    module_strings: set[int] = set()  # STRING token starts whose bare top-level name is a module

    import_bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in TOPS:
                    inserts.add(offset(alias.lineno, char_col(alias.lineno, alias.col_offset)))
                    if alias.asname is None:
                        import_bound.add(top)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in TOPS:
            start = offset(node.lineno, char_col(node.lineno, node.col_offset))
            i = bisect.bisect_left(name_positions, start)
            while names_at[name_positions[i]].string != "from":
                i += 1
            inserts.add(name_positions[i + 1])
        elif isinstance(node, ast.Call) and _func_name(node.func) in MODULE_FUNCS:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                items = arg.elts if isinstance(arg, (ast.List, ast.Tuple, ast.Set)) else [arg]
                for item in items:
                    if isinstance(item, ast.Constant) and item.value in TOPS:
                        module_strings.add(offset(item.lineno, char_col(item.lineno, item.col_offset)))

    if import_bound:
        clash = _bound_otherwise(tree, import_bound)
        if clash:
            raise Unsure(f"imports {', '.join(sorted(clash))} and also binds the name otherwise; rewrite it by hand")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in import_bound:
                pos = offset(node.lineno, char_col(node.lineno, node.col_offset))
                if not in_string(pos):  # inside an f-string (before 3.12): the text rules handle it
                    inserts.add(pos)

    edits: list[tuple[int, int, str]] = [(pos, pos, PREFIX + ".") for pos in inserts]
    for tok in tokens:
        if tok.type not in (tokenize.STRING, tokenize.COMMENT) and tok.type != getattr(tokenize, "FSTRING_MIDDLE", -1):
            continue
        start, end = offset(*tok.start), offset(*tok.end)
        text = source[start:end]
        new = rewrite_text(text, known)
        if start in module_strings:
            new = re.sub(r"([\"'])(" + _TOP + r")\1", lambda m: f"{m.group(1)}{PREFIX}.{m.group(2)}{m.group(1)}", new,
                         count=1)
        if new != text:
            edits.append((start, end, new))

    out = source
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + new + out[end:]
    return out


def unbound_uses(source: str) -> set[str]:
    """Old top-level names used as variables in ``source`` but bound nowhere in it (a leftover to fix by hand)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in TOPS and isinstance(n.ctx, ast.Load)}
    if not used:
        return set()
    bound = _bound_otherwise(tree, used)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return used - bound


# -- files ------------------------------------------------------------------------------------

def candidate_files(root: Path) -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                                capture_output=True, check=True).stdout.decode().split("\0")
        paths = sorted({root / p for p in listed if p})
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            paths.extend(Path(dirpath) / f for f in filenames)
        paths.sort()
    return [p for p in paths if p.is_file() and kind(p.relative_to(root)) is not None]


def kind(rel: Path) -> str | None:
    """"python", "text", or None for a file the script does not touch."""
    if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
        return None
    if rel.suffix in PYTHON_SUFFIXES:
        return "python"
    if rel.suffix in TEXT_SUFFIXES or rel.name in TEXT_NAMES or rel.as_posix().startswith(TEXT_DIRS):
        return "text"
    return None


def rewrite_file(path: Path, rel: Path, known: dict[str, set[str]]) -> tuple[str, str] | None:
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    if SKIP_MARK in "".join(source.splitlines(keepends=True)[:5]):
        return None
    new = rewrite_python(source, known) if kind(rel) == "python" else rewrite_text(source, known)
    return source, new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the repository to rewrite (default: the one holding this script)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file would change")
    parser.add_argument("--diff", action="store_true", help="change nothing; print what would change")
    parser.add_argument("paths", nargs="*", type=Path, help="only these files (default: the whole tree)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    known = known_names(root)
    if not any(known.values()):
        parser.error(f"{root} has none of the folders {', '.join(TOPS)}")
    files = [p.resolve() for p in args.paths] if args.paths else candidate_files(root)

    changed, unsure = [], []
    for path in files:
        rel = path.relative_to(root)
        if kind(rel) is None:
            continue
        try:
            result = rewrite_file(path, rel, known)
        except Unsure as exc:
            unsure.append(f"{rel}: {exc}")
            continue
        if result is None:
            continue
        old, new = result
        if kind(rel) == "python":
            leftover = unbound_uses(new) - unbound_uses(old)
            if leftover:
                unsure.append(f"{rel}: uses {', '.join(sorted(leftover))} that nothing binds after the rewrite")
        if new == old:
            continue
        changed.append(rel)
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                                       f"a/{rel}", f"b/{rel}"))
        elif not args.check:
            path.write_text(new, encoding="utf-8")

    if not args.diff:
        verb = "would change" if args.check else "changed"
        for rel in changed:
            print(f"{verb}: {rel}")
        print(f"{len(changed)} file(s) {verb}", file=sys.stderr)
    for line in unsure:
        print(f"NOT DONE: {line}", file=sys.stderr)
    if unsure:
        return 2
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
