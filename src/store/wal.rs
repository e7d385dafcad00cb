//! The write-ahead log: what makes a batch durable before its callers are answered.
//!
//! sled is the checkpointed state; this log is in front of it. Each batch of event records is
//! appended to the current segment, a file preallocated with zeros, and made durable with one
//! `fdatasync`: the file's size and blocks never change while it is written, so that sync
//! writes only the new bytes (no metadata), which is the disk's floor. A checkpoint (sled's
//! flush and an fsync of its file) later makes the records in sled durable by themselves, and
//! the segments wholly before it are deleted.
//!
//! ## Layout
//!
//! `wal/<first sequence, 20 digits>.wal`, [`SEGMENT_BYTES`] each by default (the `wal_segment_kib`
//! setting; a segment is made larger for a batch that would not fit), made by writing zeros, fsyncing
//! the file and then the directory (a segment's name must survive a power cut before any
//! record in it is acknowledged). A segment holds frames from offset 0, each 8-byte aligned:
//!
//! ```text
//! frame   = length:u32le  crc32:u32le  payload[length]  zero padding to 8 bytes
//! payload = first_sequence:u64le  count:u32le  { record_length:u32le  record[record_length] } * count
//! ```
//!
//! `crc32` (IEEE) covers the payload. A frame of length 0 ends the segment's frames (the rest
//! is preallocated zeros). `record` is an event record as stored in sled, byte for byte (see
//! `format`).
//!
//! ## Recovery
//!
//! Frames are read in order until the first that is not whole and valid. If that frame is the
//! torn tail of the last write (nothing valid follows it in the segment, and it is in the last
//! segment), the log ends there: its batch was never acknowledged. A valid frame after an
//! invalid one means the log was damaged, not torn, and recovery refuses with the file and the
//! offset. Records already in sled (at or below its head) are skipped; the rest must follow
//! sled's head without a gap.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The default size of one segment.
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Segments grow in steps of this, so that one that must hold a large batch stays aligned.
const SEGMENT_STEP_BYTES: u64 = 64 * 1024;

/// The largest frame: far above any batch (commands × events × record size), a bound on what a
/// damaged length field can make recovery read.
pub const FRAME_BYTES_MAX: u64 = 256 * 1024 * 1024;

const FRAME_HEADER_BYTES: u64 = 8;
const ALIGNMENT_BYTES: u64 = 8;

/// The directory of the log inside the ledger directory.
pub fn directory_of(ledger_directory: &Path) -> PathBuf {
    ledger_directory.join("wal")
}

/// One batch read back: the sequence of its first record and every record's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub first_sequence: u64,
    pub records: Vec<Vec<u8>>,
}

impl Frame {
    pub fn last_sequence(&self) -> u64 {
        self.first_sequence + self.records.len() as u64 - 1
    }
}

/// The appending end of the log. Used by one thread at a time (the sync thread).
pub struct WriteAheadLog {
    directory: PathBuf,
    /// The size new segments are made with.
    segment_bytes: u64,
    segment: File,
    /// The current segment's size.
    segment_length: u64,
    segment_first_sequence: u64,
    /// Where the next frame goes in the current segment.
    offset: u64,
    /// Segments before the current one, by first sequence, oldest first.
    older_segments: Vec<u64>,
}

impl WriteAheadLog {
    /// Opens the log for appending after recovery has read it (and sled holds every record
    /// before `next_sequence`): appending goes on in the last segment after its last whole
    /// frame, with a torn tail zeroed first (durably, so no later recovery mistakes it for
    /// damage), or in a new segment if there is none.
    pub fn open(
        directory: &Path,
        recovered: &Recovered,
        next_sequence: u64,
        segment_bytes: u64,
    ) -> Result<WriteAheadLog, StoreError> {
        std::fs::create_dir_all(directory)?;
        sync_directory(directory)?;
        let mut segments = segment_sequences(directory)?;
        let Some(tail) = recovered.tail else {
            let segment = create_segment(directory, next_sequence, segment_bytes)?;
            return Ok(WriteAheadLog {
                directory: directory.to_owned(),
                segment_bytes,
                segment,
                segment_length: segment_bytes,
                segment_first_sequence: next_sequence,
                offset: 0,
                older_segments: segments,
            });
        };
        segments.retain(|first| *first != tail.segment_first_sequence);
        let segment = OpenOptions::new()
            .read(true)
            .write(true)
            .open(segment_path(directory, tail.segment_first_sequence))?;
        let segment_length = segment.metadata()?.len();
        if tail.torn {
            zero_from(&segment, tail.end_offset, segment_length)?;
        }
        Ok(WriteAheadLog {
            directory: directory.to_owned(),
            segment_bytes,
            segment,
            segment_length,
            segment_first_sequence: tail.segment_first_sequence,
            offset: tail.end_offset,
            older_segments: segments,
        })
    }

