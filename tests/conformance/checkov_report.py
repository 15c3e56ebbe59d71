"""Split one checkov JSON report over many bundles into a verdict per stack.

usage: checkov_report.py REPORT.json CHECKOV.stderr BUNDLES_DIR STACKS.tsv [SKIP_ID...]

STACKS.tsv maps a bundle directory name (under BUNDLES_DIR) to its stack file.
Prints one tab-separated record per stack, in the order of STACKS.tsv:
    ok<TAB>STACK
    FAIL<TAB>STACK<TAB>SUMMARY<TAB>DETAILS   (DETAILS: lines joined by a literal \\n)
A stack fails on a failed check, on a check suppressed inside the YAML (a
checkov.io/skip annotation: only checkov-skips.txt may skip), on a file checkov
could not parse, and when checkov found no resource of it at all.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path


def read_reports(path):
    """checkov prints one JSON document per scanned directory; accept one or more."""
    text = Path(path).read_text()
    decoder = json.JSONDecoder()
    reports, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return reports
        doc, pos = decoder.raw_decode(text, pos)
        reports.extend(doc if isinstance(doc, list) else [doc])


def escape(text):
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")


def main():
    report_path, stderr_path, bundles, stacks_tsv, *skips = sys.argv[1:]
    bundles = Path(bundles).resolve()
    stacks = [line.split("\t") for line in Path(stacks_tsv).read_text().splitlines() if line]

    try:
        reports = read_reports(report_path)
    except (OSError, ValueError) as err:
        stderr = Path(stderr_path).read_text().strip().splitlines()[-20:]
        detail = escape("\n".join([f"no JSON report: {err}", *stderr]))
        for _, stack in stacks:
            print(f"FAIL\t{stack}\tcheckov did not run\t{detail}")
        return

    def bundle_of(path):
        try:
            return Path(path).resolve().relative_to(bundles).parts[0]
        except (ValueError, IndexError):
            return None

    passed = defaultdict(int)
    problems = defaultdict(list)
    for report in reports:
        results = report.get("results", {})
        for check in results.get("passed_checks", []):
            passed[bundle_of(check["file_abs_path"])] += 1
        for check in results.get("failed_checks", []):
            problems[bundle_of(check["file_abs_path"])].append(check)
        for check in results.get("skipped_checks", []):
            if check["check_id"] not in skips:
                check = dict(check, check_name=f"suppressed in the YAML: {check['check_name']}")
                problems[bundle_of(check["file_abs_path"])].append(check)
        for path in results.get("parsing_errors", []):
            problems[bundle_of(path)].append(
                {"check_id": "parse-error", "check_name": "checkov cannot parse it",
                 "resource": "-", "file_abs_path": path, "file_line_range": None})

    for bundle, stack in stacks:
        found = problems.get(bundle, [])
        if not found and passed.get(bundle):
            print(f"ok\t{stack}")
            continue
        if not found:
            print(f"FAIL\t{stack}\tcheckov found no Kubernetes resource\t")
            continue
        ids = sorted({c["check_id"] for c in found})
        lines = []
        for c in sorted(found, key=lambda c: (c["check_id"], c["resource"])):
            rel = Path(c["file_abs_path"]).resolve()
            rel = rel.relative_to(bundles / bundle) if rel.is_relative_to(bundles / bundle) else rel
            where = f"{rel}:{'-'.join(map(str, c['file_line_range']))}" if c.get("file_line_range") else str(rel)
            lines.append(f"{c['check_id']} {c['check_name']} [{c['resource']} {where}]")
        print(f"FAIL\t{stack}\t{' '.join(ids)}\t{escape(chr(10).join(lines))}")


if __name__ == "__main__":
    main()
