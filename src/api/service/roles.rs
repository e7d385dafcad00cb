//! Which roles each call admits. The ledger checks more (a scoped token's programs, the
//! finance bureau's one command, separation of duties); these are the first gate.

use crate::domain::model::Role;

pub(super) const BUREAU: &[Role] = &[Role::Bureau];
/// Those who read every record: the bureau, auditors and the finance bureau.
pub(super) const READ_ALL: &[Role] = &[Role::Bureau, Role::Auditor, Role::Finance];
pub(super) const BUREAU_PROVIDER: &[Role] = &[Role::Bureau, Role::Provider];
/// Who records that a statement was paid: the finance bureau, and the bureau unless the
/// policy separates the duties (checked by the ledger).
pub(super) const PAYERS: &[Role] = &[Role::Bureau, Role::Finance];
/// The reads a provider shares, each scoped to its own records by the reader.
pub(super) const ANY_ROLE: &[Role] = &[Role::Bureau, Role::Auditor, Role::Finance, Role::Provider];
/// The reads an enterprise shares, each scoped to its own records by the reader.
pub(super) const OWN_RECORDS: &[Role] =
    &[Role::Bureau, Role::Auditor, Role::Finance, Role::Enterprise];
pub(super) const CLAIM_READERS: &[Role] = &[
    Role::Bureau,
    Role::Auditor,
    Role::Finance,
    Role::Provider,
    Role::Enterprise,
];
pub(super) const ENTERPRISE: &[Role] = &[Role::Enterprise];
