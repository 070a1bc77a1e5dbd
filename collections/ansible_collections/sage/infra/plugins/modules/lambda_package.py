#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: lambda_package
version_added: 0.1.0
short_description: Build a byte-for-byte reproducible zip deployment package for an AWS Lambda function
description:
  - Writes a zip of the local O(files) to O(dest), made so that the same file names and contents always give the
    same zip bytes, hence the same C(CodeSha256); M(amazon.aws.lambda) then leaves the function alone on a re-run.
  - Nothing about the source files but their contents goes into the zip - not their paths, modification times,
    owners nor permissions, and not the host it is built on. Entries are written in the sorted order of their
    names, dated 1980-01-01 00:00:00 (the earliest date a zip can hold), as regular files with the mode O(mode),
    compressed with deflate at level 9, marked as made on Unix, with no extra fields and no comment.
  - The zip is built in memory and compared with the file already at O(dest), which is replaced (atomically, by
    a rename) only when the bytes differ.
  - 'Everything is checked before anything is written; the module fails with a message naming the option at
    fault, for example C(files[1].src: /src/handler.py does not exist).'
  - 'Not an AWS module; it reads and writes files on the host it runs on (use it in a play on C(localhost), or
    with C(delegate_to: localhost)).'
author:
  - sage-infra developers (!UNKNOWN)
options:
  dest:
    description:
      - Path of the zip to write. Its parent directory is created when missing.
    type: path
    required: true
  files:
    description:
      - The files to put in the zip, at least one.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description:
          - Path of a local regular file (a symbolic link to one is followed).
        type: path
        required: true
      dest:
        description:
          - Name of the file inside the zip, a relative path with C(/) between directories, for example
            V(handler.py) or V(sage/alerts.py); without C(..), C(.) or empty components and not starting with C(/).
          - Two entries may not have the same name.
          - Defaults to the base name of O(files[].src).
        type: str
  mode:
    description:
      - File mode stored for every entry, in octal with a leading V(0), for example V('0644') or V('0755').
      - Quote it; unquoted, YAML reads V(0644) as the number 420, which the module refuses.
      - Lambda runs the code as a user that owns none of the files, so they must be readable by others
        (V('0644')); a custom runtime's C(bootstrap) must also be executable (V('0755')).
    type: str
    default: '0644'
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the zip is built in memory and compared with O(dest); nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - The compressed bytes come from the zlib library Python is linked with. The same inputs give the same zip with
    the same zlib; another deflate implementation (for example zlib-ng) may compress differently.
  - No directory entries are written; Lambda and Python's zip import do not need them.
  - When O(dest) is replaced, the new file keeps the old one's permissions and owner; a new O(dest) gets the
    default permissions of the umask.
seealso:
  - module: amazon.aws.lambda
  - name: Lambda deployment packages
    description: What a .zip deployment package of a Lambda function holds, and the permissions its files need.
    link: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-package.html
"""

EXAMPLES = r"""
- name: Package the alert forwarder
  sage.infra.lambda_package:
    dest: "{{ playbook_dir }}/../build/alert-forwarder.zip"
    files:
      - src: "{{ playbook_dir }}/../files/lambda/alert_forwarder.py"
        dest: lambda_function.py
      - src: "{{ playbook_dir }}/../files/lambda/discord.py"
  delegate_to: localhost
  register: package

- name: Deploy it (unchanged when the package is)
  amazon.aws.lambda:
    name: sage-alert-forwarder
    runtime: python3.14
    handler: lambda_function.lambda_handler
    role: "{{ alert_forwarder_role_arn }}"
    zip_file: "{{ package.dest }}"

- name: A custom runtime, whose bootstrap must be executable
  sage.infra.lambda_package:
    dest: "{{ playbook_dir }}/../build/custom.zip"
    mode: '0755'
    files:
      - src: "{{ playbook_dir }}/../files/lambda/bootstrap"
      - src: "{{ playbook_dir }}/../files/lambda/function.sh"
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: Path of the zip.
  type: str
  returned: always
  sample: /home/deploy/sage-infra/build/alert-forwarder.zip
