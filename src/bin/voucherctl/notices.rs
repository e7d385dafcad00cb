//! Public notices (公示) of approved claims: the bureau's `publish-notice`, `get-notice` (which
//! can also write the notice as CSV and XLSX for posting) and `list-notices`, with the
//! notice's record and its lines'.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use voucher_ledger::client::{Record, Value, program_word, text};
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::report::{Notice, NoticeLine, write_notice_csv, write_notice_xlsx};
use voucher_ledger::wire::to_date;

use crate::Failure;
use crate::arguments::{Paging, ProgramArgument, parse_code, parse_day};
use crate::connect::Client;
use crate::documents::{self, DocumentFormat, amount};
use crate::output::{Output, Page, paginate};

#[derive(Args, Debug)]
pub struct PublishNotice {
    #[arg(long)]
    program: ProgramArgument,
    /// The first day (China time) of the period whose approved claims are listed.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    approved_from: NaiveDate,
    /// The last day of that period (inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    approved_until: NaiveDate,
    /// The first day the notice is posted (公示期).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    posted_from: NaiveDate,
    /// The last day it is posted (inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    posted_until: NaiveDate,
    /// List exactly this approved claim; repeat for several. Default: every claim of the
    /// program approved in the period.
    #[arg(long = "redemption", value_name = "REDEMPTION_ID")]
    redemption_ids: Vec<String>,
}

impl PublishNotice {
    /// Prints the notice, then each of its lines.
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::PublishNoticeRequest {
            program: self.program.wire(),
            approved_from: to_date(self.approved_from),
            approved_until: to_date(self.approved_until),
            posted_from: to_date(self.posted_from),
            posted_until: to_date(self.posted_until),
            redemption_ids: self.redemption_ids,
        };
        let notice = client.publish_notice(request).await?.into_inner();
        print_with_lines(&notice, output);
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct GetNotice {
    #[arg(value_parser = parse_code)]
    notice_id: String,
    /// Also write the notice to FILE as CSV (UTF-8 with a byte-order mark, for Excel).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also write the notice to FILE as XLSX.
    #[arg(long, value_name = "FILE")]
    xlsx: Option<PathBuf>,
}

impl GetNotice {
    /// Prints the notice and its lines, then writes the files asked for (named on stderr).
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetNoticeRequest {
            notice_id: self.notice_id,
        };
        let notice = client.get_notice(request).await?.into_inner();
        print_with_lines(&notice, output);
        let document = notice_document(&notice);
        let files = [
            (DocumentFormat::Csv, &self.csv),
            (DocumentFormat::Xlsx, &self.xlsx),
        ];
        for (format, path) in files {
            let Some(path) = path else { continue };
            documents::write(
                format,
                path,
                |file| write_notice_csv(&document, file),
                |path| write_notice_xlsx(&document, path),
            )?;
            eprintln!("note: wrote {} ({})", path.display(), format.extension());
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ListNotices {
    #[command(flatten)]
    paging: Paging,
}

impl ListNotices {
    /// Notices without their lines (get-notice shows them), oldest first.
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let page_size = self.paging.page_size();
        paginate(output, &self.paging, "notices", async |page_token| {
            let request = pb::ListNoticesRequest {
                page_size,
                page_token,
            };
            let reply = client.list_notices(request).await?.into_inner();
            Ok(Page::of(
                &reply.notices,
                notice_record,
                reply.next_page_token,
            ))
        })
        .await
    }
}

/// The notice with its count of lines, then each line.
fn print_with_lines(notice: &pb::PublicNotice, output: &Output) {
    let mut header = notice_record(notice);
    header.push(("lines", Value::Text(notice.lines.len().to_string())));
    output.records(std::iter::once(header).chain(notice.lines.iter().map(notice_line_record)));
}

/// The notice as the posted documents show it.
fn notice_document(notice: &pb::PublicNotice) -> Notice {
    Notice {
        notice_id: notice.notice_id.clone(),
        program: program_word(notice.program),
        approved_from: notice.approved_from.clone(),
        approved_until: notice.approved_until.clone(),
        posted_from: notice.posted_from.clone(),
        posted_until: notice.posted_until.clone(),
        lines: notice
            .lines
            .iter()
            .map(|line| NoticeLine {
                redemption_id: line.redemption_id.clone(),
                enterprise_credit_code: line.enterprise_credit_code.clone(),
                enterprise_name: line.enterprise_name.clone(),
                provider_credit_code: line.provider_credit_code.clone(),
                subsidy: amount(&line.subsidy),
            })
            .collect(),
        total: amount(&notice.total),
    }
}

/// A notice's header; a listed notice comes without its lines.
fn notice_record(message: &pb::PublicNotice) -> Record {
    vec![
        ("notice_id", text(&message.notice_id)),
        ("program", Value::Text(program_word(message.program))),
        ("approved_from", text(&message.approved_from)),
        ("approved_until", text(&message.approved_until)),
        ("posted_from", text(&message.posted_from)),
        ("posted_until", text(&message.posted_until)),
        ("total", Value::Money(message.total.clone())),
        ("published_at", Value::Time(message.published_at)),
    ]
}

fn notice_line_record(message: &pb::NoticeLine) -> Record {
    vec![
        ("redemption_id", text(&message.redemption_id)),
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("enterprise_name", text(&message.enterprise_name)),
        ("provider_credit_code", text(&message.provider_credit_code)),
        ("subsidy", Value::Money(message.subsidy.clone())),
    ]
}
