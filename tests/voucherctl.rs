//! The README walkthrough, typed as a newcomer would type it: voucherctl against a real
//! voucherd, checking what it prints and how it exits.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use sha2::Digest;

struct Ctl<'a> {
    address: String,
    token_file: &'a Path,
}

impl Ctl<'_> {
    fn run(&self, arguments: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_voucherctl"))
            .env_remove("VOUCHER_TOKEN")
            .env("VOUCHER_ADDR", &self.address)
            .env("VOUCHER_TOKEN_FILE", self.token_file)
            .args(arguments)
            .output_within_deadline()
            .expect("voucherctl runs")
    }

    #[track_caller]
    fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments);
        assert!(
            output.status.success(),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }
}

fn field<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(": "))
        })
        .unwrap_or_else(|| panic!("no {key} in:\n{output}"))
}

#[tokio::test]
async fn the_readme_walkthrough_works_from_the_command_line() {
    let server = TestServer::start("2027-06-15").await;
    let bureau_token = server.data().path().join("bureau.token");
    let bureau = Ctl {
        address: server.address.to_string(),
        token_file: &bureau_token,
    };
    let provider_token = register_as_in_the_readme(&bureau, &server.data().path());
    let provider = Ctl {
        address: server.address.to_string(),
        token_file: &provider_token,
    };
    let voucher_id = issue_as_in_the_readme(&bureau);
    redeem_as_in_the_readme(&bureau, &provider, &voucher_id);
    refused_as_in_the_readme(&provider, &voucher_id);

    let unreachable = Ctl {
        address: "127.0.0.1:1".to_owned(),
        token_file: &bureau_token,
    };
    assert_eq!(
        unreachable
            .run(&["get-enterprise", ENTERPRISE])
            .status
            .code(),
        Some(3)
    );
}

/// The enterprise and the provider, registered; the provider's token file.
fn register_as_in_the_readme(bureau: &Ctl, directory: &Path) -> PathBuf {
    let enterprise = bureau.ok(&[
        "register-enterprise",
        "--credit-code",
        ENTERPRISE,
        "--name",
        "启东智算科技有限公司",
    ]);
    assert_eq!(field(&enterprise, "check_digit_valid"), "true");
    bureau.ok(&[
        "register-provider",
        "--credit-code",
        COMPUTE_PROVIDER,
        "--name",
        "启东云算力服务有限公司",
        "--program",
        "compute",
    ]);
    let token = bureau.ok(&[
        "create-token",
        "--role",
        "provider",
        "--provider",
        COMPUTE_PROVIDER,
        "--description",
        "billing system",
    ]);
    let provider_token = directory.join("provider.token");
    std::fs::write(&provider_token, field(&token, "token")).expect("token file");
    provider_token
}

/// A voucher of the whole cap, issued again with the printed request id: the same voucher.
fn issue_as_in_the_readme(bureau: &Ctl) -> String {
    let voucher = bureau.ok(&[
        "issue-voucher",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
    ]);
    assert_eq!(field(&voucher, "face_value"), "2,000,000.00");
    assert_eq!(field(&voucher, "valid_until"), "2027-12-31");
    let voucher_id = field(&voucher, "voucher_id");
    let request_id = field(&voucher, "request_id");
    let retried = bureau.ok(&[
        "issue-voucher",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
        "--request-id",
        request_id,
    ]);
    assert_eq!(
        field(&retried, "voucher_id"),
        voucher_id,
        "retrying with the printed request id is safe"
    );
    voucher_id.to_owned()
}

/// A claim, the balance it leaves (as text and JSON), the list holding it, its reversal.
fn redeem_as_in_the_readme(bureau: &Ctl, provider: &Ctl, voucher_id: &str) {
    let redeem = [
        "redeem",
        "--voucher",
        voucher_id,
        "--enterprise",
        ENTERPRISE,
        "--invoice-number",
        "24322000000012345678",
        "--invoice-date",
        "2027-06-01",
        "--amount",
        "10,000.00",
    ];
    let redemption = provider.ok(&redeem);
    assert_eq!(field(&redemption, "subsidy"), "5,000.00");
    assert_eq!(field(&redemption, "status"), "accepted");
    let balance = bureau.ok(&[
        "balance",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
    ]);
    assert_eq!(field(&balance, "redeemed"), "5,000.00");
    assert_eq!(field(&balance, "outstanding"), "1,995,000.00");
    let json = bureau.ok(&[
        "--json",
        "balance",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
    ]);
    let parsed: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(parsed["redeemed"], "5000.00");

    let listed = bureau.ok(&["list-redemptions", "--enterprise", ENTERPRISE]);
    assert_eq!(field(&listed, "invoice_number"), "24322000000012345678");
    let redemption_id = field(&redemption, "redemption_id");
    let reversed = provider.ok(&[
        "reverse-redemption",
        redemption_id,
        "--reason",
        "发票已红冲",
    ]);
    assert_eq!(field(&reversed, "status"), "reversed");
}

