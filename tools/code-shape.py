#!/usr/bin/env python3
"""code-shape: the shape of the helper's code, as a newcomer would want it checked.

    python3 tools/code-shape.py [--repo DIR] [--check]

Reads tools/cluster-deploy/src/*.cpp and *.hpp (standard library only, no compiler) and prints

  1. the length of every function definition, as a distribution (1-20, 21-40, 41-60, 61-100,
     >100 lines), and every function over 60 lines as "file:line name length". A function over
     60 lines is excused when the comment block right above it, or a comment in its first
     lines, says why: the word "long" followed by a reason ("// Long because ...",
     "/// ... (long: ...)"). Length counts from the first line of the definition (template
     line included) to its closing brace; lambdas and local classes count as part of the
     function they are in.
  2. the module dependency edges: a module is src/<name>.cpp and/or src/<name>.hpp; A -> B for
     each #include "B.hpp" in A.cpp or A.hpp (B != A). Then the cycles (strongly connected
     components of more than one module, each cycle listed) and the upward edges against
     LAYERS below (an edge from a lower layer to a higher one; edges within a layer are fine).
  3. every direct print (printf, fprintf, puts, fwrite, std::cout, ...) outside console.cpp:
     what the helper prints goes through console.hpp (and Output, which uses it), so that
     stdout stays a command's report and nothing writes across the live status line.

With --check, prints one "file:line: problem" line per unexcused function over 60 lines, cycle,
upward edge, module missing from LAYERS or direct print, and exits 1 when there is any (0 otherwise).
Without it, only reports and exits 0.
"""
import argparse
import os
import re
import sys

SRC = os.path.join("tools", "cluster-deploy", "src")
LIMIT = 60
BUCKETS = [(1, 20), (21, 40), (41, 60), (61, 100), (101, None)]

# The layer order the check enforces, top to bottom; a module may include modules of its own
# layer or of any layer below it, never above. Written out here rather than read from
# ARCHITECTURE.md's "Inside the helper" table: that table is ordered by the questions a reader
# asks (plan and inventory come second, layout.hpp sits in the middle), not by dependency.
# The groups follow what the code includes, and ARCHITECTURE.md's paragraph on dependencies
# states the same order; change both together.
LAYERS = [
    ("entry", ["main", "cli"]),
    # What each command does to the nodes (deploy also does rollback, up, down, clean).
    ("commands", ["deploy", "status", "logs", "fault", "fault_schedule", "cluster_lock", "read_first", "run_test",
                  "collect"]),
    # The order and batches of (re)starts, shared by deploy, rollback and up.
    ("rollout", ["rollout"]),
    # Steps a command or the rollout takes: passing files on, health, the Raft leader and members.
    ("steps", ["fan_out", "health", "leader", "member_changes"]),
    # The nodes of a run, one Transport each, in parallel.
    ("cluster", ["cluster"]),
    # What the user sees: cluster and the steps report into it, node_ops does not.
    ("presentation", ["output", "progress", "json_report", "report", "timeline", "evidence", "audit"]),
    # Each remote action and the parsing of its output; one node's part of a deploy.
    ("node actions", ["node_ops", "node_change"]),
    # How we reach a node: the seam and what is behind it (libssh, the warm-session agent).
    ("transport", ["transport", "shared_transport", "ssh_transport", "ssh_session", "ssh_channel",
                   "ssh_config_warnings", "ssh_keygen", "agent", "agent_client", "agent_wire"]),
    # What a node should have; no network ("release and changes use no network"). membership:
    # who a group's members are, as records and answers (render reads the records).
    ("release", ["preflight", "changes", "release", "render", "program_needs", "membership"]),
    # What the plan and the inventory say.
    ("plan", ["plan", "inventory_source", "inventory", "ansible_inventory", "nodes_file"]),
    # Leaves anyone may use.
    ("base", ["console", "error", "quote", "layout", "hash", "parallel", "interrupt", "crash_point",
              "remote_scripts", "step_log", "summary_row", "host_key_policy"]),
]

# ---------------------------------------------------------------------------------------------
# Reading C++: comments, literals and preprocessor lines blanked out (newlines kept, so
# offsets keep their line numbers).


