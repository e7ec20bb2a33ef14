"""Every command that README.md, REPORT.md and RESULTS.md show exists and is accepted as
written: the script is there and its parser takes the flags (nothing is run)."""
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

import classifier
import degrade
import estimator
import evaluate
import reproduce

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "REPORT.md", "RESULTS.md")
PARSERS = {"degrade.py": degrade.build_parser, "estimator.py": estimator.build_parser,
           "classifier.py": lambda: classifier.parse_args, "evaluate.py": evaluate.build_parser,
           "reproduce.py": reproduce.build_parser}


def shell_lines(text):
    """(line number, line) of the shell commands of a Markdown text: the lines of its bash (or
    unlabelled) code blocks, continuations joined, and every `inline command` in its prose,
    which may break across lines."""
    lines, fence, block = text.splitlines(), None, []
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence in ("bash", "sh", ""):
            block.append((number, line))
        elif fence is None:
            block.append((number, None))
    joined, pending = [], None
    for number, line in block:
        if line is not None and pending is not None:
            pending = (pending[0], pending[1] + " " + line.strip())
        elif line is not None:
            pending = (number, line)
        if pending is not None and not pending[1].endswith("\\"):
            joined.append(pending)
            pending = None
        elif pending is not None:
            pending = (pending[0], pending[1][:-1])
    prose = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    for match in re.finditer(r"`(python3? [^`]+)`", prose):
        joined.append((prose[:match.start()].count("\n") + 1, " ".join(match.group(1).split())))
    return joined


def commands(document):
    """(where, [script, arguments]) of every `python X.py ...` command of a document, comments
    and brace expansions resolved; a command that elides its arguments ("...") is left out."""
    found = []
    for number, line in shell_lines((REPO / document).read_text()):
        match = re.search(r"\bpython3? (\S+\.py)\b(.*)", line)
        if match and "..." not in line:
            words = shlex.split(expand_braces(match.group(2)), comments=True)
            found.append((f"{document}:{number}", [match.group(1), *words]))
    return found


def expand_braces(text):
    """weights/seed{0,1,2} -> weights/seed0 weights/seed1 weights/seed2, as bash does."""
    pattern = re.compile(r"(\S*)\{([^{}]*,[^{}]*)\}(\S*)")
    while (match := pattern.search(text)):
        words = " ".join(f"{match.group(1)}{item}{match.group(3)}"
                         for item in match.group(2).split(","))
        text = text[:match.start()] + words + text[match.end():]
    return text


ALL = [item for document in DOCUMENTS for item in commands(document)]


def test_the_documents_show_commands():
    assert len(ALL) > 20 and {script for _, (script, *_) in ALL} >= set(PARSERS)


@pytest.mark.parametrize("where,command", ALL, ids=[where for where, _ in ALL])
def test_a_documented_command_exists_and_parses(where, command):
    script, *arguments = command
    assert (REPO / script).is_file(), f"{where}: no {script}"
    if script not in PARSERS:  # a tool: its file is enough
        return
    if script == "evaluate.py" and arguments and arguments[0] in evaluate.JOBS:
        arguments = arguments[1:]
    error = io.StringIO()
    try:
        with contextlib.redirect_stderr(error):
            if script == "classifier.py":
                classifier.parse_args(arguments)
            else:
                PARSERS[script]().parse_args(arguments)
    except SystemExit:
        pytest.fail(f"{where}: {script} {shlex.join(arguments)}: {error.getvalue().strip()}")