    /// Appends one frame holding `records`, numbered from `first_sequence`, and makes it
    /// durable. Returns once it is on disk.
    pub fn append_durably(
        &mut self,
        first_sequence: u64,
        records: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let frame = encode_frame(first_sequence, records);
        let frame_bytes = frame.len() as u64;
        assert!(
            frame_bytes <= FRAME_BYTES_MAX,
            "a batch of {frame_bytes} bytes is over the frame bound"
        );
        if self.offset + frame_bytes + FRAME_HEADER_BYTES > self.segment_length {
            self.roll_over(first_sequence, frame_bytes)?;
        }
        self.segment.write_all_at(&frame, self.offset)?;
        self.segment.sync_data()?;
        self.offset += frame_bytes;
        Ok(())
    }

    /// Closes the current segment and starts one for records from `first_sequence` on.
    /// The new segment holds at least `frame_bytes` and the end-of-frames marker after it.
    fn roll_over(&mut self, first_sequence: u64, frame_bytes: u64) -> Result<(), StoreError> {
        let needed =
            (frame_bytes + FRAME_HEADER_BYTES).div_ceil(SEGMENT_STEP_BYTES) * SEGMENT_STEP_BYTES;
        let length = self.segment_bytes.max(needed);
        let segment = create_segment(&self.directory, first_sequence, length)?;
        self.older_segments.push(self.segment_first_sequence);
        self.segment = segment;
        self.segment_length = length;
        self.segment_first_sequence = first_sequence;
        self.offset = 0;
        Ok(())
    }

    /// Deletes the segments holding only records at or below `checkpointed`, which sled now
    /// holds durably by itself. A deletion lost to a power cut only leaves a segment that
    /// recovery skips.
    pub fn forget_before(&mut self, checkpointed: u64) -> Result<usize, StoreError> {
        let mut boundaries: Vec<u64> = self.older_segments.clone();
        boundaries.push(self.segment_first_sequence);
        let mut deleted = 0;
        // A segment's records end where the next segment's begin.
        while !self.older_segments.is_empty() && boundaries[1] <= checkpointed + 1 {
            let first = self.older_segments.remove(0);
            boundaries.remove(0);
            std::fs::remove_file(segment_path(&self.directory, first))?;
            deleted += 1;
        }
        if deleted > 0 {
            sync_directory(&self.directory)?;
        }
        Ok(deleted)
    }

    /// Bytes of log written in the current segment (for deciding when to checkpoint).
    pub fn segment_offset(&self) -> u64 {
        self.offset
    }
}

fn encode_frame(first_sequence: u64, records: &[Vec<u8>]) -> Vec<u8> {
    assert!(!records.is_empty(), "a frame holds at least one record");
    let mut payload = Vec::with_capacity(12 + records.iter().map(|r| r.len() + 4).sum::<usize>());
    payload.extend_from_slice(&first_sequence.to_le_bytes());
    payload.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for record in records {
        let length = u32::try_from(record.len()).expect("a record is far below 4 GiB");
        payload.extend_from_slice(&length.to_le_bytes());
        payload.extend_from_slice(record);
    }
    let length = u32::try_from(payload.len()).expect("a frame is below the frame bound");
    let mut frame = Vec::with_capacity(payload.len() + 16);
    frame.extend_from_slice(&length.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    while !(frame.len() as u64).is_multiple_of(ALIGNMENT_BYTES) {
        frame.push(0);
    }
    frame
}

/// Where appending stops in the last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tail {
    pub segment_first_sequence: u64,
    /// Just after the last whole frame.
    pub end_offset: u64,
    /// Whether bytes of a torn write lie after it.
    pub torn: bool,
}

/// What recovery read: every whole frame in order, and where the log ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub frames: Vec<Frame>,
    pub tail: Option<Tail>,
}

/// Every frame in the log, in order, ending at a torn tail. Refuses a damaged log, naming the
/// segment and the offset.
pub fn read_all(directory: &Path) -> Result<Recovered, StoreError> {
    let sequences = segment_sequences(directory)?;
    let mut recovered = Recovered::default();
    for (index, first) in sequences.iter().enumerate() {
        let path = segment_path(directory, *first);
        let is_last = index + 1 == sequences.len();
        let (frames, end_offset, torn) = read_segment(&path, is_last)?;
        recovered.frames.extend(frames);
        recovered.tail = Some(Tail {
            segment_first_sequence: *first,
            end_offset: end_offset as u64,
            torn,
        });
    }
    Ok(recovered)
}

