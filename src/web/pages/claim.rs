//! One claim (`/redemptions/{redemption_id}`, the id in any case): every field a clerk checks
//! (its voucher, enterprise and provider linked, the invoice, the subsidy computed and
//! granted, the evidence as stored), each step with when and who and the reason given
//! (rejection, dispute, return, reversal), the statement that paid it and, when it was
//! reversed after, the statement that clawed it back; the claim it corrects or that
//! corrects it; and its history.

use axum::extract::{Path, State};
use maud::{Markup, html};

use super::history::{of_record, who};
use super::names::Names;
use super::providers::program_of;
use super::query::bad_field;
use super::{refused, shell};
use crate::domain::ids::{RedemptionId, SettlementId};
use crate::domain::model::{
    Actor, EventCause, EvidenceKind, Redemption, RedemptionStatus, Timestamp,
};
use crate::domain::text::Reason;
use crate::engine::{EngineError, Reader, RedemptionFilter, SettlementFilter};
use crate::web::fragments::{
    cell, claim_link, code_cell, column, field_table, markup_cell, party, row, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, role_name, yuan};
use crate::web::{Console, PageError, Viewer};

/// Claims after a returned one read at most to find the claim correcting it.
pub const CORRECTION_SEARCH_MAX: usize = 200;
/// Statements after the one that paid a reversed claim read at most to find its clawback.
pub const CLAWBACK_SEARCH_MAX: usize = 100;

pub async fn claim(
    State(console): State<Console>,
    viewer: Viewer,
    Path(redemption_id): Path<String>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let typed = crate::domain::typed::id_as_typed(&redemption_id);
    let redemption_id =
        RedemptionId::parse(&typed).map_err(|error| bad_field("redemption_id", error, language))?;
    let reader = console.engine.reader();
    let shown = Shown::read(reader, redemption_id).map_err(refused(language))?;
    let history = of_record(&console, redemption_id).await;
    let claim = &shown.claim;
    let body = html! {
        (fields(language, reader, &shown))
        h2 { (language.pick("办理步骤", "Steps")) }
        (steps(language, claim))
        (clawback(language, &shown))
        h2 { (language.pick("证明材料", "Evidence")) }
        (evidence(language, claim))
        (history.draw(language))
    };
    let here = format!("/redemptions/{redemption_id}");
    let title = format!("{} {redemption_id}", language.pick("核销", "Claim"));
    Ok(shell(&viewer, here, Section::Redemptions, &title, body))
}

/// The claim and what the page reads around it.
struct Shown {
    claim: Redemption,
    names: Names,
    /// The claim correcting this one, when it was returned and corrected.
    corrected_by: Option<RedemptionId>,
    /// The statement that netted this claim's clawback, when it was reversed after payment.
    clawed_back_by: Option<SettlementId>,
}

impl Shown {
    fn read(reader: &Reader, redemption_id: RedemptionId) -> Result<Shown, EngineError> {
        let claim = reader.redemption(&redemption_id, Actor::Bureau)?;
        let names = Names::of_claims(reader, [&claim])?;
        let corrected_by = corrected_by(reader, &claim)?;
        let clawed_back_by = clawed_back_by(reader, &claim)?;
        Ok(Shown {
            claim,
            names,
            corrected_by,
            clawed_back_by,
        })
    }
}

/// The claim correcting a returned one: a later claim of the same enterprise, provider and
/// program naming it, among the next [`CORRECTION_SEARCH_MAX`].
fn corrected_by(reader: &Reader, claim: &Redemption) -> Result<Option<RedemptionId>, EngineError> {
    if claim.status != RedemptionStatus::Returned {
        return Ok(None);
    }
    let filter = RedemptionFilter {
        enterprise_credit_code: Some(claim.enterprise_credit_code),
        provider_credit_code: Some(claim.provider_credit_code),
        program: Some(claim.program),
        ..RedemptionFilter::default()
    };
    let later = reader.list_redemptions(
        filter,
        Actor::Bureau,
        Some(claim.redemption_id),
        CORRECTION_SEARCH_MAX,
    )?;
    Ok(later
        .items
        .iter()
        .find(|later| later.corrects == Some(claim.redemption_id))
        .map(|later| later.redemption_id))
}