sha256:
  description:
    - Base64 of the SHA-256 digest of the zip bytes; what AWS Lambda reports as the function's C(CodeSha256).
    - In check mode, the digest of the zip that would be written.
  type: str
  returned: always
  sample: 4tq0wVyqLO7LOlcRPfhNQRuRMwcGcrVB4tC1dvBSMt8=
sha256_hex:
  description: The same SHA-256 digest in hexadecimal.
  type: str
  returned: always
  sample: e2dab4c15caa2ceecb3a57113df84d411b9133070672b541e2d0b576f05232df
size:
  description: Size of the zip in bytes.
  type: int
  returned: always
  sample: 2318
files:
  description: Names of the files in the zip, sorted.
  type: list
  elements: str
  returned: always
  sample: ["discord.py", "lambda_function.py"]
"""

import hashlib
import os
import re
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sage.infra.plugins.module_utils.stack_lambda import build_zip, code_sha256

MODE_PATTERN = re.compile(r"0[0-7]{3}")


def name_error(name):
    """Why `name` cannot be the name of a file in the zip, or None."""
    if not name:
        return "is empty"
    if name.startswith("/"):
        return "must be a relative path, not start with '/'"
    if "\\" in name:
        return "must separate directories with '/', not '\\'"
    parts = name.split("/")
    if ".." in parts:
        return "must not have '..' components"
    if "." in parts or "" in parts:
        return "must not have '.' or empty components (a trailing or doubled '/')"
    return None


def check(params):
    """The validation errors of the options: a list of messages naming the option."""
    errors = []
    if not MODE_PATTERN.fullmatch(params["mode"]):
        errors.append(
            f"mode: {params['mode']!r} is not an octal mode with a leading 0, like '0644' or '0755'"
            " (quote it: YAML reads an unquoted 0644 as the number 420)"
        )
    if os.path.isdir(params["dest"]):
        errors.append(f"dest: {params['dest']} is a directory")
    if not params["files"]:
        errors.append("files: at least one file is required")
    first_index = {}
    for index, entry in enumerate(params["files"]):
        src = entry["src"]
        try:
            src_stat = os.stat(src)
        except FileNotFoundError:
            errors.append(f"files[{index}].src: {src} does not exist")
        except OSError as e:
            errors.append(f"files[{index}].src: cannot read {src}: {e.strerror}")
        else:
            if not stat.S_ISREG(src_stat.st_mode):
                errors.append(f"files[{index}].src: {src} is not a regular file")
        name = entry_name(entry)
        problem = name_error(name)
        if problem:
            errors.append(f"files[{index}].dest: {name!r} {problem}")
        elif name in first_index:
            errors.append(f"files[{index}].dest: {name!r} is already the name of files[{first_index[name]}]")
        else:
            first_index[name] = index
    return errors


def entry_name(entry):
    return entry["dest"] if entry["dest"] is not None else os.path.basename(entry["src"])


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_atomically(module, path, data):
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    argument_spec = {
        "dest": {"type": "path", "required": True},
        "files": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "src": {"type": "path", "required": True},
                "dest": {"type": "str"},
            },
        },
        "mode": {"type": "str", "default": "0644"},
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    dest = params["dest"]

    errors = check(params)
    if errors:
        module.fail_json(msg=f"nothing was written: {'; '.join(errors)}", errors=errors, dest=dest)

    contents = {}
    for index, entry in enumerate(params["files"]):
        try:
            with open(entry["src"], "rb") as f:
                contents[entry_name(entry)] = f.read()
        except OSError as e:
            module.fail_json(msg=f"files[{index}].src: cannot read {entry['src']}: {e.strerror}", dest=dest)

    data = build_zip(contents, int(params["mode"], 8))
    digest = hashlib.sha256(data).digest()
    try:
        changed = read_bytes(dest) != data
    except OSError as e:
        module.fail_json(msg=f"dest: cannot read {dest}: {e.strerror}", dest=dest)

    if changed and not module.check_mode:
        try:
            write_atomically(module, dest, data)
        except OSError as e:
            module.fail_json(msg=f"dest: cannot write {dest}: {e}", dest=dest)

    module.exit_json(
        changed=changed,
        dest=dest,
        sha256=code_sha256(data),
        sha256_hex=digest.hex(),
        size=len(data),
        files=sorted(contents),
    )


if __name__ == "__main__":
    main()
