//! What `voucherctl` shows: the ledger's reply messages as `key: value` lines or as JSON, and
//! a refusal as one line a person can act on. Pure functions, no I/O, so they can be tested.
//!
//! A message first becomes a [`Record`], an ordered list of typed fields; both renderings read
//! the same record, so the text and the JSON never disagree. Which fields each reply's record
//! holds is decided beside the command that prints it, in `src/bin/voucherctl/`; this module
//! holds how a record is rendered, the words for the wire's enums and for who made a step,
//! and the refusal line, which the web console shows too. Money never passes through a float:
//! it goes from `google.type.Money` to [`Money`] and is printed from there.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::domain::dates::china_offset;
use crate::domain::money::{Money, Total};
use crate::proto::google::r#type::Money as ProtoMoney;
use crate::proto::voucher::v1 as pb;

/// The ErrorInfo metadata key holding what is left under a cap, in plain yuan.
pub const REMAINING_CNY: &str = "remainingCny";

/// One field of a reply, typed so both renderings treat it alike.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Always shown.
    Text(String),
    /// Shown as `key: value` only when not empty; always present in JSON.
    OptionalText(String),
    /// `1,234.56` as text, `"1234.56"` in JSON.
    Money(Option<ProtoMoney>),
    /// An amount that may be below zero (a statement's net): `-1,234.56` as text,
    /// `"-1234.56"` in JSON.
    SignedMoney(Option<ProtoMoney>),
    /// China time as text (hidden when absent), RFC 3339 in JSON (`null` when absent).
    Time(Option<prost_types::Timestamp>),
    Flag(bool),
    /// Words such as ids: `A, B` as text (hidden when none), an array of strings in JSON.
    List(Vec<String>),
    /// A balance's redeemed-by-year totals: `redeemed_in_2027: …` lines as text.
    YearTotals(Vec<pb::YearTotal>),
    /// Who made a step: [`actor_text`] as text (hidden when unset), an object
    /// `{"token_id":…,"role":…,"certificate_subject":…}` in JSON (`null` when unset).
    Actor(Option<pb::Actor>),
}

