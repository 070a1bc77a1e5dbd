"""Offline stand-in for the get-pip.py script that ansible-test downloads to bootstrap pip.

ansible-test creates every sanity test virtual environment with ``python -m venv --without-pip`` and then
runs ``get-pip-<version>.py``, downloaded from Ansible's CI file server (not a package registry, so this
project's machines cannot reach it), to put pip into it. It only downloads the script when
``~/.ansible/test/cache/get_pip_<version>.py`` does not exist yet, so scripts/ansible-test.sh (run by
scripts/sanity.sh) copies this file there, next to the pip wheel of that version taken from PyPI with ``pip download``.

Like the real get-pip.py it runs pip straight from a pip wheel (a supported way to run pip) with
``install --upgrade --force-reinstall`` and the requirement arguments ansible-test passes, e.g.
``pip==24.2 --no-setuptools --no-wheel``. The wheel directory is given to pip as ``--find-links`` so the
pip install itself needs no download.
"""

import glob
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    version = os.path.splitext(os.path.basename(__file__))[0][len("get_pip_") :].replace("_", ".")
    wheels = sorted(glob.glob(os.path.join(here, f"pip-{version}-*.whl")))
    if not wheels:
        sys.exit(f"{__file__}: no pip {version} wheel in {here}; run scripts/sanity.sh to put one there")

    args = sys.argv[1:]
    # get-pip.py options that are not pip options: they mean "do not also install setuptools / wheel",
    # which this stand-in never does anyway.
    args = [arg for arg in args if arg not in ("--no-setuptools", "--no-wheel")]

    sys.path.insert(0, wheels[0])
    # Importable only now that the wheel is on sys.path.
    from pip._internal.cli.main import main as pip_main

    sys.exit(pip_main(["install", "--upgrade", "--force-reinstall", "--find-links", here, *args]))


if __name__ == "__main__":
    main()
