//! What the ledger adds up, for the bureau and auditors: `balance`, `list-balances`,
//! `program-summary`, `budget`, and `report`, the bureau's file of a program and year, with
//! the records they print.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use voucher_ledger::client::{Record, Value, optional, program_word, text};
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::report::{EnterpriseLine, ProviderLine};
use voucher_ledger::wire::to_date;

use crate::Failure;
use crate::arguments::{Paging, ProgramArgument, parse_day};
use crate::connect::Client;
use crate::documents::{self, DocumentFormat, amount};
use crate::output::{MAX_PAGES, Output, Page, emit, follow_pages, paginate, progress_bar};

#[derive(Args, Debug)]
pub struct Balance {
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    #[command(flatten)]
    period: ProgramPeriod,
}

impl Balance {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetBalanceRequest {
            enterprise_credit_code: self.enterprise,
            program: self.period.program.wire(),
            on_date: self.period.on_date(),
        };
        let reply = client.get_balance(request).await?.into_inner();
        output.record(&balance_record(&reply));
        Ok(())
    }
}

/// A program and the cap period holding a day: `program-summary`, `budget`, and a part of
/// `balance` and `list-balances`.
#[derive(Args, Debug)]
pub struct ProgramPeriod {
    #[arg(long)]
    program: ProgramArgument,
    /// The cap period holding this day (YYYY-MM-DD). Default: today's.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on_date: Option<NaiveDate>,
}

impl ProgramPeriod {
    fn on_date(&self) -> String {
        self.on_date.map(to_date).unwrap_or_default()
    }

    /// The program's totals in the period, then each provider's.
    pub async fn summary(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ProgramSummaryRequest {
            program: self.program.wire(),
            on_date: self.on_date(),
        };
        let summary = client.program_summary(request).await?.into_inner();
        let providers = summary.providers.iter().map(provider_total_record);
        output.records(std::iter::once(program_summary_record(&summary)).chain(providers));
        Ok(())
    }

