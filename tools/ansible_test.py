#!/usr/bin/env python
"""Run ansible-test on a copy of this repository laid out as a collection.

ansible-test only runs inside an ``ansible_collections/NAMESPACE/NAME`` tree,
so this script copies the files git lists (tracked, plus untracked ones
that are not ignored) into such a tree in a temporary directory and runs
ansible-test there with the given arguments. The copy lies outside any git
work tree on purpose, because ansible-test would otherwise list files through
the enclosing repository.

Without internet access ansible-test cannot download the get-pip.py script it
uses to bootstrap pip into its virtual environments. Its error message names
the cache path it reads that script from; when that message appears, this
script writes tools/get_pip_offline.py to that path and runs the command once
more. The test results (tests/output) are copied back into the repository.

Usage: tools/ansible_test.py [--keep] sanity --local --requirements --python 3.11
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAND_IN_SCRIPT = os.path.join(REPOSITORY_ROOT, 'tools', 'get_pip_offline.py')

# Matches the last lines of ansible-test's error when the download fails, for
# example "The bootstrap script can be manually downloaded and saved to:
# /root/.ansible/test/cache/get_pip_24_2.py" (ansible-core 2.16 to 2.19).
BOOTSTRAP_CACHE_PATTERN = re.compile(r'The bootstrap script can be manually downloaded and saved to: (\S+)')


def list_repository_files():
    """Return the paths, relative to the repository root, that git tracks or would track."""
    output = subprocess.check_output(
        ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
        cwd=REPOSITORY_ROOT,
    )
    paths = [path for path in output.decode('utf-8').split('\0') if path]

    # A tracked file deleted in the work tree is still listed by git.
    return [path for path in paths if os.path.lexists(os.path.join(REPOSITORY_ROOT, path))]


def copy_collection(destination_root):
    """Copy the repository into DESTINATION_ROOT/ansible_collections/NAMESPACE/NAME and return that path."""
    with open(os.path.join(REPOSITORY_ROOT, 'galaxy.yml'), encoding='utf-8') as galaxy_file:
        galaxy = yaml.safe_load(galaxy_file)

    collection_root = os.path.join(destination_root, 'ansible_collections', galaxy['namespace'], galaxy['name'])

    for path in list_repository_files():
        source = os.path.join(REPOSITORY_ROOT, path)
        target = os.path.join(collection_root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)

    return collection_root


def find_ansible_test():
    """Return the ansible-test executable of the running interpreter's environment, else the one on PATH."""
    beside_interpreter = os.path.join(os.path.dirname(sys.executable), 'ansible-test')

    if os.path.exists(beside_interpreter):
        return beside_interpreter

    on_path = shutil.which('ansible-test')

    if on_path is None:
        sys.exit('ansible-test not found: install ansible-core (make venv) or put it on PATH.')

    return on_path


def run_streaming(command, cwd):
    """Run COMMAND, echo its output as it comes, and return (exit code, bootstrap cache path or None)."""
    cache_path = None

    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()

            match = BOOTSTRAP_CACHE_PATTERN.search(line)

            if match:
                cache_path = match.group(1)

    return process.returncode, cache_path


def install_stand_in(cache_path):
    """Write the offline get-pip.py stand-in to CACHE_PATH."""
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    shutil.copyfile(STAND_IN_SCRIPT, cache_path)
    print('Wrote the offline pip bootstrap stand-in to %s; running ansible-test again.' % cache_path, flush=True)


def main():
    """Copy the collection, run ansible-test in it and return ansible-test's exit code."""
    arguments = sys.argv[1:]
    keep = '--keep' in arguments[:1]

    if keep:
        arguments = arguments[1:]

    if not arguments:
        sys.exit(__doc__)

    temporary_root = tempfile.mkdtemp(prefix='ansible-test-')

    try:
        collection_root = copy_collection(temporary_root)
        command = [find_ansible_test()] + arguments
        print('Running %s in %s' % (' '.join(command), collection_root), flush=True)

        exit_code, cache_path = run_streaming(command, collection_root)

        if exit_code != 0 and cache_path and not os.path.exists(cache_path):
            install_stand_in(cache_path)
            exit_code, cache_path = run_streaming(command, collection_root)

        output_directory = os.path.join(collection_root, 'tests', 'output')

        if os.path.isdir(output_directory):
            shutil.copytree(output_directory, os.path.join(REPOSITORY_ROOT, 'tests', 'output'), dirs_exist_ok=True)
    finally:
        if keep:
            print('Kept the collection copy in %s' % temporary_root, flush=True)
        else:
            shutil.rmtree(temporary_root, ignore_errors=True)

    return exit_code


if __name__ == '__main__':
    sys.exit(main())
