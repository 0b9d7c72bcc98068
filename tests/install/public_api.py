#!/usr/bin/env python3
"""public_api.py — the functions the installed tdspipe headers declare.

    public_api.py CC INCLUDE_DIR [HEADER]   (HEADER default tdspipe/tdspipe.h)

Preprocesses HEADER with -I INCLUDE_DIR and keeps only the text that comes
from files under INCLUDE_DIR (line markers say which file a line is from).
Brace bodies (structs, enums, unions) are dropped, the rest is split into
declarations at ';'; a declaration that is not a typedef and has a name
followed by '(' declares a function. `#pragma GCC visibility push(...)` /
`pop` (kept by the preprocessor) say whether it is exported.

Prints one line per function: "exported NAME" for declarations inside
push(default), "hidden NAME" for any other, and "data NAME" for
non-typedef declarations without parentheses that name an object
(e.g. `extern int x;`)."""
import re
import subprocess
import sys


def segments(cc, incdir, header):
    """(visible, text) pieces of our own headers, in order."""
    src = '#include <%s>\n' % header
    out = subprocess.run([cc, '-E', '-std=c11', '-I', incdir, '-x', 'c', '-'],
                         input=src, capture_output=True, text=True, check=True).stdout
    ours, stack, segs = False, [], []
    for line in out.splitlines():
        m = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if m:
            ours = m.group(1).startswith(incdir.rstrip('/') + '/')
            continue
        pm = re.match(r'\s*#\s*pragma\s+GCC\s+visibility\s+(push|pop)\s*(\((\w+)\))?', line)
        if pm:
            if pm.group(1) == 'push':
                stack.append(pm.group(3) == 'default')
            elif stack:
                stack.pop()
            continue
        if ours and not line.lstrip().startswith('#'):
            segs.append((bool(stack and stack[-1]), line))
    return segs


def strip_braces(text):
    out, depth = [], 0
    for ch in text:
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return ''.join(out)


def declarations(segs):
    # Group consecutive lines with the same visibility; a declaration never
    # spans a pragma.
    groups = []
    for vis, line in segs:
        if groups and groups[-1][0] == vis:
            groups[-1][1].append(line)
        else:
            groups.append((vis, [line]))
    for vis, lines in groups:
        for stmt in strip_braces('\n'.join(lines)).split(';'):
            stmt = ' '.join(stmt.split())
            if not stmt or stmt.startswith('typedef') or stmt.startswith('enum') \
                    or stmt.startswith('struct') and '(' not in stmt:
                continue
            m = re.search(r'([A-Za-z_]\w*)\s*\(', stmt)
            if m and not stmt[:m.start()].rstrip().endswith('(*'):
                yield ('exported' if vis else 'hidden'), m.group(1)
            elif not m:
                names = re.findall(r'[A-Za-z_]\w*', stmt)
                if names:
                    yield 'data', names[-1]


def main():
    cc, incdir = sys.argv[1], sys.argv[2]
    header = sys.argv[3] if len(sys.argv) > 3 else 'tdspipe/tdspipe.h'
    seen = set()
    for kind, name in declarations(segments(cc, incdir, header)):
        if (kind, name) not in seen:
            seen.add((kind, name))
            print(kind, name)


if __name__ == '__main__':
    main()
