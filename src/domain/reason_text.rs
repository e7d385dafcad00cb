//! The catalogue of refusals in words a clerk understands: for every [`ReasonCode`], a Chinese
//! and an English sentence saying what is wrong and what to do, and the names of the fields a
//! refusal may point at. One catalogue, used by the console and by voucherctl (`--lang zh`);
//! the wire keeps its codes. Pure.

use super::error::LedgerError;
use super::reason::ReasonCode;

/// The language a sentence is wanted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// What is wrong and what to do, for one reason.
pub fn explain(reason: ReasonCode, lang: Lang) -> &'static str {
    use ReasonCode as R;
    let (zh, en) = match reason {
        R::Required => (
            "此项必填，请填写后再提交。",
            "This field is required: fill it in and submit again.",
        ),
        R::TooLong => (
            "内容超过此项允许的长度，请删减后再提交。",
            "The text is longer than this field allows: shorten it and submit again.",
        ),
        R::TooMany => (
            "所列项目超过允许的数量，请减少后再提交。",
            "The list has more items than allowed: remove some and submit again.",
        ),
        R::ControlCharacter => (
            "内容含有控制字符（常见于从其他系统复制粘贴），请重新输入。",
            "The text holds a control character (often from copying and pasting): type it again.",
        ),
        R::InvisibleCharacter => (
            "内容含有不可见字符（常见于复制粘贴），请重新输入。",
            "The text holds an invisible character (often from copying and pasting): type it again.",
        ),
        R::MalformedCreditCode => (
            "统一社会信用代码应为18位数字或大写字母（不含I、O、S、V、Z），请核对营业执照后重新输入。",
            "A unified social credit code is 18 digits or capital letters (no I, O, S, V, Z): check the business licence and type it again.",
        ),
        R::CreditCodeCheckDigit => (
            "统一社会信用代码的校验位不对，可能有字符输错，请核对营业执照。",
            "The credit code's check digit is wrong, so a character is probably mistyped: check the business licence.",
        ),
        R::MalformedInvoiceNumber => (
            "发票号码应为20位数电票号码，或“10/12位发票代码-8位号码”，请核对发票。",
            "An invoice number is a 20-digit e-invoice number or a 10/12-digit code, '-', 8 digits: check the invoice.",
        ),
        R::MalformedDate => (
            "日期格式不对，请写成 2026-11-30、2026/11/30 或 2026年11月30日。",
            "Not a date: write it as 2026-11-30, 2026/11/30 or 2026年11月30日.",
        ),
        R::ImpossibleDate => (
            "日历上没有这一天，请核对月份和日期。",
            "That day is not on the calendar: check the month and day.",
        ),
        R::MalformedId => (
            "编号格式不对（如券号 V000000000001），请从记录中复制正确的编号。",
            "Not an id of this kind (e.g. voucher V000000000001): copy the id from its record.",
        ),
        R::MalformedRequestId => (
            "请求编号格式不对，请刷新页面后重新提交。",
            "The request id is malformed: reload the page and submit again.",
        ),
        R::MalformedSha256 => (
            "文件摘要应为64位十六进制 SHA-256，请重新计算或上传文件。",
            "A file digest is 64 hex digits of SHA-256: compute it again or attach the file.",
        ),
        R::MalformedPageToken => (
            "翻页标记已失效，请回到第一页重新查看。",
            "The page marker is no longer valid: go back to the first page.",
        ),
        R::PageSizeOutOfRange => (
            "每页条数超出允许范围，请改小后再查。",
            "The page size is out of range: ask for fewer rows.",
        ),
        R::MalformedAmount => (
            "金额格式不对，请写成 12345.67、12,345.67、¥12345.67 或 30万。",
            "Not an amount: write it as 12345.67, 12,345.67, ¥12345.67 or 30万.",
        ),
        R::NegativeAmount => (
            "金额不能为负数，请填写正数。",
            "An amount cannot be negative: enter a positive amount.",
        ),
        R::ZeroAmount => (
            "金额不能为零，请填写大于零的金额。",
            "The amount cannot be zero: enter an amount above zero.",
        ),
        R::FractionOfFen => (
            "金额最多精确到分（小数点后两位），请修改。",
            "Amounts go down to the fen (two decimal places): correct it.",
        ),
        R::AmountTooLarge => (
            "金额超过账本可记录的上限（100亿元），请核对。",
            "The amount is above what the ledger holds (10,000,000,000 yuan): check it.",
        ),
        R::MixedSigns => (
            "金额的元和分正负号不一致，请核对发送方程序。",
            "The yuan and fen parts of the amount have different signs: check the sending program.",
        ),
        R::NanosOutOfRange => (
            "金额的小数部分超出范围，请核对发送方程序。",
            "The fraction part of the amount is out of range: check the sending program.",
        ),
        R::UnsupportedCurrency => (
            "只接受人民币金额，请改为人民币。",
            "Only amounts in CNY are accepted: give the amount in yuan.",
        ),
        R::RateOutOfRange => (
            "比例应在0到1之间，请修改。",
            "A rate must be between 0 and 1: correct it.",
        ),
        R::UnknownProgram => (
            "没有这个补贴项目，请从列表中选择。",
            "There is no such program: choose one from the list.",
        ),
        R::ProgramNotOffered => (
            "现行政策不提供这个项目，请选择其他项目。",
            "The policy in force does not offer this program: choose another.",
        ),
        R::UnknownRole => (
            "没有这个角色，请从列表中选择。",
            "There is no such role: choose one from the list.",
        ),
        R::UnknownEvidenceKind => (
            "没有这种材料类型，请从列表中选择。",
            "There is no such kind of document: choose one from the list.",
        ),
        R::UnknownFormat => (
            "不提供这种文件格式，请选择 CSV 或 XLSX。",
            "That file format is not offered: choose CSV or XLSX.",
        ),
        R::YearOutsideTerm => (
            "年份不在政策有效期内，请选择政策期内的年份。",
            "The year is outside the policy term: choose a year within it.",
        ),
        R::NotAllowed => (
            "此项在本操作中必须留空，请清空后再提交。",
            "This field must be empty for this action: clear it and submit again.",
        ),
        R::ValidityReversed => (
            "有效期的结束日期早于开始日期，请对调或修改。",
            "The validity ends before it starts: swap or correct the dates.",
        ),
        R::ValidityCrossesCapPeriod => (
            "有效期跨越了两个额度年度，请拆成两张券或缩短有效期。",
            "The validity spans two cap periods: shorten it or issue two vouchers.",
        ),
        R::SubsidyRoundsToZero => (
            "这张发票的补贴不足一分钱，无需申报。",
            "This invoice's subsidy is less than one fen: there is nothing to claim.",
        ),
        R::NotFound => (
            "找不到这条记录（或您无权查看），请核对编号。",
            "No such record, or not one you may see: check the id.",
        ),
        R::EnterpriseExists => (
            "该企业已登记，且登记信息不同；请先查看已有记录，勿重复登记。",
            "The enterprise is already registered with other details: look at its record instead of registering again.",
        ),
        R::ProviderExists => (
            "该服务商已登记，且登记信息不同；请先查看已有记录，勿重复登记。",
            "The provider is already registered with other details: look at its record instead of registering again.",
        ),
        R::RequestIdReused => (
            "这个请求编号已用于另一项操作，请刷新页面后重新填写。",
            "This request id was used for another action: reload the page and fill the form again.",
        ),
        R::InvoiceAlreadyRedeemed => (
            "这张发票已经申报过补贴，不能重复申报。",
            "This invoice was already claimed: it cannot be claimed twice.",
        ),
        R::SettlementAlreadyPaid => (
            "该结算单已按其他凭证号或日期登记拨付，请核对拨付记录。",
            "The statement was paid with another reference or day: check the payment record.",
        ),
        R::CapExceeded => (
            "超过了该企业本年度的补贴额度，请减少金额，不超过剩余额度。",
            "This would pass the enterprise's cap for the period: lower the amount to at most what is left.",
        ),
        R::VoucherBalanceExceeded => (
            "超过了这张券的剩余面值，请减少金额，不超过剩余面值。",
            "This would pass the voucher's remaining value: lower the amount to at most what is left.",
        ),
        R::VoucherNotActive => (
            "这张券已撤销或已过期，不能再使用；如需继续，请另行发券。",
            "The voucher is revoked or expired: issue a new voucher if the work goes on.",
        ),
        R::InvoiceDateOutsideValidity => (
            "发票日期不在券的有效期内，请核对发票日期或使用其他券。",
            "The invoice date is outside the voucher's validity: check the date or use another voucher.",
        ),
        R::InvoiceDateInFuture => (
            "发票日期晚于今天，请核对发票日期。",
            "The invoice is dated after today: check the date.",
        ),
        R::OutsidePolicyTerm => (
            "日期不在政策有效期内，请选择政策期内的日期。",
            "A date falls outside the policy term: choose a date within it.",
        ),
        R::ProgramMismatch => (
            "该服务商不属于这张券的项目，不能核销这张券。",
            "The provider serves another program than the voucher's: it cannot redeem this voucher.",
        ),
        R::SelfDealing => (
            "服务商与用券企业是同一家，不能自己给自己核销。",
            "The provider is the enterprise itself: it cannot redeem its own voucher.",
        ),
        R::RedeemDeadlinePassed => (
            "按此有效期发出的券已过核销截止日，请修改有效期。",
            "A voucher with this validity would already be past its redemption deadline: change the validity.",
        ),
        R::LastBureauToken => (
            "这是最后一个能管理账本的数据局令牌，不能撤销；请先新建一个再撤销。",
            "This is the last token able to administer the ledger: create another before revoking it.",
        ),
        R::BudgetExceeded => (
            "超过了该项目本期预算，请减少金额或等待追加预算。",
            "This would pass the program's budget for the period: lower the amount or wait for more budget.",
        ),
        R::RelatedParty => (
            "服务商与企业为关联方，不能核销，请核对关联关系。",
            "The provider and the enterprise are related parties: this claim cannot be made; check the relation.",
        ),
        R::EvidenceRequired => (
            "政策要求的证明材料不全，请补齐材料后再提交。",
            "The policy requires documents the claim lacks: add them and submit again.",
        ),
        R::RedemptionNotOpen => (
            "这笔核销当前的状态不能做此操作，请刷新查看最新状态。",
            "The claim is not in a state this step applies to: reload to see where it stands.",
        ),
        R::NothingToSettle => (
            "没有可结算的核销或追回，不需要生成结算单。",
            "There is no claim or clawback to settle: no statement is needed.",
        ),
        R::PaymentDateOutOfRange => (
            "拨付日期不能晚于今天，也不能早于结算单日期，请核对。",
            "The payment day cannot be after today or before the statement: check it.",
        ),
        R::ProviderSuspended => (
            "该服务商已被数据局暂停，恢复前不能办理。",
            "The bureau suspended this provider: nothing can be done for it until it is reinstated.",
        ),
        R::CertificateRevoked => (
            "客户端证书已被吊销，请联系数据局更换证书。",
            "The client certificate was revoked: ask the bureau for a new one.",
        ),
        R::ContractAlreadyApplied => (
            "该合同在此项目下已有申请，请勿重复申请。",
            "The contract already has a live application under this program: do not apply twice.",
        ),
        R::ApplicationNotPending => (
            "该申请已经处理过，请刷新查看结果。",
            "The application was already decided: reload to see the decision.",
        ),
        R::AboveAppliedAmount => (
            "面值超过企业申请的金额，请改为不超过申请金额。",
            "The face value is more than the enterprise applied for: lower it to at most the amount applied for.",
        ),
        R::ConfirmationRequired => (
            "该项目需企业先确认核销，请等待企业确认后再审核。",
            "The program needs the enterprise to confirm the claim first: wait for its confirmation, then approve.",
        ),
        R::Unauthenticated => (
            "登录已失效或令牌无效，请重新登录。",
            "No valid sign-in or token: sign in again.",
        ),
        R::CertificateNotPinned => (
            "该客户端证书未登记给此服务商，请联系数据局登记证书。",
            "This client certificate is not pinned for the provider: ask the bureau to pin it.",
        ),
        R::PermissionDenied => (
            "您的账号无权做此操作，请联系有权限的同事办理。",
            "Your account may not do this: ask a colleague who may.",
        ),
        R::Overloaded => (
            "系统正忙，请稍后再试。",
            "The system is busy: try again shortly.",
        ),
        R::TooManyFailedAttempts => (
            "登录失败次数过多，请稍候再试。",
            "Too many failed sign-ins: wait a while and try again.",
        ),
        R::NotAcceptingWrites => (
            "账本暂停写入（维护中），请稍后再试。",
            "The ledger is not accepting writes (maintenance): try again later.",
        ),
        R::NotLeader => (
            "本服务器为备用节点，只能查询；请到主节点办理（通常几秒内自动切换），稍后再试。",
            "This server is a standby and only answers queries: submit to the active server (a failover takes a few seconds), or try again shortly.",
        ),
        R::MessageTooLarge => (
            "提交的内容太大，请减少后再试。",
            "What was sent is too large: send less.",
        ),
        R::MessageTooSlow => (
            "提交超时，请检查网络后再试。",
            "What was sent did not arrive in time: check the network and try again.",
        ),
        R::MalformedMessage => (
            "提交的内容无法识别，请检查发送方程序。",
            "What was sent could not be read: check the sending program.",
        ),
    };
    lang.pick(zh, en)
}