/// A reply message as ordered fields.
pub type Record = Vec<(&'static str, Value)>;

/// A field always shown.
pub fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// A field shown as text only when not empty.
pub fn optional(value: &str) -> Value {
    Value::OptionalText(value.to_owned())
}

/// A step's actor from its wire fields (a ledger event carries them flat).
pub fn actor(token_id: &str, role: &str, certificate_subject: &str) -> Value {
    Value::Actor(Some(pb::Actor {
        token_id: token_id.to_owned(),
        role: role.to_owned(),
        certificate_subject: certificate_subject.to_owned(),
    }))
}

/// Who made a step, in a few words: `T000000000002 (bureau)` for a token; the role alone
/// when there is none: `ledger` (the ledger itself, e.g. an expiry), `unrecorded` (before the
/// log named who caused what); a client certificate's subject after a comma:
/// `provider, certificate CN=…` or `T000000000005 (provider), certificate CN=…`.
pub fn actor_text(actor: &pb::Actor) -> String {
    let role = if actor.role.is_empty() {
        "unknown role"
    } else {
        actor.role.as_str()
    };
    let mut text = if actor.token_id.is_empty() {
        role.to_owned()
    } else {
        format!("{} ({role})", actor.token_id)
    };
    if !actor.certificate_subject.is_empty() {
        text.push_str(", certificate ");
        text.push_str(&actor.certificate_subject);
    }
    text
}

/// `compute`, `leasing`, `corpus`; `unknown(7)` for a number this build does not know.
pub fn program_word(value: i32) -> String {
    pb::Program::try_from(value)
        .map(|program| short_word(program.as_str_name(), "PROGRAM_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

/// `active`, `revoked`, `expired`.
pub fn voucher_status_word(value: i32) -> String {
    pb::VoucherStatus::try_from(value)
        .map(|status| short_word(status.as_str_name(), "VOUCHER_STATUS_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

/// `accepted`, `approved`, `rejected`, `settled`, `reversed`, `disputed`, `returned`.
pub fn redemption_status_word(value: i32) -> String {
    pb::RedemptionStatus::try_from(value)
        .map(|status| short_word(status.as_str_name(), "REDEMPTION_STATUS_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

/// `pending`, `approved`, `rejected`: an application for a voucher.
pub fn application_status_word(value: i32) -> String {
    pb::ApplicationStatus::try_from(value)
        .map(|status| short_word(status.as_str_name(), "APPLICATION_STATUS_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

/// `contract`, `payment_receipt`, `delivery_proof`, `deployment_proof`.
pub fn evidence_kind_word(value: i32) -> String {
    pb::EvidenceKind::try_from(value)
        .map(|kind| short_word(kind.as_str_name(), "EVIDENCE_KIND_"))
        .unwrap_or_else(|_| format!("unknown({value})"))
}

fn short_word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// The amount of a wire `Money`, zero included; `None` if it is not whole fen of CNY.
pub fn decode_money(value: &ProtoMoney) -> Option<Total> {
    Total::from_units_and_nanos(&value.currency_code, value.units, value.nanos)
}

/// A wire `Money` that [`decode_money`] refuses, shown as it came rather than hidden.
fn raw_money(value: &ProtoMoney) -> String {
    format!(
        "{} units={} nanos={}",
        value.currency_code, value.units, value.nanos
    )
}

/// `1,234.56`, or `-` when absent.
pub fn grouped_yuan(value: Option<&ProtoMoney>) -> String {
    match value {
        None => "-".to_owned(),
        Some(value) => decode_money(value)
            .map(Total::to_grouped_string)
            .unwrap_or_else(|| raw_money(value)),
    }
}

/// An amount that may be negative, written by `write` (grouped or plain) from its magnitude
/// with a leading minus when below zero; `-` when absent.
fn signed(value: Option<&ProtoMoney>, write: impl Fn(Option<&ProtoMoney>) -> String) -> String {
    let Some(value) = value else {
        return "-".to_owned();
    };
    let magnitude = ProtoMoney {
        currency_code: value.currency_code.clone(),
        units: value.units.abs(),
        nanos: value.nanos.abs(),
    };
    let written = write(Some(&magnitude));
    if value.units < 0 || value.nanos < 0 {
        format!("-{written}")
    } else {
        written
    }
}

/// `"1234.56"` for machines, or `null` when absent.
fn plain_yuan(value: Option<&ProtoMoney>) -> Json {
    match value {
        None => Json::Null,
        Some(value) => Json::String(
            decode_money(value)
                .map(|money| money.to_string())
                .unwrap_or_else(|| raw_money(value)),
        ),
    }
}

fn in_china(timestamp: &prost_types::Timestamp) -> Option<DateTime<FixedOffset>> {
    let nanos = u32::try_from(timestamp.nanos).ok()?;
    DateTime::from_timestamp(timestamp.seconds, nanos).map(|at| at.with_timezone(&china_offset()))
}

/// `2027-06-15 10:00:00 +08:00`.
pub fn china_time(timestamp: &prost_types::Timestamp) -> String {
    match in_china(timestamp) {
        Some(at) => at.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        None => format!("{}s {}ns since 1970", timestamp.seconds, timestamp.nanos),
    }
}

fn rfc3339(timestamp: &prost_types::Timestamp) -> Json {
    match in_china(timestamp) {
        Some(at) => Json::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
        None => Json::String(china_time(timestamp)),
    }
}

/// The record as `key: value` lines, each ending in a newline.
pub fn to_lines(record: &Record) -> String {
    let mut lines = String::new();
    for (key, value) in record {
        push_lines(&mut lines, key, value);
    }
    lines
}

fn push_lines(lines: &mut String, key: &str, value: &Value) {
    let shown = match value {
        Value::Text(text) => Some(text.clone()),
        Value::OptionalText(text) => Some(text.clone()).filter(|text| !text.is_empty()),
        Value::Money(money) => Some(grouped_yuan(money.as_ref())),
        Value::SignedMoney(money) => Some(signed(money.as_ref(), grouped_yuan)),
        Value::Time(at) => at.as_ref().map(china_time),
        Value::Flag(flag) => Some(flag.to_string()),
        Value::Actor(actor) => actor.as_ref().map(actor_text),
        Value::List(items) => Some(items.join(", ")).filter(|joined| !joined.is_empty()),
        Value::YearTotals(totals) => {
            for total in totals {
                let amount = grouped_yuan(total.redeemed.as_ref());
                lines.push_str(&format!("redeemed_in_{}: {amount}\n", total.year));
            }
            None
        }
    };
    if let Some(shown) = shown {
        lines.push_str(&format!("{key}: {shown}\n"));
    }
}

/// The record as one compact JSON object, fields in the message's order: money as
/// `"1234.56"`, times as RFC 3339 in China time, absent times as `null`.
pub fn to_json(record: &Record) -> String {
    let fields = record.iter().map(|(key, value)| (*key, json_value(value)));
    json_object(fields)
}

/// `{"key":value,…}` from already-encoded values, keeping their order (a `serde_json::Map`
/// would sort the keys).
fn json_object<'a>(fields: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let members: Vec<String> = fields
        .into_iter()
        .map(|(key, value)| format!("{}:{value}", Json::from(key)))
        .collect();
    format!("{{{}}}", members.join(","))
}

fn json_value(value: &Value) -> String {
    match value {
        Value::Text(text) | Value::OptionalText(text) => Json::from(text.as_str()).to_string(),
        Value::Money(money) => plain_yuan(money.as_ref()).to_string(),
        Value::SignedMoney(None) => Json::Null.to_string(),
        Value::SignedMoney(Some(money)) => {
            let plain = |magnitude: Option<&ProtoMoney>| match plain_yuan(magnitude) {
                Json::String(text) => text,
                other => other.to_string(),
            };
            Json::String(signed(Some(money), plain)).to_string()
        }
        Value::Time(at) => at.as_ref().map(rfc3339).unwrap_or(Json::Null).to_string(),
        Value::Flag(flag) => Json::Bool(*flag).to_string(),
        Value::YearTotals(totals) => {
            let items: Vec<String> = totals.iter().map(year_total_json).collect();
            format!("[{}]", items.join(","))
        }
        Value::List(items) => Json::from(items.clone()).to_string(),
        Value::Actor(None) => Json::Null.to_string(),
        Value::Actor(Some(actor)) => actor_json(actor),
    }
}

fn actor_json(actor: &pb::Actor) -> String {
    json_object([
        ("token_id", Json::from(actor.token_id.as_str()).to_string()),
        ("role", Json::from(actor.role.as_str()).to_string()),
        (
            "certificate_subject",
            Json::from(actor.certificate_subject.as_str()).to_string(),
        ),
    ])
}

fn year_total_json(total: &pb::YearTotal) -> String {
    json_object([
        ("year", Json::from(total.year).to_string()),
        ("redeemed", plain_yuan(total.redeemed.as_ref()).to_string()),
    ])
}

/// A page of a list reply as one JSON object: `{"<items_key>":[…],"next_page_token":"…"}`.
pub fn page_to_json(items_key: &str, records: &[Record], next_page_token: &str) -> String {
    let items: Vec<String> = records.iter().map(to_json).collect();
    json_object([
        (items_key, format!("[{}]", items.join(","))),
        ("next_page_token", Json::from(next_page_token).to_string()),
    ])
}

/// The canonical gRPC name of a code (`FAILED_PRECONDITION`): the server's own, so that logs
/// and voucherctl spell codes alike.
pub use crate::wire::code_name;

/// One line for a refusal:
/// `FAILED_PRECONDITION CAP_EXCEEDED: <message> (remaining 1,000.00 yuan)`.
pub fn describe_status(status: &Status) -> String {
    let info = status.get_details_error_info();
    let mut line = code_name(status.code()).to_owned();
    if let Some(info) = info.as_ref().filter(|info| info.reason != line) {
        line.push(' ');
        line.push_str(&info.reason);
    }
    line.push_str(": ");
    line.push_str(status.message());
    if info.is_none() {
        push_causes(&mut line, status);
    }
    let remaining = info
        .as_ref()
        .and_then(|info| info.metadata.get(REMAINING_CNY));
    if let Some(remaining) = remaining {
        line.push_str(&format!(
            " (remaining {} yuan)",
            grouped_plain_yuan(remaining)
        ));
    }
    line
}

/// A refusal in the catalogue's words (`domain::reason_text`): what is wrong and what to do,
/// the field in words, the amount left; `None` when the status carries no reason of ours.
pub fn explain_status(status: &Status, lang: crate::domain::reason_text::Lang) -> Option<String> {
    use crate::domain::reason::ReasonCode;
    let info = status.get_details_error_info()?;
    let reason = ReasonCode::ALL
        .iter()
        .find(|reason| reason.as_str() == info.reason)?;
    let field = info.metadata.get("field").map(String::as_str);
    let left = info
        .metadata
        .get(REMAINING_CNY)
        .map(|remaining| grouped_plain_yuan(remaining));
    Some(crate::domain::reason_text::worded(
        *reason,
        field,
        left.as_deref(),
        lang,
    ))
}

/// An error and its causes on one line (a transport error alone says only "transport
/// error"); a cause whose words are already on the line is not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    push_causes(&mut line, error);
    line
}

fn push_causes(line: &mut String, error: &dyn std::error::Error) {
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !line.contains(&cause_text) {
            line.push_str(": ");
            line.push_str(&cause_text);
        }
        source = cause.source();
    }
}

/// `1000.00` as the server writes it, grouped as `1,000.00`; left as it is if it is not yuan.
pub fn grouped_plain_yuan(text: &str) -> String {
    text.parse::<Decimal>()
        .ok()
        .and_then(|value| Money::from_decimal(value).ok())
        .map(Money::to_grouped_string)
        .unwrap_or_else(|| text.to_owned())
}

/// True when the call did not reach the ledger or its answer never came back: the server
/// writes an ErrorInfo on every refusal, a broken connection does not.
pub fn is_transport_failure(status: &Status) -> bool {
    let reachability = matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
    );
    reachability && status.get_details_error_info().is_none()
}

/// The address to dial: `host:port` gets `http://` in front; `http://…` is kept as it is.
/// This build speaks plain HTTP/2 only, so `https://` is refused with a reason.
pub fn normalize_address(address: &str) -> Result<String, String> {
    let address = address.trim();
    if address.is_empty() {
        return Err("--addr is empty: give host:port, such as 127.0.0.1:50051".to_owned());
    }
    match address.split_once("://") {
        None => Ok(format!("http://{address}")),
        Some(("http" | "https", _)) => Ok(address.to_owned()),
        Some((scheme, _)) => Err(format!(
            "--addr {address}: scheme {scheme:?} is neither http nor https; give host:port, \
             http://host:port or https://host:port"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn a_signed_amount_is_grouped_as_text_and_plain_in_json() {
        let owed = ProtoMoney {
            currency_code: "CNY".to_owned(),
            units: -5000,
            nanos: -10_000_000,
        };
        let record: Record = vec![("net", Value::SignedMoney(Some(owed)))];
        assert_eq!(to_lines(&record), "net: -5,000.01\n");
        assert_eq!(to_json(&record), r#"{"net":"-5000.01"}"#);
        let paid: Record = vec![("net", Value::SignedMoney(cny(1234, 500_000_000)))];
        assert_eq!(to_json(&paid), r#"{"net":"1234.50"}"#);
    }

    fn cny(units: i64, nanos: i32) -> Option<ProtoMoney> {
        Some(ProtoMoney {
            currency_code: "CNY".to_owned(),
            units,
            nanos,
        })
    }

    #[test]
    fn money_is_grouped_and_plain_without_floats() {
        assert_eq!(grouped_yuan(cny(2_000_000, 0).as_ref()), "2,000,000.00");
        assert_eq!(grouped_yuan(cny(1234, 560_000_000).as_ref()), "1,234.56");
        assert_eq!(grouped_yuan(cny(0, 0).as_ref()), "0.00");
        assert_eq!(grouped_yuan(None), "-");
        assert_eq!(plain_yuan(cny(1234, 560_000_000).as_ref()), "1234.56");
        assert_eq!(plain_yuan(cny(0, 0).as_ref()), "0.00");
    }

    #[test]
    fn money_that_is_not_whole_fen_is_shown_raw() {
        assert_eq!(grouped_yuan(cny(1, 1).as_ref()), "CNY units=1 nanos=1");
    }

    #[test]
    fn timestamps_are_china_time() {
        // 2027-06-15 02:00:00 UTC.
        let at = prost_types::Timestamp {
            seconds: 1_813_024_800,
            nanos: 0,
        };
        assert_eq!(china_time(&at), "2027-06-15 10:00:00 +08:00");
        assert_eq!(rfc3339(&at), "2027-06-15T10:00:00+08:00");
    }

    #[test]
    fn enums_are_short_words() {
        assert_eq!(program_word(1), "compute");
        assert_eq!(program_word(2), "leasing");
        assert_eq!(program_word(9), "unknown(9)");
        assert_eq!(voucher_status_word(3), "expired");
        assert_eq!(redemption_status_word(2), "reversed");
        assert_eq!(redemption_status_word(6), "disputed");
        assert_eq!(redemption_status_word(7), "returned");
        assert_eq!(application_status_word(1), "pending");
        assert_eq!(application_status_word(3), "rejected");
        assert_eq!(application_status_word(9), "unknown(9)");
    }

    #[test]
    fn empty_optional_fields_are_hidden_as_text_but_kept_in_json() {
        let record: Record = vec![
            ("voucher_id", text("v1")),
            ("revocation_reason", optional("")),
            ("closed_at", Value::Time(None)),
            ("face_value", Value::Money(cny(10, 0))),
        ];
        assert_eq!(to_lines(&record), "voucher_id: v1\nface_value: 10.00\n");
        let json = to_json(&record);
        assert_eq!(
            json,
            r#"{"voucher_id":"v1","revocation_reason":"","closed_at":null,"face_value":"10.00"}"#
        );
        let json: Json = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(json["revocation_reason"], "");
        assert_eq!(json["closed_at"], Json::Null);
        assert_eq!(json["face_value"], "10.00");
    }

    #[test]
    fn year_totals_become_one_line_each() {
        let record: Record = vec![(
            "redeemed_by_year",
            Value::YearTotals(vec![pb::YearTotal {
                year: 2027,
                redeemed: cny(5000, 0),
            }]),
        )];
        assert_eq!(to_lines(&record), "redeemed_in_2027: 5,000.00\n");
        assert_eq!(
            to_json(&record),
            r#"{"redeemed_by_year":[{"year":2027,"redeemed":"5000.00"}]}"#
        );
    }

    #[test]
    fn an_actor_is_a_few_words_as_text_and_an_object_in_json() {
        let words = |token: &str, role: &str, subject: &str| match actor(token, role, subject) {
            Value::Actor(Some(actor)) => actor_text(&actor),
            other => panic!("not an actor: {other:?}"),
        };
        assert_eq!(
            words("T000000000002", "bureau", ""),
            "T000000000002 (bureau)"
        );
        assert_eq!(words("", "ledger", ""), "ledger");
        assert_eq!(words("", "unrecorded", ""), "unrecorded");
        assert_eq!(
            words("", "provider", "CN=9144030071526726XG"),
            "provider, certificate CN=9144030071526726XG"
        );
        assert_eq!(
            words("T000000000005", "provider", "CN=9144030071526726XG"),
            "T000000000005 (provider), certificate CN=9144030071526726XG"
        );
        let record: Record = vec![
            ("issued_by", actor("T000000000002", "bureau", "")),
            ("closed_by", Value::Actor(None)),
            ("record_ids", Value::List(vec!["V1".into(), "R2".into()])),
            ("none", Value::List(Vec::new())),
        ];
        assert_eq!(
            to_lines(&record),
            "issued_by: T000000000002 (bureau)\nrecord_ids: V1, R2\n"
        );
        assert_eq!(
            to_json(&record),
            concat!(
                r#"{"issued_by":{"token_id":"T000000000002","role":"bureau","#,
                r#""certificate_subject":""},"closed_by":null,"record_ids":["V1","R2"],"none":[]}"#
            )
        );
    }

    #[test]
    fn refusals_name_code_reason_and_remaining() {
        let details = ErrorDetails::with_error_info(
            "CAP_EXCEEDED",
            "voucher.qidong.gov.cn",
            HashMap::from([(REMAINING_CNY.to_owned(), "1000.00".to_owned())]),
        );
        let status = Status::with_error_details(Code::FailedPrecondition, "over the cap", details);
        assert_eq!(
            describe_status(&status),
            "FAILED_PRECONDITION CAP_EXCEEDED: over the cap (remaining 1,000.00 yuan)"
        );
        assert!(!is_transport_failure(&status));
        let unauthenticated = Status::with_error_details(
            Code::Unauthenticated,
            "unknown token",
            ErrorDetails::with_error_info("UNAUTHENTICATED", "d", HashMap::new()),
        );
        assert_eq!(
            describe_status(&unauthenticated),
            "UNAUTHENTICATED: unknown token"
        );
        assert!(is_transport_failure(&Status::unavailable(
            "connection reset"
        )));
    }

    #[test]
    fn addresses_get_a_scheme() {
        assert_eq!(
            normalize_address("127.0.0.1:50051").as_deref(),
            Ok("http://127.0.0.1:50051")
        );
        assert_eq!(
            normalize_address("http://ledger:50051").as_deref(),
            Ok("http://ledger:50051")
        );
        assert_eq!(
            normalize_address("https://ledger:443").as_deref(),
            Ok("https://ledger:443")
        );
        assert!(normalize_address("ftp://ledger:21").is_err());
        assert!(normalize_address(" ").is_err());
    }
}
