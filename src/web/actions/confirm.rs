//! The page between the first and the second submit of a form that cannot be undone: revoking
//! a voucher, reversing (clawing back) or rejecting a claim, rejecting an application,
//! creating a statement, recording a payment, approving many claims at once, and issuing a
//! second voucher to an enterprise that holds an active one. The first submit changes nothing:
//! it reads the record through the reader and answers this page, which says what will happen
//! in numbers (the amount that returns to the cap, the subsidy that will not be paid, the sum
//! a clawback takes back), carries every field of the form in hidden inputs with
//! `confirmed=yes`, and offers 确认 and 返回. Only a submit with `confirmed=yes` acts, so a
//! script that posts the form once learns what it would do and must say so to act.
//!
//! Each form's `prepare_…` reads what its consequence needs (bounded reads only) and says
//! whether there is anything to confirm: a record already in the state the form asks for, or
//! a refusal the ledger would give, needs none (the form acts, which changes nothing, and
//! answers as today). The consequences are worded by one function per form.

use maud::{Markup, html};
use rust_decimal::Decimal;

use crate::domain::command::Command;
use crate::domain::model::{
    Actor, ApplicationStatus, Redemption, RedemptionStatus, Settlement, Voucher, VoucherApplication,
};
use crate::domain::money::{Money, Total};
use crate::domain::policy::{Policy, ProgramCode};
use crate::engine::{EngineError, Reader, RedemptionFilter, VoucherFilter};
use crate::web::Viewer;
use crate::web::i18n::Language;
use crate::web::layout::{self, Section, program_name, yuan};
use crate::web::pages::chrome;

/// The value of `confirmed` that lets a form act.
pub const CONFIRMED: &str = "yes";

/// Whether a form's `confirmed` field says the clerk saw the confirmation page.
pub fn is_confirmed(confirmed: &str) -> bool {
    confirmed.trim() == CONFIRMED
}

