"""Measure what one module invocation costs: wall time, imports, and the cost of a task in ansible-playbook.

Ansible runs a module as an AnsiballZ payload: a Python script that carries the
module, its module_utils and the task's arguments in a zip. The payloads of one
playbook run are kept (ANSIBLE_KEEP_REMOTE_FILES) and then run directly, many
times, so the timing covers exactly what the controller starts for each task.
Python compiles module code from that zip on every run, because it cannot
cache bytecode there, so importing from an installed tree would understate
the cost.
"""

import json
import re
import statistics
import subprocess
import sys
import time

# Modules whose cumulative import time the report names, per payload.
NAMED_IMPORTS = (
    "ansible.module_utils.basic",
    "requests",
    "ansible.module_utils.urls",
    "ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_api",
    "ansible_collections.onlyoffice.docspace.plugins.module_utils.docspace_owner",
    "email.utils",
    "html",
    "ipaddress",
)
OWN_CODE_PREFIX = "ansible_collections.onlyoffice.docspace."

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)\s*$")

PAYLOAD_TASKS = [
    {
        "name": "Owner, already the owner",
        "onlyoffice.docspace.docspace_portal_owner": {
            "base_url": "{{ lookup('ansible.builtin.env', 'BENCH_BASE_URL') }}",
            "api_key": "{{ lookup('ansible.builtin.env', 'BENCH_API_KEY') }}",
            "owner_email": "{{ lookup('ansible.builtin.env', 'BENCH_OWNER_EMAIL') }}",
        },
    },
    {
        "name": "Owner info",
        "onlyoffice.docspace.docspace_portal_owner_info": {
            "base_url": "{{ lookup('ansible.builtin.env', 'BENCH_BASE_URL') }}",
            "api_key": "{{ lookup('ansible.builtin.env', 'BENCH_API_KEY') }}",
        },
    },
    {
        "name": "uri, read the settings",
        "ansible.builtin.uri": {
            "url": "{{ lookup('ansible.builtin.env', 'BENCH_BASE_URL') }}/api/2.0/settings",
            "headers": {"Authorization": "Bearer {{ lookup('ansible.builtin.env', 'BENCH_API_KEY') }}"},
        },
    },
]
PAYLOAD_MODULES = {"docspace_portal_owner": 2, "docspace_portal_owner_info": 3, "uri": 1}


