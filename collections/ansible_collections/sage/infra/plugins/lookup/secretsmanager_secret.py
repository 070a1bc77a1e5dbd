# Copyright: sage-infra developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: secretsmanager_secret
author: sage-infra developers (@sage-ai)
short_description: The value of a secret in AWS Secrets Manager, with the play's botocore settings
description:
  - Returns the current value (C(SecretString)) of each secret named, by name or ARN.
  - Unlike P(amazon.aws.secretsmanager_secret#lookup), takes O(aws_config), so the retry mode and attempts the
    modules get from C(sage_aws_connection) apply to these reads too (throttling is retried the same way).
options:
  _terms:
    description: Names or ARNs of the secrets.
    required: true
  aws_config:
    description: A dictionary of botocore configuration (for example C(retries)), as the modules' O(aws_config).
    type: dict
extends_documentation_fragment:
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
"""

EXAMPLES = r"""
- name: Read the database URL
  ansible.builtin.set_fact:
    database_url: "{{ lookup('sage.infra.secretsmanager_secret', 'sage/database-url', **sage_aws_connection) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The secrets' values, in the order named.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

try:
    import botocore.config
    import botocore.exceptions
except ImportError:
    pass  # AWSLookupBase reports a missing SDK


class LookupModule(AWSLookupBase):
    def run(self, terms, variables, **kwargs):
        super().run(terms, variables, **kwargs)
        config = self.get_option("aws_config")
        client = self.client("secretsmanager", **({"aws_config": botocore.config.Config(**config)} if config else {}))
        values = []
        for term in terms:
            try:
                values.append(client.get_secret_value(SecretId=term)["SecretString"])
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                raise AnsibleLookupError(f"Failed to read the secret {term}: {to_native(e)}") from e
        return values
