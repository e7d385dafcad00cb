//! Every reason the ledger can give for a refusal: one closed list.
//!
//! Each reason travels as the `reason` of a `google.rpc.ErrorInfo` (domain
//! `voucher.qidong.gov.cn`), an UPPER_SNAKE word clients match on, so renaming one breaks them:
//! the list is here once, the wire word beside each variant, and the proto's comment lists the
//! same words (`reason_list_tests` in `api::status` fails when the two differ).

use std::fmt;

/// Declares [`ReasonCode`] from one table: variant, wire word, what it means.
macro_rules! reason_codes {
    ($($variant:ident => $wire:literal, $meaning:literal;)*) => {
        /// Why a request was refused, as clients see it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ReasonCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ReasonCode {
            /// Every reason, in the order of the table.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant,)*];

            /// The wire word, e.g. `CAP_EXCEEDED`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $wire,)*
                }
            }

            /// What the reason means, in a sentence.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $meaning,)*
                }
            }
        }
    };
}

reason_codes! {
    // Input (INVALID_ARGUMENT), each naming the field.
    Required => "REQUIRED", "A required field is empty.";
    TooLong => "TOO_LONG", "Text is longer than its field allows.";
    TooMany => "TOO_MANY", "A list has more items than allowed.";
    ControlCharacter => "CONTROL_CHARACTER", "Text holds a control character.";
    InvisibleCharacter => "INVISIBLE_CHARACTER", "Text holds an invisible or formatting character.";
    MalformedCreditCode => "MALFORMED_CREDIT_CODE", "Not an 18-character unified social credit code.";
    CreditCodeCheckDigit => "CREDIT_CODE_CHECK_DIGIT", "A credit code whose check digit is wrong.";
    MalformedInvoiceNumber => "MALFORMED_INVOICE_NUMBER", "Not an invoice number.";
    MalformedDate => "MALFORMED_DATE", "Not a date YYYY-MM-DD.";
    ImpossibleDate => "IMPOSSIBLE_DATE", "A date that does not exist.";
    MalformedId => "MALFORMED_ID", "Not an id of the kind the field holds.";
    MalformedRequestId => "MALFORMED_REQUEST_ID", "Not a request id.";
    MalformedSha256 => "MALFORMED_SHA256", "Not a SHA-256 in hex.";
    MalformedPageToken => "MALFORMED_PAGE_TOKEN", "Not a page token this server gave.";
    PageSizeOutOfRange => "PAGE_SIZE_OUT_OF_RANGE", "A page size below 0 or above the maximum.";
    MalformedAmount => "MALFORMED_AMOUNT", "Not an amount.";
    NegativeAmount => "NEGATIVE_AMOUNT", "An amount below zero.";
    ZeroAmount => "ZERO_AMOUNT", "An amount of zero where one is needed.";
    FractionOfFen => "FRACTION_OF_FEN", "An amount finer than one fen.";
    AmountTooLarge => "AMOUNT_TOO_LARGE", "An amount above what the ledger holds.";
    MixedSigns => "MIXED_SIGNS", "Units and nanos of an amount with different signs.";
    NanosOutOfRange => "NANOS_OUT_OF_RANGE", "Nanos of an amount outside -999,999,999..999,999,999.";
    UnsupportedCurrency => "UNSUPPORTED_CURRENCY", "An amount not in CNY.";
    RateOutOfRange => "RATE_OUT_OF_RANGE", "A rate outside 0..1.";
    UnknownProgram => "UNKNOWN_PROGRAM", "Not a program of the policy.";
    ProgramNotOffered => "PROGRAM_NOT_OFFERED", "A program the policy in force does not offer.";
    UnknownRole => "UNKNOWN_ROLE", "Not a role.";
    UnknownEvidenceKind => "UNKNOWN_EVIDENCE_KIND", "Not a kind of evidence.";
    UnknownFormat => "UNKNOWN_FORMAT", "Not a file format offered.";
    YearOutsideTerm => "YEAR_OUTSIDE_TERM", "A year outside the policy term.";
    NotAllowed => "NOT_ALLOWED", "A field that must be empty for this request.";
    ValidityReversed => "VALIDITY_REVERSED", "A validity that ends before it starts.";
    ValidityCrossesCapPeriod => "VALIDITY_CROSSES_CAP_PERIOD", "A validity that spans two cap periods.";
    SubsidyRoundsToZero => "SUBSIDY_ROUNDS_TO_ZERO", "An invoice whose subsidy is less than one fen.";
    // Lookups (NOT_FOUND) and existing records (ALREADY_EXISTS).
    NotFound => "NOT_FOUND", "No such record, or none the caller may see.";
    EnterpriseExists => "ENTERPRISE_EXISTS", "The enterprise is registered with other details.";
    ProviderExists => "PROVIDER_EXISTS", "The provider is registered with other details.";
    RequestIdReused => "REQUEST_ID_REUSED", "A request id already used for another request.";
    InvoiceAlreadyRedeemed => "INVOICE_ALREADY_REDEEMED", "The invoice was already claimed with other details.";
    SettlementAlreadyPaid => "SETTLEMENT_ALREADY_PAID", "The statement was paid with another reference or day.";
    // The rules (FAILED_PRECONDITION).
    CapExceeded => "CAP_EXCEEDED", "The enterprise's cap for the period would be passed.";
    VoucherBalanceExceeded => "VOUCHER_BALANCE_EXCEEDED", "The voucher's remaining value would be passed.";
    VoucherNotActive => "VOUCHER_NOT_ACTIVE", "The voucher is revoked or expired.";
    InvoiceDateOutsideValidity => "INVOICE_DATE_OUTSIDE_VALIDITY", "The invoice date is outside the voucher's validity.";
    InvoiceDateInFuture => "INVOICE_DATE_IN_FUTURE", "The invoice is dated after today.";
    OutsidePolicyTerm => "OUTSIDE_POLICY_TERM", "A date falls outside the policy term.";
    ProgramMismatch => "PROGRAM_MISMATCH", "The provider redeems another program's voucher.";
    SelfDealing => "SELF_DEALING", "The provider is the enterprise.";
    RedeemDeadlinePassed => "REDEEM_DEADLINE_PASSED", "A voucher being issued would already be past its redemption deadline.";
    LastBureauToken => "LAST_BUREAU_TOKEN", "Revoking this token would leave nobody able to administer the ledger.";
    BudgetExceeded => "BUDGET_EXCEEDED", "The program's budget for the period would be passed.";
    RelatedParty => "RELATED_PARTY", "The provider and the enterprise are related parties.";
    EvidenceRequired => "EVIDENCE_REQUIRED", "The policy requires documents the claim does not carry.";
    RedemptionNotOpen => "REDEMPTION_NOT_OPEN", "The claim is not in a state this step applies to.";
    NothingToSettle => "NOTHING_TO_SETTLE", "A statement would hold no claim and no clawback.";
    PaymentDateOutOfRange => "PAYMENT_DATE_OUT_OF_RANGE", "A payment dated in the future or before its statement.";
    ProviderSuspended => "PROVIDER_SUSPENDED", "The bureau suspended the provider.";
    CertificateRevoked => "CERTIFICATE_REVOKED", "The client certificate was revoked.";
    ContractAlreadyApplied => "CONTRACT_ALREADY_APPLIED", "The contract already has a live application under the program.";
    ApplicationNotPending => "APPLICATION_NOT_PENDING", "The application was already decided otherwise.";
    AboveAppliedAmount => "ABOVE_APPLIED_AMOUNT", "The face value is more than the enterprise applied for.";
    ConfirmationRequired => "CONFIRMATION_REQUIRED", "The program needs the enterprise to confirm the claim before it is approved.";
    // Who is asking (UNAUTHENTICATED, PERMISSION_DENIED).
    Unauthenticated => "UNAUTHENTICATED", "No valid token or client certificate.";
    CertificateNotPinned => "CERTIFICATE_NOT_PINNED", "The client certificate is not one pinned for the provider.";
    PermissionDenied => "PERMISSION_DENIED", "The caller's role may not do this.";
    // The server (RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED).
    Overloaded => "OVERLOADED", "The server is at one of its bounds: retry shortly.";
    TooManyFailedAttempts => "TOO_MANY_FAILED_ATTEMPTS", "The caller's address failed to authenticate too often: wait retryAfterSeconds (ErrorInfo metadata).";
    NotAcceptingWrites => "NOT_ACCEPTING_WRITES", "The ledger is not accepting writes.";
    NotLeader => "NOT_LEADER", "This voucherd is a standby: write to the active one, named by leader (ErrorInfo metadata) when known.";
    MessageTooLarge => "MESSAGE_TOO_LARGE", "A request message over the size bound.";
    MessageTooSlow => "MESSAGE_TOO_SLOW", "A request message that did not arrive in time after its headers.";
    MalformedMessage => "MALFORMED_MESSAGE", "Bytes that are not a valid request message.";
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Tests compare reasons with their wire words.
impl PartialEq<&str> for ReasonCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_word_is_upper_snake_and_used_once() {
        let mut seen = std::collections::BTreeSet::new();
        for reason in ReasonCode::ALL {
            let word = reason.as_str();
            assert!(
                word.bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_'),
                "{word}"
            );
            assert!(seen.insert(word), "{word} twice");
            assert!(reason.meaning().ends_with('.'), "{word}");
        }
    }
}
