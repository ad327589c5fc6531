"""Mutation testing by hand: a small AST mutator that asks whether the tests notice a change.

For each target module it makes one mutant per small change (a comparison negated or moved by
its boundary, an integer constant +/- 1, `+` and `-` swapped, `and`/`or` swapped, a `not`
removed, a bool constant or a `-> bool` return negated), runs the module's tests against it in
a temporary copy of the tree (the work tree is never touched), and prints killed / survived /
timed out per module with a score, then every survivor as file:line, function and mutation.

    .venv/bin/python scripts/mutate.py engine/cases/upn.py --tests tests/engine/cases/test_upn.py
    .venv/bin/python scripts/mutate.py --all --max 60

Survivors known to be equivalent (no test could tell them apart) are listed, with the reason, in
scripts/mutate-equivalent.txt as `path | function | mutation | reason`; they are reported but
left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import copy
import fnmatch
import os
import random
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = ROOT / "scripts" / "mutate-equivalent.txt"
COPIED = ("engine", "tests", "processes", "adapters", "pyproject.toml")

# The default targets and the tests that cover each (globs under tests/engine/; a missing file is
# skipped), and where only part of a module is mutated: the calendar's day arithmetic.
DEFAULT: dict[str, list[str]] = {
    "engine/time/school_age.py": ["test_school_age*.py"],
    "engine/cases/upn.py": ["test_upn.py", "test_blind_spots_upn.py"],
    "engine/time/calendar.py": [
        "test_calendar.py",
        "test_deadlines.py",
        "test_blind_spots_calendar.py",
    ],
    "engine/audit/chain.py": ["test_audit.py", "test_blind_spots_chain.py"],
    "engine/cases/projection.py": [
        "test_projection.py",
        "test_blind_spots_pauses.py",
        "test_blind_spots_projection.py",
    ],
    "engine/cases/decide.py": ["test_decide*.py", "test_blind_spots_decide.py", "test_service.py"],
    "engine/cases/timer_decision.py": [
        "test_decide*.py",
        "test_blind_spots_decide.py",
        "test_timers.py",
    ],
}
DEFAULT_ONLY: dict[str, list[str]] = {
    "engine/time/calendar.py": ["SchoolCalendar.*", "_weekdays_within"],
}

_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
}
_NEGATED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.GtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SYMBOL: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    """One change: the `index`-th node of `ast.walk`, changed by `kind` (see `_apply`)."""

    path: str
    index: int
    kind: str
    line: int
    function: str
    label: str
    segment: str


def _functions(tree: ast.AST) -> dict[int, str]:
    """id(node) -> qualified name of the function or class body it lies in."""
    owner: dict[int, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = name
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{name}.{child.name}" if name else child.name
            owner[id(child)] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def _skipped(tree: ast.AST) -> set[int]:
    """Nodes never mutated: docstrings, annotations, asserts and `__all__`."""
    parts: list[ast.AST | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) or (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ):
            parts.append(node)
        if isinstance(node, ast.AnnAssign | ast.arg):
            parts.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            parts.append(node.returns)
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            parts.append(body[0])
    return {id(n) for part in parts if part is not None for n in ast.walk(part)}


def _bool_returns(tree: ast.AST) -> set[int]:
    """Return statements of functions annotated `-> bool`."""
    out: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and ast.unparse(fn.returns or ast.Pass()) == "bool":
            out.update(id(n) for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value)
    return out


def _kinds(node: ast.AST, bool_returns: set[int]) -> Iterator[tuple[str, str]]:
    """(kind, label) of every mutation this node admits."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            # One comparison of a chain, as written: `a <= b` -> `a < b`.
            left = ast.unparse(node.left if i == 0 else node.comparators[i - 1])
            right = ast.unparse(node.comparators[i])
            was = f"`{left} {_SYMBOL[type(op)]} {right}` -> `{left}"
            if type(op) in _BOUNDARY:
                yield f"boundary:{i}", f"{was} {_SYMBOL[_BOUNDARY[type(op)]]} {right}`"
            yield f"negate:{i}", f"{was} {_SYMBOL[_NEGATED[type(op)]]} {right}`"
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield "plus1", f"{node.value} -> {node.value + 1}"
        yield "minus1", f"{node.value} -> {node.value - 1}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "flip", f"{node.value} -> {not node.value}"
    elif (
        isinstance(node, ast.BinOp)
        and type(node.op) in (ast.Add, ast.Sub)
        and not any(
            isinstance(side, ast.JoinedStr)
            or (isinstance(side, ast.Constant) and isinstance(side.value, str))
            for side in (node.left, node.right)
        )
    ):  # `+` on text only ever raises TypeError once swapped
        other = "-" if isinstance(node.op, ast.Add) else "+"
        yield "arith", f"`{_SYMBOL[type(node.op)]}` -> `{other}`"
    elif isinstance(node, ast.BoolOp):
        other = "or" if isinstance(node.op, ast.And) else "and"
        yield "boolop", f"`{_SYMBOL[type(node.op)]}` -> `{other}`"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "unnot", "`not` removed"
    elif isinstance(node, ast.Return) and id(node) in bool_returns:
        yield "negreturn", "bool return negated"


