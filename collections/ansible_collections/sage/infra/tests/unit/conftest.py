# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.sage.infra`` importable in unit tests.

The collection lives in ``<repo>/collections``; it is appended to ``sys.path`` (after the venv's
site-packages) so that ``ansible_collections.amazon.aws`` still resolves from the venv while
``ansible_collections.sage.infra`` resolves from this tree (``ansible_collections`` is a namespace
package in both places).
"""

import sys
from pathlib import Path

_COLLECTIONS_ROOT = str(Path(__file__).resolve().parents[5])
if _COLLECTIONS_ROOT not in sys.path:
    sys.path.append(_COLLECTIONS_ROOT)
