# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the connection options shared by the sage.infra.valkey_* modules."""

from __future__ import annotations


class ModuleDocFragment:
    # Connection options of plugins/module_utils/valkey_client.py (valkey_argument_spec).
    DOCUMENTATION = r"""
options:
  host:
    description:
      - Host name or IP address of the Valkey (or Redis OSS) server, for example the primary endpoint
        of an Amazon ElastiCache replication group.
    type: str
    required: true
  port:
    description:
      - TCP port of the server.
    type: int
    default: 6379
  tls:
    description:
      - Connect with TLS (in-transit encryption).
      - Required for ElastiCache clusters created with transit encryption, and for every ElastiCache Serverless cache.
    type: bool
    default: false
  tls_ca_cert:
    description:
      - Path to a PEM file of the certificate authorities that sign the server certificate, used instead of
        the system certificate store.
      - Not needed for ElastiCache, whose server certificates are signed by a public authority that the system
        certificate store trusts.
      - Only valid with O(tls=true).
    type: path
  tls_verify:
    description:
      - Verify the server certificate and that it names O(host).
      - Only set V(false) for testing; the connection is then encrypted but open to impersonation.
    type: bool
    default: true
  username:
    description:
      - User name for servers with access control lists (ACL users, ElastiCache RBAC user groups).
      - When not set, O(password) authenticates the C(default) user (C(requirepass), ElastiCache AUTH token).
    type: str
  password:
    description:
      - Password of O(username), or the server password (C(requirepass)) / ElastiCache AUTH token.
      - Never logged nor returned.
    type: str
    aliases: [auth_token]
  connect_timeout:
    description:
      - Seconds to wait for the connection to be established, and for the reply to each command.
    type: float
    default: 5.0
  db:
    description:
      - Number of the logical database to select.
      - Cluster-mode servers (and ElastiCache Serverless) only have database V(0).
    type: int
    default: 0
requirements:
  - valkey (Python library, valkey-py 6.x), on the host that runs the module
notes:
  - The connection options are the same for every C(sage.infra.valkey_*) module; set them once per play with
    C(module_defaults) (one entry per module, sharing a YAML anchor) rather than on every task.
"""
