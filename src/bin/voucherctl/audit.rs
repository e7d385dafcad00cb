//! Checking and keeping the whole ledger: `verify` (the server replays its log and checks
//! every record), `events` (who did what: one line an event, filtered by the token that
//! caused it or the record it touched), `events export` (the hash-chained log as JSON Lines)
//! and `backup` (a consistent copy, checked once written).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use voucher_ledger::client::{Record, Value, actor, actor_text, china_time, text};
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::store::backup::{BackupSummary, check_backup};

use crate::Failure;
use crate::connect::Client;
use crate::output::{Output, emit, progress_counter};

/// `voucherctl events [FILTERS]` lists events; `voucherctl events export` writes the chain.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Events {
    #[command(subcommand)]
    command: Option<EventsCommand>,
    #[command(flatten)]
    list: EventsList,
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Write events as JSON Lines, one per line, each with its own SHA-256 and its
    /// predecessor's: remove the last field `,"sha256":"…"` of a line and hash the rest.
    Export(EventsExport),
}

pub async fn run_events(
    events: Events,
    client: &mut Client,
    output: &Output,
) -> Result<(), Failure> {
    match events.command {
        Some(EventsCommand::Export(arguments)) => arguments.run(client).await,
        None => events.list.run(client, output).await,
    }
}

/// Who did what: each event's sequence, time (China time), kind, actor and the records it
/// touched, one line an event (one JSON object a line with --json).
#[derive(Args, Debug)]
pub struct EventsList {
    /// The first event to look at (default: the first).
    #[arg(long, value_name = "SEQUENCE", default_value_t = 1)]
    from: u64,
    /// Look at this many events at most, from --from (default: up to the head); the filters
    /// choose among those.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Only the events this token caused (T…).
    #[arg(long, value_name = "TOKEN_ID")]
    actor: Option<String>,
    /// Only the events touching this record: an id (V…, R…, S…, A…, N…, T…) or a credit code.
    #[arg(long, value_name = "ID")]
    record: Option<String>,
}

impl EventsList {
    async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ListEventsRequest {
            from_sequence: self.from,
            max_events: self.max_events.unwrap_or(0),
            actor_token_id: self.actor.unwrap_or_default(),
            record_id: self.record.unwrap_or_default(),
        };
        let mut stream = client.list_events(request).await?.into_inner();
        let mut listed = 0u64;
        while let Some(event) = stream.message().await? {
            if output.json {
                output.record(&event_record(&event));
            } else {
                emit(&event_line(&event));
            }
            listed += 1;
        }
        if listed == 0 && !output.json {
            emit("(no events)\n");
        }
        Ok(())
    }
}

/// An event as `--json` prints it: `at` is when it was written, `actor` who caused it.
fn event_record(event: &pb::LedgerEvent) -> Record {
    vec![
        ("sequence", Value::Text(event.sequence.to_string())),
        ("at", Value::Time(written_at(event))),
        ("type", text(&event.r#type)),
        ("actor", event_actor(event)),
        ("record_ids", Value::List(event.record_ids.clone())),
        ("sha256", text(&event.sha256)),
    ]
}

/// `    12  2026-11-20 10:00:01 +08:00  voucher_issued  T000000000002 (bureau)  V…, 9144…`.
fn event_line(event: &pb::LedgerEvent) -> String {
    let at = written_at(event).map_or_else(|| "-".to_owned(), |at| china_time(&at));
    let who = match event_actor(event) {
        Value::Actor(Some(actor)) => actor_text(&actor),
        _ => "-".to_owned(),
    };
    let records = event.record_ids.join(", ");
    let line = format!(
        "{:>6}  {at}  {:<28}  {who:<26}  {records}",
        event.sequence, event.r#type
    );
    format!("{}\n", line.trim_end())
}

fn event_actor(event: &pb::LedgerEvent) -> Value {
    actor(
        &event.actor_token_id,
        &event.actor_role,
        &event.actor_certificate_subject,
    )
}

/// When the event was written, from its export line: `event.at`, or the `at` of the record
/// it carries (`event.voucher.at`); records of the first format name it `…_at`
/// (`event.voucher.issued_at`). `None` when none of these is there.
fn written_at(event: &pb::LedgerEvent) -> Option<prost_types::Timestamp> {
    let line: serde_json::Value = serde_json::from_str(&event.json).ok()?;
    let facts = line.get("event")?.as_object()?;
    let nested = facts.values().filter_map(serde_json::Value::as_object);
    let at = std::iter::once(facts).chain(nested).find_map(time_field)?;
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).ok()?,
    })
}

/// An object's `at`, else its first `…_at` that is set.
fn time_field(object: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    object
        .get("at")
        .and_then(serde_json::Value::as_str)
        .or_else(|| {
            object
                .iter()
                .filter(|(key, _)| key.ends_with("_at"))
                .find_map(|(_, value)| value.as_str())
        })
}