def _in_context(
    source: str, node: ast.Constant, parents: dict[int, ast.AST], kind: str
) -> str | None:
    """'`runs[-1]` -> `runs[-2]`': an integer's change shown in its enclosing expression."""
    context = parents[id(node)]
    if isinstance(context, ast.UnaryOp):
        context = parents[id(context)]
    text = ast.get_source_segment(source, context)
    start = getattr(context, "col_offset", None)
    if text is None or start is None or "\n" in text or not isinstance(node.value, int):
        return None
    a, b = node.col_offset - start, (node.end_col_offset or 0) - start
    new = str(node.value + (1 if kind == "plus1" else -1))
    return f"`{text}` -> `{text[:a]}{new}{text[b:]}`"[:120]


def mutants(path: str, only: list[str]) -> list[Mutant]:
    """Every mutant of the module at `path` (inside functions matching `only`, if given)."""
    source = (ROOT / path).read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    owner, skipped, bool_returns = _functions(tree), _skipped(tree), _bool_returns(tree)
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    out = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        function = owner.get(id(node), "")
        if only and not any(fnmatch.fnmatch(function, pattern) for pattern in only):
            continue
        for kind, label in _kinds(node, bool_returns):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                label = _in_context(source, node, parents, kind) or label
            line = getattr(node, "lineno", 0)
            out.append(Mutant(path, index, kind, line, function, label, lines[line - 1].strip()))
    return sorted(out, key=lambda m: (m.line, m.index))


