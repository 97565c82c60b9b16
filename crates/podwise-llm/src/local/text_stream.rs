//! Turns the bytes of generated tokens into the text a caller is sent: only whole UTF-8
//! characters (a token can end inside one), and never any part of a stop sequence.
//!
//! Text that could still turn out to be the start of a stop sequence is held back until
//! the next token settles it, so a stop sequence split across tokens is still cut cleanly.

/// What feeding one token's bytes produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Text that is safe to send now (may be empty).
    Text(String),
    /// A stop sequence was completed: send this text, then end the reply.
    Stopped(String),
}

#[derive(Debug)]
pub(crate) struct TextStream {
    stops: Vec<String>,
    /// Bytes of an unfinished character.
    partial: Vec<u8>,
    /// Decoded text not yet sent because it may begin a stop sequence.
    held: String,
}

impl TextStream {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            partial: Vec::new(),
            held: String::new(),
        }
    }

    /// Adds one token's bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Step {
        self.partial.extend_from_slice(bytes);
        let complete = match std::str::from_utf8(&self.partial) {
            Ok(text) => text.len(),
            // A sequence cut short at the end waits for the next token; an invalid one
            // in the middle is replaced, as a model can emit any byte.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.partial.len(),
        };
        let decoded: Vec<u8> = self.partial.drain(..complete).collect();
        self.held.push_str(&String::from_utf8_lossy(&decoded));

        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let text = self.held[..at].to_owned();
            self.held.clear();
            return Step::Stopped(text);
        }
        let keep = self.longest_stop_prefix_suffix();
        let send_up_to = self.held.len() - keep;
        let text = self.held[..send_up_to].to_owned();
        self.held.drain(..send_up_to);
        Step::Text(text)
    }

    /// Whatever is held when the reply ends another way (end token, length).
    pub(crate) fn finish(&mut self) -> String {
        let mut rest = std::mem::take(&mut self.held);
        rest.push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.partial)));
        rest
    }

    /// Byte length of the longest end of `held` that a stop sequence starts with.
    fn longest_stop_prefix_suffix(&self) -> usize {
        let held = self.held.as_str();
        self.stops
            .iter()
            .flat_map(|stop| {
                stop.char_indices()
                    .skip(1)
                    .map(|(i, _)| &stop[..i])
                    .filter(|prefix| held.ends_with(prefix))
                    .map(str::len)
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(stream: &mut TextStream, pieces: &[&[u8]]) -> Vec<Step> {
        pieces.iter().map(|p| stream.push(p)).collect()
    }

    #[test]
    fn a_character_split_across_tokens_is_sent_whole() {
        let mut stream = TextStream::new(&[]);
        let bytes = "聽".as_bytes();
        let steps = texts(&mut stream, &[&bytes[..1], &bytes[1..]]);
        assert_eq!(
            steps,
            [Step::Text(String::new()), Step::Text("聽".to_owned())]
        );
    }

    #[test]
    fn a_stop_sequence_split_across_tokens_is_cut_and_never_sent() {
        let mut stream = TextStream::new(&["\nUser:".to_owned()]);
        let steps = texts(&mut stream, &[b"Fine.", b"\nUs", b"er: hi"]);
        assert_eq!(
            steps,
            [
                Step::Text("Fine.".to_owned()),
                Step::Text(String::new()),
                Step::Stopped(String::new()),
            ]
        );
    }

    #[test]
    fn held_text_that_was_not_a_stop_is_released() {
        let mut stream = TextStream::new(&["END".to_owned()]);
        assert_eq!(stream.push(b"the E"), Step::Text("the ".to_owned()));
        assert_eq!(stream.push(b"nd"), Step::Text("End".to_owned()));
        assert_eq!(stream.push(b" E"), Step::Text(" ".to_owned()));
        assert_eq!(stream.finish(), "E");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut stream = TextStream::new(&[]);
        assert_eq!(
            stream.push(&[0xFF, b'a']),
            Step::Text("\u{FFFD}a".to_owned())
        );
    }
}
