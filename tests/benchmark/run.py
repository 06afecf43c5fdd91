#!/usr/bin/env python
"""Benchmark the DocSpace handover for 1, 10 and 100 portals against the simulator.

`make bench` runs this after installing the built collection. It starts the
DocSpace simulator in this process with one portal per inventory host, then
runs the first step of a handover (checks, sending the instructions, reading
the owner back) on every portal with three playbooks:

- handover: playbooks/infrastructure_handover.yml, as shipped (pre-flight
  docspace_portal_owner_info, docspace_portal_owner, docspace_portal_owner_info
  again, the checks and the summary);
- module: tests/benchmark/handover_module.yml, one docspace_portal_owner task
  and the summary;
- uri: tests/benchmark/handover_uri.yml, the same reads, checks and POST
  written with ansible.builtin.uri.

The variants take turns, with the same forks: --runs times (3) per portal
count below 50 portals and --runs-large times (1) from there on. Before every
run the portals go back to their seeded state (the original owner, an empty
outbox, counters at zero). After it, every portal must hold exactly one
instructions email and its original owner, or the benchmark stops.
It prints the median wall time, the uri/variant ratio, HTTP requests per portal
from the simulator's counters, CPU time and peak memory, then the start-up
cost of one module run and the requests a ten-minute wait makes. The raw
numbers go to tests/benchmark/results/ as JSON.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARK_DIR = Path(__file__).resolve().parent
REPOSITORY = BENCHMARK_DIR.parents[1]
sys.path.insert(0, str(REPOSITORY / "tests"))

from docspace_simulator import Simulator

from runner import BenchmarkRunner, PlaybookFailed
from startup import format_startup, measure_startup
from waiting import format_waiting, measure_waiting

VARIANTS = {
    "handover": REPOSITORY / "playbooks" / "infrastructure_handover.yml",
    "module": BENCHMARK_DIR / "handover_module.yml",
    "uri": BENCHMARK_DIR / "handover_uri.yml",
}
BASELINE = "uri"

# From this many portals on, a variant runs --runs-large times instead of --runs,
# because one run of the three variants at 100 portals takes about four minutes on 2 CPUs.
LARGE_PORTAL_COUNT = 50
RESULTS_DIR = BENCHMARK_DIR / "results"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--portals", type=int, nargs="+", default=[1, 10, 100], metavar="N",
                        help="portal counts to run the handover for (default: 1 10 100)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per variant for each portal count below %d; the table shows the median (default: 3)" % LARGE_PORTAL_COUNT)
    parser.add_argument("--runs-large", type=int, default=1,
                        help="runs per variant for %d portals or more (default: 1, which keeps `make bench` near 10 minutes on 2 CPUs)"
                             % LARGE_PORTAL_COUNT)
    parser.add_argument("--forks", type=int, default=10, help="ansible-playbook --forks for every run (default: 10)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS),
                        help="playbooks to time (default: all three)")
    parser.add_argument("--skip-handover", action="store_true", help="leave out the handover runs")
    parser.add_argument("--skip-startup", action="store_true", help="leave out the start-up cost of one module run")
    parser.add_argument("--skip-wait", action="store_true", help="leave out the request counts of waiting")
    parser.add_argument("--startup-repeats", type=int, default=10, help="runs of each module payload for the start-up cost (default: 10)")
    parser.add_argument(
        "--collections-path",
        default=os.environ.get("DOCSPACE_TEST_COLLECTIONS_PATH", str(REPOSITORY / ".cache" / "collections")),
        help="collections root that contains ansible_collections/onlyoffice/docspace (default: %(default)s, which `make collection` fills)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory with every run's inventory and output")
    arguments = parser.parse_args()

    installed = Path(arguments.collections_path) / "ansible_collections" / "onlyoffice" / "docspace"
    if not installed.is_dir():
        parser.error("%s holds no onlyoffice.docspace; run `make collection` first, or pass --collections-path" % arguments.collections_path)
    if min(arguments.runs, arguments.runs_large, arguments.forks, *arguments.portals) < 1:
        parser.error("--runs, --runs-large, --forks and --portals must be 1 or more")
    if BASELINE not in arguments.variants:
        parser.error("--variants must include %s, the baseline of the ratio column" % BASELINE)
    return arguments


# Machine ------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ansible_core_version(runner):
    output = subprocess.run([runner.ansible_playbook, "--version"], capture_output=True, text=True, check=True).stdout
    return output.splitlines()[0].strip()


def describe_machine(runner):
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "ansible": ansible_core_version(runner),
        "system": "%s %s" % (platform.system(), platform.release()),
        "load_average_at_start": os.getloadavg(),
    }


# Handover -----------------------------------------------------------------


def inventory_for(portals):
    """One inventory host per portal, with the variables the three playbooks read."""
    hosts = {}
    for portal in portals:
        hosts[portal.alias] = {
            "docspace_base_url": portal.base_url,
            # The simulator derives these keys from the portal alias, and they open nothing else.
            "docspace_api_key": portal.users["owner"].api_key,
            "docspace_new_owner_email": portal.users["successor"].email,
        }
    return {"docspace_portals": {"vars": {"ansible_connection": "local"}, "hosts": hosts}}


def check_portals_after(portals, variant, measurement):
    """Stop the benchmark unless every portal got one instructions email and kept its owner."""
    for portal in portals:
        if len(portal.outbox) != 1 or portal.owner_id != portal.users["owner"].id:
            raise PlaybookFailed("%s left portal %s with %d emails and owner %s instead of one email and the original owner; see %s"
                                 % (variant, portal.alias, len(portal.outbox), portal.owner_id, measurement.output_path))


def run_handover(runner, simulator, portal_counts, variants, runs, runs_large, forks):
    """Time every variant per portal count, `runs` or `runs_large` times, and return the measurements by count and variant."""
    all_portals = [simulator.portal(alias) for alias in sorted(simulator.portals)]
    results = {}
    for count in portal_counts:
        portals = all_portals[:count]
        inventory = inventory_for(portals)
        results[count] = {variant: [] for variant in variants}
        for run in range(1, (runs_large if count >= LARGE_PORTAL_COUNT else runs) + 1):
            # Variants take turns, so a slow spell on the machine does not fall on one variant only.
            for variant in variants:
                for portal in portals:
                    portal.reset()
                measurement = runner.run_playbook("%s-%d-portals-run%d" % (variant, count, run), VARIANTS[variant],
                                                  inventory=inventory, forks=forks)
                check_portals_after(portals, variant, measurement)
                requests = sum(portal.request_count() for portal in portals)
                results[count][variant].append({
                    "wall_s": measurement.wall_seconds,
                    "cpu_s": measurement.cpu_seconds,
                    "max_rss_kib": measurement.max_rss_kib,
                    "peak_pss_kib": measurement.peak_pss_kib,
                    "requests_per_portal": requests / count,
                    "requests_by_endpoint": portals[0].request_counts(),
                })
                print("  %3d portals, %-8s run %d: %6.1f s wall, %6.1f s CPU, %.1f requests per portal"
                      % (count, variant, run, measurement.wall_seconds, measurement.cpu_seconds, requests / count), flush=True)
    return results


def summarise(samples):
    walls = [sample["wall_s"] for sample in samples]
    pss = [sample["peak_pss_kib"] for sample in samples if sample["peak_pss_kib"] is not None]
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "cpu_s": statistics.median(sample["cpu_s"] for sample in samples),
        "requests_per_portal": statistics.median(sample["requests_per_portal"] for sample in samples),
        "max_rss_mib": max(sample["max_rss_kib"] for sample in samples) / 1024,
        "peak_pss_mib": max(pss) / 1024 if pss else None,
    }


def format_handover(results, forks):
    lines = [
        "| portals | playbook | wall, median | wall, min-max | uri / playbook, wall | uri / playbook, CPU | wall per portal"
        " | CPU, median | CPU per portal | requests per portal | max RSS, one process | peak PSS, all processes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count, by_variant in results.items():
        summaries = {variant: summarise(samples) for variant, samples in by_variant.items()}
        baseline = summaries[BASELINE]
        for variant, summary in summaries.items():
            pss = "%.0f MiB" % summary["peak_pss_mib"] if summary["peak_pss_mib"] is not None else "n/a"
            lines.append("| %d | %s | %.1f s | %.1f-%.1f s | %.2f | %.2f | %.2f s | %.1f s | %.2f s | %g | %.0f MiB | %s |" % (
                count, variant, summary["median_s"], summary["min_s"], summary["max_s"],
                baseline["median_s"] / summary["median_s"], baseline["cpu_s"] / summary["cpu_s"], summary["median_s"] / count,
                summary["cpu_s"], summary["cpu_s"] / count, summary["requests_per_portal"], summary["max_rss_mib"], pss))
    lines.append("")
    lines.append("forks %d; CPU is user plus system time of ansible-playbook and every process it started." % forks)
    return "\n".join(lines)


# Main ---------------------------------------------------------------------


def run_sections(arguments, runner, report):
    """Run the handover, start-up and waiting measurements that `arguments` select, and return their Markdown sections."""
    sections = []
    with Simulator() as simulator:
        if not arguments.skip_handover:
            width = max(3, len(str(max(arguments.portals))))
            for number in range(1, max(arguments.portals) + 1):
                simulator.add_portal("portal%0*d" % (width, number))

            print("\nHandover, %d runs per variant (%d from %d portals on), forks %d:"
                  % (arguments.runs, arguments.runs_large, LARGE_PORTAL_COUNT, arguments.forks), flush=True)
            handover = run_handover(runner, simulator, arguments.portals, arguments.variants, arguments.runs,
                                    arguments.runs_large, arguments.forks)
            report["handover"] = {str(count): by_variant for count, by_variant in handover.items()}
            sections.append(format_handover(handover, arguments.forks))

        if not arguments.skip_startup:
            print("\nStart-up cost of one module run...", flush=True)
            portal = simulator.add_portal("startup")
            report["startup"] = measure_startup(runner, portal, repeats=arguments.startup_repeats)
            sections.append(format_startup(report["startup"]))

        if not arguments.skip_wait:
            print("\nRequests while waiting (the shortened real run takes about half a minute)...", flush=True)
            report["waiting"] = measure_waiting(arguments.collections_path, simulator, runner)
            sections.append(format_waiting(report["waiting"]))
    return sections


def main():
    arguments = parse_arguments()
    work_dir = Path(tempfile.mkdtemp(prefix="docspace-bench-"))
    runner = BenchmarkRunner(arguments.collections_path, work_dir)
    started = time.monotonic()
    report = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "machine": describe_machine(runner),
              "forks": arguments.forks, "runs": arguments.runs, "runs_large": arguments.runs_large}

    machine = report["machine"]
    print("Machine: %s CPUs (%s usable), %s; Python %s; %s; %s; load average %s"
          % (machine["cpus"], machine["cpus_usable"], machine["cpu_model"], machine["python"], machine["ansible"],
             machine["system"], " ".join("%.2f" % value for value in machine["load_average_at_start"])), flush=True)

    try:
        sections = run_sections(arguments, runner, report)
    except PlaybookFailed as exc:
        print("Benchmark stopped: %s" % exc, file=sys.stderr)
        return 1

    report["load_average_at_end"] = os.getloadavg()
    report["duration_s"] = time.monotonic() - started
    print("\n" + "\n\n".join(sections))
    print("\nLoad average at the end: %s. The benchmark took %.0f s."
          % (" ".join("%.2f" % value for value in report["load_average_at_end"]), report["duration_s"]))

    RESULTS_DIR.mkdir(exist_ok=True)
    results_path = RESULTS_DIR / ("bench-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    results_path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print("Raw results: %s" % results_path.relative_to(REPOSITORY))
    if arguments.keep:
        print("Scratch directory with every run's inventory and output: %s" % work_dir)
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
