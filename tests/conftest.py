"""Make the collection and the simulator importable for a plain pytest run.

ansible-test places the collection at ansible_collections/onlyoffice/docspace
itself. A plain checkout has another name, so this links it into such a tree
under .cache/ and puts that tree and tests/ on sys.path.
"""

import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
TESTS = REPOSITORY / "tests"


def _collections_root():
    if REPOSITORY.parent.name == "onlyoffice" and REPOSITORY.parent.parent.name == "ansible_collections":
        return REPOSITORY.parents[2]

    root = REPOSITORY / ".cache" / "pytest-collections"
    link = root / "ansible_collections" / "onlyoffice" / "docspace"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(REPOSITORY, target_is_directory=True)
    return root


for path in (str(_collections_root()), str(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)