/// A field's name in words (`face_value` → 面值), or the name itself when the catalogue does
/// not know it.
pub fn field_words(field: &str, lang: Lang) -> &str {
    let (zh, en) = match field {
        "credit_code" => ("统一社会信用代码", "credit code"),
        "enterprise_credit_code" | "enterprise" => ("企业信用代码", "enterprise credit code"),
        "provider_credit_code" | "provider" | "provider_credit_codes" => {
            ("服务商信用代码", "provider credit code")
        }
        "name" => ("名称", "name"),
        "program" | "programs" => ("项目", "program"),
        "face_value" => ("面值", "face value"),
        "amount" => ("金额", "amount"),
        "invoice_amount" => ("发票金额", "invoice amount"),
        "invoice_number" => ("发票号码", "invoice number"),
        "invoice_date" => ("发票日期", "invoice date"),
        "valid_from" => ("有效期自", "valid from"),
        "valid_until" => ("有效期至", "valid until"),
        "voucher_id" => ("券号", "voucher id"),
        "redemption_id" | "redemption_ids" => ("核销编号", "claim id"),
        "settlement_id" => ("结算单号", "statement id"),
        "application_id" => ("申请编号", "application id"),
        "notice_id" => ("公示编号", "notice id"),
        "token_id" | "token" => ("令牌编号", "token id"),
        "request_id" => ("请求编号", "request id"),
        "reason" => ("原因", "reason"),
        "up_to_date" => ("发票日期截至", "invoices dated up to"),
        "paid_on" => ("拨付日期", "payment day"),
        "bank_reference" => ("拨付凭证号", "bank reference"),
        "contract_number" => ("合同编号", "contract number"),
        "contract_sha256" => ("合同文件摘要", "contract digest"),
        "purpose" => ("用途", "purpose"),
        "other_subsidies" => ("其他补贴", "other subsidies"),
        "day" | "from" | "to" => ("日期", "day"),
        _ => return field,
    };
    lang.pick(zh, en)
}

