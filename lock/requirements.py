"""Turns uv's pylock.toml (PEP 751) on stdin into a requirements file on stdout: each
package pinned with the sha256 of every wheel of it that installs on the image's platform
(uv lists only those), or of its sdist when it has no such wheel.

    python3 lock/requirements.py TITLE < pylock.toml > lock/NAME.txt
"""

import sys
import tomllib


def main(title):
    lock = tomllib.loads(sys.stdin.read())
    out = [f"# {title}", "# Written by `just lock` (lock/lock.sh); do not edit."]
    for package in sorted(lock["packages"], key=lambda p: p["name"]):
        files = package.get("wheels") or [package["sdist"]]
        hashes = sorted(f["hashes"]["sha256"] for f in files)
        line = f"{package['name']}=={package['version']}"
        if "marker" in package:
            line += f" ; {package['marker']}"
        out.append(line + " \\")
        out.extend(f"    --hash=sha256:{h}" + (" \\" if i < len(hashes) - 1 else "") for i, h in enumerate(hashes))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