class Source:
    def __init__(self, path, rel):
        self.path = path
        self.rel = rel
        with open(path, encoding="utf-8", errors="replace") as f:
            self.text = f.read()
        self.code, self.comments, self.includes = strip(self.text)
        # Line starts, for offset -> line number.
        self.starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        lines = self.text.count("\n") + 1
        self.code_line = [False] * (lines + 2)
        for number, line in enumerate(self.code.split("\n"), start=1):
            self.code_line[number] = bool(line.strip())
        self.comment_line = [False] * (lines + 2)
        for first, last, _ in self.comments:
            for number in range(first, last + 1):
                self.comment_line[number] = True

    def line(self, offset):
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1


RAW_PREFIX = re.compile(r"(?:u8|u|U|L)?R$")
PRINT = re.compile(r"\b(?:std::)?(?:printf|fprintf|vprintf|vfprintf|puts|fputs|putchar|fwrite|perror)\s*\("
                   r"|\bstd::(?:cout|cerr|clog)\b")
INCLUDE = re.compile(r'#\s*include\s*"([^"]+)"')


def strip(text):
    """Returns (code, comments, includes): code is text with comments, the contents of string
    and character literals and preprocessor lines replaced by spaces (quotes kept, newlines
    kept); comments is [(first line, last line, text)]; includes is [(line, "name")]."""
    out = list(text)
    comments = []
    includes = []
    n = len(text)
    i = 0
    line = 1
    at_line_start = True  # only whitespace since the last newline

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    def skip_literal(start, quote):
        """Blanks the string or character literal opened at `start`; returns the index after it."""
        j = start + 1
        while j < n and text[j] != quote and text[j] != "\n":
            j += 2 if text[j] == "\\" else 1
        blank(start + 1, min(j, n))
        return j + 1

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            at_line_start = True
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if at_line_start and c == "#":
            # A preprocessor line, with its continuations; comments inside it end it early
            # only for // (a /* */ comment in a directive is rare enough to ignore).
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 2
                    line += 1
                    continue
                if text.startswith("//", j):
                    break
                j += 1
            directive = text[i:j]
            m = INCLUDE.match(directive)
            if m:
                includes.append((line, m.group(1)))
            blank(i, j)
            i = j
            continue
        at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.append((line, line, text[i:j]))
            blank(i, j)
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            first = line
            line += text.count("\n", i, j)
            comments.append((first, line, text[i:j]))
            blank(i, j)
            i = j
            continue
        if c == '"':
            prefix = re.search(r"[A-Za-z0-9_]*$", text[max(0, i - 3):i]).group(0)
            if RAW_PREFIX.search(prefix) and re.fullmatch(r"(?:u8|u|U|L)?R", prefix):
                m = re.match(r'"([^()\\\s]{0,16})\(', text[i:])
                if m:
                    end = text.find(")" + m.group(1) + '"', i + m.end())
                    end = n if end < 0 else end + len(m.group(1)) + 2
                    line += text.count("\n", i, end)
                    blank(i + 1, end - 1)
                    i = end
                    continue
            i = skip_literal(i, '"')
            continue
        if c == "'":
            # A digit separator (1'000) is not a character literal.
            k = i
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] in "_'"):
                k -= 1
            if k < i and text[k].isdigit():
                i += 1
                continue
            i = skip_literal(i, "'")
            continue
        i += 1
    return "".join(out), comments, includes


# ---------------------------------------------------------------------------------------------
# Finding function definitions: one pass over the blanked code with a stack of scopes.

CONTROL = {"if", "for", "while", "switch", "catch", "do", "else", "try", "return", "sizeof",
           "alignof", "decltype", "noexcept", "static_assert", "new", "delete", "throw",
           "co_return", "co_await", "co_yield", "requires", "alignas", "typeid", "case"}
ACCESS = re.compile(r"^\s*(?:public|private|protected)\s*:(?!:)")
TEMPLATE = re.compile(r"^\s*template\s*<")
QUALIFIERS = re.compile(
    r"^(?:\s*(?:const|volatile|mutable|constexpr|consteval|override|final|try|&&|&"
    r"|noexcept(?:\s*\((?:[^()]|\([^()]*\))*\))?|throw\s*\([^()]*\)|\[\[[^\]]*\]\]))*"
    r"(?:\s*->\s*[^{};]*?)?(?:\s*requires\b[^{};]*)?\s*$")
