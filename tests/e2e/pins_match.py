"""Exit 0 when every `name==version` pin in the given requirements files is installed at
exactly that version in this interpreter's environment, 1 otherwise (run.sh then runs pip).

Lines pip understands but this check does not (URLs, options, ranges) count as a mismatch,
so the fallback is always "run pip", never "skip a needed install"."""

import re
import sys
from importlib.metadata import PackageNotFoundError, version

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)\s*(#.*)?$")


def pins_match(paths):
    for path in paths:
        with open(path) as f:
            for raw in f:
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                match = PIN.match(line)
                if not match:
                    return False
                name, wanted = match.group(1), match.group(3)
                try:
                    if version(name) != wanted:
                        return False
                except PackageNotFoundError:
                    return False
    return True


if __name__ == "__main__":
    sys.exit(0 if pins_match(sys.argv[1:]) else 1)
