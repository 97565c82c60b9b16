#!/usr/bin/env python3
"""Checks that a Grafana dashboard queries only metrics the Podwise services export.

Reads every PromQL expression of DASHBOARD (panels, rows and templating), takes the
podwise_* metric names it queries and the label names it filters or groups them by, and
looks for each in the Prometheus text of the given /metrics endpoints (a base URL such as
http://127.0.0.1:8000 gets /metrics appended). Fails naming every metric that no endpoint
shows, with the panel that queries it, and every label a metric does not carry.

The services' exporter shows a metric only after its first use, so exercise them first
(a question, a chat completion, speech, a transcription, an ingestion, a recommendation).
With --sources DIR it instead checks, without running anything, that each name is
recorded somewhere in the Rust sources under DIR (labels are not checked then).

Usage:
  check-dashboard-metrics.py DASHBOARD URL [URL ...]
  check-dashboard-metrics.py DASHBOARD --sources crates

Exit status: 0 when all is found, 1 when something is missing, 2 when an endpoint cannot
be read.
"""

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request

METRIC = re.compile(r"\b(podwise_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(podwise_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s")
SAMPLE_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')


def expressions(node, panel=None):
    """(panel title, expression) for every query in a dashboard tree."""
    if isinstance(node, dict):
        title = node.get("title", panel) if "targets" in node or "panels" in node else panel
        for key, value in node.items():
            if key in ("expr", "query") and isinstance(value, str) and "podwise_" in value:
                yield title or "templating", value
            else:
                yield from expressions(value, title)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item, panel)


def wanted(dashboard):
    """{metric: {"panels": set, "labels": set}} of everything the dashboard queries."""
    needs = {}
    for panel, expr in expressions(dashboard):
        # Label values are strings; a metric-like word inside one is not a query.
        bare = STRING.sub('""', expr)
        metrics = set(METRIC.findall(bare))
        grouped = set()
        for labels in GROUPING.findall(bare):
            grouped |= {label.strip() for label in labels.split(",") if label.strip()}
        for metric in metrics:
            entry = needs.setdefault(metric, {"panels": set(), "labels": set()})
            entry["panels"].add(panel)
            # `le` is the bucket bound every _bucket series has.
            entry["labels"] |= grouped - {"le"}
        for metric, matchers in SELECTOR.findall(bare):
            needs[metric]["labels"] |= set(MATCHER_LABEL.findall(matchers))
    return needs


def metrics_url(url):
    return url.rstrip("/") + "/metrics" if not url.rstrip("/").endswith("/metrics") else url


def exported(urls):
    """{metric: set of label names} over every endpoint."""
    found = {}
    for url in urls:
        url = metrics_url(url)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode("utf-8")
        except (urllib.error.URLError, OSError) as error:
            print(f"cannot read {url}: {error}", file=sys.stderr)
            sys.exit(2)
        for line in text.splitlines():
            match = SAMPLE.match(line)
            if match:
                labels = set(SAMPLE_LABEL.findall(match.group(2) or ""))
                found.setdefault(match.group(1), set()).update(labels)
    return found


def recorded_in_sources(directory):
    """Every podwise metric name the Rust sources record, as literal or metric_name() call.

    A generic `metric_name(service, "what")` stands for every service, written `*`; a name
    chosen at run time (`metric_name("tts", what)`) is not seen, so keep dashboards to
    names written out.
    """
    names = set()
    literal = re.compile(r'"(podwise_[a-z0-9_]+)"')
    built = re.compile(r'metric_name\(\s*("?)([a-z_]+)"?\s*,\s*"([a-z0-9_]+)"')
    for root, _, files in os.walk(directory):
        for name in files:
            if not name.endswith(".rs"):
                continue
            text = open(os.path.join(root, name), encoding="utf-8").read()
            names |= set(literal.findall(text))
            for quoted, service, what in built.findall(text):
                names.add(f"podwise_{service if quoted else '*'}_{what}")
    return names


def base_name(metric):
    for suffix in HISTOGRAM_SERIES:
        if metric.endswith(suffix):
            return metric[: -len(suffix)]
    return metric


def check_sources(needs, directory):
    names = recorded_in_sources(directory)
    problems = []
    for metric, entry in sorted(needs.items()):
        candidates = {metric, base_name(metric)}
        generic = {re.sub(r"^podwise_[a-z]+_", "podwise_*_", m) for m in candidates}
        if not (candidates | generic) & names:
            problems.append(
                f"{metric} (panels: {', '.join(sorted(entry['panels']))}) is recorded "
                f"nowhere under {directory}"
            )
    return problems


def check_endpoints(needs, urls):
    found = exported(urls)
    problems = []
    for metric, entry in sorted(needs.items()):
        panels = ", ".join(sorted(entry["panels"]))
        if metric not in found:
            problems.append(f"{metric} (panels: {panels}) is in no /metrics output")
            continue
        for label in sorted(entry["labels"] - found[metric]):
            have = ", ".join(sorted(found[metric])) or "none"
            problems.append(
                f"{metric} (panels: {panels}) has no label '{label}' (it has: {have})"
            )
    return problems


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dashboard", help="the Grafana dashboard JSON")
    parser.add_argument("urls", nargs="*", help="/metrics URLs or base URLs of the services")
    parser.add_argument("--sources", metavar="DIR", help="check against the Rust sources")
    args = parser.parse_args()
    if bool(args.urls) == bool(args.sources):
        parser.error("give either metrics URLs or --sources DIR")

    with open(args.dashboard, encoding="utf-8") as stream:
        needs = wanted(json.load(stream))
    if not needs:
        print(f"{args.dashboard} queries no podwise_* metric", file=sys.stderr)
        return 1
    if args.sources:
        problems = check_sources(needs, args.sources)
        where = f"the sources under {args.sources}"
    else:
        problems = check_endpoints(needs, args.urls)
        where = f"{len(args.urls)} /metrics endpoint(s)"
    for problem in problems:
        print(f"{args.dashboard}: {problem}", file=sys.stderr)
    if problems:
        print(f"{args.dashboard}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.dashboard}: all {len(needs)} metrics found in {where}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