/// The statement that netted the clawback of a claim reversed after it was paid: one of its
/// provider's later statements under its program listing it, among the next
/// [`CLAWBACK_SEARCH_MAX`].
fn clawed_back_by(
    reader: &Reader,
    claim: &Redemption,
) -> Result<Option<SettlementId>, EngineError> {
    let (RedemptionStatus::Reversed, Some(paid_by)) = (claim.status, claim.settlement_id) else {
        return Ok(None);
    };
    let filter = SettlementFilter {
        provider_credit_code: Some(claim.provider_credit_code),
        program: Some(claim.program),
    };
    let later =
        reader.list_settlements(filter, Actor::Bureau, Some(paid_by), CLAWBACK_SEARCH_MAX)?;
    Ok(later
        .items
        .iter()
        .find(|(statement, _)| {
            statement
                .clawbacks
                .iter()
                .any(|clawback| clawback.redemption_id == claim.redemption_id)
        })
        .map(|(statement, _)| statement.settlement_id))
}

/// The claim's fields, a row each.
fn fields(language: Language, reader: &Reader, shown: &Shown) -> Markup {
    let claim = &shown.claim;
    let (enterprise, provider) = (claim.enterprise_credit_code, claim.provider_credit_code);
    let statement = match claim.settlement_id {
        Some(id) => html! { a href={"/settlements/" (id)} { (id) } },
        None => html! { span class="hint" { (language.pick("未结算", "Not settled")) } },
    };
    let yes_no = |yes: bool| html! { (if yes { language.pick("是", "yes") } else { language.pick("否", "no") }) };
    let mut rows = vec![
        (
            language.pick("核销编号", "Claim"),
            html! { span class="code" { (claim.redemption_id) } },
        ),
        (
            language.pick("状态", "Status"),
            html! { strong class="status" { (claim.status.word(language)) } },
        ),
        (
            language.pick("项目", "Program"),
            html! { (program_of(reader.policy(), language, claim.program)) },
        ),
        (
            language.pick("券", "Voucher"),
            html! { a class="code" href={"/vouchers/" (claim.voucher_id)} { (claim.voucher_id) } },
        ),
        (
            language.pick("企业", "Enterprise"),
            party(
                "/enterprises/",
                shown.names.enterprise(&enterprise),
                enterprise,
            ),
        ),
        (
            language.pick("服务商", "Provider"),
            party("/providers/", shown.names.provider(&provider), provider),
        ),
        (
            language.pick("发票号码", "Invoice number"),
            html! { span class="code" { (claim.invoice.number) } },
        ),
        (
            language.pick("发票日期", "Invoice date"),
            html! { (claim.invoice.date) },
        ),
        (
            language.pick("发票金额（元）", "Invoice amount (yuan)"),
            html! { (yuan(claim.invoice.amount)) },
        ),
        (
            language.pick("按规则计算的补贴（元）", "Subsidy by the rules (yuan)"),
            html! { (yuan(claim.computed_subsidy)) },
        ),
        (
            language.pick("核定补贴（元）", "Subsidy granted (yuan)"),
            html! { strong { (yuan(claim.subsidy)) } },
        ),
        (
            language.pick("允许部分核销", "Partial allowed"),
            yes_no(claim.allow_partial),
        ),
        (language.pick("结算单", "Statement"), statement),
    ];
    if let Some(corrects) = claim.corrects {
        rows.push((
            language.pick("更正的核销", "Corrects"),
            claim_link(corrects),
        ));
    }
    if let Some(corrected_by) = shown.corrected_by {
        rows.push((
            language.pick("更正后的核销", "Corrected by"),
            claim_link(corrected_by),
        ));
    }
    field_table(rows)
}

/// One step of a claim: what, when, who and the reason given.
struct Step<'c> {
    what: &'static str,
    at: Option<&'c Timestamp>,
    by: Option<Markup>,
    reason: Option<&'c Reason>,
}

/// Each step taken, in the order they happen.
fn steps(language: Language, claim: &Redemption) -> Markup {
    let steps = &claim.steps;
    let by = |cause: &Option<EventCause>| cause.as_ref().map(|cause| who(language, cause));
    let mut taken = vec![Step {
        what: language.pick("服务商申报", "Filed by the provider"),
        at: Some(&claim.redeemed_at),
        by: Some(who(language, &steps.redeemed_by)),
        reason: None,
    }];
    if claim.confirmed_at.is_some() {
        taken.push(Step {
            what: language.pick("企业确认", "Confirmed by the enterprise"),
            at: claim.confirmed_at.as_ref(),
            by: by(&steps.confirmed_by),
            reason: None,
        });
    }
    if claim.approved_at.is_some() {
        taken.push(Step {
            what: language.pick("审核通过", "Approved"),
            at: claim.approved_at.as_ref(),
            by: by(&steps.approved_by),
            reason: None,
        });
    }
    if claim.rejected_at.is_some() || claim.rejection_reason.is_some() {
        taken.push(Step {
            what: language.pick("驳回", "Rejected"),
            at: claim.rejected_at.as_ref(),
            by: by(&steps.closed_by),
            reason: claim.rejection_reason.as_ref(),
        });
    }
    if claim.closed_at.is_some() || claim.closing_reason.is_some() {
        taken.push(Step {
            what: closing_word(language, claim.status),
            at: claim.closed_at.as_ref(),
            by: by(&steps.closed_by),
            reason: claim.closing_reason.as_ref(),
        });
    }
    if claim.reversed_at.is_some() || claim.reversal_reason.is_some() {
        let role = claim
            .reversed_by
            .map(|role| html! { (role_name(language, role)) });
        taken.push(Step {
            what: reversal_word(language, claim),
            at: claim.reversed_at.as_ref(),
            by: by(&steps.reversed_by).or(role),
            reason: claim.reversal_reason.as_ref(),
        });
    }
    steps_table(language, &taken)
}

