# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda functions, as amazon.aws.lambda manages them (runtime, handler, role, description, timeout, memory,
environment, dead-letter target, tags with purge_tags, and the code of a zip package), and the statements of
their resource policies, as amazon.aws.lambda_policy manages them.

The code is compared by its SHA-256, as amazon.aws.lambda compares it: the deployment package sage.infra.lambda_package
builds is reproducible (``build_zip``, the same sources always give the same bytes), so its hash is known from the
sources alone, without building it (a desired ``package``: {files: [{src, dest}], mode})."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import zipfile

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
UNIX = 3


def build_zip(contents, mode):
    """The zip bytes of `contents` ({name in the zip: bytes}), each entry a regular file with permissions `mode`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(contents):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.create_system = UNIX
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, contents[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def code_sha256(data):
    """The SHA-256 of a package as Lambda reports it (CodeSha256): base64."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def package_sha256(package):
    """The CodeSha256 of the package sage.infra.lambda_package would build from {files: [{src, dest}], mode};
    None when a source cannot be read (the package then differs from any deployed code)."""
    contents = {}
    try:
        for entry in package["files"]:
            with open(entry["src"], "rb") as source:
                contents[entry.get("dest") or os.path.basename(entry["src"])] = source.read()
        return code_sha256(build_zip(contents, int(str(package.get("mode") or "0644"), 8)))
    except (OSError, KeyError, TypeError, ValueError):
        return None


class FunctionKind(Kind):
    """A function: a desired package is compared as its code_sha256; without a desired VPC, a VPC the function is
    in differs (amazon.aws.lambda takes the function out of it)."""

    def changes(self, desired, current):
        desired = {"vpc_id": "", **desired}
        if "package" in desired:
            desired["code_sha256"] = package_sha256(desired.pop("package"))
        return [_differing_variables(change) for change in super().changes(desired, current)]


def _differing_variables(change):
    """A change of the environment shown as the variables that differ only (the others can be long JSON)."""
    current, desired = change["current"], change["desired"]
    if change["attribute"] != "environment" or not isinstance(current, dict) or not isinstance(desired, dict):
        return change
    names = sorted(name for name in set(current) | set(desired) if current.get(name) != desired.get(name))
    return dict(
        change,
        current={n: current[n] for n in names if n in current},
        desired={n: desired[n] for n in names if n in desired},
    )


# The attributes amazon.aws.lambda_policy compares: those the role does not give are compared as None.
STATEMENT_ATTRIBUTES = ("action", "principal", "source_arn", "source_account", "event_source_token")


register(FunctionKind("lambda_function"), Kind("lambda_policy", complete=STATEMENT_ATTRIBUTES))


def read_functions(client, names):
    """{name: view or None}: one GetFunction call each (its configuration, code hash and tags)."""

    def read(name):
        try:
            function = client.get_function(FunctionName=name)
        except client.exceptions.ResourceNotFoundException:
            return None
        config = function["Configuration"]
        return {
            "arn": config["FunctionArn"],
            "description": config.get("Description", ""),
            "runtime": config.get("Runtime"),
            "handler": config.get("Handler"),
            "role": config.get("Role"),
            "timeout": config.get("Timeout"),
            "memory_size": config.get("MemorySize"),
            "environment": (config.get("Environment") or {}).get("Variables") or {},
            "dead_letter_arn": (config.get("DeadLetterConfig") or {}).get("TargetArn") or "",
            "vpc_id": (config.get("VpcConfig") or {}).get("VpcId") or "",
            "code_sha256": config.get("CodeSha256"),
            "tags": tag_dict(function.get("Tags")),
        }

    return fan_out(read, names)


def statement_view(statement):
    """A statement of a function's policy as amazon.aws.lambda_policy reads it back (its extract_statement)."""
    principal = statement.get("Principal")
    principal = principal.get("AWS", principal.get("Service")) if isinstance(principal, dict) else principal
    condition = statement.get("Condition") or {}
    equals = condition.get("StringEquals") or {}
    return {
        "action": statement.get("Action"),
        "principal": principal,
        "source_arn": (condition.get("ArnLike") or {}).get("AWS:SourceArn"),
        "source_account": equals.get("AWS:SourceAccount"),
        "event_source_token": equals.get("lambda:EventSourceToken"),
    }


def read_statements(client, names):
    """{"<function>/<statement id>": view or None}: one GetPolicy call per function."""
    wanted = {name: name.partition("/")[::2] for name in names or []}

    def read(function):
        try:
            policy = json.loads(client.get_policy(FunctionName=function)["Policy"])
        except client.exceptions.ResourceNotFoundException:
            return {}  # no function, or no policy
        statements = policy.get("Statement") or []
        return {s.get("Sid"): statement_view(s) for s in (statements if isinstance(statements, list) else [statements])}

    policies = fan_out(read, [parts[0] for parts in wanted.values()])
    return {name: policies[function].get(sid) for name, (function, sid) in wanted.items()}


READERS = {"lambda_function": ("lambda", read_functions), "lambda_policy": ("lambda", read_statements)}
