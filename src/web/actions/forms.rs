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
    /// A refused form's values as typed and the field at fault, drawn back into that form.
    pub typed: Option<&'a Typed>,
}

/// A refused form as it was typed: which form, its fields, the field the refusal names.
pub struct Typed {
    pub form: &'static str,
    pub values: Vec<(&'static str, String)>,
    pub bad: Option<&'static str>,
}

/// How one text field is drawn; empty texts are attributes left out.
struct Input {
    kind: &'static str,
    required: bool,
    maxlength: &'static str,
    placeholder: &'static str,
    inputmode: &'static str,
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
            label { (language.pick("企业信用代码", "Enterprise credit code")) (self.input("issue-voucher", "enterprise_credit_code", Input { kind: "text", required: true, maxlength: "18", placeholder: "", inputmode: "" })) }
            (self.program())
            label { (language.pick("面值（元，留空为剩余额度）", "Face value (yuan; empty = all that is left)")) (self.input("issue-voucher", "face_value", Input { kind: "text", required: false, maxlength: "40", placeholder: "", inputmode: "decimal" })) }
            label { (language.pick("有效期自（可空）", "Valid from (optional)")) (self.input("issue-voucher", "valid_from", Input { kind: "date", required: false, maxlength: "", placeholder: "", inputmode: "" })) }
            label { (language.pick("有效期至（可空）", "Valid until (optional)")) (self.input("issue-voucher", "valid_until", Input { kind: "date", required: false, maxlength: "", placeholder: "", inputmode: "" })) }
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
            label { (language.pick("券号", "Voucher id")) (self.input("revoke-voucher", "voucher_id", Input { kind: "text", required: true, maxlength: "20", placeholder: "V000000000001", inputmode: "" })) }
            (self.reason("revoke-voucher"))
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
        let fields = html! { (self.redemption_id("reverse-redemption")) (self.reason("reverse-redemption")) };
        let heading = language.pick("红冲核销", "Reverse a redemption");
        let button = danger(language.pick("红冲", "Reverse"));
        self.form("reverse-redemption", heading, fields, button)
    }

    fn approve_redemption(&self) -> Markup {
        let language = self.language;
        let heading = language.pick("审核通过", "Approve a claim");
        let button = submit(language.pick("通过", "Approve"));
        self.form(
            "approve-redemption",
            heading,
            self.redemption_id("approve-redemption"),
            button,
        )
    }

    fn reject_redemption(&self) -> Markup {
        let language = self.language;
        let fields =
            html! { (self.redemption_id("reject-redemption")) (self.reason("reject-redemption")) };
        let heading = language.pick("驳回核销", "Reject a claim");
        let button = danger(language.pick("驳回", "Reject"));
        self.form("reject-redemption", heading, fields, button)
    }

    fn return_redemption(&self) -> Markup {
        let language = self.language;
        let fields =
            html! { (self.redemption_id("return-redemption")) (self.reason("return-redemption")) };
        let heading = language.pick("退回补正", "Return a claim for correction");
        let button = danger(language.pick("退回", "Return"));
        self.form("return-redemption", heading, fields, button)
    }

    fn create_settlement(&self) -> Markup {
        let language = self.language;
        let fields = html! {
            (request_id())
            label { (language.pick("服务商信用代码", "Provider credit code")) (self.input("create-settlement", "provider_credit_code", Input { kind: "text", required: true, maxlength: "18", placeholder: "", inputmode: "" })) }
            (self.program())
            label { (language.pick("发票日期截至", "Invoices dated up to")) (self.input("create-settlement", "up_to_date", Input { kind: "date", required: true, maxlength: "", placeholder: "", inputmode: "" })) }
        };
        let heading = language.pick("生成结算单", "Create a settlement statement");
        let button = submit(language.pick("结算", "Settle"));
        self.form("create-settlement", heading, fields, button)
    }

    fn record_settlement_payment(&self) -> Markup {
        let language = self.language;
        let fields = html! {
            label { (language.pick("结算单号", "Statement")) (self.input("record-settlement-payment", "settlement_id", Input { kind: "text", required: true, maxlength: "20", placeholder: "S000000000001", inputmode: "" })) }
            label { (language.pick("银行/国库支付凭证号", "Bank reference")) (self.input("record-settlement-payment", "bank_reference", Input { kind: "text", required: true, maxlength: "500", placeholder: "", inputmode: "" })) }
            label { (language.pick("拨付日期", "Paid on")) (self.input("record-settlement-payment", "paid_on", Input { kind: "date", required: true, maxlength: "", placeholder: "", inputmode: "" })) }
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
            self.credit_code_and_name("register-enterprise"),
            button,
        )
    }

    fn register_provider(&self) -> Markup {
        let language = self.language;
        let fields = html! { (self.credit_code_and_name("register-provider")) (self.program()) };
        let heading = language.pick("登记服务商", "Register a provider");
        let button = submit(language.pick("登记", "Register"));
        self.form("register-provider", heading, fields, button)
    }

    /// A text field of `form`, holding what was typed when that form was refused, marked
    /// (`invalid`, `aria-invalid`) when the refusal names it.
    fn input(&self, form: &str, name: &str, input: Input) -> Markup {
        let typed = self.typed.filter(|typed| typed.form == form);
        let value = typed.and_then(|typed| {
            typed
                .values
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, value)| value.as_str())
        });
        let bad = typed.is_some_and(|typed| typed.bad == Some(name));
        let some = |text: &'static str| (!text.is_empty()).then_some(text);
        html! {
            input type=(input.kind) name=(name) value=[value] required[input.required]
                maxlength=[some(input.maxlength)] placeholder=[some(input.placeholder)]
                inputmode=[some(input.inputmode)] class=[bad.then_some("invalid")]
                aria-invalid=[bad.then_some("true")];
        }
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

    fn redemption_id(&self, form: &str) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("核销编号", "Redemption id")) (self.input(form, "redemption_id", Input { kind: "text", required: true, maxlength: "20", placeholder: "R000000000001", inputmode: "" })) }
        }
    }

    fn reason(&self, form: &str) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("原因", "Reason")) (self.input(form, "reason", Input { kind: "text", required: true, maxlength: "500", placeholder: "", inputmode: "" })) }
        }
    }

    fn credit_code_and_name(&self, form: &str) -> Markup {
        let language = self.language;
        html! {
            label { (language.pick("统一社会信用代码", "Credit code")) (self.input(form, "credit_code", Input { kind: "text", required: true, maxlength: "18", placeholder: "", inputmode: "" })) }
            label { (language.pick("名称", "Name")) (self.input(form, "name", Input { kind: "text", required: true, maxlength: "200", placeholder: "", inputmode: "" })) }
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
