//! The printable payment voucher (付款凭证) of one statement, `/settlements/{id}/print`: an A4
//! page headed by the bureau (启东市数据局 · 算力券 付款凭证) with the statement, the provider,
//! the period, the lines (each enterprise's name beside its code), the clawbacks, the net in
//! figures and in capitals (大写金额, which the bank reads against the figures), and the
//! signatures of 经办人, 审核人 and 财政. Outside the shell: nothing on it is for the screen but a
//! line saying how to print, which paper does not show. The browser prints it; no script.
//! Also the print stylesheet every page links (`assets/print.css`).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use maud::{DOCTYPE, Markup, html};

use super::providers::signed_yuan;
use super::query::bad_field;
use super::refused;
use crate::domain::ids::SettlementId;
use crate::domain::model::{Actor, Redemption, Settlement};
use crate::report::capital_amount;
use crate::web::fragments::{cell, code_cell, column, number_cell, number_column, row, table};
use crate::web::i18n::Language;
use crate::web::layout::{total, yuan};
use crate::web::{Console, PageError, Viewer};

/// The print stylesheet, served from the binary like the console's.
pub async fn print_stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/print.css"),
    )
}

/// What the voucher shows of the statement, read once.
struct Voucher {
    settlement: Settlement,
    lines: Vec<(Redemption, String)>,
    provider_name: String,
    /// The program's name in the reader's language (算力券, compute voucher).
    program: String,
}

pub async fn print_statement(
    State(console): State<Console>,
    viewer: Viewer,
    Path(settlement_id): Path<String>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let settlement_id = SettlementId::parse(&settlement_id)
        .map_err(|error| bad_field("settlement_id", error, language))?;
    let reader = console.engine.reader();
    let (settlement, lines, provider_name) = reader
        .settlement(&settlement_id, Actor::Bureau)
        .map_err(refused(language))?;
    let lines =
        super::names::Names::with_enterprise_names(reader, lines).map_err(refused(language))?;
    let program = super::providers::program_of(reader.policy(), language, settlement.program);
    let voucher = Voucher {
        settlement,
        lines,
        provider_name,
        program,
    };
    Ok(document(language, &voucher))
}

/// The whole page: its own head (the print stylesheet for every medium) and the sheet.
fn document(language: Language, voucher: &Voucher) -> Markup {
    let id = voucher.settlement.settlement_id;
    let title = format!("{} {id}", language.pick("付款凭证", "Payment voucher"));
    html! {
        (DOCTYPE)
        html lang=(language.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 启东市 核销账本" }
                link rel="stylesheet" href="/assets/console.css";
                link rel="stylesheet" href="/assets/print.css";
                link rel="icon" href="data:,";
            }
            body class="print" {
                main class="voucher-sheet" {
                    p class="no-print hint" {
                        (language.pick("请用浏览器的打印功能（Ctrl+P）打印本页，纸张 A4。", "Print this page with the browser's print (Ctrl+P), on A4."))
                        " "
                        a href={"/settlements/" (id)} { (language.pick("返回结算单", "Back to the statement")) }
                    }
                    p class="bureau" { (language.pick("启东市数据局", "Qidong Municipal Data Bureau")) }
                    h1 class="kind" {
                        (voucher.program) " " (language.pick("付款凭证", "payment voucher"))
                    }
                    (facts(language, voucher))
                    (lines(language, voucher))
                    (clawbacks(language, &voucher.settlement))
                    (amounts(language, &voucher.settlement))
                    (signatures(language))
                }
            }
        }
    }
}

/// The statement's header: its id, the provider, the period, and the payment once recorded.
fn facts(language: Language, voucher: &Voucher) -> Markup {
    let settlement = &voucher.settlement;
    html! {
        dl class="facts" {
            dt { (language.pick("结算单号", "Statement")) } dd class="code" { (settlement.settlement_id) }
            dt { (language.pick("项目", "Program")) } dd { (voucher.program) }
            dt { (language.pick("服务商", "Provider")) } dd { (voucher.provider_name) }
            dt { (language.pick("统一社会信用代码", "Credit code")) } dd class="code" { (settlement.provider_credit_code) }
            dt { (language.pick("发票截止日期", "Invoices up to")) } dd { (settlement.up_to) }
            dt { (language.pick("结算单生成日期", "Statement made on")) } dd { (settlement.made_on) }
            @if let Some(payment) = &settlement.payment {
                dt { (language.pick("拨付日期", "Paid on")) } dd { (payment.paid_on) }
                dt { (language.pick("银行/国库支付凭证号", "Bank reference")) } dd class="code" { (payment.bank_reference) }
            } @else {
                dt { (language.pick("拨付", "Payment")) } dd { (language.pick("待拨付", "Not paid yet")) }
                dt { (language.pick("银行/国库支付凭证号", "Bank reference")) } dd { "" }
            }
        }
    }
}

