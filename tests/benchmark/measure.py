"""Run a command and measure its wall time, CPU time and memory, with the standard library only.

Memory comes in two figures. ``max_rss_kib`` is what the kernel reports through
wait4() for the command's process tree: the peak resident set of its largest
single process, because Linux keeps a maximum for the tree, not a sum.
``peak_pss_kib`` is the largest sum, over the tree's processes, of their
proportional set size (PSS, shared pages divided among the processes that
share them), sampled from /proc every SAMPLE_INTERVAL seconds. Sampling can
miss a peak shorter than the interval, so it is a lower bound. It is None
where /proc/PID/smaps_rollup does not exist (not Linux, or kernels before 4.14).
"""

import os
import subprocess
import threading
import time
from dataclasses import dataclass

SAMPLE_INTERVAL = 0.1


@dataclass
class Measurement:
    """What one run of a command cost."""

    returncode: int
    wall_seconds: float
    cpu_seconds: float
    max_rss_kib: int
    peak_pss_kib: int | None
    output_path: str


def _children_by_parent():
    """Map each process id to the ids of its children, read from /proc/PID/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name in brackets may contain spaces, so split after its closing bracket.
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(root):
    """Return the ids of `root` and all its descendants that are still running."""
    children = _children_by_parent()
    tree = [root]
    index = 0
    while index < len(tree):
        tree.extend(children.get(tree[index], ()))
        index += 1
    return tree


def proportional_set_size(pid):
    """Return a process's PSS in KiB, or None when it has exited or the kernel does not report it."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class TreeMemorySampler(threading.Thread):
    """Sample the summed PSS of a process tree until stop() and keep the peak."""

    def __init__(self, root):
        super().__init__(name="memory-sampler", daemon=True)
        self.root = root
        self.peak_kib = None
        self._stopped = threading.Event()

    def run(self):
        while not self._stopped.is_set():
            sizes = [proportional_set_size(pid) for pid in process_tree(self.root)]
            known = [size for size in sizes if size is not None]
            if known:
                self.peak_kib = max(self.peak_kib or 0, sum(known))
            self._stopped.wait(SAMPLE_INTERVAL)

    def stop(self):
        self._stopped.set()
        self.join()


def run_measured(command, env, cwd, output_path, timeout):
    """Run `command` with its output in `output_path` and return a Measurement.

    The process is reaped with os.wait4(), so the resource usage covers exactly
    this command and the processes it waited for, not earlier runs.
    """
    with open(output_path, "wb") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
        sampler = TreeMemorySampler(process.pid)
        sampler.start()
        timed_out = threading.Event()
        killer = threading.Timer(timeout, lambda: (timed_out.set(), process.kill()))
        killer.start()
        try:
            reaped_pid, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
            sampler.stop()
        wall = time.monotonic() - started

    if timed_out.is_set():
        raise TimeoutError("%s did not finish within %d s; its output is in %s" % (command[0], timeout, output_path))

    # Popen must not reap the process again.
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        returncode=process.returncode,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
        peak_pss_kib=sampler.peak_kib,
        output_path=output_path,
    )
