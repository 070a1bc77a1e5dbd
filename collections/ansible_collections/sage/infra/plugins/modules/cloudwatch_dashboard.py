#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard
version_added: 0.1.0
short_description: Manage one CloudWatch dashboard idempotently
description:
  - Create, update or delete one Amazon CloudWatch dashboard.
  - The body C(GetDashboard) returns is compared with O(body) after normalising both, so a run that changes
    nothing reports no change and makes a single C(GetDashboard) call. The order of the keys of a dict and
    the way a number is written (V(80) or V(80.0)) do not matter; the order of a list does (the order of
    the widgets is the layout of the dashboard).
  - C(PutDashboard) replaces the whole dashboard, and is called only when the body differs.
  - The options are checked before any AWS call, and a bad value fails naming the option.
  - Dashboards are global, not regional; the region only selects the endpoint the API calls go to.
author:
  - sage-infra developers (!UNKNOWN)
options:
  name:
    description:
      - Name of the dashboard, unique in the account.
      - 1 to 255 characters, each a letter, a digit, V(-) or V(_).
    type: str
    required: true
  state:
    description:
      - Whether the dashboard should exist.
    type: str
    choices: ['present', 'absent']
    default: present
  body:
    description:
      - The dashboard body as a structure, for example a dict with C(widgets), C(start) and C(periodOverride)
        keys, as described in the AWS documentation of the dashboard body structure and syntax.
      - C(widgets) is required and must be a list of dicts, each with a C(type).
      - A JSON string, for example the result of a C(file) lookup, is parsed into the structure.
      - At most 1 MB once serialised to JSON.
      - Required with O(state=present); ignored with O(state=absent).
    type: dict
notes:
  - In check mode nothing is changed; RV(dashboard) then shows the dashboard as it would be.
  - A body that C(PutDashboard) answers with validation messages fails the module, with the messages in the
    error. AWS may have saved such a body anyway when the messages are only warnings.
  - Tags are not managed.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Dashboard of the web service
  sage.infra.cloudwatch_dashboard:
    name: sage-web
    body:
      start: -PT6H
      periodOverride: inherit
      widgets:
        - type: text
          x: 0
          y: 0
          width: 24
          height: 1
          properties:
            markdown: "Managed by Ansible (sage-infra); changes made in the console are overwritten."
        - type: metric
          x: 0
          y: 1
          width: 12
          height: 6
          properties:
            title: CPU
            region: eu-west-1
            view: timeSeries
            stat: Average
            period: 60
            metrics:
              - [AWS/ECS, CPUUtilization, ClusterName, sage, ServiceName, web]
        - type: alarm
          x: 12
          y: 1
          width: 12
          height: 6
          properties:
            title: Alarms
            alarms:
              - "{{ cpu_alarm.alarm.alarm_arn }}"

- name: Dashboard from a JSON file
  sage.infra.cloudwatch_dashboard:
    name: sage-overview
    body: "{{ lookup('ansible.builtin.file', 'dashboards/overview.json') }}"

- name: Delete a dashboard
  sage.infra.cloudwatch_dashboard:
    name: sage-old
    state: absent
"""

RETURN = r"""
dashboard:
  description:
    - The dashboard after the run; empty with O(state=absent).
  type: dict
  returned: always
  contains:
    name:
      description: Name of the dashboard.
      type: str
      sample: sage-web
    arn:
      description: ARN of the dashboard, V(null) for a dashboard that would be created in check mode.
      type: str
      sample: "arn:aws:cloudwatch::123456789012:dashboard/sage-web"
    body:
      description: The dashboard body as a structure.
      type: dict
      sample: {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
               "properties": {"markdown": "Managed by Ansible"}}]}
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.stack_cloudwatch import normalise, same_body, serialise
from ansible_collections.sage.infra.plugins.module_utils.state import exit_for_state

NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
MAX_BODY_BYTES = 1024 * 1024


class InvalidOption(Exception):
    """A bad option value; the message names the option."""


