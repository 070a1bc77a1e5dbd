# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options and connect helper shared by the sage.infra.valkey_* modules.

The options are documented once, in the ``sage.infra.valkey`` documentation fragment.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import valkey

    HAS_VALKEY = True
    VALKEY_IMPORT_ERROR = None
except ImportError:
    valkey = None
    HAS_VALKEY = False
    VALKEY_IMPORT_ERROR = traceback.format_exc()


def valkey_argument_spec():
    """The connection options every valkey module accepts (a new dict on each call)."""
    return {
        "host": {"type": "str", "required": True},
        "port": {"type": "int", "default": 6379},
        "tls": {"type": "bool", "default": False},
        "tls_ca_cert": {"type": "path"},
        "tls_verify": {"type": "bool", "default": True},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True, "aliases": ["auth_token"]},
        "connect_timeout": {"type": "float", "default": 5.0},
        "db": {"type": "int", "default": 0},
    }


def endpoint(params):
    """``host:port`` (``[host]:port`` for an IPv6 address) for messages."""
    host = params["host"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{params['port']}"


def describe_error(error):
    """``ErrorClass: message`` of a valkey (or socket/SSL) exception; it never holds the password."""
    message = str(error).strip() or "no details"
    return f"{type(error).__name__}: {message}"


def valkey_errors():
    """The exceptions a valkey command may raise, for ``except`` clauses."""
    return (valkey.exceptions.ValkeyError, OSError)


def fail_on_error(module, error, action):
    """fail_json with the endpoint, the action that failed and the error class and message."""
    module.fail_json(msg=f"Failed to {action} on Valkey at {endpoint(module.params)}: {describe_error(error)}")


def connect(module, decode_responses=False):
    """Return a ``valkey.Valkey`` client that answered PING, or fail the module with a clear message.

    Uses the options of valkey_argument_spec(). The password is passed to the client only; messages
    name the endpoint and the error class and message, never the password.
    """
    if not HAS_VALKEY:
        module.fail_json(msg=missing_required_lib("valkey"), exception=VALKEY_IMPORT_ERROR)

    params = module.params
    if params["tls_ca_cert"] and not params["tls"]:
        module.fail_json(msg="tls_ca_cert is only used with tls=true; set tls: true or drop tls_ca_cert")
    if params["connect_timeout"] <= 0:
        module.fail_json(msg=f"connect_timeout must be a positive number of seconds; got {params['connect_timeout']}")
    if params["db"] < 0:
        module.fail_json(msg=f"db must be 0 or a positive database number; got {params['db']}")

    kwargs = {
        "host": params["host"],
        "port": params["port"],
        "db": params["db"],
        "username": params["username"],
        "password": params["password"],
        "socket_connect_timeout": params["connect_timeout"],
        "socket_timeout": params["connect_timeout"],
        "decode_responses": decode_responses,
    }
    if params["tls"]:
        kwargs.update(
            ssl=True,
            ssl_cert_reqs="required" if params["tls_verify"] else "none",
            ssl_check_hostname=params["tls_verify"],
            ssl_ca_certs=params["tls_ca_cert"],
        )

    try:
        client = valkey.Valkey(**kwargs)
        client.ping()
    except valkey_errors() as e:
        hint = ""
        closed = any(text in str(e).lower() for text in ("closed by server", "reset by peer"))
        if isinstance(e, valkey.exceptions.ConnectionError) and closed and not params["tls"]:
            hint = " (a server with in-transit encryption closes plain connections: set tls: true)"
        module.fail_json(
            msg=f"Cannot connect to Valkey at {endpoint(params)} (db {params['db']}, "
            f"tls {'on' if params['tls'] else 'off'}): {describe_error(e)}{hint}"
        )
    return client


def cluster_enabled(info):
    """Whether an INFO reply comes from a cluster-mode server (cluster_enabled:1)."""
    return str(info.get("cluster_enabled", 0)) == "1"
