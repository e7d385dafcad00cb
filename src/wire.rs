//! The conversions both ends of the wire share: domain amounts, days and instants as the
//! proto's messages, the names of gRPC codes, and the bearer token every client sends. The server's `api` and the clients
//! (`client`, voucherctl, voucher-bench) use these, so each is written once.

use chrono::NaiveDate;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;

use crate::domain::model::Timestamp;
use crate::domain::money::{CURRENCY_CNY, Money, Total};
use crate::proto::google::r#type::Money as ProtoMoney;

pub fn to_money(amount: Money) -> ProtoMoney {
    let (units, nanos) = amount.units_and_nanos();
    ProtoMoney {
        currency_code: CURRENCY_CNY.to_owned(),
        units,
        nanos,
    }
}

/// A total as `google.type.Money`. Totals never reach what an `i64` of yuan holds; were one to,
/// it would show as that maximum rather than wrap.
pub fn total_to_money(total: Total) -> ProtoMoney {
    let (units, nanos) = total.units_and_nanos().unwrap_or((i64::MAX, 990_000_000));
    ProtoMoney {
        currency_code: CURRENCY_CNY.to_owned(),
        units,
        nanos,
    }
}

pub fn to_timestamp(at: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).expect("below one second"),
    }
}

pub fn to_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A signed amount (a statement's net) as `google.type.Money`: units and nanos share the sign.
pub fn signed_to_money(amount: rust_decimal::Decimal) -> ProtoMoney {
    let mut at_fen = amount.round_dp(2);
    at_fen.rescale(2);
    let fen = at_fen.mantissa();
    let units = i64::try_from(fen / 100).unwrap_or(if fen < 0 { i64::MIN } else { i64::MAX });
    let nanos = i32::try_from(fen % 100).unwrap_or(0) * 10_000_000;
    ProtoMoney {
        currency_code: CURRENCY_CNY.to_owned(),
        units,
        nanos,
    }
}

/// The canonical UPPER_SNAKE name of a gRPC code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Puts `authorization: Bearer <token>` on every call: the one interceptor of every client
/// (voucherctl, voucher-bench, the tests).
#[derive(Clone, Debug)]
pub struct BearerToken(MetadataValue<Ascii>);

/// A token that cannot travel in a header: none of ours is like that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the token is not ASCII text")]
pub struct NotAToken;

impl BearerToken {
    pub fn new(secret: &str) -> Result<BearerToken, NotAToken> {
        MetadataValue::try_from(format!("Bearer {secret}"))
            .map(BearerToken)
            .map_err(|_| NotAToken)
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}