/// Over the cap (exit 1, naming what is left), a fraction of a fen (exit 2, never sent), a
/// provider reading a balance (exit 1).
fn refused_as_in_the_readme(provider: &Ctl, voucher_id: &str) {
    let over_cap = [
        "redeem",
        "--voucher",
        voucher_id,
        "--enterprise",
        ENTERPRISE,
        "--invoice-number",
        "24322000000012345679",
        "--invoice-date",
        "2027-06-02",
        "--amount",
        "5000000",
    ];
    let refused = provider.run(&over_cap);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("CAP_EXCEEDED") && stderr.contains("2,000,000.00"),
        "{stderr}"
    );

    // Issue 16: `--lang zh` words the refusal from the catalogue, the wire's line under
    // 技术信息; the amount typed as a clerk would (500万) reads as 5,000,000.
    let mut in_chinese = over_cap.to_vec();
    *in_chinese.last_mut().expect("the amount") = "500万";
    in_chinese.extend(["--lang", "zh"]);
    let refused = provider.run(&in_chinese);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let (first, technical) = stderr.split_once("技术信息: ").expect("技术信息");
    assert!(first.contains("超过了该企业本年度的补贴额度"), "{stderr}");
    assert!(!first.contains("CAP_EXCEEDED"), "{stderr}");
    assert!(
        technical.contains("CAP_EXCEEDED") && technical.contains("2,000,000.00"),
        "{stderr}"
    );

    let mut fraction = over_cap;
    fraction[10] = "10.001";
    let bad_input = provider.run(&fraction);
    assert_eq!(
        bad_input.status.code(),
        Some(2),
        "bad input is refused before any call"
    );
    let provider_reading_balance = provider.run(&[
        "balance",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
    ]);
    assert_eq!(
        provider_reading_balance.status.code(),
        Some(1),
        "a provider may not read balances"
    );
}

impl Ctl<'_> {
    /// Every JSON object a `--json` command printed, one a line.
    #[track_caller]
    fn json_lines(&self, arguments: &[&str]) -> Vec<serde_json::Value> {
        let with_json: Vec<&str> = std::iter::once("--json")
            .chain(arguments.iter().copied())
            .collect();
        self.ok(&with_json)
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
            .collect()
    }

    /// The one JSON object a `--json` command printed.
    #[track_caller]
    fn json(&self, arguments: &[&str]) -> serde_json::Value {
        let mut objects = self.json_lines(arguments);
        assert_eq!(objects.len(), 1, "{arguments:?}: {objects:?}");
        objects.remove(0)
    }

    /// The exit code of a command expected to fail.
    fn exit_code(&self, arguments: &[&str]) -> Option<i32> {
        self.run(arguments).status.code()
    }
}

/// The enterprise's part (issue 14) from the command line: an enterprise token applies, the
/// bureau approves into a voucher bound to the provider, the provider claims, the enterprise
/// confirms one claim and disputes another, the bureau returns one for correction and the
/// provider claims its invoice again, and the approved claim is published in a notice that
/// is written as CSV and XLSX.
#[tokio::test]
async fn an_enterprise_applies_and_answers_for_the_claims_made_in_its_name() {
    let server = TestServer::start("2027-06-15").await;
    let directory = server.data().path();
    let bureau_token = directory.join("bureau.token");
    let address = server.address.to_string();
    let bureau = Ctl {
        address: address.clone(),
        token_file: &bureau_token,
    };
    let (enterprise_token, provider_token) = register_the_parties(&bureau, &directory);
    let enterprise = Ctl {
        address: address.clone(),
        token_file: &enterprise_token,
    };
    let provider = Ctl {
        address,
        token_file: &provider_token,
    };
    let (applied, refused) = apply_twice(&enterprise, &directory);
    let voucher_id = decide(&bureau, &enterprise, &applied, &refused);
    rebind(&bureau, &voucher_id);
    let approved = answer_the_claims(&bureau, &enterprise, &provider, &voucher_id);
    publish_and_post(&bureau, &enterprise, &approved, &directory);
}