/// The catalogue's sentence for an error: the field in words first when it names one, the
/// amount left when the refusal carries it (`¥1,234.56`).
pub fn sentence(error: &LedgerError, lang: Lang) -> String {
    let (field, remaining) = match error {
        LedgerError::InvalidArgument { field, .. } | LedgerError::NotFound { field, .. } => {
            (Some(*field), None)
        }
        LedgerError::Refused(refusal) => (None, refusal.remaining),
        _ => (None, None),
    };
    let left = remaining.map(|remaining| remaining.to_grouped_string());
    worded(error.reason(), field, left.as_deref(), lang)
}

/// The catalogue's sentence for a reason, the field it names (a wire name such as
/// `face_value`) in words before it, and the amount left (grouped yuan, `1,234.56`) after.
pub fn worded(reason: ReasonCode, field: Option<&str>, left: Option<&str>, lang: Lang) -> String {
    let text = explain(reason, lang);
    let mut line = match (field, lang) {
        (Some(field), Lang::Zh) => format!("{}：{text}", field_words(field, lang)),
        (Some(field), Lang::En) => format!("{}: {text}", field_words(field, lang)),
        (None, _) => text.to_owned(),
    };
    match (left, lang) {
        (Some(left), Lang::Zh) => line.push_str(&format!("剩余 ¥{left}。")),
        (Some(left), Lang::En) => line.push_str(&format!(" ¥{left} is left.")),
        (None, _) => {}
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Money;

    #[test]
    fn every_reason_has_both_sentences() {
        for reason in ReasonCode::ALL {
            let zh = explain(*reason, Lang::Zh);
            let en = explain(*reason, Lang::En);
            assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{reason}");
            assert!(zh.ends_with('。'), "{reason}: {zh}");
            assert!(en.ends_with('.'), "{reason}: {en}");
            assert!(
                !zh.contains(reason.as_str()) && !en.contains(reason.as_str()),
                "{reason}"
            );
            assert!(
                zh.chars()
                    .any(|character| ('\u{4E00}'..='\u{9FFF}').contains(&character))
            );
        }
    }

    #[test]
    fn sentences_name_the_field_and_the_amount_left() {
        let bad = LedgerError::InvalidArgument {
            field: "face_value",
            reason: ReasonCode::FractionOfFen,
            message: "1.234".to_owned(),
        };
        assert_eq!(
            sentence(&bad, Lang::Zh),
            "面值：金额最多精确到分（小数点后两位），请修改。"
        );
        assert!(sentence(&bad, Lang::En).starts_with("face value: Amounts"));
        let cap = LedgerError::refused_with_remaining(
            ReasonCode::CapExceeded,
            "cap",
            Money::parse_yuan("12345.6").unwrap(),
        );
        assert!(sentence(&cap, Lang::Zh).ends_with("剩余 ¥12,345.60。"));
        assert!(sentence(&cap, Lang::En).ends_with("¥12,345.60 is left."));
    }
}
