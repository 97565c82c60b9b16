//! A fast checksum for the files the vector store writes: the saved HNSW index, the
//! embedded store's snapshot and each entry of its journal.

/// A 64-bit checksum over a byte stream, eight bytes at a time.
///
/// Each step (xor a word, multiply by an odd constant, rotate) is a bijection of the
/// state, so two inputs differing in one word always end in different states: any
/// single flipped byte is caught. It guards against disk and transfer corruption, not
/// against deliberate tampering.
#[derive(Debug)]
pub(super) struct Checksum {
    state: u64,
    pending: [u8; 8],
    pending_len: usize,
    total: u64,
}

impl Checksum {
    pub(super) fn new() -> Self {
        Self {
            state: 0x243f_6a88_85a3_08d3,
            pending: [0; 8],
            pending_len: 0,
            total: 0,
        }
    }

    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word)
            .wrapping_mul(0x9fb2_1c65_1e98_df25)
            .rotate_left(31);
    }

    pub(super) fn update(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.pending_len > 0 {
            let take = bytes.len().min(8 - self.pending_len);
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < 8 {
                return;
            }
            self.mix(u64::from_le_bytes(self.pending));
            self.pending_len = 0;
        }
        let (words, tail) = bytes.as_chunks::<8>();
        for word in words {
            self.mix(u64::from_le_bytes(*word));
        }
        self.pending[..tail.len()].copy_from_slice(tail);
        self.pending_len = tail.len();
    }

    pub(super) fn finish(mut self) -> u64 {
        // Length last, so appending zero bytes changes the result too.
        let mut last = [0; 8];
        last[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        self.mix(u64::from_le_bytes(last));
        self.mix(self.total);
        self.state
    }
}

impl Checksum {
    /// The checksum of one byte string.
    pub(super) fn of(bytes: &[u8]) -> u64 {
        let mut checksum = Self::new();
        checksum.update(bytes);
        checksum.finish()
    }
}