/// The segment's frames, the offset after the last, and whether a torn write follows it.
fn read_segment(path: &Path, is_last: bool) -> Result<(Vec<Frame>, usize, bool), StoreError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut frames = Vec::new();
    let mut offset = 0usize;
    loop {
        match decode_frame(&bytes, offset) {
            FrameRead::Frame(frame, next) => {
                frames.push(frame);
                offset = next;
            }
            FrameRead::End => return Ok((frames, offset, false)),
            FrameRead::Invalid(why) => {
                if is_last && !any_valid_frame_after(&bytes, offset) {
                    tracing::warn!(segment = %path.display(), offset, why, "the write-ahead log ends in a torn write: its batch was never acknowledged and is dropped");
                    return Ok((frames, offset, true));
                }
                return Err(StoreError::Corrupt(format!(
                    "write-ahead log {} is damaged at offset {offset}: {why}",
                    path.display()
                )));
            }
        }
    }
}

/// Overwrites a segment with zeros from `offset` to its end, durably.
fn zero_from(segment: &File, offset: u64, segment_length: u64) -> Result<(), StoreError> {
    let zeros = vec![0u8; 1024 * 1024];
    let mut at = offset;
    while at < segment_length {
        let length = (segment_length - at).min(zeros.len() as u64) as usize;
        segment.write_all_at(&zeros[..length], at)?;
        at += length as u64;
    }
    segment.sync_data()?;
    Ok(())
}

enum FrameRead {
    Frame(Frame, usize),
    End,
    Invalid(&'static str),
}

fn decode_frame(bytes: &[u8], offset: usize) -> FrameRead {
    let Some(header) = bytes.get(offset..offset + FRAME_HEADER_BYTES as usize) else {
        return FrameRead::End;
    };
    let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if length == 0 {
        return if crc == 0 {
            FrameRead::End
        } else {
            FrameRead::Invalid("a frame of no length with a checksum")
        };
    }
    let start = offset + FRAME_HEADER_BYTES as usize;
    let Some(payload) = bytes.get(start..start + length) else {
        return FrameRead::Invalid("the frame runs past the end of the segment");
    };
    if crc32fast::hash(payload) != crc {
        return FrameRead::Invalid("the frame's checksum does not match");
    }
    match decode_payload(payload) {
        Some(frame) => {
            let end = start + length;
            let aligned = end.div_ceil(ALIGNMENT_BYTES as usize) * ALIGNMENT_BYTES as usize;
            FrameRead::Frame(frame, aligned)
        }
        None => FrameRead::Invalid("the frame's records do not add up"),
    }
}

fn decode_payload(payload: &[u8]) -> Option<Frame> {
    let first_sequence = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
    let count = u32::from_le_bytes(payload.get(8..12)?.try_into().ok()?) as usize;
    let mut records = Vec::with_capacity(count.min(4096));
    let mut at = 12usize;
    for _ in 0..count {
        let length = u32::from_le_bytes(payload.get(at..at + 4)?.try_into().ok()?) as usize;
        records.push(payload.get(at + 4..at + 4 + length)?.to_vec());
        at += 4 + length;
    }
    (at == payload.len() && !records.is_empty() && first_sequence > 0).then_some(Frame {
        first_sequence,
        records,
    })
}

/// Whether a whole, valid frame starts anywhere after `offset` (at an aligned position): the
/// difference between a torn tail and damage in the middle of the log.
fn any_valid_frame_after(bytes: &[u8], offset: usize) -> bool {
    let step = ALIGNMENT_BYTES as usize;
    (offset + step..bytes.len())
        .step_by(step)
        .any(|at| matches!(decode_frame(bytes, at), FrameRead::Frame(..)))
}

/// The first sequences of the segments in `directory`, in order.
fn segment_sequences(directory: &Path) -> Result<Vec<u64>, StoreError> {
    if !directory.exists() {
        return Ok(Vec::new());
    }
    let mut sequences = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(first) = name.strip_suffix(".wal").and_then(|n| n.parse().ok()) {
            sequences.push(first);
        }
    }
    sequences.sort_unstable();
    Ok(sequences)
}

fn segment_path(directory: &Path, first_sequence: u64) -> PathBuf {
    directory.join(format!("{first_sequence:020}.wal"))
}

/// Creates a segment full of zeros, durable with its name, replacing a leftover of the same
/// name (one recovery has already read).
fn create_segment(directory: &Path, first_sequence: u64, length: u64) -> Result<File, StoreError> {
    let path = segment_path(directory, first_sequence);
    let temporary = path.with_extension("wal.new");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    let zeros = vec![0u8; SEGMENT_STEP_BYTES as usize];
    for _ in 0..length.div_ceil(SEGMENT_STEP_BYTES) {
        file.write_all(&zeros)?;
    }
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    sync_directory(directory)?;
    Ok(file)
}

