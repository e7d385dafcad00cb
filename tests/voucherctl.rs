//! The README walkthrough, typed as a newcomer would type it: voucherctl against a real
//! voucherd, checking what it prints and how it exits.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

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
    let provider_token = server.data().path().join("provider.token");
    std::fs::write(&provider_token, field(&token, "token")).expect("token file");
    let provider = Ctl {
        address: server.address.to_string(),
        token_file: &provider_token,
    };

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