    pub async fn budget(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetBudgetRequest {
            program: self.program.wire(),
            on_date: self.on_date(),
        };
        let reply = client.get_budget(request).await?.into_inner();
        output.record(&budget_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ListBalances {
    #[command(flatten)]
    period: ProgramPeriod,
    #[command(flatten)]
    paging: Paging,
}

impl ListBalances {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let first_request = pb::ListBalancesRequest {
            program: self.period.program.wire(),
            on_date: self.period.on_date(),
            page_size: self.paging.page_size(),
            page_token: String::new(),
        };
        paginate(output, &self.paging, "balances", async |page_token| {
            let request = pb::ListBalancesRequest {
                page_token,
                ..first_request.clone()
            };
            let reply = client.list_balances(request).await?.into_inner();
            Ok(Page::of(
                &reply.balances,
                balance_record,
                reply.next_page_token,
            ))
        })
        .await
    }
}

#[derive(Args, Debug)]
pub struct Report {
    #[arg(long)]
    program: ProgramArgument,
    /// The calendar year (the cap period of compute vouchers; leasing has one period).
    #[arg(long, value_parser = clap::value_parser!(i32).range(2000..=2100))]
    year: i32,
    #[arg(long, value_enum, default_value_t = DocumentFormat::Xlsx)]
    format: DocumentFormat,
    /// The file to write (default: report-<program>-<year>.<format>).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl Report {
    /// Gathers the summary and every balance (page by page, with a progress bar on a
    /// terminal), then writes the report file.
    pub async fn run(self, client: &mut Client) -> Result<(), Failure> {
        let program = self.program.wire();
        let on_date = report_day(self.year);
        let summary = client
            .program_summary(pb::ProgramSummaryRequest {
                program,
                on_date: on_date.clone(),
            })
            .await?
            .into_inner();
        let enterprises = enterprise_lines(client, program, &on_date, summary.enterprises).await?;
        let document = voucher_ledger::report::Report {
            program: format!(
                "{} ({})",
                program_word(program),
                summary.period_start.get(..4).unwrap_or_default()
            ),
            period_start: summary.period_start.clone(),
            period_end: summary.period_end.clone(),
            committed: amount(&summary.committed),
            redeemed: amount(&summary.redeemed),
            reversed: amount(&summary.reversed),
            rejected: amount(&summary.rejected),
            settled: amount(&summary.settled),
            enterprises,
            providers: summary.providers.iter().map(provider_line).collect(),
        };
        let path = self.output.unwrap_or_else(|| {
            let extension = self.format.extension();
            PathBuf::from(format!(
                "report-{}-{}.{extension}",
                program_word(program),
                self.year
            ))
        });
        documents::write(
            self.format,
            &path,
            |file| voucher_ledger::report::write_csv(&document, file),
            |path| voucher_ledger::report::write_xlsx(&document, path),
        )?;
        emit(&format!(
            "report: {}\nenterprises: {}\nproviders: {}\n",
            path.display(),
            document.enterprises.len(),
            document.providers.len()
        ));
        Ok(())
    }
}

/// Every enterprise's balance in the period, 1,000 a page, counted on a progress bar of
/// `expected` enterprises.
async fn enterprise_lines(
    client: &mut Client,
    program: i32,
    on_date: &str,
    expected: u64,
) -> Result<Vec<EnterpriseLine>, Failure> {
    let progress = progress_bar(expected, "enterprises");
    let mut enterprises = Vec::new();
    let fetch = async |page_token| {
        let request = pb::ListBalancesRequest {
            program,
            on_date: on_date.to_owned(),
            page_size: 1000,
            page_token,
        };
        let reply = client.list_balances(request).await?.into_inner();
        Ok(Page {
            items: reply.balances,
            next_page_token: reply.next_page_token,
        })
    };
    follow_pages(String::new(), MAX_PAGES, fetch, |page| {
        progress.inc(page.items.len() as u64);
        enterprises.extend(page.items.iter().map(enterprise_line));
    })
    .await?;
    progress.finish_and_clear();
    Ok(enterprises)
}

/// A day inside `year`'s cap period: its first day, or the policy term's first day in 2026.
fn report_day(year: i32) -> String {
    if year == 2026 {
        "2026-05-14".to_owned()
    } else {
        format!("{year}-01-01")
    }
}

fn enterprise_line(balance: &pb::Balance) -> EnterpriseLine {
    EnterpriseLine {
        credit_code: balance.enterprise_credit_code.clone(),
        name: balance.enterprise_name.clone(),
        cap: amount(&balance.cap),
        committed: amount(&balance.committed),
        redeemed: amount(&balance.redeemed),
    }
}

fn provider_line(total: &pb::ProviderTotal) -> ProviderLine {
    ProviderLine {
        credit_code: total.provider_credit_code.clone(),
        name: total.provider_name.clone(),
        redemptions: total.redemptions,
        redeemed: amount(&total.redeemed),
        reversed: amount(&total.reversed),
        rejected: amount(&total.rejected),
        settled: amount(&total.settled),
    }
}

fn balance_record(message: &pb::Balance) -> Record {
    vec![
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("enterprise_name", optional(&message.enterprise_name)),
        ("program", Value::Text(program_word(message.program))),
        ("period_start", text(&message.period_start)),
        ("period_end", text(&message.period_end)),
        ("cap", Value::Money(message.cap.clone())),
        ("committed", Value::Money(message.committed.clone())),
        ("redeemed", Value::Money(message.redeemed.clone())),
        (
            "available_to_issue",
            Value::Money(message.available_to_issue.clone()),
        ),
        ("outstanding", Value::Money(message.outstanding.clone())),
        (
            "redeemed_by_year",
            Value::YearTotals(message.redeemed_by_year.clone()),
        ),
    ]
}

/// A program's totals in one cap period (its providers are separate records).
fn program_summary_record(message: &pb::ProgramSummaryResponse) -> Record {
    vec![
        ("program", Value::Text(program_word(message.program))),
        ("period_start", text(&message.period_start)),
        ("period_end", text(&message.period_end)),
        (
            "cap_per_enterprise",
            Value::Money(message.cap_per_enterprise.clone()),
        ),
        ("enterprises", Value::Text(message.enterprises.to_string())),
        ("vouchers", Value::Text(message.vouchers.to_string())),
        ("committed", Value::Money(message.committed.clone())),
        ("redeemed", Value::Money(message.redeemed.clone())),
        ("reversed", Value::Money(message.reversed.clone())),
        ("redemptions", Value::Text(message.redemptions.to_string())),
        (
            "providers",
            Value::Text(message.providers.len().to_string()),
        ),
        (
            "providers_truncated",
            Value::Flag(message.providers_truncated),
        ),
        ("rejected", Value::Money(message.rejected.clone())),
        ("settled", Value::Money(message.settled.clone())),
        ("budget", Value::Money(message.budget.clone())),
    ]
}

/// One provider's totals in a program summary.
fn provider_total_record(message: &pb::ProviderTotal) -> Record {
    vec![
        ("provider_credit_code", text(&message.provider_credit_code)),
        ("provider_name", optional(&message.provider_name)),
        ("redemptions", Value::Text(message.redemptions.to_string())),
        ("redeemed", Value::Money(message.redeemed.clone())),
        ("reversed", Value::Money(message.reversed.clone())),
        ("rejected", Value::Money(message.rejected.clone())),
        ("settled", Value::Money(message.settled.clone())),
    ]
}

fn budget_record(message: &pb::Budget) -> Record {
    vec![
        ("program", Value::Text(program_word(message.program))),
        ("period_start", text(&message.period_start)),
        ("period_end", text(&message.period_end)),
        ("budget", Value::Money(message.budget.clone())),
        ("committed", Value::Money(message.committed.clone())),
        ("redeemed", Value::Money(message.redeemed.clone())),
        ("settled", Value::Money(message.settled.clone())),
        ("available", Value::Money(message.available.clone())),
    ]
}