/// The enterprise and the provider, registered, with a token file each.
fn register_the_parties(bureau: &Ctl, directory: &Path) -> (PathBuf, PathBuf) {
    bureau.ok(&[
        "register-enterprise",
        "--credit-code",
        ENTERPRISE,
        "--name",
        "启东智算科技有限公司",
    ]);
    bureau.ok(&[
        "register-provider",
        "--credit-code",
        COMPUTE_PROVIDER,
        "--name",
        "启东云算力服务有限公司",
        "--program",
        "compute",
    ]);
    assert_eq!(
        bureau.exit_code(&["create-token", "--role", "enterprise"]),
        Some(2),
        "an enterprise token names its enterprise"
    );
    assert_eq!(
        bureau.exit_code(&[
            "create-token",
            "--role",
            "auditor",
            "--enterprise",
            ENTERPRISE
        ]),
        Some(2),
        "--enterprise goes only with --role enterprise"
    );
    let token_file = |name: &str, arguments: &[&str]| {
        let path = directory.join(name);
        let created = bureau.json(arguments);
        std::fs::write(&path, created["token"].as_str().expect("a secret")).expect("token file");
        path
    };
    let enterprise = token_file(
        "enterprise.token",
        &[
            "create-token",
            "--role",
            "enterprise",
            "--enterprise",
            ENTERPRISE,
        ],
    );
    let provider = token_file(
        "provider.token",
        &[
            "create-token",
            "--role",
            "provider",
            "--provider",
            COMPUTE_PROVIDER,
        ],
    );
    (enterprise, provider)
}

/// Two applications: one with its contract file (hashed by voucherctl), retried with its
/// request id; one with the contract's hash typed. Returns their ids.
fn apply_twice(enterprise: &Ctl, directory: &Path) -> (String, String) {
    let contract = directory.join("contract-HT-2027-0001.pdf");
    std::fs::write(&contract, "算力租赁合同 HT-2027-0001").expect("contract file");
    let contract_sha256 = hex::encode(sha2::Sha256::digest(
        std::fs::read(&contract).expect("contract"),
    ));
    let apply = [
        "apply",
        "--program",
        "compute",
        "--amount",
        "100,000.00",
        "--provider",
        COMPUTE_PROVIDER,
        "--contract-number",
        "HT-2027-0001",
        "--contract-file",
        contract.to_str().expect("utf-8"),
        "--purpose",
        "训练启东方言语音模型",
        "--request-id",
        "apply-1",
    ];
    let application = enterprise.json(&apply);
    assert_eq!(application["request_id"], "apply-1");
    assert_eq!(application["status"], "pending");
    assert_eq!(application["enterprise_credit_code"], ENTERPRISE);
    assert_eq!(application["amount"], "100000.00");
    assert_eq!(application["providers"], COMPUTE_PROVIDER);
    assert_eq!(application["contract_sha256"], contract_sha256.as_str());
    let application_id = application["application_id"].as_str().expect("an id");
    let retried = enterprise.json(&apply);
    assert_eq!(
        retried["application_id"], application_id,
        "the same request"
    );

    let mut other = apply;
    other[8] = "HT-2027-0002";
    other[9] = "--contract-sha256";
    other[10] = "not a hash";
    assert_eq!(
        enterprise.exit_code(&other),
        Some(2),
        "checked before dialling"
    );
    let typed_sha256 = hex::encode(sha2::Sha256::digest("HT-2027-0002"));
    other[10] = typed_sha256.as_str();
    other[14] = "apply-2";
    let second = enterprise.json(&other);
    assert_eq!(second["contract_sha256"], typed_sha256.as_str());
    let second_id = second["application_id"].as_str().expect("an id");
    (application_id.to_owned(), second_id.to_owned())
}

