#!/usr/bin/env python
"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test bootstraps pip into each virtual environment it creates by running
a get-pip.py script fetched from its own file server, which is out of reach
when only the package registries are. tools/ansible_test.py copies this file
to the cache path that ansible-test names in its error message. It installs
the bundled pip with ensurepip, then lets that pip install the packages
ansible-test asked for (from the package index, as usual).
"""

import subprocess
import sys

# get-pip.py options that `pip install` does not accept.
GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel')


def main():
    """Bootstrap pip, then install the requested packages into this interpreter."""
    arguments = sys.argv[1:]
    pip_arguments = [argument for argument in arguments if argument not in GET_PIP_ONLY_OPTIONS]

    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + pip_arguments)

    # ensurepip bundles setuptools up to Python 3.11. get-pip.py leaves it out
    # when asked, so remove it to give ansible-test the environment it expects.
    if '--no-setuptools' in arguments:
        subprocess.check_call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'setuptools'])


if __name__ == '__main__':
    main()
