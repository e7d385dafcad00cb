//! A regular file's bytes: as the disk has them, and as the page cache has them.
//!
//! The durable bytes are the *base*: the file in the backing directory once the file's name is
//! durable, or a buffer in memory before that. Everything written or truncated since the last
//! `fsync`/`fdatasync` is *pending*: whole dirty pages laid over the base, the file's length,
//! and the lowest length it was cut to. Reads see base and pending together, as a program sees
//! the page cache; a sync writes the pending part into the base; a power cut drops it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The granularity of pending writes, as in a page cache.
const PAGE_BYTES: u64 = 4096;

/// Where a file's durable bytes are.
#[derive(Debug)]
enum Base {
    /// The file's name is not durable yet, so it has no file in the backing directory.
    Memory(Vec<u8>),
    /// Its file in the backing directory. The handle stays valid when a later directory sync
    /// renames or removes that file, so an open file keeps reading what it read before.
    Backing(File),
}

impl Base {
    /// Fills `buffer` from `offset`; the caller never reads past the base's length.
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Base::Memory(bytes) => {
                let start = usize::try_from(offset).map_err(|_| too_large())?;
                let source = bytes
                    .get(start..start + buffer.len())
                    .ok_or_else(|| io::Error::other("a read past the durable bytes"))?;
                buffer.copy_from_slice(source);
                Ok(())
            }
            Base::Backing(file) => file.read_exact_at(buffer, offset),
        }
    }

    fn write_at(&mut self, bytes: &[u8], offset: u64) -> io::Result<()> {
        match self {
            Base::Memory(memory) => {
                let start = usize::try_from(offset).map_err(|_| too_large())?;
                let end = start + bytes.len();
                if memory.len() < end {
                    memory.resize(end, 0);
                }
                memory[start..end].copy_from_slice(bytes);
                Ok(())
            }
            Base::Backing(file) => file.write_all_at(bytes, offset),
        }
    }

    fn set_length(&mut self, length: u64) -> io::Result<()> {
        match self {
            Base::Memory(memory) => {
                memory.resize(usize::try_from(length).map_err(|_| too_large())?, 0);
                Ok(())
            }
            Base::Backing(file) => file.set_len(length),
        }
    }
}

fn too_large() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::EFBIG)
}

/// A regular file's durable bytes and the writes not yet synced over them.
#[derive(Debug)]
pub struct FileContent {
    base: Base,
    /// The base's length, kept here because powerfs is the only one that changes it.
    base_length: u64,
    /// Page number → the page as the program last wrote it. Bytes past `length` are zero.
    dirty_pages: BTreeMap<u64, Box<[u8]>>,
    /// The length the program sees.
    length: u64,
    /// Base bytes at or past this offset were truncated away since the last sync and read as
    /// zero unless a dirty page covers them.
    base_kept_below: u64,
}

impl FileContent {
    /// A file just created: nothing durable, not even its name.
    pub fn new_empty() -> FileContent {
        FileContent::over(Base::Memory(Vec::new()), 0)
    }

    /// A file that exists in the backing directory, opened for reading and writing.
    pub fn from_backing(file: File) -> io::Result<FileContent> {
        let length = file.metadata()?.len();
        Ok(FileContent::over(Base::Backing(file), length))
    }

    fn over(base: Base, length: u64) -> FileContent {
        FileContent {
            base,
            base_length: length,
            dirty_pages: BTreeMap::new(),
            length,
            base_kept_below: u64::MAX,
        }
    }

    /// The length a program sees.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Whether anything was written or truncated since the last sync.
    pub fn has_pending(&self) -> bool {
        !self.dirty_pages.is_empty() || self.length != self.base_length
    }