/// The bureau sees both pending, approves the first for less than asked and rejects the
/// second. Returns the voucher issued.
fn decide(bureau: &Ctl, enterprise: &Ctl, applied: &str, refused: &str) -> String {
    let pending = bureau.json(&["list-applications", "--status", "pending"]);
    let ids: Vec<&str> = pending["applications"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|application| application["application_id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, [applied, refused]);
    let approved = bureau.json(&["approve-application", applied, "--face-value", "80,000.00"]);
    assert_eq!(approved["status"], "approved");
    let voucher_id = approved["voucher_id"]
        .as_str()
        .expect("a voucher")
        .to_owned();
    let rejected = bureau.json(&["reject-application", refused, "--reason", "合同未盖章"]);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["rejection_reason"], "合同未盖章");
    let seen = enterprise.json(&["get-application", applied]);
    assert_eq!(seen["voucher_id"], voucher_id.as_str());
    let still_pending = enterprise.json(&["list-applications", "--status", "pending"]);
    assert_eq!(still_pending["applications"], serde_json::json!([]));

    let voucher = enterprise.json(&["get-voucher", &voucher_id]);
    assert_eq!(voucher["face_value"], "80000.00");
    assert_eq!(voucher["providers"], COMPUTE_PROVIDER);
    assert_eq!(voucher["application_id"], applied);
    voucher_id
}

/// The bureau unbinds the voucher, then binds it to the provider again.
fn rebind(bureau: &Ctl, voucher_id: &str) {
    let change = [
        "change-voucher-providers",
        voucher_id,
        "--reason",
        "企业书面申请",
    ];
    let unbound = bureau.json(&change);
    assert_eq!(unbound["providers"], "any");
    let text = bureau.ok(&["get-voucher", voucher_id]);
    assert_eq!(field(&text, "providers"), "any");
    let bound = bureau.json(&[&change[..], &["--provider", COMPUTE_PROVIDER][..]].concat());
    assert_eq!(bound["providers"], COMPUTE_PROVIDER);
}

/// Three claims: confirmed (then approved), disputed, returned and claimed again corrected.
/// Returns the approved one.
fn answer_the_claims(bureau: &Ctl, enterprise: &Ctl, provider: &Ctl, voucher: &str) -> String {
    let claim = |invoice_number: &str, amount: &str| {
        provider.json(&[
            "redeem",
            "--voucher",
            voucher,
            "--enterprise",
            ENTERPRISE,
            "--invoice-number",
            invoice_number,
            "--invoice-date",
            "2027-06-01",
            "--amount",
            amount,
        ])
    };
    let id = |claim: &serde_json::Value| claim["redemption_id"].as_str().expect("an id").to_owned();
    let confirmed = id(&claim("24322000000012345601", "10,000.00"));
    let returned = id(&claim("24322000000012345602", "4,000.00"));
    let disputed = id(&claim("24322000000012345603", "2,000.00"));

    let answer = enterprise.json(&["confirm-redemption", &confirmed]);
    assert_eq!(answer["status"], "accepted");
    assert!(answer["confirmed_at"].is_string(), "{answer}");
    let answer = enterprise.json(&[
        "dispute-redemption",
        &disputed,
        "--reason",
        "未发生该笔租赁",
    ]);
    assert_eq!(answer["status"], "disputed");
    assert_eq!(answer["closing_reason"], "未发生该笔租赁");
    let answer = bureau.json(&[
        "return-redemption",
        &returned,
        "--reason",
        "请按实付金额重报",
    ]);
    assert_eq!(answer["status"], "returned");
    assert!(answer["closed_at"].is_string(), "{answer}");
    let text = bureau.ok(&["get-redemption", &returned]);
    assert_eq!(field(&text, "closing_reason"), "请按实付金额重报");

    let corrected = claim("24322000000012345602", "3,000.00");
    assert_eq!(corrected["corrects_redemption_id"], returned.as_str());
    assert_eq!(corrected["subsidy"], "1500.00");
    let listed = bureau.json(&["list-redemptions", "--status", "returned"]);
    let listed = listed["redemptions"].as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["redemption_id"], returned.as_str());
    let approved = bureau.json(&["approve", &confirmed]);
    assert_eq!(approved["status"], "approved");
    confirmed
}

