//! Persist: the index as one compact binary file, and back.
//!
//! Layout, all integers and floats little-endian:
//!
//! | part | contents |
//! |---|---|
//! | header | see below |
//! | vectors | slot count × dimension `f32`, already unit length |
//! | levels | one `u8` per slot |
//! | links | per slot, per layer 0 to its level: a `u32` count, then that many `u32` slots |
//! | tombstones | one bit per slot, in `u64` words |
//! | checksum | `u64` over every byte before it |
//!
//! The header is the magic `PODWHNSW`; the format version, dimension, `m`,
//! `ef_construction` and `ef_search` as `u32`; the seed `u64`; the slot count `u32`; the
//! entry slot `u32` (`u32::MAX` when empty); and the level generator's state `u64`.
//!
//! Reading trusts nothing: every count, slot and level is checked before use, memory
//! grows only as bytes actually arrive (a corrupt count cannot reserve gigabytes), and
//! every failure is an [`io::ErrorKind::InvalidData`] error rather than a panic.

use std::io::{self, Read, Write};

use super::graph::{Graph, MAX_LEVEL};
use super::points::Points;
use super::slots::SlotSet;
use super::{HnswIndex, HnswParams, MAX_DIMENSION};
use crate::stores::vectors::checksum::Checksum;

const MAGIC: [u8; 8] = *b"PODWHNSW";
const VERSION: u32 = 1;
/// The entry slot of an empty index.
const NO_SLOT: u32 = u32::MAX;
/// Bytes gathered before each write to the underlying writer.
const BUFFER: usize = 64 * 1024;

impl HnswIndex {
    /// Writes the whole index to `writer` in the format described in this module.
    ///
    /// # Errors
    /// Whatever error `writer` returns.
    pub fn write_to(&self, writer: &mut impl Write) -> io::Result<()> {
        let mut out = Encoder::new(writer);
        let params = self.params;
        out.bytes(&MAGIC)?;
        out.u32(VERSION)?;
        // Parameters past u32 make no sense for a graph that fits in memory; they saturate.
        for value in [
            self.dimension(),
            params.m,
            params.ef_construction,
            params.ef_search,
        ] {
            out.u32(u32::try_from(value).unwrap_or(u32::MAX))?;
        }
        out.u64(params.seed)?;
        out.u32(self.slot_count() as u32)?;
        out.u32(self.graph.entry().unwrap_or(NO_SLOT))?;
        out.u64(self.graph.rng_state())?;

        for &value in self.points.flat() {
            out.bytes(&value.to_le_bytes())?;
        }
        for slot in 0..self.slot_count() as u32 {
            out.bytes(&[self.graph.level(slot)])?;
        }
        for slot in 0..self.slot_count() as u32 {
            for layer in 0..=self.graph.level(slot) {
                let links = self.graph.neighbours(slot, layer);
                out.u32(links.len() as u32)?;
                for &link in links {
                    out.u32(link)?;
                }
            }
        }
        for &word in self.removed.words() {
            out.u64(word)?;
        }
        out.finish()
    }

