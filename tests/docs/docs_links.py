#!/usr/bin/env python3
"""docs_links: the README stays a guide (at most 300 lines); every relative link in README.md and docs/*.md
resolves: the file or directory exists, and a #fragment names a heading (GitHub's anchor for it) or an <a id> in
the target; and every line of the README's C++ code is in examples/readme_example.cpp, the program the package
test builds and runs, so the README shows tested code. With $MNIST_CLI set (as CTest sets it), every
"$ mnist COMMAND ..." line shown in README.md and docs/ names a command the binary has, and each --flag on it is in
that command's --help. External links (http, https, mailto) are not followed: the tests run offline.
Usage: docs_links.py [SOURCE_DIR=.]"""
import os
import pathlib
import re
import subprocess
import sys

MAX_README_LINES = 300
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
FENCE = re.compile(r"^\s*(```|~~~)")


def outside_code(text):
    """The lines of a Markdown text outside fenced code blocks, with inline code spans blanked."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, re.sub(r"`[^`]*`", "", line)


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for _, line in outside_code(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(EXPLICIT.findall(line))
    return found


def help_text(cli, *args):
    return subprocess.run([cli, *args, "--help"], capture_output=True, text=True, timeout=60).stdout


def check_commands(cli, documents, root):
    """Each shown `$ mnist COMMAND --flag ...` line: COMMAND exists, every --flag is in its --help."""
    failures = []
    listing = help_text(cli)
    commands = set(re.findall(r"^  ([a-z][a-z-]*)\s", listing.split("Subcommands:")[-1], re.M))
    helps = {}
    for document in documents:
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            match = re.match(r"^\$ mnist ([a-z][a-z-]*)(.*)$", line)
            if not match:
                continue
            where = f"{document.relative_to(root)}:{number}"
            command, rest = match.group(1), match.group(2).split("#")[0]
            if command not in commands:
                failures.append(f"{where}: 'mnist {command}' is not a command ({', '.join(sorted(commands))})")
                continue
            helps.setdefault(command, help_text(cli, command))
            for flag in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", rest):
                if not re.search(re.escape(flag) + r"\b", helps[command]):
                    failures.append(f"{where}: 'mnist {command}' has no flag {flag}")
    return failures


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    readme = root / "README.md"
    failures = []
    lines = len(readme.read_text(encoding="utf-8").splitlines())
    if lines > MAX_README_LINES:
        failures.append(f"README.md: {lines} lines, more than {MAX_README_LINES}: move details into docs/")
    documents = [readme] + sorted((root / "docs").glob("**/*.md"))
    checked = 0
    for document in documents:
        for number, line in outside_code(document.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto:
                checked += 1
                where = f"{document.relative_to(root)}:{number}: link {target}"
                path_part, _, fragment = target.partition("#")
                linked = (document.parent / path_part).resolve() if path_part else document
                if not linked.exists():
                    failures.append(f"{where}: {path_part} does not exist")
                    continue
                if fragment and linked.suffix == ".md" and fragment not in anchors(linked):
                    failures.append(f"{where}: no heading or <a id> '{fragment}' in {linked.relative_to(root)}")
    example = {line.strip() for line in (root / "examples/readme_example.cpp").read_text(encoding="utf-8").splitlines()}
    in_cpp = False
    for number, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_cpp = not in_cpp and line.strip() == "```cpp"
            continue
        if in_cpp and line.strip() and line.strip() not in example:
            failures.append(f"README.md:{number}: C++ line not in examples/readme_example.cpp: {line.strip()}")
    cli = os.environ.get("MNIST_CLI")
    if cli:
        failures += check_commands(cli, documents, root)
    for failure in failures:
        print("FAIL:", failure)
    if failures:
        return 1
    print(f"OK: README.md {lines} lines; {checked} relative links in {len(documents)} documents resolve"
          + ("; the commands shown exist with their flags" if cli else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
