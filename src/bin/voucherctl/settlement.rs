//! `voucherctl settlement …`: the statements (拨付) that pay providers for approved claims.
//! The bureau creates a statement; the finance bureau records its payment (the bureau may
//! too, unless the policy separates duties); the bureau, auditors and finance show, list and
//! export it (CSV or XLSX, for the payment voucher). The statement's records, its lines and
//! its clawbacks are here too.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use voucher_ledger::client::{Record, Value, optional, program_word, text};
use voucher_ledger::proto::google::r#type::Money as ProtoMoney;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::report::{Statement, StatementLine, StatementPayment};
use voucher_ledger::wire::to_date;

use crate::Failure;
use crate::arguments::{
    Paging, ProgramArgument, optional_program, parse_code, parse_day, request_id_or_new,
    unsettled_failure,
};
use crate::connect::Client;
use crate::documents::{self, DocumentFormat, amount};
use crate::output::{Output, Page, emit, paginate, with_request_id};

#[derive(Subcommand, Debug)]
pub enum SettlementCommand {
    /// Settle a provider's approved claims with invoices up to a date (bureau). Idempotent by --request-id.
    Create(CreateSettlement),
    /// One statement with its lines.
    Get { settlement_id: String },
    /// Statements, oldest first.
    List(ListSettlements),
    /// Write a statement as CSV or XLSX, for the payment voucher (付款凭证).
    Export(ExportSettlement),
    /// Record that a statement's net was paid (finance, or the bureau unless the policy
    /// separates duties): the bank's reference and the day.
    Pay(PaySettlement),
}

pub async fn run(
    command: SettlementCommand,
    client: &mut Client,
    output: &Output,
) -> Result<(), Failure> {
    match command {
        SettlementCommand::Create(arguments) => arguments.run(client, output).await,
        SettlementCommand::Get { settlement_id } => get(client, output, settlement_id).await,
        SettlementCommand::List(arguments) => arguments.run(client, output).await,
        SettlementCommand::Export(arguments) => arguments.run(client).await,
        SettlementCommand::Pay(arguments) => arguments.run(client, output).await,
    }
}

#[derive(Args, Debug)]
pub struct CreateSettlement {
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: String,
    #[arg(long)]
    program: ProgramArgument,
    /// Claims with invoices dated up to this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    up_to: NaiveDate,
    /// The idempotency key; a fresh UUID by default (printed, to retry with).
    #[arg(long)]
    request_id: Option<String>,
}

impl CreateSettlement {
    async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request_id = request_id_or_new(self.request_id);
        let request = pb::CreateSettlementRequest {
            request_id: request_id.clone(),
            provider_credit_code: self.provider,
            program: self.program.wire(),
            up_to_date: to_date(self.up_to),
        };
        let settlement = client
            .create_settlement(request)
            .await
            .map_err(|status| unsettled_failure(status, &request_id, "making a statement"))?
            .into_inner();
        output.record(&with_request_id(request_id, settlement_record(&settlement)));
        Ok(())
    }
}

