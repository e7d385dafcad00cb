//! The detail pages (issue 16 item 4) and the links to them: a claim (its evidence, its
//! rejection reason, who did each step), a voucher (remaining as gRPC says it), a statement
//! (lines with enterprise names, the payment's bank reference, a negative one saying the
//! provider owes), a provider (its open clawbacks until a statement nets them), the open
//! clawbacks on /providers; every table linking ids and codes to these pages; an unknown id is
//! a 404; an enterprise's session never sees them.

use super::*;

const ENTERPRISE_NAME: &str = "启东智算科技有限公司";
const PROVIDER_NAME: &str = "南通算力服务有限公司";
const CONTRACT_SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Yuan text ("12345.60") as the console writes it ("12,345.60").
fn grouped(yuan: &str) -> String {
    let (units, fraction) = yuan.split_once('.').unwrap_or((yuan, "00"));
    let mut out = String::new();
    for (index, digit) in units.chars().enumerate() {
        if index > 0 && (units.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    format!("{out}.{fraction}")
}

/// A world with the console and a signed-in bureau browser.
async fn signed_in_world() -> (World, Browser) {
    let world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    (world, browser)
}

/// A bureau browser on the same console reading English.
async fn english(world: &World) -> Browser {
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    browser.get("/language?to=en&back=%2F").await;
    browser
}

async fn approve(world: &mut World, redemption_id: &str) {
    world
        .bureau
        .approve_redemption(pb::ApproveRedemptionRequest {
            redemption_id: redemption_id.to_owned(),
        })
        .await
        .expect("approved");
}

async fn statement(world: &mut World, request_id: &str) -> pb::Settlement {
    world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: request_id.into(),
            provider_credit_code: COMPUTE_PROVIDER.into(),
            program: pb::Program::Compute as i32,
            up_to_date: TODAY.into(),
        })
        .await
        .expect("a statement")
        .into_inner()
}

#[tokio::test]
async fn a_claims_page_shows_its_evidence_its_rejection_and_who_did_each_step() {
    let (mut world, browser) = signed_in_world().await;
    let voucher = issue(
        &mut world.bureau,
        "v",
        pb::Program::Compute,
        Some("100000.00"),
    )
    .await;
    let mut request = redeem_request(&voucher, &invoice(7), "2026-11-02", "20000.00");
    request.evidence.push(pb::Evidence {
        kind: pb::EvidenceKind::Contract as i32,
        sha256: CONTRACT_SHA256.into(),
        reference: "合同-2026-118.pdf".into(),
    });
    let claim = world
        .compute_provider
        .redeem(request)
        .await
        .expect("redeemed")
        .into_inner();
    world
        .bureau
        .reject_redemption(pb::RejectRedemptionRequest {
            redemption_id: claim.redemption_id.clone(),
            reason: "发票抬头与企业名称不符".into(),
        })
        .await
        .expect("rejected");

    let id = &claim.redemption_id;
    let (status, page) = browser
        .get(&format!("/redemptions/{}", id.to_lowercase()))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for expected in [
        "合同",
        "合同-2026-118.pdf",
        CONTRACT_SHA256,
        "发票抬头与企业名称不符",
        "驳回",
        "已驳回",
        "服务商申报",
        &invoice(7),
        ENTERPRISE_NAME,
        PROVIDER_NAME,
        &grouped(&yuan(&claim.subsidy)),
    ] {
        assert!(page.contains(expected), "{expected} missing: {page}");
    }
    assert!(page.contains(&format!("href=\"/vouchers/{}\"", voucher.voucher_id)));
    assert!(page.contains(&format!("href=\"/enterprises/{ENTERPRISE}\"")));
    assert!(page.contains(&format!("href=\"/providers/{COMPUTE_PROVIDER}\"")));
    assert!(page.contains("未结算"), "no statement yet: {page}");
    let history = &page[page.find("操作记录").expect("a history")..];
    assert!(history.contains("redemption_rejected"), "{history}");
    assert!(history.contains("redemption_accepted"), "{history}");

    let english = english(&world).await;
    let (_, page) = english.get(&format!("/redemptions/{id}")).await;
    assert!(
        page.contains("Contract") && page.contains("Rejected"),
        "{page}"
    );
    assert!(page.contains("Filed by the provider"), "{page}");
}