# The declarator's name at the end of the text before its parameter list.
NAME = re.compile(
    r"((?:~?[A-Za-z_]\w*\s*(?:<[^;{}()]*>)?\s*::\s*)*"
    r"(?:operator\s*(?:\(\s*\)|\[\s*\]|(?:new|delete)(?:\s*\[\s*\])?|\"\"\s*\w+|[-+*/%^&|~!=<>,]+"
    r"|[A-Za-z_][\w\s:<>,*&]*?)|~?[A-Za-z_]\w*))\s*(?:<[^;{}()]*>)?\s*$")


def skip_template_heads(head):
    """head without its leading template <...> (nested ones too)."""
    while True:
        m = TEMPLATE.match(head)
        if not m:
            return head
        depth = 0
        for k in range(m.end() - 1, len(head)):
            if head[k] == "<":
                depth += 1
            elif head[k] == ">":
                depth -= 1
                if depth == 0:
                    head = head[k + 1:]
                    break
        else:
            return head


def paren_groups(head):
    """[(open, close)] offsets of the top-level (...) groups of head; None if unbalanced."""
    groups, depth, start = [], 0, 0
    for k, c in enumerate(head):
        if c == "(":
            if depth == 0:
                start = k
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                groups.append((start, k))
    return groups if depth == 0 else None


def ctor_colon(rest):
    """Offset in rest (the text after a parameter list) of a constructor's ':' (not '::'),
    when what comes before it is only qualifiers; else -1."""
    for m in re.finditer(r"(?<!:):(?!:)", rest):
        if QUALIFIERS.match(rest[:m.start()]):
            return m.start()
        return -1
    return -1


def function_name(head):
    """The name of the function whose body starts right after head, or None when the brace
    after head is not a function body (a variable's initializer, a lambda, a control
    statement). head has comments and literals blanked."""
    body = skip_template_heads(head)
    groups = paren_groups(body)
    if not groups:
        return None
    # A constructor with a member-initializer list: its parameters are the first top-level
    # group followed by qualifiers and ':' ("Foo::Foo(int a) : a_(a), b_{a} {"). Otherwise
    # the parameters are the last group followed only by qualifiers (a group earlier than
    # that may be in the return type: "std::function<void()> make() {").
    candidates = [g for g in groups if ctor_colon(body[g[1] + 1:]) >= 0][:1]
    candidates += [g for g in reversed(groups) if QUALIFIERS.match(body[g[1] + 1:])]
    for open_, close in candidates:
        before = body[:open_]
        m = NAME.search(before)
        if not m:
            continue
        name = re.sub(r"\s+", " ", m.group(1)).strip()
        name = re.sub(r"\s*::\s*", "::", name)
        last = name.split("::")[-1]
        if last in CONTROL:
            continue  # "noexcept(false)", "-> decltype(x)"; or a control statement
        # A '=' in front of the name is a variable: "auto f = [] (int x) {" never gets here
        # (the name regex needs a name before the parameters), "T x = f(y) {" is no C++.
        prefix = before[:m.start()]
        if re.search(r"(?<![=!<>])=(?!=)", prefix) and "operator" not in name:
            return None
        if re.search(r"[\[\]]\s*$", prefix) and not prefix.rstrip().endswith("]]"):
            return None
        return name
    return None


def ctor_init_pending(head):
    """True when head is a constructor's signature and an unfinished member-initializer list,
    whose last item still waits for its {...}: "Foo::Foo(int a) : a_(a), b_" -> the next
    brace initializes b_, it is not the body."""
    body = skip_template_heads(head)
    groups = paren_groups(body)
    if not groups:
        return False
    # The parameter list is the first top-level group followed by qualifiers and ':'.
    for open_, close in groups:
        rest = body[close + 1:]
        colon = ctor_colon(rest)
        if colon >= 0:
            tail = rest[colon + 1:].rstrip()
            return bool(re.search(r"(?:[A-Za-z_]\w*|>)$", tail))
    return False


def match_brace(code, i):
    """Offset of the '}' closing the '{' at i (or len(code))."""
    depth = 0
    for k in range(i, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code)