def _apply(source: str, mutant: Mutant) -> str:
    """The module's source with `mutant` applied (re-parsed, so the walk order is the same)."""
    tree = ast.parse(source)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == mutant.index)
    kind, _, arg = mutant.kind.partition(":")
    if isinstance(node, ast.Compare):
        table = _BOUNDARY if kind == "boundary" else _NEGATED
        node.ops[int(arg)] = table[type(node.ops[int(arg)])]()
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):  # bools are ints
        node.value = (
            (not node.value) if kind == "flip" else node.value + (1 if kind == "plus1" else -1)
        )
    elif isinstance(node, ast.BinOp):
        node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        _replace(tree, node, node.operand)
    elif isinstance(node, ast.Return) and node.value is not None:
        node.value = ast.UnaryOp(ast.Not(), copy.deepcopy(node.value))
    return ast.unparse(ast.fix_missing_locations(tree))


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put `new` where the parent of `old` points at `old`."""
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[v is old for v in value].index(True)] = new
                return


MEMORY_CAP = 4 << 30
"""Address space a mutant's test run may take: a mutant that loops while allocating (one took
23 GB of this 24 GB machine in one run) fails with MemoryError instead of swapping the host."""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _run(tree: Path, tests: list[str], timeout: float, extra: str = "") -> str:
    """'killed', 'survived' or 'timeout' for the tests run in `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        *shlex.split(extra),
        *tests,
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_cap_memory,
    )
    try:
        return "survived" if proc.wait(timeout=timeout) == 0 else "killed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout"


def _equivalents() -> dict[tuple[str, str, str], str]:
    """(path, function, 'label in `segment`') -> why the mutant cannot be told apart."""
    out: dict[tuple[str, str, str], str] = {}
    if EQUIVALENT_FILE.exists():
        for line in EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                path, function, mutation, reason = (p.strip() for p in line.split(" | ", 3))
                out[(path, function, mutation)] = reason
    return out


def describe(m: Mutant) -> str:
    """The mutation as written in the equivalents file."""
    return f"{m.label} in `{m.segment}`"


def run_module(path: str, tests: list[str], args: argparse.Namespace, tree: Path) -> float:
    """Mutate one module, print its table and survivors; return its score."""
    found = mutants(path, args.only or DEFAULT_ONLY.get(path, []))
    if args.max and len(found) > args.max:
        found = sorted(random.Random(args.seed).sample(found, args.max), key=lambda m: m.index)
    target = tree / path
    original = target.read_text(encoding="utf-8")
    started = time.monotonic()
    if _run(tree, tests, 600, args.pytest) != "survived":
        sys.exit(f"{path}: the tests fail before any mutation: {' '.join(tests)}")
    timeout = args.timeout or 3 * (time.monotonic() - started) + 10
    equivalent = _equivalents()
    counts = {"killed": 0, "survived": 0, "timeout": 0, "equivalent": 0}
    survivors: list[tuple[Mutant, str]] = []
    try:
        for i, m in enumerate(found, start=1):
            target.write_text(_apply(original, m), encoding="utf-8")
            outcome = _run(tree, tests, timeout, args.pytest)
            reason = equivalent.get((path, m.function, describe(m)))
            if outcome == "survived" and reason is not None:
                outcome = "equivalent"
            counts[outcome] += 1
            if outcome in ("survived", "equivalent"):
                survivors.append((m, reason or ""))
            if args.verbose:
                print(f"  [{i}/{len(found)}] {outcome:10} {path}:{m.line} {describe(m)}")
    finally:
        target.write_text(original, encoding="utf-8")
    judged = len(found) - counts["equivalent"]
    score = 100.0 * (counts["killed"] + counts["timeout"]) / judged if judged else 100.0
    print(
        f"{path}: {len(found)} mutants, killed {counts['killed']}, timeout "
        f"{counts['timeout']}, survived {counts['survived']}, equivalent "
        f"{counts['equivalent']}: score {score:.1f}%  (tests: {' '.join(tests)})"
    )
    for m, reason in survivors:
        tag = f"EQUIVALENT ({reason})" if reason else "SURVIVED"
        print(f"  {tag}: {path}:{m.line} {m.function or '<module>'} | {describe(m)}")
    return score


def _expand(globs: list[str], under: str = "") -> list[str]:
    """Test files matching `globs` (under `under`), relative to the repository."""
    # Tests mirror the packages (tests/engine/<package>/), so look in every folder below.
    found = (p for g in globs for p in sorted(ROOT.glob(under + ("**/" if under else "") + g)))
    return list(dict.fromkeys(str(p.relative_to(ROOT)) for p in found))


def main() -> None:  # noqa: C901 (the script's options)
    """Parse arguments, copy the tree once, and mutate each target in turn."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths, e.g. engine/cases/upn.py")
    parser.add_argument("--tests", nargs="+", default=[], help="test files or globs to run")
    parser.add_argument("--all", action="store_true", help="the default targets and tests")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        help="mutate only in these functions "
        "(globs on qualified names; default for the calendar: DEFAULT_ONLY)",
    )
    parser.add_argument("--max", type=int, default=0, help="sample at most N mutants a module")
    parser.add_argument("--seed", type=int, default=18, help="seed for --max sampling")
    parser.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="seconds per mutant (default: 3x the clean run + 10)",
    )
    parser.add_argument(
        "--pytest",
        default="",
        metavar="ARGS",
        help="more pytest arguments, e.g. --pytest=\"-m 'not postgres'\"",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant")
    args = parser.parse_args()
    if args.all:
        plan = {m: _expand(g, "tests/engine/") for m, g in DEFAULT.items() if (ROOT / m).exists()}
    elif args.modules:
        plan = {
            m: _expand(args.tests) if args.tests else _expand(DEFAULT.get(m, []), "tests/engine/")
            for m in args.modules
        }
    else:
        parser.error("name the modules to mutate, or give --all")
    if args.list:
        for path in plan:
            for m in mutants(path, args.only or DEFAULT_ONLY.get(path, [])):
                print(f"{path}:{m.line} {m.function or '<module>'} | {describe(m)}")
        return
    # A terminated run still restores and removes its copy (background jobs ignore SIGINT).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="cme-mutate-") as tmp:
        tree = Path(tmp)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy2(source, tree / name)
        probe = subprocess.run(
            [sys.executable, "-c", "import engine; print(engine.__file__)"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            capture_output=True,
            text=True,
            check=True,
        )
        if not probe.stdout.startswith(str(tree)):
            sys.exit(f"the copy is not the code under test: engine is {probe.stdout.strip()}")
        for path, tests in plan.items():
            if not tests:
                print(f"{path}: no tests found, skipped")
                continue
            run_module(path, tests, args, tree)


if __name__ == "__main__":
    main()
