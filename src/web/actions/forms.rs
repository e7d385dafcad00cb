//! The actions page's forms, one function each, in the order the page shows them: what each
//! asks for, with the session's CSRF secret (and, where a retry must not act twice, a fresh
//! request id). The fields several forms share (a redemption id, a reason, a program, a
//! credit code and a name) are written once. Pure markup.

use maud::{Markup, html};

use crate::domain::policy::ProgramRules;
use crate::web::i18n::Language;
use crate::web::layout::program_name;

/// The bureau's forms (finance's one among them), drawn for one reader.
pub struct Forms<'a> {
    pub language: Language,
    /// The session's CSRF secret, in every form.
    pub csrf: &'a str,
    /// The programs of the policy in force, for the program fields.
    pub programs: &'a [ProgramRules],
}

impl Forms<'_> {
    /// Every form, in the page's order.
    pub fn all(&self) -> Markup {
        html! {
            div class="forms" {
                (self.issue_voucher())
                (self.revoke_voucher())
                (self.reverse_redemption())
                (self.approve_redemption())
                (self.reject_redemption())
                (self.return_redemption())
                (self.create_settlement())
                (self.record_settlement_payment())
                (self.register_enterprise())
                (self.register_provider())
            }
        }
    }

    /// Finance's one form.
    pub fn finance(&self) -> Markup {
        html! {
            div class="forms" { (self.record_settlement_payment()) }
        }
    }

    fn issue_voucher(&self) -> Markup {
        let language = self.language;
        let fields = html! {
            (request_id())
            label { (language.pick("企业信用代码", "Enterprise credit code")) input name="enterprise_credit_code" required maxlength="18"; }
            (self.program())
            label { (language.pick("面值（元，留空为剩余额度）", "Face value (yuan; empty = all that is left)")) input name="face_value" inputmode="decimal" maxlength="40"; }
            label { (language.pick("有效期自（可空）", "Valid from (optional)")) input type="date" name="valid_from"; }
            label { (language.pick("有效期至（可空）", "Valid until (optional)")) input type="date" name="valid_until"; }
        };
        let heading = language.pick("发券", "Issue a voucher");
        self.form(
            "issue-voucher",
            heading,
            fields,
            submit(language.pick("发券", "Issue")),
        )
    }

    fn revoke_voucher(&self) -> Markup {
        let language = self.language;
        let fields = html! {
            label { (language.pick("券号", "Voucher id")) input name="voucher_id" required maxlength="20" placeholder="V000000000001"; }
            (self.reason())
        };
        let heading = language.pick("撤销券", "Revoke a voucher");
        self.form(
            "revoke-voucher",
            heading,
            fields,
            danger(language.pick("撤销", "Revoke")),
        )
    }

    fn reverse_redemption(&self) -> Markup {
        let language = self.language;
        let fields = html! { (self.redemption_id()) (self.reason()) };
        let heading = language.pick("红冲核销", "Reverse a redemption");
        let button = danger(language.pick("红冲", "Reverse"));
        self.form("reverse-redemption", heading, fields, button)
    }

    fn approve_redemption(&self) -> Markup {
        let language = self.language;
        let heading = language.pick("审核通过", "Approve a claim");
        let button = submit(language.pick("通过", "Approve"));
        self.form("approve-redemption", heading, self.redemption_id(), button)
    }

    fn reject_redemption(&self) -> Markup {
        let language = self.language;
        let fields = html! { (self.redemption_id()) (self.reason()) };
        let heading = language.pick("驳回核销", "Reject a claim");
        let button = danger(language.pick("驳回", "Reject"));
        self.form("reject-redemption", heading, fields, button)
    }

    fn return_redemption(&self) -> Markup {
        let language = self.language;
        let fields = html! { (self.redemption_id()) (self.reason()) };
        let heading = language.pick("退回补正", "Return a claim for correction");
        let button = danger(language.pick("退回", "Return"));
        self.form("return-redemption", heading, fields, button)
    }

    fn create_settlement(&self) -> Markup {
        let language = self.language;
        let fields = html! {
            (request_id())
            label { (language.pick("服务商信用代码", "Provider credit code")) input name="provider_credit_code" required maxlength="18"; }
            (self.program())
            label { (language.pick("发票日期截至", "Invoices dated up to")) input type="date" name="up_to_date" required; }
        };
        let heading = language.pick("生成结算单", "Create a settlement statement");
        let button = submit(language.pick("结算", "Settle"));
        self.form("create-settlement", heading, fields, button)
    }

    fn record_settlement_payment(&self) -> Markup {
        let language = self.language;
        let fields = html! {
            label { (language.pick("结算单号", "Statement")) input name="settlement_id" required maxlength="20" placeholder="S000000000001"; }
            label { (language.pick("银行/国库支付凭证号", "Bank reference")) input name="bank_reference" required maxlength="500"; }
            label { (language.pick("拨付日期", "Paid on")) input type="date" name="paid_on" required; }
        };
        let heading = language.pick("登记拨付", "Record a payment");
        let button = submit(language.pick("登记", "Record"));
        self.form("record-settlement-payment", heading, fields, button)
    }

    fn register_enterprise(&self) -> Markup {
        let language = self.language;
        let heading = language.pick("登记企业", "Register an enterprise");
        let button = submit(language.pick("登记", "Register"));
        self.form(
            "register-enterprise",
            heading,
            self.credit_code_and_name(),
            button,
        )
    }

    fn register_provider(&self) -> Markup {
        let language = self.language;
        let fields = html! { (self.credit_code_and_name()) (self.program()) };
        let heading = language.pick("登记服务商", "Register a provider");
        let button = submit(language.pick("登记", "Register"));
        self.form("register-provider", heading, fields, button)
    }

    /// A form posting to `/actions/{action}`: its heading, the CSRF secret, its fields, its
    /// button.
    fn form(&self, action: &str, heading: &str, fields: Markup, button: Markup) -> Markup {
        html! {
            form method="post" action={"/actions/" (action)} class="action" id=(action) {
                h2 { (heading) }
                input type="hidden" name="csrf" value=(self.csrf);
                (fields)
                (button)
            }
        }
    }

    fn program(&self) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("项目", "Program"))
                select name="program" required {
                    @for rules in self.programs { option value=(rules.code) { (program_name(language, rules)) } }
                }
            }
        }
    }

    fn redemption_id(&self) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("核销编号", "Redemption id")) input name="redemption_id" required maxlength="20" placeholder="R000000000001"; }
        }
    }

    fn reason(&self) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("原因", "Reason")) input name="reason" required maxlength="500"; }
        }
    }

    fn credit_code_and_name(&self) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("统一社会信用代码", "Credit code")) input name="credit_code" required maxlength="18"; }
            label { (language.pick("名称", "Name")) input name="name" required maxlength="200"; }
        }
    }
}

/// A fresh request id: submitting the same form twice acts once.
fn request_id() -> Markup {
    html! { input type="hidden" name="request_id" value=(uuid::Uuid::new_v4().to_string()); }
}

fn submit(label: &str) -> Markup {
    html! { button type="submit" { (label) } }
}

/// The button of a form that takes something back.
fn danger(label: &str) -> Markup {
    html! { button type="submit" class="danger" { (label) } }
}
