//! One settlement statement (`/settlements/{settlement_id}`, the id in any case): its provider,
//! amounts (a negative net read as what the provider owes), its lines (each claim linked, its
//! enterprise named), the clawbacks it nets (claims reversed after an earlier statement paid
//! them), who made it, its payment and who recorded it, its downloads and its history. While it is
//! unpaid, the bureau and finance see the form recording its payment (拨付登记), finance's only
//! form; when the policy separates duties the ledger refuses the bureau's, and the page says so
//! as it says every refusal.

use axum::extract::{Path, State};
use maud::{Markup, html};

use super::history::{History, of_record, who};
use super::names::Names;
use super::providers::{downloads, net_in_words, owes, program_of, signed_yuan};
use super::query::bad_field;
use super::redemptions::redemption_table;
use super::{refused, shell};
use crate::domain::ids::SettlementId;
use crate::domain::model::{Actor, Redemption, Settlement};
use crate::engine::{EngineError, Reader};
use crate::web::fragments::{
    LastAction, cell, claim_cell, column, enterprise_cell, last_action, link_cell, markup_cell,
    number_cell, number_column, provider_cell, row, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, total, yuan};
use crate::web::{Console, PageError, Viewer};

pub async fn settlement(
    State(console): State<Console>,
    viewer: Viewer,
    Path(settlement_id): Path<String>,
) -> Result<Markup, PageError> {
    let typed = crate::domain::typed::id_as_typed(&settlement_id);
    let settlement_id = SettlementId::parse(&typed)
        .map_err(|error| bad_field("settlement_id", error, viewer.language))?;
    let history = of_record(&console, settlement_id).await;
    render(&console, &viewer, settlement_id, &history, None, None)
}

/// The payment form's fields as typed, drawn back into it after a refusal.
#[derive(Clone, Debug, Default)]
pub struct PaymentTyped {
    pub bank_reference: String,
    pub paid_on: String,
}

/// The statement's page, what the last form did on top.
pub fn render(
    console: &Console,
    viewer: &Viewer,
    settlement_id: SettlementId,
    history: &History,
    last: Option<&LastAction>,
    typed: Option<&PaymentTyped>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let bad_field = match last {
        Some(LastAction::Refused(refusal)) => refusal.field,
        _ => None,
    };
    let (settlement, lines, provider_name) = reader
        .settlement(&settlement_id, Actor::Bureau)
        .map_err(refused(language))?;
    let program = program_of(reader.policy(), language, settlement.program);
    let clawed_back = clawed_back_claims(reader, &settlement).map_err(refused(language))?;
    let names =
        Names::of_claims(reader, lines.iter().chain(&clawed_back)).map_err(refused(language))?;
    let body = html! {
        (last_action(last))
        (summary(language, &settlement, &provider_name, &program))
        p class={"net" @if owes(&settlement) { " owes" }} { strong { (net_in_words(language, &settlement)) } }
        (payment(language, &settlement))
        @if settlement.payment.is_none() && viewer.records_payments() {
            (payment_form(language, &viewer.session.csrf, settlement_id, typed, bad_field))
        }
        p class="downloads" { (language.pick("下载付款凭证：", "Download the payment voucher: ")) (downloads(settlement_id)) }
        p class="downloads" { a class="button secondary" href={"/settlements/" (settlement_id) "/print"} { (language.pick("打印付款凭证", "Print the payment voucher")) } }
        h2 { (language.pick("结算明细", "Lines")) }
        (redemption_table(language, reader.policy(), &names, &lines))
        h2 { (language.pick("本单抵扣的追回（拨付后红冲）", "Clawbacks netted (claims reversed after payment)")) }
        (clawback_table(language, &settlement, &clawed_back, &names))
        (history.draw(language))
    };
    let here = format!("/settlements/{settlement_id}");
    let title = format!("{} {settlement_id}", language.pick("结算单", "Statement"));
    Ok(shell(viewer, here, Section::Providers, &title, body))
}

fn summary(language: Language, settlement: &Settlement, provider: &str, program: &str) -> Markup {
    let columns = [
        column(language.pick("服务商", "Provider")),
        column(language.pick("项目", "Program")),
        column(language.pick("发票截止", "Invoices up to")),
        number_column(language.pick("笔数", "Lines")),
        number_column(language.pick("核销金额（元）", "Gross (yuan)")),
        number_column(language.pick("追回（元）", "Clawed back (yuan)")),
        number_column(language.pick("应付净额（元）", "Net (yuan)")),
        column(language.pick("生成", "Made")),
    ];
    let made = html! {
        (settlement.created_at.format("%Y-%m-%d %H:%M"))
        div { (who(language, &settlement.created_by)) }
    };
    let cells = [
        provider_cell(provider, settlement.provider_credit_code),
        cell(program),
        cell(settlement.up_to),
        number_cell(settlement.redemption_ids.len()),
        number_cell(total(settlement.gross)),
        number_cell(total(settlement.clawed_back)),
        number_cell(signed_yuan(settlement.net())),
        markup_cell(made),
    ];
    table(&columns, [row(cells)], None)
}