def functions(src):
    """[(line, name, length, brace offset, start offset)] of the function definitions in src."""
    code = src.code
    found = []
    head_start = 0  # where the current declaration's text began
    i, n = 0, len(code)
    # scopes: a stack of "namespace" / "class" (functions may start inside them); a function
    # body or anything else is skipped whole with match_brace.
    scopes = []
    while i < n:
        c = code[i]
        if c == ";" or c == "}":
            if c == "}" and scopes:
                scopes.pop()
            i += 1
            head_start = i
            continue
        if c == ":" and scopes and scopes[-1] == "class":
            if ACCESS.match(code[head_start:i + 1]):
                i += 1
                head_start = i
                continue
        if c != "{":
            i += 1
            continue
        head = code[head_start:i]
        if head.count("(") > head.count(")"):
            # A brace inside parentheses: an argument ("f(T{})", "= {}" default), skip it.
            i = match_brace(code, i) + 1
            continue
        bare = skip_template_heads(head).strip()
        if re.match(r"^(?:inline\s+)?namespace\b[\w\s:]*$", bare) or re.match(r'^extern\s*"\s*"$', bare):
            scopes.append("namespace")
            i += 1
            head_start = i
            continue
        if re.match(r"^(?:\[\[[^\]]*\]\]\s*)*(?:class|struct|union)\b[^()]*$", bare) or \
                re.match(r"^(?:typedef\s+)?(?:class|struct|union)\b[^()=]*$", bare):
            scopes.append("class")
            i += 1
            head_start = i
            continue
        if ctor_init_pending(head):
            i = match_brace(code, i) + 1  # a member's brace-initializer; the head goes on
            continue
        name = function_name(head)
        end = match_brace(code, i)
        if name is not None:
            start = head_start + (len(head) - len(head.lstrip()))
            first = src.line(start)
            last = src.line(end)
            found.append((first, name, last - first + 1, i, start))
        # A function body, an enum, an initializer: skipped whole. A class-like "{" we did not
        # recognize would hide its member functions; see the self-test in the report.
        i = end + 1
        head_start = i
    return found


LONG_REASON = re.compile(r"\blong\b\s*(?:because|since|:|\u2014|\u2013|--|-)\s*\S", re.I)


def excuse(src, first_line, brace_offset):
    """The comment that says why a function is long, or None: the comment block right above
    its first line (or on that line), or a comment in its first three lines."""
    texts = []
    k = first_line - 1
    while k >= 1 and src.comment_line[k] and not src.code_line[k]:
        k -= 1
    above = range(k + 1, first_line + 1)
    brace_line = src.line(brace_offset)
    for first, last, text in src.comments:
        if (last in above or first in above) or brace_line <= first <= brace_line + 3:
            texts.append(text)
    for text in texts:
        flat = re.sub(r"^\s*(?://+!?|/\*+|\*+/?)", "", text, flags=re.M)
        flat = " ".join(flat.split())
        m = LONG_REASON.search(flat)
        if m:
            why = flat[m.start():]
            return why if len(why) <= 70 else why[:67].rstrip() + "..."
    return None


# ---------------------------------------------------------------------------------------------
# Modules and their edges.


