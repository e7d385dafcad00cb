//! An auditor who loops the heaviest calls: verifications shared and bounded, event and
//! backup streams bounded per token, producers that give up on a reader that stops.

use super::*;

#[tokio::test]
async fn auditors_looping_verify_share_runs_and_writes_go_on() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("100000")).await;
    let mut loops = Vec::new();
    for _ in 0..4 {
        // One token each: a token may have one verification waiting at a time.
        let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
        let mut auditor = world.server.client(&auditor_token).await;
        loops.push(tokio::spawn(async move {
            let mut runs = Vec::new();
            for _ in 0..10 {
                let report = auditor
                    .verify(pb::VerifyRequest {})
                    .await
                    .expect("verified")
                    .into_inner();
                assert!(report.sound, "{}", report.report);
                runs.push(report.verified_at);
            }
            runs
        }));
    }
    for serial in 1..=5 {
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            world.compute_provider.redeem(redeem_request(
                &voucher,
                &invoice(serial),
                "2027-06-01",
                "10",
            )),
        )
        .await
        .expect("a redemption answers within a second while auditors loop")
        .expect("and is accepted");
    }
    let mut runs = std::collections::BTreeSet::new();
    for each in loops {
        runs.extend(each.await.expect("an auditor's loop"));
    }
    assert!(
        runs.len() <= 20 && runs.iter().all(|at| !at.is_empty()),
        "forty calls at the same time share runs: {} runs",
        runs.len()
    );
}

#[tokio::test]
async fn event_streams_never_read_are_bounded_per_token_and_leave_backups_working() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    // More events than a stream buffers, so a producer whose reader takes nothing waits.
    redeem_each(&mut world.compute_provider, &voucher, 1..=150, "10").await;
    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let mut auditor = world.server.client(&auditor_token).await;
    let mut unread = Vec::new();
    let mut refused = None;
    for _ in 0..10 {
        match auditor.list_events(pb::ListEventsRequest::default()).await {
            Ok(stream) => unread.push(stream),
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("a token's unread streams are bounded");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Two producers per token may wait on unread streams; a stream whose events all fit in
    // the transport's buffers ends its producer and frees its place, so one more may open.
    assert!(
        (2..=4).contains(&unread.len()),
        "{} unread streams before the refusal",
        unread.len()
    );
    let mut backup = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        world.bureau.backup(pb::BackupRequest {}),
    )
    .await
    .expect("the bureau's backup starts within a second")
    .expect("a backup stream")
    .into_inner();
    let mut bytes = 0;
    while let Some(chunk) = backup.message().await.expect("a chunk") {
        bytes += chunk.data.len();
    }
    assert!(bytes > 0, "the backup arrived whole");
    drop(unread);
}