/// The lines: a claim a row, numbered, each enterprise's name beside its code.
fn lines(language: Language, voucher: &Voucher) -> Markup {
    let columns = [
        number_column(language.pick("序号", "No.")),
        column(language.pick("企业名称", "Enterprise")),
        column(language.pick("统一社会信用代码", "Credit code")),
        column(language.pick("核销编号", "Claim")),
        column(language.pick("发票号码", "Invoice")),
        column(language.pick("发票日期", "Invoice date")),
        number_column(language.pick("补贴金额（元）", "Subsidy (yuan)")),
    ];
    let rows = (1..).zip(&voucher.lines).map(|(number, (claim, name))| {
        row([
            number_cell(number),
            cell(name),
            code_cell(claim.enterprise_credit_code),
            code_cell(claim.redemption_id),
            code_cell(&claim.invoice.number),
            cell(claim.invoice.date),
            number_cell(yuan(claim.subsidy)),
        ])
    });
    html! {
        h2 { (language.pick("结算明细", "Lines")) " (" (voucher.lines.len()) ")" }
        (table(&columns, rows, Some(language.pick("本结算单没有核销明细。", "No claims on this statement."))))
    }
}

/// The clawbacks netted off, when there are any.
fn clawbacks(language: Language, settlement: &Settlement) -> Markup {
    if settlement.clawbacks.is_empty() {
        return html! {};
    }
    let columns = [
        column(language.pick("追回核销编号", "Clawback of claim")),
        column(language.pick("登记时间", "Booked")),
        number_column(language.pick("追回金额（元）", "Amount (yuan)")),
    ];
    let rows = settlement.clawbacks.iter().map(|clawback| {
        row([
            code_cell(clawback.redemption_id),
            cell(clawback.booked_at.format("%Y-%m-%d %H:%M")),
            number_cell(yuan(clawback.amount)),
        ])
    });
    html! {
        h2 { (language.pick("追回", "Clawbacks")) }
        (table(&columns, rows, None))
    }
}

/// Gross, clawed back and net in figures, and the net in capitals: what the bank checks the
/// figures against. A negative net is what the provider owes back.
fn amounts(language: Language, settlement: &Settlement) -> Markup {
    let net = settlement.net();
    let net_label = if net.is_sign_negative() && !net.is_zero() {
        language.pick("应退回金额（元）", "Owed back (yuan)")
    } else {
        language.pick("应付净额（元）", "Net payable (yuan)")
    };
    let columns = [
        number_column(language.pick("核销金额（元）", "Gross (yuan)")),
        number_column(language.pick("追回金额（元）", "Clawed back (yuan)")),
        number_column(net_label),
    ];
    let cells = [
        number_cell(total(settlement.gross)),
        number_cell(total(settlement.clawed_back)),
        number_cell(signed_yuan(net)),
    ];
    html! {
        div class="amounts" { (table(&columns, [row(cells)], None)) }
        p class="capital" {
            (language.pick("大写金额：", "Amount in Chinese capitals (大写金额): "))
            span class="capital-amount" { (capital_amount(net)) }
        }
    }
}

/// Who prepared, who checked, and finance: a name line and a date line each.
fn signatures(language: Language) -> Markup {
    let signers = [
        language.pick("经办人", "Prepared by (经办人)"),
        language.pick("审核人", "Checked by (审核人)"),
        language.pick("财政", "Finance (财政)"),
    ];
    html! {
        div class="signatures" {
            @for signer in signers {
                div {
                    strong { (signer) }
                    p { (language.pick("签名：", "Signature: ")) "________________" }
                    p { (language.pick("日期：", "Date: ")) "______年____月____日" }
                }
            }
        }
    }
}
