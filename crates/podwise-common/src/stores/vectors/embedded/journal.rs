//! The journal: every write to the embedded vector store since the last snapshot, in
//! the order it was acknowledged.
//!
//! Each entry is framed as its payload length (`u32`), a [`Checksum`] of the payload
//! (`u64`) and the payload, little-endian. A payload is a tag byte and then:
//!
//! | tag | entry | rest of the payload |
//! |---|---|---|
//! | 1 | upsert | record length `u32`, the record as JSON, the unit vector as `f32`s |
//! | 2 | delete an episode | the episode id, UTF-8 |
//!
//! An entry is synced to disk before the write it records is applied, so every
//! acknowledged write is in the file. A crash during an append leaves a torn entry at
//! the end; reading stops there and cuts it away, which loses nothing acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::super::checksum::Checksum;
use super::super::{ChunkRecord, ChunkVector};

const UPSERT: u8 = 1;
const DELETE_EPISODE: u8 = 2;
/// Bytes of an entry's frame before its payload.
const FRAME: usize = 4 + 8;
/// The largest payload a valid entry can have: a record of the longest text and tags,
/// and a vector of the largest dimension. Anything longer is corruption.
const MAX_PAYLOAD: usize = 1 << 20;

/// One acknowledged write.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Entry {
    Upsert(ChunkVector),
    DeleteEpisode(String),
}

/// The open journal file, positioned at its end.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    /// Bytes of whole, valid entries: where the next entry goes.
    len: u64,
    /// Set when a failed append could not be cut off again: the file may end in a
    /// partial entry, and anything appended after it would be lost on replay.
    broken: bool,
}

/// What reading the journal found.
#[derive(Debug)]
pub(super) struct Replay {
    pub(super) entries: Vec<Entry>,
    /// Bytes of a torn or corrupt tail that were cut away.
    pub(super) discarded: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, reads back every whole entry and cuts
    /// away a torn tail, so appends continue right after the last good entry.
    ///
    /// # Errors
    /// When the file cannot be opened, read or truncated.
    pub(super) fn open(path: &Path, dimension: usize) -> io::Result<(Self, Replay)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let total = file.metadata()?.len();

        let mut reader = BufReader::new(&mut file);
        let mut entries = Vec::new();
        let mut len = 0_u64;
        while let Some((entry, size)) = read_entry(&mut reader, dimension)? {
            entries.push(entry);
            len += size;
        }
        drop(reader);

        let discarded = total - len;
        if discarded > 0 {
            file.set_len(len)?;
            file.sync_data()?;
        }
        file.seek(SeekFrom::Start(len))?;
        Ok((
            Self {
                file,
                len,
                broken: false,
            },
            Replay { entries, discarded },
        ))
    }

    /// Bytes of entries in the journal.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `entries` and syncs them to disk; they are all in the journal, or (when
    /// this fails) none of them is.
    ///
    /// # Errors
    /// When writing or syncing fails (a full disk, an I/O error).
    pub(super) fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier failed write could not be undone; restart to recover the journal",
            ));
        }
        let mut bytes = Vec::new();
        for entry in entries {
            encode(entry, &mut bytes);
        }
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            // Cut off whatever part reached the file, so the journal ends on a whole entry.
            let undone = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.seek(SeekFrom::Start(self.len)));
            self.broken = undone.is_err();
            return Err(error);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Empties the journal, once a snapshot holds everything in it.
    ///
    /// # Errors
    /// When the file cannot be truncated or synced.
    pub(super) fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.sync_data()?;
        self.len = 0;
        Ok(())
    }
}