    /// Up to `size` bytes from `offset`, as a program sees them.
    pub fn read(&self, offset: u64, size: u64) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(size).min(self.length);
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut bytes = vec![0; usize::try_from(end - offset).map_err(|_| too_large())?];
        let base_end = end.min(self.base_length).min(self.base_kept_below);
        if base_end > offset {
            let from_base = usize::try_from(base_end - offset).map_err(|_| too_large())?;
            self.base.read_at(&mut bytes[..from_base], offset)?;
        }
        for (page_number, page) in self
            .dirty_pages
            .range(offset / PAGE_BYTES..=(end - 1) / PAGE_BYTES)
        {
            let page_start = page_number * PAGE_BYTES;
            let (from, to) = (page_start.max(offset), (page_start + PAGE_BYTES).min(end));
            bytes[index(from - offset)..index(to - offset)]
                .copy_from_slice(&page[index(from - page_start)..index(to - page_start)]);
        }
        Ok(bytes)
    }

    /// Writes `data` at `offset`, pending until the next sync.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(too_large)?;
        if data.is_empty() {
            return Ok(());
        }
        for page_number in offset / PAGE_BYTES..=(end - 1) / PAGE_BYTES {
            let page_start = page_number * PAGE_BYTES;
            let (from, to) = (page_start.max(offset), (page_start + PAGE_BYTES).min(end));
            self.dirty_page(page_number)?[index(from - page_start)..index(to - page_start)]
                .copy_from_slice(&data[index(from - offset)..index(to - offset)]);
        }
        self.length = self.length.max(end);
        Ok(())
    }

    /// Truncates or extends to `length`, pending until the next sync.
    pub fn set_length(&mut self, length: u64) {
        if length < self.length {
            let _gone = self.dirty_pages.split_off(&length.div_ceil(PAGE_BYTES));
            if let Some(page) = self.dirty_pages.get_mut(&(length / PAGE_BYTES)) {
                page[index(length % PAGE_BYTES)..].fill(0);
            }
            self.base_kept_below = self.base_kept_below.min(length);
        }
        // Bytes between the old and the new length read as zero: they are past the base's
        // kept bytes and past every dirty page's written bytes.
        self.length = length;
    }

    /// Makes everything pending durable: what `fsync` and `fdatasync` do.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.base_kept_below < self.base_length {
            self.base.set_length(self.base_kept_below)?;
            self.base_length = self.base_kept_below;
        }
        for (page_number, page) in &self.dirty_pages {
            let page_start = page_number * PAGE_BYTES;
            let written = (self.length - page_start).min(PAGE_BYTES);
            self.base.write_at(&page[..index(written)], page_start)?;
            self.base_length = self.base_length.max(page_start + written);
        }
        if self.base_length != self.length {
            self.base.set_length(self.length)?;
            self.base_length = self.length;
        }
        self.dirty_pages.clear();
        self.base_kept_below = u64::MAX;
        Ok(())
    }

    /// Writes the durable bytes (never the pending ones) to a new file at `path` in the
    /// backing directory, which from now on holds them: the file's name became durable.
    pub fn write_to_backing(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        let Base::Memory(bytes) = &self.base else {
            return Err(io::Error::other(format!(
                "{} would be written to the backing directory twice",
                path.display()
            )));
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        file.write_all_at(bytes, 0)?;
        self.base = Base::Backing(file);
        Ok(())
    }

    /// The page, copied from what a program sees now when it was not dirty yet.
    fn dirty_page(&mut self, page_number: u64) -> io::Result<&mut [u8]> {
        if !self.dirty_pages.contains_key(&page_number) {
            let mut page = self.read(page_number * PAGE_BYTES, PAGE_BYTES)?;
            page.resize(index(PAGE_BYTES), 0);
            self.dirty_pages
                .insert(page_number, page.into_boxed_slice());
        }
        self.dirty_pages
            .get_mut(&page_number)
            .map(|page| &mut page[..])
            .ok_or_else(|| io::Error::other("a dirty page vanished"))
    }
}

/// An offset within one page or one read: always small enough for `usize`.
fn index(offset: u64) -> usize {
    usize::try_from(offset).expect("offsets within one read fit in memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(content: &FileContent) -> Vec<u8> {
        content.read(0, u64::MAX).expect("read")
    }

    #[test]
    fn reads_see_pending_writes_and_a_sync_makes_them_the_base() {
        let mut content = FileContent::new_empty();
        content.write(5000, b"hello").expect("write");
        assert_eq!(content.length(), 5005);
        assert_eq!(&read_all(&content)[4998..], b"\0\0hello");
        content.sync().expect("sync");
        assert!(!content.has_pending());
        content.write(5002, b"LL").expect("write");
        assert_eq!(&read_all(&content)[5000..], b"heLLo");
        let Base::Memory(durable) = &content.base else {
            panic!("no backing file yet")
        };
        assert_eq!(
            &durable[5000..],
            b"hello",
            "the base holds only what was synced"
        );
    }

    #[test]
    fn a_truncate_then_an_extension_reads_zeros_where_the_base_had_bytes() {
        let mut content = FileContent::new_empty();
        content.write(0, &[7; 10_000]).expect("write");
        content.sync().expect("sync");
        content.set_length(3);
        content.set_length(9000);
        let bytes = read_all(&content);
        assert_eq!(&bytes[..3], &[7, 7, 7]);
        assert!(bytes[3..].iter().all(|byte| *byte == 0));
        content.write(8190, b"xy").expect("write");
        content.sync().expect("sync");
        let synced = read_all(&content);
        assert_eq!(synced.len(), 9000);
        assert_eq!(&synced[8188..8193], b"\0\0xy\0");
        assert!(synced[3..8190].iter().all(|byte| *byte == 0));
    }

    #[test]
    fn writing_to_the_backing_directory_writes_only_durable_bytes() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("file");
        let mut content = FileContent::new_empty();
        content.write(0, b"durable").expect("write");
        content.sync().expect("sync");
        content.write(0, b"PENDING").expect("write");
        content.write_to_backing(&path, 0o600).expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), b"durable");
        assert_eq!(read_all(&content), b"PENDING");
        content.sync().expect("sync");
        assert_eq!(std::fs::read(&path).expect("read"), b"PENDING");
    }
}
