"""Protecting people's data: what is recorded about requests (the tamper-evident audit log) and how.
Personal data in prompts is found (`PiiDetector`) and replaced by placeholders before a request
leaves, then put back in the answer (`Pseudonymizer`, `StreamReidentifier`).

Other packages import from here only.
"""

from ._audit import AUDIT_KEY_ENV, REQUEST_FIELDS, AuditKind, AuditLog, audit_key, request_record
from ._audit_export import StoredChain, export_lines, verify_export, verify_store
from ._audit_spool import AuditSpool
from ._audit_verify import ChainVerifier, Problem, VerifyResult, verify_chain
from ._guard import PseudonymGuard
from ._pii import BUILTIN_KINDS, Finding, PiiDetector
from ._pseudonym import Pseudonymizer, StreamReidentifier
from ._subjects import NOT_STORED, erase_subject, export_subject, subject_hash

__all__ = [
    "AUDIT_KEY_ENV",
    "AuditKind",
    "AuditLog",
    "AuditSpool",
    "BUILTIN_KINDS",
    "ChainVerifier",
    "Finding",
    "NOT_STORED",
    "PiiDetector",
    "Problem",
    "PseudonymGuard",
    "Pseudonymizer",
    "REQUEST_FIELDS",
    "StoredChain",
    "StreamReidentifier",
    "VerifyResult",
    "audit_key",
    "erase_subject",
    "export_lines",
    "export_subject",
    "request_record",
    "subject_hash",
    "verify_chain",
    "verify_export",
    "verify_store",
]
