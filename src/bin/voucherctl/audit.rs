//! Checking and keeping the whole ledger: `verify` (the server replays its log and checks
//! every record), `events export` (the hash-chained log as JSON Lines) and `backup` (a
//! consistent copy, checked once written).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::store::backup::{BackupSummary, check_backup};

use crate::Failure;
use crate::connect::Client;
use crate::output::{Output, emit, progress_counter};

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Write events as JSON Lines, one per line, each with its own SHA-256 and its
    /// predecessor's: remove the last field `,"sha256":"…"` of a line and hash the rest.
    Export(EventsExport),
}

pub async fn run_events(command: EventsCommand, client: &mut Client) -> Result<(), Failure> {
    match command {
        EventsCommand::Export(arguments) => arguments.run(client).await,
    }
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