/// A notice of the claims approved around today (China time), read by the enterprise and
/// written as CSV and XLSX.
fn publish_and_post(bureau: &Ctl, enterprise: &Ctl, approved: &str, directory: &Path) {
    let china_today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
        .date_naive();
    let from = (china_today - chrono::Days::new(1)).to_string();
    let until = (china_today + chrono::Days::new(1)).to_string();
    let published = bureau.json_lines(&[
        "publish-notice",
        "--program",
        "compute",
        "--approved-from",
        &from,
        "--approved-until",
        &until,
        "--posted-from",
        "2027-06-16",
        "--posted-until",
        "2027-06-22",
    ]);
    let [notice, line] = published.as_slice() else {
        panic!("a notice and its one line: {published:?}");
    };
    assert_eq!(notice["lines"], "1");
    assert_eq!(notice["total"], "5000.00");
    assert_eq!(line["redemption_id"], approved);
    assert_eq!(line["enterprise_name"], "启东智算科技有限公司");
    let notice_id = notice["notice_id"].as_str().expect("an id");

    let (csv, xlsx) = (directory.join("notice.csv"), directory.join("notice.xlsx"));
    let read = enterprise.ok(&[
        "get-notice",
        notice_id,
        "--csv",
        csv.to_str().expect("utf-8"),
        "--xlsx",
        xlsx.to_str().expect("utf-8"),
    ]);
    assert_eq!(field(&read, "total"), "5,000.00");
    let csv = std::fs::read_to_string(&csv).expect("the CSV written");
    assert!(
        csv.contains(&format!("\"{ENTERPRISE}\t\"")),
        "the code is text, every digit kept: {csv}"
    );
    let xlsx = std::fs::read(&xlsx).expect("the XLSX written");
    assert!(xlsx.starts_with(b"PK"), "an XLSX is a zip");
    let listed = bureau.json(&["list-notices"]);
    assert_eq!(listed["notices"][0]["notice_id"], notice_id);
}

/// A token made from the command line: its id and the file holding its secret.
fn new_token(bureau: &Ctl, directory: &Path, name: &str, arguments: &[&str]) -> (String, PathBuf) {
    let created = bureau.json(&[&["create-token"][..], arguments].concat());
    let path = directory.join(name);
    std::fs::write(&path, created["token"].as_str().expect("a secret")).expect("token file");
    let id = created["token_id"].as_str().expect("an id").to_owned();
    (id, path)
}

/// Who did what (issue 15) from the command line: a second bureau token issues a voucher
/// and is named as its issuer and alone on its events; the voucher's history lists the issue
/// and the claim with their actors; a finance token records the payment of a statement and
/// may not issue; a bureau token scoped to leasing issues a leasing voucher, not a compute
/// one.
#[tokio::test]
async fn each_step_names_its_token_and_events_filter_by_actor_and_record() {
    let server = TestServer::start("2027-06-15").await;
    let directory = server.data().path();
    let bureau_token = directory.join("bureau.token");
    let address = server.address.to_string();
    let bureau = Ctl {
        address: address.clone(),
        token_file: &bureau_token,
    };
    let (_, provider_token) = register_the_parties(&bureau, &directory);
    let provider = Ctl {
        address: address.clone(),
        token_file: &provider_token,
    };
    let (clerk_id, clerk_token) =
        new_token(&bureau, &directory, "clerk.token", &["--role", "bureau"]);
    let clerk = Ctl {
        address: address.clone(),
        token_file: &clerk_token,
    };
    let voucher_id = issue_and_claim(&clerk, &clerk_id, &provider, &bureau);
    trace(&bureau, &clerk_id, &voucher_id);
    let (finance_id, finance_token) =
        new_token(&bureau, &directory, "finance.token", &["--role", "finance"]);
    let finance = Ctl {
        address: address.clone(),
        token_file: &finance_token,
    };
    pay_as_finance(&bureau, &finance, &finance_id);
    let scoped = ["--role", "bureau", "--program", "leasing"];
    let (leasing_id, leasing_token) = new_token(&bureau, &directory, "leasing.token", &scoped);
    let leasing = Ctl {
        address,
        token_file: &leasing_token,
    };
    let issue_compute = [
        "issue-voucher",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
    ];
    for (refused, who) in [(&leasing, "a leasing-only token"), (&finance, "finance")] {
        let output = refused.run(&issue_compute);
        assert_eq!(output.status.code(), Some(1), "{who} may not issue compute");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("PERMISSION_DENIED"), "{who}: {stderr}");
    }
    let mut issue_leasing = issue_compute;
    issue_leasing[4] = "leasing";
    let in_its_program =
        leasing.json(&[&issue_leasing[..], &["--face-value", "1,000.00"]].concat());
    assert_eq!(in_its_program["issued_by"]["token_id"], leasing_id.as_str());
}