/// The statement, then each of its lines and clawbacks.
async fn get(client: &mut Client, output: &Output, settlement_id: String) -> Result<(), Failure> {
    let settlement = client
        .get_settlement(pb::GetSettlementRequest { settlement_id })
        .await?
        .into_inner();
    let lines = settlement.lines.iter().map(settlement_line_record);
    let clawbacks = settlement.clawbacks.iter().map(clawback_record);
    output.records(
        std::iter::once(settlement_record(&settlement))
            .chain(lines)
            .chain(clawbacks),
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct ListSettlements {
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    #[arg(long)]
    program: Option<ProgramArgument>,
    #[command(flatten)]
    paging: Paging,
}

impl ListSettlements {
    async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let first_request = pb::ListSettlementsRequest {
            provider_credit_code: self.provider.unwrap_or_default(),
            program: optional_program(self.program),
            page_size: self.paging.page_size(),
            page_token: String::new(),
        };
        paginate(output, &self.paging, "settlements", async |page_token| {
            let request = pb::ListSettlementsRequest {
                page_token,
                ..first_request.clone()
            };
            let reply = client.list_settlements(request).await?.into_inner();
            Ok(Page::of(
                &reply.settlements,
                settlement_record,
                reply.next_page_token,
            ))
        })
        .await
    }
}

#[derive(Args, Debug)]
pub struct ExportSettlement {
    #[arg(value_parser = parse_code)]
    settlement_id: String,
    #[arg(long, value_enum, default_value_t = DocumentFormat::Xlsx)]
    format: DocumentFormat,
    /// The file to write (default: <settlement id>.<format>).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl ExportSettlement {
    async fn run(self, client: &mut Client) -> Result<(), Failure> {
        let settlement = client
            .get_settlement(pb::GetSettlementRequest {
                settlement_id: self.settlement_id.clone(),
            })
            .await?
            .into_inner();
        let names = enterprise_names(client, &settlement).await?;
        let statement = statement_document(&settlement, &names);
        let path = self.output.unwrap_or_else(|| {
            let extension = self.format.extension();
            PathBuf::from(format!("{}.{extension}", settlement.settlement_id))
        });
        documents::write(
            self.format,
            &path,
            |file| voucher_ledger::report::write_statement_csv(&statement, file),
            |path| voucher_ledger::report::write_statement_xlsx(&statement, path),
        )?;
        emit(&format!(
            "statement: {}\nlines: {}\nnet: {}\n",
            path.display(),
            statement.lines.len(),
            statement.net()
        ));
        Ok(())
    }
}

/// The name of each enterprise on the statement's lines, by credit code: the lines carry
/// codes only, and a payment voucher shows each enterprise's name beside its code. One call
/// per enterprise; a statement has at most 2,000 lines.
async fn enterprise_names(
    client: &mut Client,
    settlement: &pb::Settlement,
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut names = std::collections::BTreeMap::new();
    for line in &settlement.lines {
        let code = &line.enterprise_credit_code;
        if names.contains_key(code) {
            continue;
        }
        let request = pb::GetEnterpriseRequest {
            credit_code: code.clone(),
        };
        let enterprise = client.get_enterprise(request).await?.into_inner();
        names.insert(code.clone(), enterprise.name);
    }
    Ok(names)
}

/// The statement as the payment voucher's document shows it.
fn statement_document(
    settlement: &pb::Settlement,
    names: &std::collections::BTreeMap<String, String>,
) -> Statement {
    Statement {
        settlement_id: settlement.settlement_id.clone(),
        provider_credit_code: settlement.provider_credit_code.clone(),
        provider_name: settlement.provider_name.clone(),
        program: program_word(settlement.program),
        up_to_date: settlement.up_to_date.clone(),
        lines: settlement
            .lines
            .iter()
            .map(|line| StatementLine {
                redemption_id: line.redemption_id.clone(),
                enterprise_credit_code: line.enterprise_credit_code.clone(),
                enterprise_name: names
                    .get(&line.enterprise_credit_code)
                    .cloned()
                    .unwrap_or_default(),
                invoice_number: line.invoice_number.clone(),
                invoice_date: line.invoice_date.clone(),
                invoice_amount: amount(&line.invoice_amount),
                subsidy: amount(&line.subsidy),
            })
            .collect(),
        clawbacks: settlement
            .clawbacks
            .iter()
            .map(|clawback| (clawback.redemption_id.clone(), amount(&clawback.amount)))
            .collect(),
        gross: amount(&settlement.gross),
        clawed_back: amount(&settlement.clawed_back),
        payment: settlement.payment.as_ref().map(|payment| StatementPayment {
            paid_on: payment.paid_on.clone(),
            bank_reference: payment.bank_reference.clone(),
        }),
    }
}

#[derive(Args, Debug)]
pub struct PaySettlement {
    #[arg(value_parser = parse_code)]
    settlement_id: String,
    /// The bank's or treasury's reference for the transfer.
    #[arg(long)]
    bank_reference: String,
    /// The day the money moved (YYYY-MM-DD); not before the statement, not after today.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    paid_on: NaiveDate,
}

impl PaySettlement {
    async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RecordSettlementPaymentRequest {
            settlement_id: self.settlement_id,
            bank_reference: self.bank_reference,
            paid_on: to_date(self.paid_on),
        };
        let settlement = client
            .record_settlement_payment(request)
            .await?
            .into_inner();
        output.record(&settlement_record(&settlement));
        Ok(())
    }
}

/// A statement's header (its lines are separate records).
fn settlement_record(message: &pb::Settlement) -> Record {
    let mut record = vec![
        ("settlement_id", text(&message.settlement_id)),
        ("provider_credit_code", text(&message.provider_credit_code)),
        ("provider_name", optional(&message.provider_name)),
        ("program", Value::Text(program_word(message.program))),
        ("up_to_date", text(&message.up_to_date)),
        ("lines", Value::Text(message.line_count.to_string())),
        ("gross", Value::Money(message.gross.clone())),
        ("clawed_back", Value::Money(message.clawed_back.clone())),
        ("net", Value::SignedMoney(message.net.clone())),
        (
            "clawbacks",
            Value::Text(message.clawbacks.len().to_string()),
        ),
        ("more_pending", Value::Flag(message.more_pending)),
        ("created_at", Value::Time(message.created_at)),
        ("created_by", Value::Actor(message.created_by.clone())),
        ("paid", Value::Flag(message.payment.is_some())),
    ];
    if let Some(payment) = &message.payment {
        record.push(("paid_on", text(&payment.paid_on)));
        record.push(("bank_reference", text(&payment.bank_reference)));
        record.push(("payment_recorded_at", Value::Time(payment.recorded_at)));
        record.push((
            "payment_recorded_by",
            Value::Actor(payment.recorded_by.clone()),
        ));
    }
    if let Some(net) = message.net.as_ref().filter(|net| is_negative(net)) {
        let owed = ProtoMoney {
            currency_code: net.currency_code.clone(),
            units: -net.units,
            nanos: -net.nanos,
        };
        record.push(("provider_owes", Value::Money(Some(owed))));
    }
    record
}

/// A clawback netted in a statement: a settled claim reversed afterwards.
fn clawback_record(message: &pb::Clawback) -> Record {
    vec![
        ("clawback_of", text(&message.redemption_id)),
        ("amount", Value::Money(message.amount.clone())),
        ("booked_at", Value::Time(message.booked_at)),
    ]
}

fn settlement_line_record(message: &pb::SettlementLine) -> Record {
    vec![
        ("redemption_id", text(&message.redemption_id)),
        ("voucher_id", text(&message.voucher_id)),
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("invoice_number", text(&message.invoice_number)),
        ("invoice_date", text(&message.invoice_date)),
        (
            "invoice_amount",
            Value::Money(message.invoice_amount.clone()),
        ),
        ("subsidy", Value::Money(message.subsidy.clone())),
    ]
}

fn is_negative(value: &ProtoMoney) -> bool {
    value.units < 0 || value.nanos < 0
}