#[derive(Args, Debug)]
pub struct EventsExport {
    /// The first event to write (default: the first).
    #[arg(long, value_name = "SEQUENCE", default_value_t = 1)]
    from: u64,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl EventsExport {
    async fn run(self, client: &mut Client) -> Result<(), Failure> {
        let request = pb::ListEventsRequest {
            from_sequence: self.from,
            max_events: 0,
            ..Default::default()
        };
        let mut stream = client.list_events(request).await?.into_inner();
        let mut sink: Box<dyn Write> = match &self.output {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|error| {
                    Failure::Usage(format!("cannot write {}: {error}", path.display()))
                })?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let cannot_write = |error: std::io::Error| Failure::Usage(format!("cannot write: {error}"));
        let mut written = 0u64;
        let progress = progress_counter("events");
        while let Some(event) = stream.message().await? {
            progress.inc(1);
            writeln!(sink, "{}", event.json).map_err(cannot_write)?;
            written += 1;
        }
        progress.finish_and_clear();
        sink.flush().map_err(cannot_write)?;
        if let Some(path) = &self.output {
            eprintln!("wrote {written} events to {}", path.display());
        }
        Ok(())
    }
}

/// Prints the server's report (or one JSON object); exit 1 when the ledger is not sound.
pub async fn verify(client: &mut Client, output: &Output) -> Result<(), Failure> {
    let report = client.verify(pb::VerifyRequest {}).await?.into_inner();
    if output.json {
        let problems: Vec<serde_json::Value> = report
            .problems
            .iter()
            .map(|problem| serde_json::Value::from(problem.as_str()))
            .collect();
        let object = serde_json::json!({
            "sound": report.sound,
            "events": report.events,
            "head_sha256": report.head_sha256,
            "records_checked": report.records_checked,
            "first_bad_event": report.first_bad_event,
            "problems": problems,
        });
        emit(&format!("{object}\n"));
    } else {
        emit(&report.report);
    }
    if report.sound {
        Ok(())
    } else {
        Err(Failure::Refused(format!(
            "verify found {} problems",
            report.problems.len()
        )))
    }
}

#[derive(Args, Debug)]
pub struct Backup {
    /// Where to write the backup; written to FILE.partial first, synced, then renamed.
    file: PathBuf,
}

impl Backup {
    /// Streams the backup into FILE.partial, syncs and checks it, then renames it to FILE.
    pub async fn run(self, client: &mut Client) -> Result<(), Failure> {
        let partial = self.file.with_extension("partial");
        let cannot = |error: std::io::Error| {
            Failure::Usage(format!("cannot write {}: {error}", partial.display()))
        };
        let mut file = std::fs::File::create(&partial).map_err(cannot)?;
        let mut stream = client.backup(pb::BackupRequest {}).await?.into_inner();
        let mut hash = Sha256::new();
        let mut bytes = 0u64;
        let progress = progress_counter("bytes");
        while let Some(chunk) = stream.message().await? {
            progress.inc(chunk.data.len() as u64);
            hash.update(&chunk.data);
            bytes += chunk.data.len() as u64;
            file.write_all(&chunk.data).map_err(cannot)?;
        }
        progress.finish_and_clear();
        file.sync_all().map_err(cannot)?;
        drop(file);
        let summary = check_backup_file(&partial)?;
        std::fs::rename(&partial, &self.file).map_err(cannot)?;
        if let Some(directory) = self
            .file
            .parent()
            .filter(|directory| !directory.as_os_str().is_empty())
        {
            std::fs::File::open(directory)
                .and_then(|directory| directory.sync_all())
                .map_err(cannot)?;
        }
        emit(&format!(
            "backup: {}\nevents: {}\nhead_sha256: {}\nbytes: {bytes}\nfile_sha256: {}\n",
            self.file.display(),
            summary.events,
            summary.head_sha256,
            hex::encode(hash.finalize())
        ));
        Ok(())
    }
}

/// Reads the written file back and checks every line, the chain and the trailer.
fn check_backup_file(path: &Path) -> Result<BackupSummary, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", path.display())))?;
    check_backup(std::io::BufReader::new(file)).map_err(|error| {
        Failure::Refused(format!(
            "the backup written to {} does not check out: {error}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str, token_id: &str, role: &str) -> pb::LedgerEvent {
        pb::LedgerEvent {
            sequence: 7,
            r#type: "voucher_issued".to_owned(),
            json: json.to_owned(),
            actor_token_id: token_id.to_owned(),
            actor_role: role.to_owned(),
            record_ids: vec!["V000000000001".to_owned(), "914403001922038216".to_owned()],
            ..Default::default()
        }
    }

    #[test]
    fn an_event_is_one_line_with_its_time_actor_and_records() {
        let nested = r#"{"format":5,"event":{"type":"voucher_issued","voucher":{"voucher":1,"at":"2026-11-20T10:00:01.5+08:00"}},"sha256":"ab"}"#;
        assert_eq!(
            event_line(&event(nested, "T000000000002", "bureau")),
            format!(
                "     7  2026-11-20 10:00:01 +08:00  {:<28}  {:<26}  V000000000001, 914403001922038216\n",
                "voucher_issued", "T000000000002 (bureau)"
            )
        );
        let first_format = r#"{"sequence":7,"event":{"type":"voucher_issued","voucher":{"closed_at":null,"issued_at":"2026-11-20T10:00:01+08:00"}},"sha256":"ab"}"#;
        let old = event(first_format, "", "unrecorded");
        assert_eq!(written_at(&old).map(|at| at.seconds), Some(1_795_140_001));
        assert!(event_line(&old).contains("unrecorded"));
        assert_eq!(written_at(&event("not json", "", "ledger")), None);
        let record = voucher_ledger::client::to_json(&event_record(&old));
        assert!(
            record.contains(
                r#""actor":{"token_id":"","role":"unrecorded","certificate_subject":""}"#
            ),
            "{record}"
        );
    }
}