#[tokio::test]
async fn a_vouchers_page_shows_what_remains_as_grpc_says_and_its_claims() {
    let (mut world, browser) = signed_in_world().await;
    let (voucher, claims) = voucher_with_claims(&mut world, &["12345.60", "20000.00"]).await;
    let id = &voucher.voucher_id;
    let after = get_voucher(&mut world.bureau, id).await;
    let remaining = grouped(&yuan(&after.remaining));
    assert_ne!(
        yuan(&after.remaining),
        yuan(&after.face_value),
        "claims used some"
    );

    let (status, page) = browser
        .get(&format!("/vouchers/{}", id.to_lowercase()))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let remaining_row = &page[page.find("可用余额").expect("a remaining row")..];
    let remaining_row = &remaining_row[..remaining_row.find("</tr>").expect("its row")];
    assert!(
        remaining_row.contains(&remaining),
        "remaining {remaining}: {remaining_row}"
    );
    assert!(page.contains(&grouped(&yuan(&after.face_value))));
    assert!(page.contains(&after.valid_until), "validity: {page}");
    for claim in &claims {
        let link = format!("href=\"/redemptions/{}\"", claim.redemption_id);
        assert!(page.contains(&link), "{link}: {page}");
    }
    assert!(page.contains(ENTERPRISE_NAME));
    assert!(page.contains(&format!("href=\"/vouchers/{id}/providers\"")));
    assert!(page.contains("voucher_issued"), "its history: {page}");
    let (status, _) = browser.get(&format!("/vouchers/{id}/providers")).await;
    assert_eq!(status, StatusCode::OK, "the providers' page stays");
}

#[tokio::test]
async fn a_statement_names_the_enterprises_and_after_payment_shows_the_bank_reference() {
    let (mut world, browser) = signed_in_world().await;
    let (_, claims) = voucher_with_claims(&mut world, &["30000.00"]).await;
    approve(&mut world, &claims[0].redemption_id).await;
    let made = statement(&mut world, "s-1").await;
    let id = &made.settlement_id;

    let (status, page) = browser
        .get(&format!("/settlements/{}", id.to_lowercase()))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let lines = &page[page.find("结算明细").expect("lines")..];
    assert!(lines.contains(ENTERPRISE_NAME), "{lines}");
    let claim_link = format!("href=\"/redemptions/{}\"", claims[0].redemption_id);
    assert!(lines.contains(&claim_link), "{lines}");
    assert!(page.contains("待拨付"), "{page}");
    assert!(page.contains(&format!("应拨付 {} 元", grouped(&yuan(&claims[0].subsidy)))));

    world
        .bureau
        .record_settlement_payment(pb::RecordSettlementPaymentRequest {
            settlement_id: id.clone(),
            bank_reference: "GK2026112000457".into(),
            paid_on: TODAY.into(),
        })
        .await
        .expect("paid");
    let (_, page) = browser.get(&format!("/settlements/{id}")).await;
    let payment = &page[page.find("<h2>拨付</h2>").expect("a payment section")..];
    assert!(payment.contains("GK2026112000457"), "{payment}");
    assert!(payment.contains(TODAY), "{payment}");
    assert!(payment.contains("登记人"), "{payment}");
    assert!(!payment.contains("待拨付"), "{payment}");
}

#[tokio::test]
async fn a_clawback_is_open_on_the_providers_pages_until_a_negative_statement_nets_it() {
    let (mut world, browser) = signed_in_world().await;
    let (_, claims) = voucher_with_claims(&mut world, &["30000.00", "12000.00"]).await;
    let (paid, later) = (&claims[0], &claims[1]);
    approve(&mut world, &paid.redemption_id).await;
    statement(&mut world, "s-1").await;
    let provider_page = format!("/providers/{}", COMPUTE_PROVIDER.to_lowercase());
    let (status, page) = browser.get(&provider_page).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("没有待追回的款项。"),
        "nothing owed yet: {page}"
    );

    world
        .bureau
        .reverse_redemption(pb::ReverseRedemptionRequest {
            redemption_id: paid.redemption_id.clone(),
            reason: "发票作废".into(),
        })
        .await
        .expect("clawed back");
    let owed = grouped(&yuan(&paid.subsidy));
    let (_, page) = browser.get(&provider_page).await;
    let open = &page
        [page.find("待追回").expect("open clawbacks")..page.find("<h2>核销记录").expect("claims")];
    assert!(
        open.contains(&format!("href=\"/redemptions/{}\"", paid.redemption_id)),
        "{open}"
    );
    assert!(open.contains(&owed), "{open}");
    assert!(
        !open.contains(&later.redemption_id),
        "only the clawed back claim: {open}"
    );
    assert!(page.contains(PROVIDER_NAME));
    let (_, providers) = browser.get("/providers").await;
    let row = &providers[providers
        .find(&format!("href=\"/providers/{COMPUTE_PROVIDER}\""))
        .expect("a linked provider")..];
    let row = &row[..row.find("</tr>").expect("a row")];
    assert!(row.contains(&owed), "the amount owed on its row: {row}");
    let (_, claim) = browser
        .get(&format!("/redemptions/{}", paid.redemption_id))
        .await;
    assert!(
        claim.contains("发票作废") && claim.contains("计入该服务商下一张结算单"),
        "{claim}"
    );

    let netting = statement(&mut world, "s-2").await;
    let (_, page) = browser
        .get(&format!("/settlements/{}", netting.settlement_id))
        .await;
    assert!(page.contains(&format!("服务商应退回 {owed} 元")), "{page}");
    assert!(!page.contains("待拨付"), "{page}");
    let netted = &page[page.find("本单抵扣的追回").expect("clawbacks")..];
    assert!(
        netted.contains(&format!("href=\"/redemptions/{}\"", paid.redemption_id)),
        "{netted}"
    );
    assert!(netted.contains(ENTERPRISE_NAME), "{netted}");
    let (_, english) = english(&world)
        .await
        .get(&format!("/settlements/{}", netting.settlement_id))
        .await;
    assert!(
        english.contains(&format!("provider owes {owed}")),
        "{english}"
    );

    let (_, page) = browser.get(&provider_page).await;
    assert!(page.contains("没有待追回的款项。"), "netted now: {page}");
    let (_, claim) = browser
        .get(&format!("/redemptions/{}", paid.redemption_id))
        .await;
    assert!(
        claim.contains(&format!("href=\"/settlements/{}\"", netting.settlement_id)),
        "{claim}"
    );
}

