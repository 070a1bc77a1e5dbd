#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecr_authorization_info
version_added: 0.1.0
short_description: Get the registry, user name and password to log Docker in to Amazon ECR
description:
  - Get what C(aws ecr get-login-password) gives, together with the registry to log in to, for example to run
    C(docker login --username AWS --password-stdin <registry>) before pushing an image.
  - Makes one C(GetAuthorizationToken) call. Changes nothing, and runs in check mode too.
  - The password is a temporary credential of the AWS credentials the module runs with, valid for 12 hours.
    Like any returned value it is shown by C(-v) output and callbacks unless the task sets the C(no_log)
    keyword to V(true); see the notes.
author:
  - sage-infra developers (!UNKNOWN)
options:
  registry_id:
    description:
      - AWS account ID of the registry, for example V(123456789012). The account of the credentials when not set.
      - It chooses the registry RV(registry) names; AWS notes that the password is valid for every ECR registry
        the credentials have access to.
    type: str
notes:
  - B(Set the C(no_log) keyword to V(true) on the task that runs this module, and on the tasks that use the
    password.) A module cannot mark a value it returns as secret, so Ansible does not mask RV(password) by
    itself in C(-v) output, callbacks or logs. The variable registered with C(register) stays usable under
    C(no_log); do not print it.
  - Once the token is received, the module masks the token and the password in any failure message it gives,
    but not in its successful result, which must hold the password. It gives no warning that holds them;
    ansible-core would not mask them there.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Get a password for ECR
  sage.infra.ecr_authorization_info:
    region: us-west-2
  register: ecr_auth
  no_log: true

- name: Log Docker in to ECR
  ansible.builtin.command:
    argv: [docker, login, --username, "{{ ecr_auth.username }}", --password-stdin, "{{ ecr_auth.registry }}"]
    stdin: "{{ ecr_auth.password }}"
  no_log: true
  changed_when: false

- name: Push the image
  ansible.builtin.command:
    argv: [docker, push, "{{ ecr_auth.registry }}/sage-backend:{{ git_sha }}"]
  changed_when: true

- name: Get a password for the registry of another account
  sage.infra.ecr_authorization_info:
    registry_id: "210987654321"
  register: shared_ecr_auth
  no_log: true
"""

RETURN = r"""
registry:
  description:
    - Host name of the registry, without a scheme, to give to C(docker login) and to prefix image names with.
  type: str
  returned: always
  sample: "123456789012.dkr.ecr.us-west-2.amazonaws.com"
username:
  description: User name to log in with, always V(AWS).
  type: str
  returned: always
  sample: "AWS"
password:
  description:
    - Password to log in with, what C(aws ecr get-login-password) prints. Valid for 12 hours.
    - B(Secret.) Not masked by Ansible in the result; set the C(no_log) keyword to V(true) on the task.
  type: str
  returned: always
  sample: "eyJwYXlsb2FkIjoi..."
expires_at:
  description: When the password expires, in ISO 8601 format.
  type: str
  returned: always
  sample: "2025-01-31T23:59:59.999000+00:00"
"""

import base64
from urllib.parse import urlsplit

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.ecs import call

FAILURE = "Failed to get an ECR authorization token"


def hide(module, *values):
    """Mask ``values`` in the module's result, failure messages included (ansible-core does not mask warnings)."""
    module.no_log_values.update(value for value in values if value)


def credentials(module, token):
    """(user name, password) from the base64 ``user:password`` token, each part hidden from the output.

    The token, its decoded text and the password are masked as soon as they are known; the caller must let
    the password through (see ``exit_with``) to return it.
    """
    if not token:
        module.fail_json(msg=f"{FAILURE}: the response has no token")
    hide(module, token)
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        module.fail_json(msg=f"{FAILURE}: the token is not base64-encoded text")
    hide(module, text)
    username, sep, password = text.partition(":")
    hide(module, password)
    if not (sep and username and password):
        module.fail_json(msg=f"{FAILURE}: the token is not of the form user:password")
    return username, password


def registry_host(module, endpoint):
    """``https://123456789012.dkr.ecr.us-west-2.amazonaws.com`` -> ``123456789012.dkr.ecr.us-west-2.amazonaws.com``."""
    host = (urlsplit(endpoint).netloc if "://" in (endpoint or "") else (endpoint or "")).rstrip("/")
    if not host:
        module.fail_json(msg=f"{FAILURE}: the response has no registry endpoint")
    return host


def exit_with(module, result):
    """exit_json with the password of ``result`` unmasked.

    ``exit_json`` masks its whole result with ``no_log_values``: left there, the password would be returned as
    ``********``. The token and its decoded ``user:password`` text stay masked; the result holds neither.
    """
    module.no_log_values.discard(result["password"])
    module.exit_json(**result)


def main():
    argument_spec = {
        "registry_id": {"type": "str"},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    registry_id = module.params["registry_id"]
    registry = {"registryIds": [registry_id]} if registry_id else {}
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())

    response = call(module, client, "get_authorization_token", "get an ECR authorization token", **registry)
    data = (response.get("authorizationData") or [None])[0]
    if not data:
        module.fail_json(msg=f"{FAILURE}: the response has no authorization data")

    username, password = credentials(module, data.get("authorizationToken"))
    expires_at = data.get("expiresAt")
    exit_with(
        module,
        {
            "changed": False,
            "registry": registry_host(module, data.get("proxyEndpoint")),
            "username": username,
            "password": password,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )


if __name__ == "__main__":
    main()
