"""The README stays true: its example prints what it says, and CI runs the commands it shows."""

import contextlib
import io
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _block_after(marker: str) -> str:
    """The body of the first fenced code block after the line ``marker``."""
    match = re.search(re.escape(marker) + r"\n```[a-z]*\n(.*?)\n```", README, re.S)
    assert match, f"README.md has no code block after {marker}"
    return match.group(1)


def test_readme_example_prints_what_the_readme_shows():
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_block_after("<!-- readme:example -->"), "README example", "exec"), {})
    assert printed.getvalue().rstrip("\n") == _block_after("<!-- readme:output -->")


def test_readme_opens_with_the_two_setup_commands():
    main, test = _block_after("<!-- ci:main -->"), _block_after("<!-- ci:test -->")
    assert "pip install ." in main and main.endswith("numsnn train")
    assert 'pip install ".[test]"' in test and test.endswith("python -m pytest")
    assert test.index("ruff check .") < test.index("ruff format --check .") < test.index("pytest")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "ci:test" in ci and "ci:main" in ci  # .ci/run runs exactly these blocks