def check_name(name):
    if not NAME.fullmatch(name):
        raise InvalidOption(
            "name must be 1 to 255 characters, each a letter, a digit, '-' or '_'; "
            f"got {name!r} ({len(name)} characters)"
        )


def check_body(body):
    """Check the body option; return it serialised for PutDashboard."""
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        raise InvalidOption(f"body must have a widgets list; got widgets={widgets!r}")
    for index, widget in enumerate(widgets):
        if not isinstance(widget, dict):
            raise InvalidOption(f"body.widgets[{index}] must be a dict; got {widget!r}")
        if "type" not in widget:
            raise InvalidOption(f"body.widgets[{index}] has no type")
        if not isinstance(widget["type"], str) or not widget["type"]:
            raise InvalidOption(f"body.widgets[{index}].type must be a non-empty string; got {widget['type']!r}")
    try:
        serialised = serialise(body)
    except ValueError as e:
        raise InvalidOption(f"body cannot be serialised to JSON: {e}") from e
    size = len(serialised.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InvalidOption(f"body is {size} bytes once serialised to JSON; AWS allows at most {MAX_BODY_BYTES} (1 MB)")
    return serialised


def validation_messages(messages):
    return "; ".join(f"{m.get('DataPath') or '(body)'}: {m.get('Message')}" for m in messages or [])


# --- AWS calls ---------------------------------------------------------------------------------------------


def get_dashboard(module, client):
    """The GetDashboard answer for ``name`` with its body parsed, None when there is no such dashboard."""
    name = module.params["name"]
    try:
        response = client.get_dashboard(aws_retry=True, DashboardName=name)
    except is_boto3_error_code("ResourceNotFound"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to get CloudWatch dashboard {name}")
    return {
        "name": response.get("DashboardName") or name,
        "arn": response.get("DashboardArn"),
        "body": json.loads(response.get("DashboardBody") or "{}"),
    }


def put_dashboard(module, client, serialised):
    name = module.params["name"]
    try:
        response = client.put_dashboard(aws_retry=True, DashboardName=name, DashboardBody=serialised)
    except is_boto3_error_code("InvalidParameterInput") as e:
        messages = validation_messages(e.response.get("dashboardValidationMessages"))
        module.fail_json_aws(
            e, msg=f"CloudWatch rejected the body of dashboard {name}" + (f": {messages}" if messages else "")
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to put CloudWatch dashboard {name}")
    messages = validation_messages(response.get("DashboardValidationMessages"))
    if messages:
        module.fail_json(
            msg=f"CloudWatch returned validation messages for the body of dashboard {name} "
            f"(it may have been saved anyway): {messages}"
        )


# --- states ------------------------------------------------------------------------------------------------


def ensure_present(module, client, current, serialised):
    body = module.params["body"]
    name = module.params["name"]
    after = normalise(body)
    if current is not None and same_body(current["body"], body):
        return False, current, normalise(current["body"]), after

    if not module.check_mode:
        put_dashboard(module, client, serialised)
    arn = current["arn"] if current else None
    if arn is None and not module.check_mode:
        arn = (get_dashboard(module, client) or {}).get("arn")  # only GetDashboard tells the ARN of a new one
    before = normalise(current["body"]) if current else {}
    return True, {"name": name, "arn": arn, "body": body}, before, after


def ensure_absent(module, client, current, _serialised):
    if current is None:
        return False, {}, {}, {}
    if not module.check_mode:
        name = module.params["name"]
        try:
            client.delete_dashboards(aws_retry=True, DashboardNames=[name])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Failed to delete CloudWatch dashboard {name}")
    return True, {}, normalise(current["body"]), {}


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "body": {"type": "dict"},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[["state", "present", ["body"]]],
    )
    serialised = None
    try:
        check_name(module.params["name"])
        if module.params["state"] == "present":
            serialised = check_body(module.params["body"])
    except InvalidOption as e:
        module.fail_json(msg=str(e))

    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    current = get_dashboard(module, client)
    exit_for_state(module, "dashboard", ensure_present, ensure_absent, client, current, serialised)


if __name__ == "__main__":
    main()