    /// Reads an index written by [`write_to`](Self::write_to).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidData`] when the bytes are not an index of this format
    /// version: wrong magic, unknown version, truncated, out-of-range values or a
    /// checksum mismatch. Other kinds come from `reader` itself.
    pub fn read_from(reader: &mut impl Read) -> io::Result<Self> {
        let mut input = Decoder::new(reader);
        let mut magic = [0; 8];
        input.bytes(&mut magic)?;
        if magic != MAGIC {
            return Err(invalid("not a Podwise HNSW index (bad magic)"));
        }
        let version = input.u32()?;
        if version != VERSION {
            return Err(invalid(format!(
                "unsupported index format version {version}"
            )));
        }

        let dimension = input.u32()? as usize;
        let params = HnswParams {
            m: input.u32()? as usize,
            ef_construction: input.u32()? as usize,
            ef_search: input.u32()? as usize,
            seed: input.u64()?,
        };
        if !(1..=MAX_DIMENSION).contains(&dimension) {
            return Err(invalid(format!("dimension {dimension} is out of range")));
        }
        params.validate().map_err(invalid)?;
        let slots = input.u32()?;
        let entry = input.u32()?;
        let rng = input.u64()?;
        if slots == NO_SLOT {
            return Err(invalid("slot count is out of range"));
        }

        let floats = (slots as usize)
            .checked_mul(dimension)
            .ok_or_else(|| invalid("the vectors would not fit in memory"))?;
        // Read before anything sized by the slot count is allocated: a corrupt count then
        // ends in a short read, not in a huge allocation.
        let data = input.f32s(floats)?;
        let mut levels = vec![0; slots as usize];
        input.bytes(&mut levels)?;
        if levels.iter().any(|&level| level > MAX_LEVEL) {
            return Err(invalid("a level is out of range"));
        }

        let mut graph = Graph::new(params.m, params.seed);
        let mut links = Vec::new();
        for (slot, &level) in (0..slots).zip(&levels) {
            graph.push_slot(level);
            for layer in 0..=level {
                let count = input.u32()? as usize;
                if count > graph.capacity(layer) {
                    return Err(invalid("a neighbour list is longer than allowed"));
                }
                links.clear();
                for _ in 0..count {
                    let link = input.u32()?;
                    // A link to a slot absent from this layer would send a search off
                    // the end of that slot's lists.
                    if levels.get(link as usize).is_none_or(|&l| l < layer) {
                        return Err(invalid("a link points outside the graph"));
                    }
                    links.push(link);
                }
                graph.set_neighbours(slot, layer, &links);
            }
        }
        let top = levels.iter().copied().max();
        let entry = match (entry, top) {
            (NO_SLOT, None) => None,
            (entry, Some(top)) if levels.get(entry as usize) == Some(&top) => Some(entry),
            _ => return Err(invalid("the entry point is not on the top layer")),
        };
        graph.restore(entry, rng);

        let mut words = Vec::with_capacity((slots as usize).div_ceil(64));
        for _ in 0..(slots as usize).div_ceil(64) {
            words.push(input.u64()?);
        }
        if slots % 64 != 0 && words.last().is_some_and(|w| w >> (slots % 64) != 0) {
            return Err(invalid("a tombstone marks a slot that does not exist"));
        }
        let removed = SlotSet::from_words(words);

        input.verify_checksum()?;
        let live = slots as usize - removed.count();
        Ok(Self {
            params,
            points: Points::from_flat(dimension, data),
            graph,
            removed,
            live,
        })
    }
}

fn invalid(message: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Buffers the encoded index and checksums it on its way to the writer.
struct Encoder<'w, W: Write> {
    writer: &'w mut W,
    buffer: Vec<u8>,
    checksum: Checksum,
}

impl<'w, W: Write> Encoder<'w, W> {
    fn new(writer: &'w mut W) -> Self {
        Self {
            writer,
            buffer: Vec::with_capacity(BUFFER),
            checksum: Checksum::new(),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn u32(&mut self, value: u32) -> io::Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    fn u64(&mut self, value: u64) -> io::Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.checksum.update(&self.buffer);
        self.writer.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        let checksum = self.checksum.finish();
        self.writer.write_all(&checksum.to_le_bytes())?;
        self.writer.flush()
    }
}

/// Reads the encoded index, checksumming every byte it hands out.
struct Decoder<'r, R: Read> {
    reader: &'r mut R,
    checksum: Checksum,
}

impl<'r, R: Read> Decoder<'r, R> {
    fn new(reader: &'r mut R) -> Self {
        Self {
            reader,
            checksum: Checksum::new(),
        }
    }

    fn bytes(&mut self, into: &mut [u8]) -> io::Result<()> {
        read_exact(self.reader, into)?;
        self.checksum.update(into);
        Ok(())
    }

    fn u32(&mut self) -> io::Result<u32> {
        let mut bytes = [0; 4];
        self.bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut bytes = [0; 8];
        self.bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// Reads `count` floats in blocks, so memory follows the bytes that really arrive.
    fn f32s(&mut self, count: usize) -> io::Result<Vec<f32>> {
        let mut values = Vec::new();
        let mut block = vec![0; BUFFER];
        let mut left = count;
        while left > 0 {
            let floats = left.min(BUFFER / 4);
            let bytes = &mut block[..floats * 4];
            self.bytes(bytes)?;
            let (words, _) = bytes.as_chunks::<4>();
            values.extend(words.iter().map(|word| f32::from_le_bytes(*word)));
            left -= floats;
        }
        Ok(values)
    }

    fn verify_checksum(self) -> io::Result<()> {
        let expected = self.checksum.finish();
        let mut stored = [0; 8];
        read_exact(self.reader, &mut stored)?;
        if u64::from_le_bytes(stored) != expected {
            return Err(invalid("checksum mismatch: the index file is corrupt"));
        }
        Ok(())
    }
}

/// `read_exact`, with a short read reported as corrupt data rather than a plain EOF.
fn read_exact(reader: &mut impl Read, into: &mut [u8]) -> io::Result<()> {
    reader.read_exact(into).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            invalid("the index file is truncated")
        } else {
            error
        }
    })
}