/// The clerk issues a voucher, the provider claims on it and the bureau approves the claim;
/// the voucher and the claim show who made each step. Returns the voucher.
fn issue_and_claim(clerk: &Ctl, clerk_id: &str, provider: &Ctl, bureau: &Ctl) -> String {
    let issued = clerk.json(&[
        "issue-voucher",
        "--enterprise",
        ENTERPRISE,
        "--program",
        "compute",
        "--face-value",
        "100,000.00",
    ]);
    let voucher_id = issued["voucher_id"].as_str().expect("an id").to_owned();
    assert_eq!(issued["issued_by"]["role"], "bureau");
    assert_eq!(issued["closed_by"], serde_json::Value::Null, "still active");
    let shown = bureau.ok(&["get-voucher", &voucher_id]);
    assert_eq!(field(&shown, "issued_by"), format!("{clerk_id} (bureau)"));
    let claim = provider.json(&[
        "redeem",
        "--voucher",
        &voucher_id,
        "--enterprise",
        ENTERPRISE,
        "--invoice-number",
        "24322000000012345611",
        "--invoice-date",
        "2027-06-01",
        "--amount",
        "10,000.00",
    ]);
    let claim_id = claim["redemption_id"].as_str().expect("an id");
    let approved = bureau.ok(&["approve", claim_id]);
    assert_eq!(field(&approved, "approved_by"), "T000000000001 (bureau)");
    assert_eq!(
        field(&approved, "redeemed_by"),
        claim["redeemed_by"]["token_id"]
            .as_str()
            .map(|id| format!("{id} (provider)"))
            .expect("a token")
    );
    voucher_id
}

/// The clerk's events are its issue alone, as JSON and as a line; the voucher's history is
/// its issue and the claim on it, each with its actor.
fn trace(bureau: &Ctl, clerk_id: &str, voucher_id: &str) {
    let by_clerk = bureau.json_lines(&["events", "--actor", clerk_id]);
    let [issue] = by_clerk.as_slice() else {
        panic!("only the clerk's issue: {by_clerk:?}");
    };
    assert_eq!(issue["type"], "voucher_issued");
    assert_eq!(issue["actor"]["token_id"], clerk_id);
    assert!(issue["at"].is_string(), "{issue}");
    assert_eq!(issue["record_ids"][0], voucher_id);
    let listed = bureau.ok(&["events", "--actor", clerk_id]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert!(
        lines[0].contains("voucher_issued")
            && lines[0].contains(&format!("{clerk_id} (bureau)"))
            && lines[0].contains(voucher_id),
        "{listed}"
    );
    let history = bureau.json_lines(&["events", "--record", voucher_id]);
    let steps: Vec<(&str, &str)> = history
        .iter()
        .map(|event| {
            let kind = event["type"].as_str().expect("a type");
            (kind, event["actor"]["role"].as_str().expect("a role"))
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("voucher_issued", "bureau"),
            ("redemption_accepted", "provider")
        ]
    );
    let none = bureau.ok(&["events", "--record", "V000000000999"]);
    assert_eq!(none, "(no events)\n");
}

/// The bureau makes a statement of the approved claim; finance records its payment and is
/// named on it.
fn pay_as_finance(bureau: &Ctl, finance: &Ctl, finance_id: &str) {
    let statement = bureau.json(&[
        "settlement",
        "create",
        "--provider",
        COMPUTE_PROVIDER,
        "--program",
        "compute",
        "--up-to",
        "2027-06-15",
    ]);
    let settlement_id = statement["settlement_id"].as_str().expect("an id");
    assert_eq!(statement["created_by"]["token_id"], "T000000000001");
    let paid = finance.ok(&[
        "settlement",
        "pay",
        settlement_id,
        "--bank-reference",
        "国库集中支付 2027-0615-0001",
        "--paid-on",
        "2027-06-15",
    ]);
    assert_eq!(
        field(&paid, "payment_recorded_by"),
        format!("{finance_id} (finance)")
    );
    assert_eq!(field(&paid, "created_by"), "T000000000001 (bureau)");
}