/// The payment as recorded (the day, the bank's reference, when and by whom), or that it
/// waits.
fn payment(language: Language, settlement: &Settlement) -> Markup {
    html! {
        h2 { (language.pick("拨付", "Payment")) }
        @if let Some(payment) = &settlement.payment {
            p {
                (language.pick("拨付日期 ", "Paid on ")) (payment.paid_on)
                " · " (language.pick("凭证号 ", "reference ")) span class="code" { (payment.bank_reference) }
                " · " (language.pick("登记于 ", "recorded ")) (payment.recorded_at.format("%Y-%m-%d %H:%M"))
                " · " (language.pick("登记人 ", "by ")) span class="recorded-by" { (who(language, &payment.recorded_by)) }
            }
        } @else if owes(settlement) {
            p class="hint owes" { (language.pick("待服务商退回：", "Not repaid yet: ")) (net_in_words(language, settlement)) (language.pick("。", ".")) }
        } @else {
            p class="hint" { (language.pick("待拨付。", "Not paid yet.")) }
        }
    }
}

/// The form recording the statement's payment; its answer is this page again.
/// The form that records the payment: what was typed and the field at fault marked, after a
/// refusal.
fn payment_form(
    language: Language,
    csrf: &str,
    settlement_id: SettlementId,
    typed: Option<&PaymentTyped>,
    bad_field: Option<&str>,
) -> Markup {
    let (bank_reference, paid_on) = typed.map_or(("", ""), |typed| {
        (typed.bank_reference.as_str(), typed.paid_on.as_str())
    });
    let invalid = |field: &str| (bad_field == Some(field)).then_some("true");
    html! {
        form method="post" action="/actions/record-settlement-payment" class="action" id="record-settlement-payment" {
            h2 { (language.pick("拨付登记", "Record the payment")) }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="settlement_id" value=(settlement_id);
            input type="hidden" name="from" value="statement";
            label { (language.pick("银行/国库支付凭证号", "Bank reference")) input name="bank_reference" required maxlength="500" value=(bank_reference) aria-invalid=[invalid("bank_reference")]; }
            label { (language.pick("拨付日期", "Paid on")) input type="date" name="paid_on" required value=(paid_on) aria-invalid=[invalid("paid_on")]; }
            button type="submit" { (language.pick("登记", "Record")) }
        }
    }
}

/// The claims whose clawbacks the statement nets, in its order.
fn clawed_back_claims(
    reader: &Reader,
    settlement: &Settlement,
) -> Result<Vec<Redemption>, EngineError> {
    settlement
        .clawbacks
        .iter()
        .map(|clawback| reader.redemption(&clawback.redemption_id, Actor::Bureau))
        .collect()
}

/// The clawbacks a statement nets, a row each: the claim (linked), its enterprise, its
/// invoice, the statement that had paid it, when the clawback was booked, and the amount.
fn clawback_table(
    language: Language,
    settlement: &Settlement,
    claims: &[Redemption],
    names: &Names,
) -> Markup {
    let columns = [
        column(language.pick("核销编号", "Claim")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("发票号码", "Invoice")),
        column(language.pick("原结算单", "Paid by")),
        column(language.pick("红冲时间", "Reversed")),
        number_column(language.pick("追回（元）", "Clawed back (yuan)")),
    ];
    let rows = settlement
        .clawbacks
        .iter()
        .zip(claims)
        .map(|(clawback, claim)| {
            let enterprise = claim.enterprise_credit_code;
            let paid_by = claim
                .settlement_id
                .map(|id| link_cell(&format!("/settlements/{id}"), id))
                .unwrap_or_else(|| cell(""));
            row([
                claim_cell(clawback.redemption_id),
                enterprise_cell(names.enterprise(&enterprise), enterprise),
                cell(&claim.invoice.number),
                paid_by,
                cell(clawback.booked_at.format("%Y-%m-%d %H:%M")),
                number_cell(yuan(clawback.amount)),
            ])
        });
    let none = language.pick("本单没有抵扣追回款。", "This statement nets no clawback.");
    table(&columns, rows, Some(none))
}