/// Makes the directory's entries (creates, renames, deletes) durable.
pub fn sync_directory(directory: &Path) -> Result<(), StoreError> {
    File::open(directory)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(first: u8, count: u8) -> Vec<Vec<u8>> {
        (first..first + count)
            .map(|n| format!("{{\"record\":{n}}}").into_bytes())
            .collect()
    }

    #[test]
    fn frames_come_back_in_order_across_a_restart() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut log =
            WriteAheadLog::open(directory.path(), &Recovered::default(), 1, SEGMENT_BYTES)
                .expect("log");
        log.append_durably(1, &records(1, 3)).expect("append");
        log.append_durably(4, &records(4, 1)).expect("append");
        let frames = read_all(directory.path()).expect("read").frames;
        assert_eq!(
            frames,
            vec![
                Frame {
                    first_sequence: 1,
                    records: records(1, 3)
                },
                Frame {
                    first_sequence: 4,
                    records: records(4, 1)
                },
            ]
        );
    }

    #[test]
    fn a_torn_last_frame_is_dropped_and_damage_in_the_middle_is_refused() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut log =
            WriteAheadLog::open(directory.path(), &Recovered::default(), 1, SEGMENT_BYTES)
                .expect("log");
        log.append_durably(1, &records(1, 2)).expect("append");
        log.append_durably(3, &records(3, 2)).expect("append");
        let path = segment_path(directory.path(), 1);
        let bytes = std::fs::read(&path).expect("segment");
        let second_frame = encode_frame(1, &records(1, 2)).len();

        let mut torn = bytes.clone();
        torn[second_frame + 20] ^= 0xff;
        std::fs::write(&path, &torn).expect("write");
        let recovered = read_all(directory.path()).expect("a torn tail is not an error");
        assert_eq!(recovered.frames.len(), 1, "the torn batch is dropped");
        let tail = recovered.tail.expect("a tail");
        assert!(tail.torn);
        assert_eq!(tail.end_offset, second_frame as u64);
        let mut reopened =
            WriteAheadLog::open(directory.path(), &recovered, 3, SEGMENT_BYTES).expect("reopen");
        reopened.append_durably(3, &records(7, 1)).expect("append");
        let frames = read_all(directory.path()).expect("read").frames;
        assert_eq!(
            frames[1].records,
            records(7, 1),
            "appending goes on after the torn write"
        );

        let mut damaged = bytes;
        damaged[20] ^= 0xff;
        std::fs::write(&path, &damaged).expect("write");
        let refused = read_all(directory.path()).expect_err("damage before a valid frame");
        assert!(
            refused.to_string().contains("offset 0"),
            "names the offset: {refused}"
        );
        assert!(refused.to_string().contains("00000000000000000001.wal"));
    }

    #[test]
    fn a_batch_larger_than_a_segment_gets_a_segment_of_its_own_size() {
        let directory = tempfile::tempdir().expect("tempdir");
        let small = SEGMENT_STEP_BYTES;
        let mut log =
            WriteAheadLog::open(directory.path(), &Recovered::default(), 1, small).expect("log");
        let large = vec![vec![b'x'; 3 * small as usize]];
        log.append_durably(1, &records(1, 1)).expect("append");
        log.append_durably(2, &large).expect("append");
        log.append_durably(3, &records(3, 1)).expect("append");
        let frames = read_all(directory.path()).expect("read").frames;
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].records, large);
        assert_eq!(
            segment_sequences(directory.path()).expect("list"),
            vec![1, 2],
            "the large batch starts a segment, rounded up to a step, where the next one fits"
        );
        let large_segment = std::fs::metadata(segment_path(directory.path(), 2)).expect("size");
        assert_eq!(large_segment.len(), 4 * small);
    }

    #[test]
    fn segments_roll_over_and_are_forgotten_after_a_checkpoint() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut log =
            WriteAheadLog::open(directory.path(), &Recovered::default(), 1, SEGMENT_BYTES)
                .expect("log");
        log.append_durably(1, &records(1, 2)).expect("append");
        log.roll_over(3, 64).expect("roll over");
        log.append_durably(3, &records(3, 2)).expect("append");
        assert_eq!(
            segment_sequences(directory.path()).expect("list"),
            vec![1, 3]
        );
        assert_eq!(
            log.forget_before(1).expect("forget"),
            0,
            "record 2 is not checkpointed"
        );
        assert_eq!(log.forget_before(2).expect("forget"), 1);
        assert_eq!(segment_sequences(directory.path()).expect("list"), vec![3]);
        assert_eq!(read_all(directory.path()).expect("read").frames.len(), 1);
    }
}