def strongly_connected(nodes, edges):
    """Tarjan's algorithm: the components, each a sorted list."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def simple_cycles(component, edges, limit=20):
    """Up to limit simple cycles inside one component, each starting at its smallest module."""
    members = set(component)
    cycles = []
    for start in sorted(component):
        allowed = {m for m in members if m >= start}

        def walk(path, seen):
            for w in sorted(edges.get(path[-1], ())):
                if len(cycles) >= limit:
                    return
                if w == start:
                    cycles.append(path + [start])
                elif w in allowed and w not in seen:
                    walk(path + [w], seen | {w})

        walk([start], {start})
    return cycles


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default=here, help="the repository (default: this script's)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 on an unexcused function over 60 lines, a cycle or an upward edge")
    args = parser.parse_args()

    src_dir = os.path.join(args.repo, SRC)
    if not os.path.isdir(src_dir):
        print(f"code-shape: no {SRC} under {args.repo}", file=sys.stderr)
        return 2
    files = sorted(f for f in os.listdir(src_dir) if f.endswith((".cpp", ".hpp")))
    sources = {f: Source(os.path.join(src_dir, f), os.path.join(SRC, f)) for f in files}
    problems = []

    # 1. Function lengths.
    all_functions = []
    for f, src in sources.items():
        for first, name, length, brace, _ in functions(src):
            all_functions.append((src, first, name, length, brace))
    print(f"Function lengths ({len(all_functions)} definitions in {SRC}/*.cpp, *.hpp):")
    for lo, hi in BUCKETS:
        count = sum(1 for fn in all_functions if fn[3] >= lo and (hi is None or fn[3] <= hi))
        label = f"{lo}-{hi}" if hi else f">{lo - 1}"
        print(f"  {label:>7}  {count:4}  {'#' * ((count + 4) // 5)}")
    long_ones = sorted((fn for fn in all_functions if fn[3] > LIMIT), key=lambda fn: -fn[3])
    print(f"\nFunctions over {LIMIT} lines ({len(long_ones)}):")
    for src, first, name, length, brace in long_ones:
        why = excuse(src, first, brace)
        mark = f"  (excused: {why})" if why else ""
        print(f"  {src.rel}:{first} {name} {length}{mark}")
        if not why:
            problems.append(f"{src.rel}:{first}: {name} is {length} lines (over {LIMIT}) "
                            f"without a comment saying why it is long")
    if not long_ones:
        print("  none")

    # 2. Modules and edges.
    modules = sorted({os.path.splitext(f)[0] for f in files})
    edges, where = {}, {}
    for f, src in sources.items():
        a = os.path.splitext(f)[0]
        for line, included in src.includes:
            b, ext = os.path.splitext(included)
            if ext == ".hpp" and "/" not in included and b in modules and b != a:
                edges.setdefault(a, set()).add(b)
                where.setdefault((a, b), f"{src.rel}:{line}")
    count = sum(len(v) for v in edges.values())
    print(f"\nModule dependency edges ({len(modules)} modules, {count} edges; A -> what A includes):")
    for a in modules:
        if edges.get(a):
            print(f"  {a} -> {', '.join(sorted(edges[a]))}")

    layer_of = {}
    for number, (_, members) in enumerate(LAYERS):
        for m in members:
            layer_of[m] = number
    print("\nLayers, top to bottom (a module includes only its own layer and those below):")
    for number, (label, members) in enumerate(LAYERS):
        print(f"  {number + 1:2}. {label}: {', '.join(members)}")
    for m in modules:
        if m not in layer_of:
            first = next(f for f in files if os.path.splitext(f)[0] == m)
            print(f"  not in any layer: {m}")
            problems.append(f"{SRC}/{first}:1: module {m} is in no layer of tools/code-shape.py's LAYERS")
    gone = sorted(m for m in layer_of if m not in modules)
    if gone:
        print(f"  (in LAYERS but not in {SRC}: {', '.join(gone)})")

    print("\nCycles:")
    cycles_found = 0
    for component in strongly_connected(modules, edges):
        if len(component) < 2:
            continue
        print(f"  component {{{', '.join(component)}}}:")
        for cycle in simple_cycles(component, edges):
            cycles_found += 1
            text = " -> ".join(cycle)
            via = ", ".join(where[(cycle[k], cycle[k + 1])] for k in range(len(cycle) - 1))
            print(f"    {text}   ({via})")
            problems.append(f"{where[(cycle[0], cycle[1])]}: include cycle {text}")
    if not cycles_found:
        print("  none")

    print("\nUpward edges (from a lower layer to a higher one):")
    upward = 0
    for a in modules:
        for b in sorted(edges.get(a, ())):
            if a in layer_of and b in layer_of and layer_of[a] > layer_of[b]:
                upward += 1
                la, lb = LAYERS[layer_of[a]][0], LAYERS[layer_of[b]][0]
                print(f"  {where[(a, b)]}: {a} ({la}) -> {b} ({lb})")
                problems.append(f"{where[(a, b)]}: upward include: {a} (layer {la}) includes "
                                f"{b}.hpp (layer {lb})")
    if not upward:
        print("  none")

    # 3. Direct prints.
    print("\nDirect prints outside console.cpp:")
    prints = 0
    for f, src in sources.items():
        if f == "console.cpp":
            continue
        for m in PRINT.finditer(src.code):
            prints += 1
            at = f"{src.rel}:{src.line(m.start())}"
            print(f"  {at}: {m.group(0).rstrip('( ')}")
            problems.append(f"{at}: prints directly ({m.group(0).rstrip('( ')}): use console.hpp or Output")
    if not prints:
        print("  none")

    if args.check:
        print(f"\nProblems ({len(problems)}):")
        for p in problems:
            print(p)
        if not problems:
            print("  none")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