fn encode(entry: &Entry, out: &mut Vec<u8>) {
    let mut payload = Vec::new();
    match entry {
        Entry::Upsert(chunk) => {
            // A record is plain strings and numbers: serialising it cannot fail.
            let record = serde_json::to_vec(&chunk.record).unwrap_or_default();
            payload.push(UPSERT);
            payload.extend_from_slice(&(record.len() as u32).to_le_bytes());
            payload.extend_from_slice(&record);
            for x in &chunk.vector {
                payload.extend_from_slice(&x.to_le_bytes());
            }
        }
        Entry::DeleteEpisode(episode_id) => {
            payload.push(DELETE_EPISODE);
            payload.extend_from_slice(episode_id.as_bytes());
        }
    }
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&Checksum::of(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// The next whole entry and its size on disk; `None` at the end of the file or at the
/// first entry that is torn or fails its checksum.
///
/// # Errors
/// `InvalidData` for an intact entry this store cannot take (a vector of another
/// dimension): cutting it away would lose an acknowledged write.
fn read_entry(reader: &mut impl Read, dimension: usize) -> io::Result<Option<(Entry, u64)>> {
    let mut frame = [0; FRAME];
    if !fill(reader, &mut frame)? {
        return Ok(None);
    }
    let (len, checksum) = frame.split_at(4);
    let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
    let checksum = u64::from_le_bytes(checksum.try_into().unwrap_or_default());
    if len == 0 || len > MAX_PAYLOAD {
        return Ok(None);
    }
    let mut payload = vec![0; len];
    if !fill(reader, &mut payload)? || Checksum::of(&payload) != checksum {
        return Ok(None);
    }
    let entry = decode(&payload, dimension)?;
    Ok(Some((entry, (FRAME + len) as u64)))
}

fn decode(payload: &[u8], dimension: usize) -> io::Result<Entry> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let (&tag, rest) = payload
        .split_first()
        .ok_or_else(|| invalid("an empty entry"))?;
    match tag {
        UPSERT => {
            let malformed = || invalid("a malformed upsert entry");
            let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
            let (record, vector) = rest
                .split_at_checked(u32::from_le_bytes(*len) as usize)
                .ok_or_else(malformed)?;
            let record: ChunkRecord = serde_json::from_slice(record).map_err(|_| malformed())?;
            let (floats, tail) = vector.as_chunks::<4>();
            if floats.len() != dimension || !tail.is_empty() {
                return Err(invalid(&format!(
                    "the journal holds a vector of {} dimensions where {dimension} are expected",
                    vector.len() / 4
                )));
            }
            let vector = floats.iter().map(|b| f32::from_le_bytes(*b)).collect();
            Ok(Entry::Upsert(ChunkVector { record, vector }))
        }
        DELETE_EPISODE => String::from_utf8(rest.to_vec())
            .map(Entry::DeleteEpisode)
            .map_err(|_| invalid("an episode id that is not UTF-8")),
        other => Err(invalid(&format!("an entry of unknown kind {other}"))),
    }
}

/// Fills `buffer` from `reader`: `true` when it was filled, `false` when the input ended
/// first (a torn entry, or the clean end when nothing was read).
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &str, vector: Vec<f32>) -> Entry {
        Entry::Upsert(ChunkVector {
            record: ChunkRecord {
                chunk_id: id.to_owned(),
                episode_id: "ep".to_owned(),
                podcast_id: "pod".to_owned(),
                category: "business".to_owned(),
                start_ms: 0,
                end_ms: 1_000,
                tags: vec!["理財".to_owned()],
                text: "今天聊聊存錢".to_owned(),
            },
            vector,
        })
    }

    #[test]
    fn appended_entries_are_read_back_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal");
        let written = vec![
            chunk("a", vec![1.0, 0.0]),
            Entry::DeleteEpisode("ep".to_owned()),
            chunk("b", vec![0.6, 0.8]),
        ];
        let (mut journal, replay) = Journal::open(&path, 2).expect("open");
        assert!(replay.entries.is_empty());
        journal.append(&written[..2]).expect("append");
        journal.append(&written[2..]).expect("append");
        drop(journal);

        let (journal, replay) = Journal::open(&path, 2).expect("reopen");
        assert_eq!(replay.entries, written);
        assert_eq!(replay.discarded, 0);
        assert_eq!(journal.len(), std::fs::metadata(&path).expect("meta").len());
    }

    #[test]
    fn a_torn_last_entry_is_cut_away_and_appends_continue_after_the_good_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path, 2).expect("open");
        journal
            .append(&[chunk("a", vec![1.0, 0.0])])
            .expect("append");
        journal
            .append(&[chunk("b", vec![0.0, 1.0])])
            .expect("append");
        let whole = journal.len();
        drop(journal);
        // A crash halfway through writing the second entry.
        let file = OpenOptions::new().write(true).open(&path).expect("file");
        file.set_len(whole - 5).expect("truncate");
        drop(file);

        let (mut journal, replay) = Journal::open(&path, 2).expect("reopen");
        assert_eq!(replay.entries, vec![chunk("a", vec![1.0, 0.0])]);
        assert!(replay.discarded > 0);
        journal
            .append(&[chunk("c", vec![0.0, 1.0])])
            .expect("append");
        drop(journal);

        let (_, replay) = Journal::open(&path, 2).expect("reopen");
        assert_eq!(
            replay.entries,
            vec![chunk("a", vec![1.0, 0.0]), chunk("c", vec![0.0, 1.0])]
        );
    }

    #[test]
    fn reading_stops_at_an_entry_whose_bytes_were_corrupted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path, 2).expect("open");
        journal
            .append(&[chunk("a", vec![1.0, 0.0])])
            .expect("append");
        let first = journal.len();
        journal
            .append(&[chunk("b", vec![0.0, 1.0])])
            .expect("append");
        drop(journal);
        let mut bytes = std::fs::read(&path).expect("read");
        let flipped = first as usize + FRAME + 3;
        bytes[flipped] ^= 0x40;
        std::fs::write(&path, bytes).expect("write");

        let (_, replay) = Journal::open(&path, 2).expect("reopen");
        assert_eq!(replay.entries, vec![chunk("a", vec![1.0, 0.0])]);
    }

    #[test]
    fn a_journal_of_another_dimension_is_refused_rather_than_cut_away() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path, 2).expect("open");
        journal
            .append(&[chunk("a", vec![1.0, 0.0])])
            .expect("append");
        drop(journal);

        let error = Journal::open(&path, 3).expect_err("another dimension");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("2 dimensions"), "{error}");
        let (_, replay) = Journal::open(&path, 2).expect("the entry is still there");
        assert_eq!(replay.entries.len(), 1);
    }
}
