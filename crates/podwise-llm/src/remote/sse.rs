//! Server-sent events as OpenAI-compatible servers stream them: bytes in, the `data` of
//! each complete event out.
//!
//! The network splits the stream wherever it likes, so bytes are kept until a line is
//! complete and a line until its event is. Lines end with `\n` or `\r\n`; `event:`, `id:`
//! and `retry:` fields and `:` comments (keep-alives) are ignored, because the OpenAI
//! protocol carries everything in `data`.

/// A line longer than this is refused: a server that never ends its line would otherwise
/// grow the buffer without bound.
const MAX_LINE: usize = 1 << 20;

/// Why the byte stream is not a stream of server-sent events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SseError {
    #[error("an event line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("an event line is not UTF-8")]
    NotUtf8,
}

/// Reassembles events from the pieces of a byte stream.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    /// Bytes after the last line break seen.
    partial: Vec<u8>,
    /// The `data` lines of the event being read, joined by `\n`.
    data: Option<String>,
}

impl SseDecoder {
    /// Takes the next piece of the stream and returns the data of every event it
    /// completes, in order.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end);
            rest = &after[1..];
            let line = if self.partial.is_empty() {
                line.to_vec()
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                whole
            };
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            return Err(SseError::LineTooLong);
        }
        self.partial.extend_from_slice(rest);
        Ok(events)
    }

    /// At the end of the stream: the data of an event the server did not close with a
    /// blank line, which lenient servers do for their last event.
    pub(crate) fn finish(&mut self) -> Result<Option<String>, SseError> {
        let last = std::mem::take(&mut self.partial);
        if !last.is_empty()
            && let Some(event) = self.line(&last)?
        {
            return Ok(Some(event));
        }
        Ok(self.data.take())
    }

    /// Reads one line; a blank line ends the current event and returns its data.
    fn line(&mut self, line: &[u8]) -> Result<Option<String>, SseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(self.data.take());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        if field == "data" {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(pieces: &[&[u8]]) -> Vec<String> {
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        for piece in pieces {
            events.extend(decoder.feed(piece).expect("well formed"));
        }
        events.extend(decoder.finish().expect("well formed"));
        events
    }

    #[test]
    fn each_blank_line_ends_one_event() {
        assert_eq!(
            decode(&[b"data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n"]),
            ["{\"a\":1}", "{\"a\":2}", "[DONE]"]
        );
    }

    #[test]
    fn an_event_split_across_reads_is_reassembled() {
        let whole = "data: {\"content\":\"héllo\"}\r\n\r\ndata: [DONE]\r\n\r\n".as_bytes();
        let expected = ["{\"content\":\"héllo\"}", "[DONE]"];

        // Every split point, including inside the two bytes of 'é' and inside "\r\n".
        for split in 0..whole.len() {
            let (first, second) = whole.split_at(split);
            assert_eq!(decode(&[first, second]), expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(decode(&bytes), expected, "one byte at a time");
    }

    #[test]
    fn comments_and_other_fields_are_ignored() {
        assert_eq!(
            decode(&[b": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: x\n\n"]),
            ["x"]
        );
    }

    #[test]
    fn data_lines_of_one_event_are_joined_by_line_breaks() {
        assert_eq!(decode(&[b"data: a\ndata:b\n\n"]), ["a\nb"]);
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_still_read() {
        assert_eq!(decode(&[b"data: a\n\ndata: [DONE]"]), ["a", "[DONE]"]);
        assert_eq!(decode(&[b"data: a\n\ndata: [DONE]\n"]), ["a", "[DONE]"]);
    }

    #[test]
    fn a_line_that_never_ends_is_refused() {
        let mut decoder = SseDecoder::default();
        let piece = vec![b'x'; MAX_LINE / 2 + 1];

        assert_eq!(decoder.feed(&piece), Ok(vec![]));
        assert_eq!(decoder.feed(&piece), Err(SseError::LineTooLong));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        let mut decoder = SseDecoder::default();

        assert_eq!(decoder.feed(b"data: \xff\xfe\n\n"), Err(SseError::NotUtf8));
    }
}
