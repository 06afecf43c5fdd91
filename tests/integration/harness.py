"""Run playbooks with ansible-playbook and read their task results.

Results come from the docspace_results test callback, which writes every
task result to a JSON file, so tests never parse screen output for data. The
screen output is kept too, for checks such as "no traceback" and "no secret".
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "MODULE FAILURE")

# ansible-core 2.19 puts this placeholder into the "exception" key of every
# failed result, fail_json included, while tracebacks are not displayed.
TRACEBACK_UNAVAILABLE = "(traceback unavailable)"
# ansible-core 2.19 reports an exception that a module did not catch with this
# prefix in the result's msg. A fail_json message has no prefix there.
UNCAUGHT_EXCEPTION_PREFIX = "Task failed: Module failed:"

CALLBACK_DIR = Path(__file__).resolve().parent / "callback_plugins"


class PlaybookRun:
    """What one ansible-playbook run printed and returned."""

    def __init__(self, command, returncode, stdout, stderr, records, files):
        self.command = command
        self.rc = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.records = records
        self.files = files

    @property
    def output(self):
        """stdout, stderr and the recorded results as one text, for secret scans."""
        return "\n".join([self.stdout, self.stderr, json.dumps(self.records, default=str)])

    @property
    def screen_text(self):
        """stdout and stderr with line wrapping undone, for checks on warnings that Ansible wraps."""
        return " ".join((self.stdout + "\n" + self.stderr).split())

    def task(self, name, host=None):
        """Return the result record of the task with this name (on this host)."""
        matches = [record for record in self.records if record["task"] == name and (host is None or record["host"] == host)]
        assert matches, "no result for task %r; tasks run: %s\n%s" % (name, sorted({r["task"] for r in self.records}), self.describe())
        assert len(matches) == 1, "task %r ran %d times; pass host=" % (name, len(matches))
        return matches[0]

    def result(self, name, host=None):
        return self.task(name, host)["result"]

    def host_record(self, host):
        """Return the record of the one task that ran on `host` and was not skipped."""
        ran = [record for record in self.records if record["host"] == host and record["status"] != "skipped"]
        assert len(ran) == 1, "host %s ran %d tasks\n%s" % (host, len(ran), self.describe())
        return ran[0]

    def describe(self):
        return "command: %s\nrc: %s\n--- stdout\n%s\n--- stderr\n%s" % (" ".join(self.command), self.rc, self.stdout[-6000:], self.stderr[-3000:])


class PlaybookRunner:
    """Write a playbook to a scratch directory and run it with the installed collection."""

    def __init__(self, ansible_playbook, collections_path, work_dir, callback_dir):
        self.ansible_playbook = ansible_playbook
        self.collections_path = Path(collections_path)
        self.work_dir = Path(work_dir)
        self.callback_dir = Path(callback_dir)
        self.runs = 0

    def environment(self, extra=None):
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DOCSPACE_", "ANSIBLE_"))}
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections_path),
            "ANSIBLE_CALLBACK_PLUGINS": str(self.callback_dir),
            "ANSIBLE_CALLBACKS_ENABLED": "docspace_results",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            # ansible-core 2.21 returns invocation only when this is set, so the secret scans can check it there too.
            "ANSIBLE_INJECT_INVOCATION": "1",
            "ANSIBLE_LOCAL_TEMP": str(self.work_dir / "ansible-tmp"),
            "ANSIBLE_HOME": str(self.work_dir / "ansible-home"),
            # The modules run with the Python that runs ansible-playbook, which has requests.
            "ANSIBLE_PYTHON_INTERPRETER": str(Path(self.ansible_playbook).with_name("python")),
        })
        env.update(extra or {})
        return env

    def run(self, playbook, extra_vars=None, env=None, check=False, diff=False, verbosity=0, inventory=None,
            limit=None, forks=None, timeout=600, arguments=()):
        """Run a playbook: a path, YAML text, or a list of plays (or of tasks for one localhost play).

        `arguments` go at the end of the command line as a user types them. With
        playbook None they name the playbook too, for example by its FQCN.
        """
        self.runs += 1
        run_dir = self.work_dir / ("run%03d" % self.runs)
        run_dir.mkdir(parents=True)

        results_path = run_dir / "results.json"
        command = [self.ansible_playbook]
        if playbook is not None:
            command.append(str(self._playbook_file(playbook, run_dir)))
        if inventory is not None:
            command += ["-i", str(self._inventory_file(inventory, run_dir))]
        else:
            command += ["-i", "localhost,", "-c", "local"]
        if extra_vars:
            vars_path = run_dir / "extra_vars.json"
            vars_path.write_text(json.dumps(extra_vars))
            command += ["-e", "@%s" % vars_path]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if limit:
            command += ["--limit", limit]
        if forks:
            command += ["--forks", str(forks)]
        if verbosity:
            command.append("-" + "v" * verbosity)
        command += list(arguments)

        environment = self.environment(env)
        environment["DOCSPACE_RESULTS_FILE"] = str(results_path)
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout,
                                   stdin=subprocess.DEVNULL, cwd=str(run_dir), check=False)
        records = json.loads(results_path.read_text()) if results_path.exists() else []
        return PlaybookRun(command, completed.returncode, completed.stdout, completed.stderr, records, run_dir)

    def run_tasks(self, tasks, module_defaults=None, **options):
        """Run tasks in one play on localhost (connection local, no facts)."""
        play = {"name": "Test play", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}
        if module_defaults:
            play["module_defaults"] = module_defaults
        return self.run([play], **options)

    def run_per_host(self, hosts, tasks, forks=None, **options):
        """Run tasks in one play on many local hosts, one case per host, `forks` hosts at a time (default: all).

        `hosts` maps a host name to its variables. They go in as the extra var
        `per_host`, keyed by host name, so they may contain API keys and links:
        the secret scans skip the extra-vars file. See per_host_task.
        """
        inventory = {"all": {"hosts": {name: None for name in hosts}, "vars": {"ansible_connection": "local"}}}
        play = {"name": "One case per host", "hosts": "all", "gather_facts": False, "tasks": tasks}
        extra_vars = dict(options.pop("extra_vars", None) or {}, per_host=hosts)
        return self.run([play], inventory=inventory, extra_vars=extra_vars, forks=forks or len(hosts), **options)

    @staticmethod
    def _playbook_file(playbook, run_dir):
        if isinstance(playbook, Path):
            return playbook
        path = run_dir / "playbook.yml"
        if isinstance(playbook, str):
            path.write_text(playbook)
        else:
            path.write_text(yaml.safe_dump(playbook, sort_keys=False))
        return path

    @staticmethod
    def _inventory_file(inventory, run_dir):
        if isinstance(inventory, Path):
            return inventory
        path = run_dir / "inventory.yml"
        path.write_text(inventory if isinstance(inventory, str) else yaml.safe_dump(inventory, sort_keys=False))
        return path


def runner_for(collections_path, work_dir):
    """Return a PlaybookRunner outside the `ansible` fixture, for module-scoped fixtures.

    It uses the ansible-playbook beside the running Python, else the one on PATH.
    """
    beside = Path(sys.executable).with_name("ansible-playbook")
    command = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    assert command, "ansible-playbook is not installed; run the tests through `make test`, which installs it"
    return PlaybookRunner(ansible_playbook=command, collections_path=collections_path, work_dir=work_dir,
                          callback_dir=CALLBACK_DIR)


def per_host_task(name, module, options):
    """Return a task for run_per_host that runs `module` on the hosts whose per_host entry has it as `module`.

    Each option in `options` comes from the host's entry, or is left out when
    the entry lacks it. Errors are ignored, so that every host reports.
    """
    arguments = {option: "{{ per_host[inventory_hostname][%r] | default(omit) }}" % option for option in options}
    return {
        "name": name,
        module: arguments,
        "when": "per_host[inventory_hostname].module == %r" % module,
        "ignore_errors": True,
    }


def link_secrets(link):
    """Return what no output may show of a confirmation link: its key, encoded and decoded, and a short link's code.

    `link` is a full link, a short link or a bare query string.
    """
    parts = urlsplit(link if "://" in link else "http://link.invalid/?" + link.lstrip("?"))
    secrets = [value for name, value in parse_qsl(parts.query) if name == "key"]
    secrets += [raw.partition("=")[2] for raw in parts.query.split("&") if raw.startswith("key=")]
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) >= 2 and segments[-2] == "s":
        secrets.append(segments[-1])
    return secrets


def assert_no_traceback(run):
    for marker in TRACEBACK_MARKERS:
        assert marker not in run.output, "%r in the output\n%s" % (marker, run.describe())
    for record in run.records:
        result = record["result"]
        assert result.get("exception", TRACEBACK_UNAVAILABLE) == TRACEBACK_UNAVAILABLE, \
            "task %r returned an exception\n%s" % (record["task"], run.describe())
        assert not str(result.get("msg", "")).startswith(UNCAUGHT_EXCEPTION_PREFIX), \
            "task %r failed with an uncaught exception\n%s" % (record["task"], run.describe())


def assert_no_secrets(run, *secrets):
    """Assert that no secret, nor its part after a Bearer prefix, appears in any output of the run."""
    for secret in secrets:
        if not secret:
            continue
        assert secret not in run.output, "a secret appeared in the output of\n%s" % " ".join(run.command)
        for path in run.files.rglob("*"):
            if path.is_file() and path.name != "extra_vars.json":
                assert secret not in path.read_text(errors="replace"), "a secret appeared in %s" % path.name
