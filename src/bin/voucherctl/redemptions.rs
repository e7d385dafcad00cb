//! Claims against vouchers, from the invoice to the bureau's review: `redeem`,
//! `reverse-redemption`, `get-redemption`, `list-redemptions`, the enterprise's
//! `confirm-redemption` and `dispute-redemption`, and the bureau's `approve`, `reject` and
//! `return-redemption`, with the redemption's record they all print.

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use voucher_ledger::client::{
    Record, Value, evidence_kind_word, optional, program_word, redemption_status_word, text,
};
use voucher_ledger::domain::model::Sha256Hex;
use voucher_ledger::domain::money::Money;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::wire::{to_date, to_money};

use crate::Failure;
use crate::arguments::{
    Paging, ProgramArgument, optional_program, parse_code, parse_day, parse_yuan,
};
use crate::connect::Client;
use crate::output::{Output, Page, paginate};

#[derive(Args, Debug)]
pub struct Redeem {
    /// The voucher to redeem.
    #[arg(long, value_name = "VOUCHER_ID")]
    voucher: String,
    /// The invoice's buyer.
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    /// 发票号码: 20 digits, or <10 or 12-digit code>-<8-digit number>.
    #[arg(long, value_name = "NUMBER")]
    invoice_number: String,
    /// YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    invoice_date: NaiveDate,
    /// The invoice amount actually paid, in yuan.
    #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
    amount: Money,
    /// The invoice's seller: required when the bureau redeems on its behalf.
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    /// Grant what is left when the full subsidy does not fit.
    #[arg(long)]
    allow_partial: bool,
    /// A document behind the claim, KIND:SHA256:REFERENCE, where KIND is contract,
    /// payment_receipt, delivery_proof or deployment_proof. Repeat for several.
    #[arg(long, value_name = "KIND:SHA256:REFERENCE", value_parser = parse_evidence)]
    evidence: Vec<pb::Evidence>,
}

impl Redeem {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RedeemRequest {
            voucher_id: self.voucher,
            provider_credit_code: self.provider.unwrap_or_default(),
            enterprise_credit_code: self.enterprise,
            invoice_number: self.invoice_number,
            invoice_date: to_date(self.invoice_date),
            invoice_amount: Some(to_money(self.amount)),
            allow_partial: self.allow_partial,
            evidence: self.evidence,
        };
        let reply = client.redeem(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }
}

fn parse_evidence(text: &str) -> Result<pb::Evidence, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(kind), Some(sha256), Some(reference)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected KIND:SHA256:REFERENCE".to_owned());
    };
    let kind = match kind {
        "contract" => pb::EvidenceKind::Contract,
        "payment_receipt" => pb::EvidenceKind::PaymentReceipt,
        "delivery_proof" => pb::EvidenceKind::DeliveryProof,
        "deployment_proof" => pb::EvidenceKind::DeploymentProof,
        other => {
            return Err(format!(
                "{other:?} is not contract, payment_receipt, delivery_proof or deployment_proof"
            ));
        }
    };
    Sha256Hex::parse(sha256).map_err(|error| error.message)?;
    Ok(pb::Evidence {
        kind: kind as i32,
        sha256: sha256.to_owned(),
        reference: reference.to_owned(),
    })
}

/// A redemption and the reason for changing it: `reverse-redemption`, `reject`,
/// `dispute-redemption`, `return-redemption`.
#[derive(Args, Debug)]
pub struct RedemptionWithReason {
    #[arg(value_parser = parse_code)]
    redemption_id: String,
    #[arg(long)]
    reason: String,
}

impl RedemptionWithReason {
    /// Reverses (红冲) the redemption.
    pub async fn reverse(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ReverseRedemptionRequest {
            redemption_id: self.redemption_id,
            reason: self.reason,
        };
        let reply = client.reverse_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }

    /// Rejects the claim on review.
    pub async fn reject(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RejectRedemptionRequest {
            redemption_id: self.redemption_id,
            reason: self.reason,
        };
        let reply = client.reject_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }

    /// The enterprise disputes a claim made in its name (企业异议).
    pub async fn dispute(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::DisputeRedemptionRequest {
            redemption_id: self.redemption_id,
            reason: self.reason,
        };
        let reply = client.dispute_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }

    /// The bureau returns the claim for correction (退回补正): the reason says what to correct.
    pub async fn return_for_correction(
        self,
        client: &mut Client,
        output: &Output,
    ) -> Result<(), Failure> {
        let request = pb::ReturnRedemptionRequest {
            redemption_id: self.redemption_id,
            reason: self.reason,
        };
        let reply = client.return_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }
}

/// One redemption by its id: `get-redemption`, `approve`, `confirm-redemption`.
#[derive(Args, Debug)]
pub struct RedemptionId {
    #[arg(value_parser = parse_code)]
    redemption_id: String,
}

impl RedemptionId {
    pub async fn get(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetRedemptionRequest {
            redemption_id: self.redemption_id,
        };
        let reply = client.get_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }

    /// Approves the claim on review, so it can be settled.
    pub async fn approve(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ApproveRedemptionRequest {
            redemption_id: self.redemption_id,
        };
        let reply = client.approve_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }

