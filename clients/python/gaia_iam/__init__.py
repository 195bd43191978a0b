"""Gaia IAM's Python client.

Verifies the IAM's RS256 access tokens and answers permission checks
locally, from the signed policy bundle the IAM publishes, exactly as the
stock policy (policies/authz.rego) decides in OPA: no call to the IAM per
request. Framework integrations: :mod:`gaia_iam.django` (Django and DRF)
and :mod:`gaia_iam.fastapi`.

    from gaia_iam import Authorizer

    authz = Authorizer("http://iam.internal:8080")
    if authz.has_permission(token, "inventory.write"): ...
"""

from .authorizer import Authorizer
from .bundle import BundleRefused
from .decide import STOCK_POLICY_DIGEST
from .types import (
    ERROR,
    NOT_READY,
    PERMISSION_MISSING,
    POLICY_UNSUPPORTED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_REVOKED,
    Decision,
    GaiaIAMError,
    InvalidToken,
    NotReady,
    Principal,
)

__version__ = "0.1.0"

__all__ = [
    "Authorizer",
    "Decision",
    "Principal",
    "GaiaIAMError",
    "InvalidToken",
    "NotReady",
    "BundleRefused",
    "STOCK_POLICY_DIGEST",
    "TOKEN_INVALID",
    "TOKEN_EXPIRED",
    "TOKEN_REVOKED",
    "PERMISSION_MISSING",
    "NOT_READY",
    "POLICY_UNSUPPORTED",
    "ERROR",
    "__version__",
]