#[tokio::test]
async fn every_table_links_claims_vouchers_enterprises_and_providers_to_their_pages() {
    let (mut world, browser) = signed_in_world().await;
    let (voucher, claims) = voucher_with_claims(&mut world, &["10000.00"]).await;
    let claim_link = format!("href=\"/redemptions/{}\"", claims[0].redemption_id);
    let voucher_link = format!("href=\"/vouchers/{}\"", voucher.voucher_id);
    let provider_link = format!("href=\"/providers/{COMPUTE_PROVIDER}\"");
    let enterprise_link = format!("href=\"/enterprises/{ENTERPRISE}\"");

    let (_, list) = browser.get("/redemptions").await;
    for link in [&claim_link, &voucher_link, &provider_link, &enterprise_link] {
        assert!(
            list.contains(link.as_str()),
            "{link} on /redemptions: {list}"
        );
    }
    assert!(
        list.contains(PROVIDER_NAME) && list.contains(ENTERPRISE_NAME),
        "{list}"
    );
    let (_, enterprise) = browser
        .get(&format!("/enterprises/{}", ENTERPRISE.to_lowercase()))
        .await;
    assert!(
        enterprise.contains(&claim_link) && enterprise.contains(&voucher_link),
        "{enterprise}"
    );
    let (_, unbound) = browser.get("/vouchers/unbound").await;
    assert!(
        unbound.contains(&voucher_link) && unbound.contains(ENTERPRISE_NAME),
        "{unbound}"
    );
    let (_, providers) = browser.get("/providers").await;
    assert!(providers.contains(&provider_link), "{providers}");
    let (_, provider) = browser.get(&format!("/providers/{COMPUTE_PROVIDER}")).await;
    assert!(provider.contains(&claim_link), "its claims: {provider}");
    assert!(provider.contains(&format!("/redemptions?provider={COMPUTE_PROVIDER}")));
}

#[tokio::test]
async fn unknown_ids_are_404_and_an_enterprise_never_opens_these_pages() {
    let (mut world, browser) = signed_in_world().await;
    let (voucher, claims) = voucher_with_claims(&mut world, &["10000.00"]).await;
    for path in [
        "/redemptions/R000000000999",
        "/vouchers/V000000000999",
        "/settlements/S000000000999",
        &format!("/providers/{}", synthetic_code(77)),
    ] {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {page}");
        assert!(page.contains("技术信息"), "worded like the others: {page}");
    }
    let (status, _) = browser.get("/redemptions/R12").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let token = create_enterprise_token(&mut world.bureau, ENTERPRISE).await;
    let own = Browser::new(&world.server);
    own.sign_in(&token).await;
    for path in [
        format!("/redemptions/{}", claims[0].redemption_id),
        format!("/vouchers/{}", voucher.voucher_id),
        format!("/providers/{COMPUTE_PROVIDER}"),
    ] {
        let (status, location) = own.location_of(&path).await;
        assert!(status.is_redirection(), "{path}: {status}");
        assert_eq!(location, "/my", "{path}");
    }
}
