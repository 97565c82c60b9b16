//! The snapshot: the whole embedded vector store in one file, the state the journal's
//! entries are replayed onto.
//!
//! The file is the [`HnswIndex`] in its own format, followed by the records section:
//! magic `PODWRECS`, format version `u32`, slot count `u32`, then per slot a record
//! length `u32` (0 for a removed slot) and the record as JSON, and last a [`Checksum`]
//! (`u64`) of the section. Integers are little-endian.
//!
//! A new snapshot is written beside the old one and renamed over it, so a crash while
//! writing leaves the old snapshot in place.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::super::ChunkRecord;
use super::super::checksum::Checksum;
use super::super::hnsw::HnswIndex;

const MAGIC: [u8; 8] = *b"PODWRECS";
const VERSION: u32 = 1;
/// Longer than any valid record (text, tags and ids at their limits, as JSON).
const MAX_RECORD: usize = 1 << 20;

/// What a snapshot holds: the index and the record in each of its slots.
#[derive(Debug)]
pub(super) struct Snapshot {
    pub(super) index: HnswIndex,
    pub(super) records: Vec<Option<ChunkRecord>>,
}

/// Writes a snapshot to `path`, replacing the one there only once the new one is whole
/// and synced.
///
/// # Errors
/// When the file cannot be written, synced or renamed.
pub(super) fn write(
    path: &Path,
    index: &HnswIndex,
    records: &[Option<ChunkRecord>],
) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut out = BufWriter::new(File::create(&temporary)?);
    index.write_to(&mut out)?;

    let mut section = Vec::with_capacity(records.len() * 512);
    section.extend_from_slice(&MAGIC);
    section.extend_from_slice(&VERSION.to_le_bytes());
    section.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for record in records {
        // A record is plain strings and numbers: serialising it cannot fail.
        let json = record
            .as_ref()
            .map(|r| serde_json::to_vec(r).unwrap_or_default())
            .unwrap_or_default();
        section.extend_from_slice(&(json.len() as u32).to_le_bytes());
        section.extend_from_slice(&json);
    }
    let checksum = Checksum::of(&section);
    out.write_all(&section)?;
    out.write_all(&checksum.to_le_bytes())?;
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;

    fs::rename(&temporary, path)?;
    // The rename itself is durable only once the directory is synced.
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads the snapshot at `path`; `None` when there is none yet.
///
/// # Errors
/// `InvalidData` when the file is not a whole snapshot of this format; other kinds when
/// it cannot be read.
pub(super) fn read(path: &Path) -> io::Result<Option<Snapshot>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut input = BufReader::new(file);
    let index = HnswIndex::read_from(&mut input)?;

    let mut checksum = Checksum::new();
    let mut header = [0; 16];
    input.read_exact(&mut header)?;
    checksum.update(&header);
    if header[..8] != MAGIC {
        return Err(invalid("the records section is missing (bad magic)"));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
    if version != VERSION {
        return Err(invalid(&format!("unsupported records version {version}")));
    }
    let count = u32::from_le_bytes(header[12..16].try_into().unwrap_or_default()) as usize;
    if count != index.slot_count() {
        return Err(invalid("the records do not match the index's slots"));
    }

    let mut records = Vec::with_capacity(count);
    for slot in 0..count {
        let mut len = [0; 4];
        input.read_exact(&mut len)?;
        checksum.update(&len);
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_RECORD {
            return Err(invalid("a record is longer than any valid one"));
        }
        if len == 0 {
            records.push(None);
            continue;
        }
        let mut json = vec![0; len];
        input.read_exact(&mut json)?;
        checksum.update(&json);
        let record: ChunkRecord =
            serde_json::from_slice(&json).map_err(|e| invalid(&format!("record {slot}: {e}")))?;
        records.push(Some(record));
    }
    let mut stored = [0; 8];
    input.read_exact(&mut stored)?;
    if u64::from_le_bytes(stored) != checksum.finish() {
        return Err(invalid("the records section fails its checksum"));
    }
    // A removed slot has no record and a live slot must have one.
    if (0..count).any(|slot| records[slot].is_some() != index.contains(slot as u32)) {
        return Err(invalid("the records do not match the index's live slots"));
    }
    Ok(Some(Snapshot { index, records }))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("vector snapshot: {message}"),
    )
}
