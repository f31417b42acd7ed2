#!/usr/bin/env python3
"""docs.links: every relative Markdown link in the docs points at something that exists.

    python3 tests/docs/check-links.py <repository>

Reads README.md, ARCHITECTURE.md and docs/*.md, finds every inline link [text](target) and
[text](target#anchor) outside code, and checks that the target file or folder exists in the
repository and that the anchor matches a heading of the target (GitHub's rule: lowercase,
punctuation dropped except '-' and '_', spaces become '-', a repeated heading gets -1, -2, ...).
Links to http(s):, mailto: and other schemes are skipped. Prints one line per broken link,
"file:line: broken link 'target'", and exits 1 if there is any; exit 0 otherwise.
"""
import os
import re
import sys

# [text](target) or [text](target "title"); text may hold `code` but no nested brackets.
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "-_ ")
    return text.replace(" ", "-")


def lines_outside_code(path):
    """(line number, text) of every line not in a fenced code block, inline code blanked."""
    fenced = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            match = FENCE.match(line)
            if match:
                if fenced is None:
                    fenced = match.group(1)
                elif line.lstrip().startswith(fenced):
                    fenced = None
                continue
            if fenced is None:
                yield number, line


def anchors(path, cache={}):
    if path not in cache:
        found = set()
        counts = {}
        for _, line in lines_outside_code(path):
            match = HEADING.match(line)
            if not match:
                continue
            base = slug(match.group(2))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        cache[path] = found
    return cache[path]


def strip_inline_code(line):
    return re.sub(r"(`+)(.+?)\1", lambda m: " " * len(m.group(0)), line)


def check(repo, path):
    broken = []
    rel = os.path.relpath(path, repo)
    for number, line in lines_outside_code(path):
        for match in LINK.finditer(strip_inline_code(line)):
            target = match.group(1)
            if SCHEME.match(target):
                continue
            file_part, _, anchor = target.partition("#")
            if file_part:
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            else:
                dest = path
            inside = os.path.commonpath([os.path.abspath(repo), os.path.abspath(dest)])
            ok = inside == os.path.abspath(repo) and os.path.exists(dest)
            if ok and anchor:
                ok = dest.endswith(".md") and os.path.isfile(dest) and anchor in anchors(dest)
            if not ok:
                broken.append(f"{rel}:{number}: broken link '{target}'")
    return broken


def main():
    if len(sys.argv) != 2:
        print("usage: check-links.py <repository>", file=sys.stderr)
        return 2
    repo = sys.argv[1]
    files = [os.path.join(repo, name) for name in ("README.md", "ARCHITECTURE.md")]
    docs = os.path.join(repo, "docs")
    if os.path.isdir(docs):
        files += sorted(os.path.join(docs, name) for name in os.listdir(docs) if name.endswith(".md"))
    broken = []
    for path in files:
        if not os.path.isfile(path):
            broken.append(f"{os.path.relpath(path, repo)}: missing")
            continue
        broken += check(repo, path)
    for line in broken:
        print(line)
    if broken:
        return 1
    print(f"docs.links: {len(files)} files, every relative link resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