def play(tasks):
    return [{"name": "Start-up cost", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]


def portal_environment(portal):
    user = portal.users["owner"]
    return {"BENCH_BASE_URL": portal.base_url, "BENCH_API_KEY": user.api_key, "BENCH_OWNER_EMAIL": user.email}


def capture_payloads(runner, portal):
    """Run one task per module with ANSIBLE_KEEP_REMOTE_FILES and return {module name: payload path}."""
    remote_tmp = runner.work_dir / "kept-payloads"
    env = dict(portal_environment(portal), ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(remote_tmp))
    runner.run_playbook("capture-payloads", play(PAYLOAD_TASKS), env=env)

    payloads = {}
    for name in PAYLOAD_MODULES:
        found = sorted(remote_tmp.glob("*/AnsiballZ_%s.py" % name))
        if len(found) != 1:
            raise RuntimeError("expected one kept AnsiballZ_%s.py under %s, found %d" % (name, remote_tmp, len(found)))
        payloads[name] = found[0]
    return payloads


def run_payload(path, python):
    """Run an AnsiballZ payload once and return its wall time in seconds. Raise RuntimeError if the module failed."""
    started = time.perf_counter()
    completed = subprocess.run([python, str(path)], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    result = json.loads(completed.stdout) if completed.stdout.strip().startswith("{") else {}
    if completed.returncode != 0 or result.get("failed"):
        raise RuntimeError("%s failed (rc %d): %s" % (path.name, completed.returncode, result.get("msg") or completed.stderr[-500:]))
    return elapsed


def parse_importtime(stderr):
    """Parse `python -X importtime` output into {module: (self µs, cumulative µs)} and the total µs."""
    times = {}
    total = 0
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        own, cumulative, name = match.groups()
        times.setdefault(name, (int(own), int(cumulative)))
        total += int(own)
    return times, total


def import_breakdown(path, python, repeats):
    """Return the import times in ms of a payload: all imports, the named ones, and this collection's own files.

    Each figure is the minimum over `repeats` runs, the one that other work on
    the machine disturbed least.
    """
    totals, own_code, named = [], [], {name: [] for name in NAMED_IMPORTS}
    for _attempt in range(repeats):
        completed = subprocess.run([python, "-X", "importtime", str(path)], capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL, check=False)
        times, total = parse_importtime(completed.stderr)
        totals.append(total)
        # Self time only, so requests and the other libraries they import count apart.
        own_code.append(sum(own_and_cumulative[0] for name, own_and_cumulative in times.items() if name.startswith(OWN_CODE_PREFIX)))
        for name in NAMED_IMPORTS:
            if name in times:
                named[name].append(times[name][1])

    result = {"all imports": min(totals) / 1000, "own code, self": min(own_code) / 1000}
    for name, values in named.items():
        if values:
            result[name] = min(values) / 1000
    return result


def interpreter_floor(python, repeats):
    """Return the median wall time in seconds of `python -c pass`."""
    times = []
    for _attempt in range(repeats):
        started = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def task_cost(runner, portal, tasks_per_play, repeats=2):
    """Return the wall and CPU seconds that one docspace_portal_owner task adds to an ansible-playbook run on one host.

    Two playbooks run the same no-op task once and `tasks_per_play` times, each
    `repeats` times. The difference of their fastest runs, divided by the extra
    tasks, is the cost of one task: the controller's work plus the module's own
    run. CPU time varies less than wall time on a busy machine.
    """
    env = portal_environment(portal)
    task = PAYLOAD_TASKS[0]
    single, many = [], []
    for attempt in range(repeats):
        single.append(runner.run_playbook("one-task-%d" % attempt, play([task]), env=env))
        many.append(runner.run_playbook("%d-tasks-%d" % (tasks_per_play, attempt), play([task] * tasks_per_play), env=env))

    extra_tasks = tasks_per_play - 1
    wall = (min(run.wall_seconds for run in many) - min(run.wall_seconds for run in single)) / extra_tasks
    cpu = (min(run.cpu_seconds for run in many) - min(run.cpu_seconds for run in single)) / extra_tasks
    return wall, cpu


def measure_startup(runner, portal, python=sys.executable, repeats=10, tasks_per_play=21):
    """Measure the start-up cost of the modules against `portal` and return a dict for the report."""
    payloads = capture_payloads(runner, portal)
    import_repeats = max(5, repeats // 2)
    report = {"python -c pass, s": interpreter_floor(python, repeats), "repeats": repeats, "import_repeats": import_repeats,
              "modules": {}}
    for name, path in payloads.items():
        times = [run_payload(path, python) for _attempt in range(repeats)]
        report["modules"][name] = {
            "requests": PAYLOAD_MODULES[name],
            "median_s": statistics.median(times),
            "min_s": min(times),
            "imports_ms": import_breakdown(path, python, import_repeats),
        }
    report["task_in_playbook_s"], report["task_in_playbook_cpu_s"] = task_cost(runner, portal, tasks_per_play)
    report["tasks_per_play"] = tasks_per_play
    return report


def format_startup(report):
    """Return the start-up measurements as Markdown tables."""
    lines = [
        "Module run as its AnsiballZ payload, %d times each; import times are the minimum of %d runs with"
        " `python -X importtime`:" % (report["repeats"], report["import_repeats"]),
        "",
        "| module | HTTP requests | wall, median | wall, min | all imports | ansible.module_utils.basic | HTTP library | this collection's code |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, module in report["modules"].items():
        imports = module["imports_ms"]
        library = imports.get("requests", imports.get("ansible.module_utils.urls"))
        library_name = "requests" if "requests" in imports else "ansible.module_utils.urls"
        own_code = "%.0f ms" % imports["own code, self"] if name.startswith("docspace_") else "-"
        lines.append("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms (%s) | %s |" % (
            name, module["requests"], module["median_s"] * 1000, module["min_s"] * 1000, imports["all imports"],
            imports.get("ansible.module_utils.basic", 0), library or 0, library_name, own_code))
    lines += [
        "",
        "`python -c pass`: %.0f ms (median). One docspace_portal_owner task in ansible-playbook (one host, the same"
        " no-op %d times, fastest of 2 runs): %.0f ms wall and %.0f ms CPU per task."
        % (report["python -c pass, s"] * 1000, report["tasks_per_play"], report["task_in_playbook_s"] * 1000,
           report["task_in_playbook_cpu_s"] * 1000),
    ]
    owner = report["modules"]["docspace_portal_owner"]["imports_ms"]
    small = ["%s %.1f ms" % (name, owner[name]) for name in ("email.utils", "html", "ipaddress") if name in owner]
    if small:
        lines.append("Standard-library imports of docspace_api that only some paths need: %s." % ", ".join(small))
    return "\n".join(lines)