fn steps_table(language: Language, taken: &[Step<'_>]) -> Markup {
    let columns = [
        column(language.pick("步骤", "Step")),
        column(language.pick("时间", "When")),
        column(language.pick("操作人", "Who")),
        column(language.pick("原因", "Reason")),
    ];
    let unrecorded = || html! { span class="hint" { (language.pick("未记录", "unrecorded")) } };
    let rows = taken.iter().map(|step| {
        row([
            cell(step.what),
            match step.at {
                Some(at) => cell(at.format("%Y-%m-%d %H:%M")),
                None => markup_cell(unrecorded()),
            },
            markup_cell(step.by.clone().unwrap_or_else(unrecorded)),
            match step.reason {
                Some(reason) => html! { td class="reason" { (reason.as_str()) } },
                None => cell(""),
            },
        ])
    });
    table(&columns, rows, None)
}

/// What closed a claim other than a rejection: the enterprise's dispute or the bureau's
/// return for correction.
fn closing_word(language: Language, status: RedemptionStatus) -> &'static str {
    match status {
        RedemptionStatus::Disputed => language.pick("企业异议", "Disputed by the enterprise"),
        RedemptionStatus::Returned => language.pick("退回补正", "Returned for correction"),
        _ => language.pick("关闭", "Closed"),
    }
}

fn reversal_word(language: Language, claim: &Redemption) -> &'static str {
    if claim.settlement_id.is_some() {
        language.pick("红冲（拨付后追回）", "Reversed after payment (clawed back)")
    } else {
        language.pick("红冲", "Reversed")
    }
}

/// For a claim reversed after a statement paid it: the amount the provider owes back, and
/// the statement that netted it or that the next one will.
fn clawback(language: Language, shown: &Shown) -> Markup {
    let claim = &shown.claim;
    if claim.status != RedemptionStatus::Reversed || claim.settlement_id.is_none() {
        return html! {};
    }
    let amount = yuan(claim.subsidy);
    html! {
        p class="message clawback" {
            @match shown.clawed_back_by {
                Some(statement) => {
                    (language.pick("已追回 ", "Clawed back ")) strong { (amount) }
                    (language.pick(" 元，由结算单 ", " yuan, netted by statement "))
                    a href={"/settlements/" (statement)} { (statement) }
                    (language.pick(" 抵扣。", "."))
                }
                None => {
                    (language.pick("待追回 ", "To claw back: ")) strong { (amount) }
                    (language.pick(" 元，计入该服务商下一张结算单。", " yuan, netted by the provider's next statement."))
                }
            }
        }
    }
}

/// The claim's documents as stored: what each proves, its SHA-256 and where it is.
fn evidence(language: Language, claim: &Redemption) -> Markup {
    let columns = [
        column(language.pick("材料", "Document")),
        column(language.pick("文件或链接", "File or link")),
        column("SHA-256"),
    ];
    let rows = claim.evidence.iter().map(|item| {
        row([
            cell(evidence_word(language, item.kind)),
            cell(item.reference.as_str()),
            code_cell(item.sha256.as_str()),
        ])
    });
    let none = language.pick("未附证明材料。", "No evidence attached.");
    table(&columns, rows, Some(none))
}

fn evidence_word(language: Language, kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Contract => language.pick("合同", "Contract"),
        EvidenceKind::PaymentReceipt => language.pick("付款凭证", "Payment receipt"),
        EvidenceKind::DeliveryProof => language.pick("交付证明", "Proof of delivery"),
        EvidenceKind::DeploymentProof => language.pick("部署证明", "Proof of deployment"),
    }
}