    /// The enterprise confirms a claim made in its name (企业确认).
    pub async fn confirm(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ConfirmRedemptionRequest {
            redemption_id: self.redemption_id,
        };
        let reply = client.confirm_redemption(request).await?.into_inner();
        output.record(&redemption_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ListRedemptions {
    /// The invoice's buyer.
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: Option<String>,
    /// The invoice's seller.
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    #[arg(long)]
    program: Option<ProgramArgument>,
    /// Invoices dated on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: Option<NaiveDate>,
    /// Invoices dated on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    to: Option<NaiveDate>,
    /// Only claims in this status.
    #[arg(long)]
    status: Option<RedemptionStatusArgument>,
    #[command(flatten)]
    paging: Paging,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RedemptionStatusArgument {
    /// Submitted, waiting for review.
    Accepted,
    /// Approved on review: may be settled.
    Approved,
    /// Rejected on review.
    Rejected,
    /// Paid in a settlement statement.
    Settled,
    /// Reversed (红冲), or clawed back after settlement.
    Reversed,
    /// Disputed by its enterprise (企业异议).
    Disputed,
    /// Returned for correction (退回补正).
    Returned,
}

impl RedemptionStatusArgument {
    fn wire(self) -> i32 {
        let status = match self {
            RedemptionStatusArgument::Accepted => pb::RedemptionStatus::Accepted,
            RedemptionStatusArgument::Approved => pb::RedemptionStatus::Approved,
            RedemptionStatusArgument::Rejected => pb::RedemptionStatus::Rejected,
            RedemptionStatusArgument::Settled => pb::RedemptionStatus::Settled,
            RedemptionStatusArgument::Reversed => pb::RedemptionStatus::Reversed,
            RedemptionStatusArgument::Disputed => pb::RedemptionStatus::Disputed,
            RedemptionStatusArgument::Returned => pb::RedemptionStatus::Returned,
        };
        status as i32
    }
}

impl ListRedemptions {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let first_request = pb::ListRedemptionsRequest {
            enterprise_credit_code: self.enterprise.unwrap_or_default(),
            provider_credit_code: self.provider.unwrap_or_default(),
            program: optional_program(self.program),
            invoice_date_from: self.from.map(to_date).unwrap_or_default(),
            invoice_date_to: self.to.map(to_date).unwrap_or_default(),
            page_size: self.paging.page_size(),
            page_token: String::new(),
            status: self.status.map_or(
                pb::RedemptionStatus::Unspecified as i32,
                RedemptionStatusArgument::wire,
            ),
        };
        paginate(output, &self.paging, "redemptions", async |page_token| {
            let request = pb::ListRedemptionsRequest {
                page_token,
                ..first_request.clone()
            };
            let reply = client.list_redemptions(request).await?.into_inner();
            Ok(Page::of(
                &reply.redemptions,
                redemption_record,
                reply.next_page_token,
            ))
        })
        .await
    }
}

fn redemption_record(message: &pb::Redemption) -> Record {
    vec![
        ("redemption_id", text(&message.redemption_id)),
        ("voucher_id", text(&message.voucher_id)),
        ("program", Value::Text(program_word(message.program))),
        (
            "status",
            Value::Text(redemption_status_word(message.status)),
        ),
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("provider_credit_code", text(&message.provider_credit_code)),
        ("invoice_number", text(&message.invoice_number)),
        ("invoice_date", text(&message.invoice_date)),
        (
            "invoice_amount",
            Value::Money(message.invoice_amount.clone()),
        ),
        (
            "computed_subsidy",
            Value::Money(message.computed_subsidy.clone()),
        ),
        ("subsidy", Value::Money(message.subsidy.clone())),
        ("allow_partial", Value::Flag(message.allow_partial)),
        ("redeemed_at", Value::Time(message.redeemed_at)),
        ("redeemed_by", Value::Actor(message.redeemed_by.clone())),
        ("reversal_reason", optional(&message.reversal_reason)),
        ("reversed_at", Value::Time(message.reversed_at)),
        ("reversed_by", Value::Actor(message.reversed_by.clone())),
        ("evidence", optional(&evidence_summary(&message.evidence))),
        ("approved_at", Value::Time(message.approved_at)),
        ("approved_by", Value::Actor(message.approved_by.clone())),
        ("rejection_reason", optional(&message.rejection_reason)),
        ("rejected_at", Value::Time(message.rejected_at)),
        ("settlement_id", optional(&message.settlement_id)),
        (
            "corrects_redemption_id",
            optional(&message.corrects_redemption_id),
        ),
        ("confirmed_at", Value::Time(message.confirmed_at)),
        ("confirmed_by", Value::Actor(message.confirmed_by.clone())),
        ("closing_reason", optional(&message.closing_reason)),
        ("closed_at", Value::Time(message.closed_at)),
        ("closed_by", Value::Actor(message.closed_by.clone())),
    ]
}

/// `contract sha256:ab12… (contract.pdf); payment_receipt …`.
fn evidence_summary(documents: &[pb::Evidence]) -> String {
    documents
        .iter()
        .map(|document| {
            let kind = evidence_kind_word(document.kind);
            format!("{kind} sha256:{} ({})", document.sha256, document.reference)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