/// What a confirmation page shows and where its second submit goes.
pub struct Confirmation {
    /// The page's heading (`确认撤销券`).
    pub title: String,
    /// What will happen, a sentence a line, with the amounts in it.
    pub consequences: Vec<String>,
    /// A table or list under the sentences (the claims a batch approves), when there is one.
    pub details: Option<Markup>,
    /// The form's path, posted again with the same fields and `confirmed=yes`.
    pub action: &'static str,
    /// Every field of the form as posted, the CSRF secret aside (the page adds this
    /// session's); a name may repeat.
    pub fields: Vec<(&'static str, String)>,
    /// The words on the button that acts.
    pub button: String,
    /// Where 返回 goes, changing nothing.
    pub back: String,
    /// The navigation entry lit.
    pub section: Section,
}

/// The confirmation page, in the viewer's shell.
pub fn page(viewer: &Viewer, confirmation: &Confirmation) -> Markup {
    let language = viewer.language;
    let body = html! {
        div class="message error" role="alert" {
            @for line in &confirmation.consequences { p { (line) } }
        }
        @if let Some(details) = &confirmation.details { (details) }
        form method="post" action=(confirmation.action) class="action confirm" id="confirm" {
            input type="hidden" name="csrf" value=(viewer.session.csrf);
            @for (name, value) in &confirmation.fields {
                input type="hidden" name=(name) value=(value);
            }
            input type="hidden" name="confirmed" value=(CONFIRMED);
            p class="hint" { (language.pick(
                "此操作不能撤回。确认后立即生效；返回则不做任何更改。",
                "This cannot be undone. It takes effect once confirmed; going back changes nothing."
            )) }
            p class="near" {
                button type="submit" class="danger" { (confirmation.button) }
                a class="button secondary" href=(confirmation.back) { (language.pick("返回", "Back")) }
            }
        }
    };
    let here = confirmation.back.clone();
    layout::page(
        &chrome(viewer, &here),
        confirmation.section,
        &confirmation.title,
        body,
    )
}

/// A program's name in the reader's language, or its code word when the policy lacks it.
pub fn program_label(language: Language, policy: &Policy, program: ProgramCode) -> String {
    policy.program(program).map_or_else(
        |_| program.as_str().to_owned(),
        |rules| program_name(language, rules),
    )
}

/// An amount that may be negative (a statement's net), grouped: `-1,234.50`.
pub fn signed(amount: Decimal) -> String {
    let magnitude = Total::try_from(amount.abs())
        .map(Total::to_grouped_string)
        .unwrap_or_else(|_| amount.abs().to_string());
    if amount.is_sign_negative() && !amount.is_zero() {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}

/// Revoking: the voucher's unused remainder returns to the enterprise's cap.
pub fn revoke(language: Language, voucher: &Voucher, reason: &str) -> Vec<String> {
    vec![
        match language {
            Language::Chinese => format!(
                "撤销券 {}：未使用的 {} 元退回企业 {} 的额度（面值 {} 元，已核销 {} 元）。撤销后此券不能再核销。",
                voucher.voucher_id,
                yuan(voucher.remaining()),
                voucher.enterprise_credit_code,
                yuan(voucher.face_value),
                yuan(voucher.redeemed)
            ),
            Language::English => format!(
                "Revoke {}: its unused {} yuan returns to enterprise {}'s cap (face value {}, redeemed {}). No claim may be made on it afterwards.",
                voucher.voucher_id,
                yuan(voucher.remaining()),
                voucher.enterprise_credit_code,
                yuan(voucher.face_value),
                yuan(voucher.redeemed)
            ),
        },
        reason_line(language, reason),
    ]
}

/// Reversing: a settled claim's subsidy is clawed back through the provider's next
/// statement (`statement` is the one that settled it); an open claim's is never paid and
/// returns to the cap.
pub fn reverse(
    language: Language,
    claim: &Redemption,
    statement: Option<&Settlement>,
    reason: &str,
) -> Vec<String> {
    let subsidy = yuan(claim.subsidy);
    let id = claim.redemption_id;
    let provider = claim.provider_credit_code;
    let first = match (claim.status, statement) {
        (RedemptionStatus::Settled, Some(statement)) if statement.payment.is_some() => either(
            language,
            format!(
                "红冲 {id}：收回已拨付的 {subsidy} 元，计入服务商 {provider} 的下一张结算单（原结算单 {}）。",
                statement.settlement_id
            ),
            format!(
                "Reverse {id}: claws back {subsidy} yuan already paid, netted on provider {provider}'s next statement (paid on statement {}).",
                statement.settlement_id
            ),
        ),
        (RedemptionStatus::Settled, _) => either(
            language,
            format!("红冲 {id}：收回已结算的 {subsidy} 元，计入服务商 {provider} 的下一张结算单。"),
            format!(
                "Reverse {id}: claws back {subsidy} yuan already settled, netted on provider {provider}'s next statement."
            ),
        ),
        _ => either(
            language,
            format!(
                "红冲 {id}：补贴 {subsidy} 元不再支付，退回企业 {} 的额度。",
                claim.enterprise_credit_code
            ),
            format!(
                "Reverse {id}: its subsidy of {subsidy} yuan will not be paid and returns to enterprise {}'s cap.",
                claim.enterprise_credit_code
            ),
        ),
    };
    vec![first, reason_line(language, reason)]
}

/// Rejecting a claim: its subsidy will not be paid.
pub fn reject_claim(language: Language, claim: &Redemption, reason: &str) -> Vec<String> {
    let subsidy = yuan(claim.subsidy);
    let id = claim.redemption_id;
    let enterprise = claim.enterprise_credit_code;
    vec![
        either(
            language,
            format!(
                "驳回 {id}：补贴 {subsidy} 元不予支付，退回企业 {enterprise} 的额度（发票 {}，金额 {} 元）。",
                claim.invoice.number,
                yuan(claim.invoice.amount)
            ),
            format!(
                "Reject {id}: its subsidy of {subsidy} yuan will not be paid and returns to enterprise {enterprise}'s cap (invoice {}, {} yuan).",
                claim.invoice.number,
                yuan(claim.invoice.amount)
            ),
        ),
        reason_line(language, reason),
    ]
}

/// Rejecting an application: the amount asked for is not issued.
pub fn reject_application(
    language: Language,
    application: &VoucherApplication,
    reason: &str,
) -> Vec<String> {
    let id = application.application_id;
    let enterprise = application.enterprise_credit_code;
    let amount = yuan(application.amount);
    vec![
        either(
            language,
            format!(
                "驳回申领 {id}：企业 {enterprise} 申请的 {amount} 元不予发券（合同 {}）。",
                application.contract_number.as_str()
            ),
            format!(
                "Reject application {id}: the {amount} yuan enterprise {enterprise} asked for will not be issued (contract {}).",
                application.contract_number.as_str()
            ),
        ),
        reason_line(language, reason),
    ]
}

/// What a statement would gather, as far as one bounded read of the approved claims tells.
pub struct Gathered {
    pub claims: usize,
    /// More approved claims than were read: the count and total are "at least".
    pub more: bool,
    pub subsidy: Total,
}

/// Creating a statement: the provider, the period and what it would gather.
pub fn create_settlement(
    language: Language,
    provider: (&str, &str),
    program: &str,
    up_to: &str,
    gathered: &Gathered,
) -> Vec<String> {
    let (code, name) = provider;
    let (claims, subsidy) = (gathered.claims, gathered.subsidy.to_grouped_string());
    let at_least = if gathered.more {
        language.pick("至少", "at least ")
    } else {
        ""
    };
    vec![
        either(language,
            format!("为服务商 {name}（{code}）生成{program}结算单：收录发票日期截至 {up_to} 的已审核核销{at_least} {claims} 笔，补贴合计{at_least} {subsidy} 元。"),
            format!("Create a {program} statement for provider {name} ({code}): it gathers {at_least}{claims} approved claims with invoices dated up to {up_to}, subsidy {at_least}{subsidy} yuan."),
        ),
        either(language,
            "该服务商尚未抵扣的红冲追回款一并扣减；结算单生成后其中的核销不能再驳回。".to_owned(),
            "Open clawbacks of the provider are netted too; once on a statement, its claims can no longer be rejected.".to_owned(),
        ),
    ]
}

/// Recording a payment: the statement's net and the bank reference.
pub fn payment(
    language: Language,
    statement: &Settlement,
    provider_name: &str,
    bank_reference: &str,
    paid_on: &str,
) -> Vec<String> {
    let id = statement.settlement_id;
    let net = statement.net();
    let amount = signed(net.abs());
    let provider = statement.provider_credit_code;
    let first = if net.is_sign_negative() && !net.is_zero() {
        either(
            language,
            format!(
                "登记结算单 {id} 已收款：服务商 {provider_name}（{provider}）退回 {amount} 元。"
            ),
            format!(
                "Record statement {id} as settled: provider {provider_name} ({provider}) paid back {amount} yuan."
            ),
        )
    } else {
        either(
            language,
            format!(
                "登记结算单 {id} 已拨付：向服务商 {provider_name}（{provider}）拨付应付净额 {amount} 元。"
            ),
            format!(
                "Record statement {id} as paid: net {amount} yuan to provider {provider_name} ({provider})."
            ),
        )
    };
    vec![
        first,
        either(
            language,
            format!("凭证号 {bank_reference}，拨付日期 {paid_on}。登记后不能更改。"),
            format!(
                "Bank reference {bank_reference}, paid on {paid_on}. It cannot be changed once recorded."
            ),
        ),
    ]
}

/// Issuing again: the enterprise's active vouchers in the program, and what a new one adds.
pub fn second_voucher(
    language: Language,
    enterprise: &str,
    program: &str,
    active: &[Voucher],
    face_value: Option<Money>,
) -> Vec<String> {
    let held: Vec<String> = active
        .iter()
        .map(|voucher| {
            either(
                language,
                format!(
                    "{}（面值 {} 元，剩余 {} 元，有效期至 {}）",
                    voucher.voucher_id,
                    yuan(voucher.face_value),
                    yuan(voucher.remaining()),
                    voucher.validity.last
                ),
                format!(
                    "{} (face value {}, {} left, valid until {})",
                    voucher.voucher_id,
                    yuan(voucher.face_value),
                    yuan(voucher.remaining()),
                    voucher.validity.last
                ),
            )
        })
        .collect();
    let new_value = face_value.map_or_else(
        || {
            language
                .pick("剩余全部额度", "all that is left under the cap")
                .to_owned()
        },
        |value| {
            either(
                language,
                format!("{} 元", yuan(value)),
                format!("{} yuan", yuan(value)),
            )
        },
    );
    vec![
        either(
            language,
            format!(
                "企业 {enterprise} 已持有有效的{program}：{}。",
                held.join("；")
            ),
            format!(
                "Enterprise {enterprise} already holds an active {program}: {}.",
                held.join("; ")
            ),
        ),
        either(
            language,
            format!("确认再发一张券（面值 {new_value}）？"),
            format!("Issue another one (face value {new_value})?"),
        ),
    ]
}

/// Approving many claims: how many and the subsidy they total.
pub fn approve_selected(language: Language, claims: usize, subsidy: Total) -> Vec<String> {
    let total = subsidy.to_grouped_string();
    vec![either(
        language,
        format!(
            "通过 {claims} 笔核销，补贴合计 {total} 元。每笔单独提交，未能通过的将逐笔说明原因。"
        ),
        format!(
            "Approve {claims} claims, subsidy {total} yuan in all. Each is submitted on its own; any refused is listed with the reason."
        ),
    )]
}

fn reason_line(language: Language, reason: &str) -> String {
    either(
        language,
        format!("原因：{reason}"),
        format!("Reason: {reason}"),
    )
}

/// A sentence made in both languages, the reader's kept.
fn either(language: Language, chinese: String, english: String) -> String {
    match language {
        Language::Chinese => chinese,
        Language::English => english,
    }
}

/// What a first submit prepares: a confirmation page to answer, or nothing to confirm.
pub type Prepared = Result<Option<Confirmation>, EngineError>;

/// Claims read to tell what a statement would gather: one page, "at least" past it.
pub const GATHER_READ_MAX: usize = 1000;
/// Vouchers of the enterprise in the program read to find an active one.
pub const HELD_VOUCHERS_READ_MAX: usize = 200;

/// A confirmation of a form on the actions page.
fn on_actions_page(
    (title, button): (&str, &str),
    action: &'static str,
    consequences: Vec<String>,
    fields: Vec<(&'static str, String)>,
) -> Confirmation {
    Confirmation {
        title: title.to_owned(),
        consequences,
        details: None,
        action,
        fields,
        button: button.to_owned(),
        back: "/actions".to_owned(),
        section: Section::Actions,
    }
}

pub fn prepare_revoke(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
) -> Prepared {
    let Command::RevokeVoucher { voucher_id, reason } = command else {
        return Ok(None);
    };
    let voucher = reader.voucher(voucher_id)?;
    if !voucher.is_active() {
        return Ok(None);
    }
    let words = (
        language.pick("确认撤销券", "Confirm revoking a voucher"),
        language.pick("确认撤销", "Revoke"),
    );
    let consequences = revoke(language, &voucher, reason.as_str());
    Ok(Some(on_actions_page(
        words,
        "/actions/revoke-voucher",
        consequences,
        fields,
    )))
}

pub fn prepare_reverse(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
) -> Prepared {
    let Command::ReverseRedemption {
        redemption_id,
        reason,
        ..
    } = command
    else {
        return Ok(None);
    };
    let claim = reader.redemption(redemption_id, Actor::Bureau)?;
    if !matches!(
        claim.status,
        RedemptionStatus::Accepted | RedemptionStatus::Approved | RedemptionStatus::Settled
    ) {
        return Ok(None);
    }
    let statement = match claim.settlement_id {
        Some(settlement_id) => Some(reader.settlement(&settlement_id, Actor::Bureau)?.0),
        None => None,
    };
    let words = (
        language.pick("确认红冲", "Confirm the reversal"),
        language.pick("确认红冲", "Reverse"),
    );
    let consequences = reverse(language, &claim, statement.as_ref(), reason.as_str());
    Ok(Some(on_actions_page(
        words,
        "/actions/reverse-redemption",
        consequences,
        fields,
    )))
}

/// Rejecting a claim, from the actions page (`back` is `/actions`) or the workbench.
pub fn prepare_reject_claim(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
    (action, back, section): (&'static str, String, Section),
) -> Prepared {
    let Command::RejectRedemption {
        redemption_id,
        reason,
    } = command
    else {
        return Ok(None);
    };
    let claim = reader.redemption(redemption_id, Actor::Bureau)?;
    if !matches!(
        claim.status,
        RedemptionStatus::Accepted | RedemptionStatus::Approved
    ) {
        return Ok(None);
    }
    Ok(Some(Confirmation {
        title: language
            .pick("确认驳回核销", "Confirm rejecting a claim")
            .to_owned(),
        consequences: reject_claim(language, &claim, reason.as_str()),
        details: None,
        action,
        fields,
        button: language.pick("确认驳回", "Reject").to_owned(),
        back,
        section,
    }))
}

pub fn prepare_reject_application(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
) -> Prepared {
    let Command::RejectApplication {
        application_id,
        reason,
    } = command
    else {
        return Ok(None);
    };
    let application = reader.application(application_id, Actor::Bureau)?;
    if application.status != ApplicationStatus::Pending {
        return Ok(None);
    }
    Ok(Some(Confirmation {
        title: language
            .pick("确认驳回申领", "Confirm rejecting an application")
            .to_owned(),
        consequences: reject_application(language, &application, reason.as_str()),
        details: None,
        action: "/actions/reject-application",
        fields,
        button: language.pick("确认驳回", "Reject").to_owned(),
        back: "/applications".to_owned(),
        section: Section::Applications,
    }))
}

/// A statement: the provider's name, and the approved claims one bounded read finds. A
/// provider unknown or of another program is the ledger's refusal, given as today.
pub fn prepare_settlement(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
) -> Prepared {
    let Command::CreateSettlement(request) = command else {
        return Ok(None);
    };
    let Ok(provider) = reader.provider(&request.provider_credit_code) else {
        return Ok(None);
    };
    if provider.program != request.program {
        return Ok(None);
    }
    let filter = RedemptionFilter {
        provider_credit_code: Some(request.provider_credit_code),
        program: Some(request.program),
        invoice_date_to: Some(request.up_to),
        status: Some(RedemptionStatus::Approved),
        ..RedemptionFilter::default()
    };
    let page = reader.list_redemptions(filter, Actor::Bureau, None, GATHER_READ_MAX)?;
    let gathered = Gathered {
        claims: page.items.len(),
        more: page.next_after.is_some(),
        subsidy: page
            .items
            .iter()
            .fold(Total::ZERO, |sum, claim| sum.plus(claim.subsidy)),
    };
    let code = request.provider_credit_code.to_string();
    let program = program_label(language, reader.policy(), request.program);
    let up_to = request.up_to.to_string();
    let consequences = create_settlement(
        language,
        (&code, provider.name.as_str()),
        &program,
        &up_to,
        &gathered,
    );
    let words = (
        language.pick("确认生成结算单", "Confirm the statement"),
        language.pick("确认生成", "Create the statement"),
    );
    Ok(Some(on_actions_page(
        words,
        "/actions/create-settlement",
        consequences,
        fields,
    )))
}

/// A payment, from the actions page or the statement's page (`back`).
pub fn prepare_payment(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
    back: String,
) -> Prepared {
    let Command::RecordSettlementPayment {
        settlement_id,
        bank_reference,
        paid_on,
    } = command
    else {
        return Ok(None);
    };
    let (statement, _, provider_name) = reader.settlement(settlement_id, Actor::Bureau)?;
    // What the ledger would refuse is sent to it at once: the clerk reads the refusal instead
    // of confirming first.
    if statement.payment.is_some() || !statement.may_be_paid_on(*paid_on, reader.today()) {
        return Ok(None);
    }
    let consequences = payment(
        language,
        &statement,
        &provider_name,
        bank_reference.as_str(),
        &paid_on.to_string(),
    );
    Ok(Some(Confirmation {
        title: language
            .pick("确认登记拨付", "Confirm the payment")
            .to_owned(),
        consequences,
        details: None,
        action: "/actions/record-settlement-payment",
        fields,
        button: language.pick("确认登记", "Record").to_owned(),
        back,
        section: Section::Actions,
    }))
}

/// Issuing: a warning only when the enterprise holds an active voucher in the program that
/// this very request did not issue (a retry of it answers that voucher, as over gRPC).
pub fn prepare_issue(
    reader: &Reader,
    language: Language,
    command: &Command,
    fields: Vec<(&'static str, String)>,
) -> Prepared {
    let Command::IssueVoucher(request) = command else {
        return Ok(None);
    };
    let filter = VoucherFilter {
        enterprise_credit_code: Some(request.enterprise_credit_code),
        program: Some(request.program),
    };
    let page = reader.list_vouchers(filter, None, HELD_VOUCHERS_READ_MAX)?;
    if page
        .items
        .iter()
        .any(|voucher| voucher.request.request_id == request.request_id)
    {
        return Ok(None);
    }
    let active: Vec<Voucher> = page.items.into_iter().filter(Voucher::is_active).collect();
    if active.is_empty() {
        return Ok(None);
    }
    let enterprise = request.enterprise_credit_code.to_string();
    let program = program_label(language, reader.policy(), request.program);
    let consequences = second_voucher(language, &enterprise, &program, &active, request.face_value);
    let words = (
        language.pick(
            "已有有效券：确认再发一张",
            "An active voucher exists: issue another?",
        ),
        language.pick("确认发券", "Issue anyway"),
    );
    Ok(Some(on_actions_page(
        words,
        "/actions/issue-voucher",
        consequences,
        fields,
    )))
}
