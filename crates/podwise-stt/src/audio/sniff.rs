//! A first look at an upload's opening bytes, before the decoder: which container it
//! claims to be, or what else it is, so that errors can name it.
//!
//! The decoder's own probe decides what is read; this only supplies names for messages,
//! refuses known containers the decoder lacks, and recognises common non-audio uploads.

/// What the opening bytes say an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// A container the decoder reads, by its [`SourceInfo`](super::SourceInfo) name.
    Accepted(&'static str),
    /// A container known by name that the decoder does not read.
    Refused(&'static str),
    /// Not audio at all, and recognisably so ("text", "a PDF document", ...).
    NotAudio(&'static str),
    /// Nothing recognisable.
    Unknown,
}

/// Opening bytes of containers, at their offset, with what each means.
const SIGNATURES: &[(usize, &[u8], Sniffed)] = &[
    (8, b"WAVE", Sniffed::Accepted("wav")),
    (8, b"AVI ", Sniffed::Refused("AVI")),
    (0, b"fLaC", Sniffed::Accepted("flac")),
    (0, b"OggS", Sniffed::Accepted("ogg")),
    (0, b"ID3", Sniffed::Accepted("mp3")),
    (4, b"ftyp", Sniffed::Accepted("mp4")),
    (0, b"\x1a\x45\xdf\xa3", Sniffed::Refused("Matroska or WebM")),
    (8, b"AIFF", Sniffed::Refused("AIFF")),
    (8, b"AIFC", Sniffed::Refused("AIFF")),
    (0, b"caff", Sniffed::Refused("Core Audio (CAF)")),
    (
        0,
        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",
        Sniffed::Refused("Windows Media (WMA)"),
    ),
    (0, b"FLV", Sniffed::Refused("Flash video (FLV)")),
    (0, b"#!AMR", Sniffed::Refused("AMR")),
    (0, b"MAC ", Sniffed::Refused("Monkey's Audio (APE)")),
    (0, b"wvpk", Sniffed::Refused("WavPack")),
    (0, b"%PDF", Sniffed::NotAudio("a PDF document")),
    (0, b"\x89PNG", Sniffed::NotAudio("a PNG image")),
    (0, b"\xff\xd8\xff", Sniffed::NotAudio("a JPEG image")),
    (0, b"GIF8", Sniffed::NotAudio("a GIF image")),
    (
        0,
        b"PK\x03\x04",
        Sniffed::NotAudio("a ZIP archive (or an office document)"),
    ),
    (0, b"\x1f\x8b", Sniffed::NotAudio("a gzip archive")),
];

/// Looks at the opening bytes of `bytes`.
pub(crate) fn sniff(bytes: &[u8]) -> Sniffed {
    for &(offset, signature, sniffed) in SIGNATURES {
        if bytes.get(offset..offset + signature.len()) == Some(signature) {
            return sniffed;
        }
    }
    if let [0xff, second, ..] = bytes {
        // An MPEG audio frame starts with 11 set bits; ADTS (raw AAC) sets 12, then layer 0.
        if second & 0xf6 == 0xf0 {
            return Sniffed::Accepted("aac");
        }
        if second & 0xe0 == 0xe0 {
            return Sniffed::Accepted("mp3");
        }
    }
    if looks_like_text(bytes) {
        return Sniffed::NotAudio("text");
    }
    Sniffed::Unknown
}

/// True when the first kilobytes are UTF-8 without control characters other than
/// whitespace: HTML, JSON, a transcript pasted by mistake.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut at the end of the window is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_containers_are_named_from_their_opening_bytes() {
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Sniffed::Accepted("wav"));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Sniffed::Accepted("flac"));
        assert_eq!(sniff(b"OggS\0\x02"), Sniffed::Accepted("ogg"));
        assert_eq!(sniff(b"ID3\x04\0"), Sniffed::Accepted("mp3"));
        assert_eq!(sniff(b"\xff\xfb\x90\x64"), Sniffed::Accepted("mp3"));
        assert_eq!(sniff(b"\xff\xf1\x50\x80"), Sniffed::Accepted("aac"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Sniffed::Accepted("mp4"));
    }

    #[test]
    fn containers_the_decoder_lacks_are_refused_by_name() {
        assert_eq!(
            sniff(b"\x1a\x45\xdf\xa3\x9f"),
            Sniffed::Refused("Matroska or WebM")
        );
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), Sniffed::Refused("AVI"));
        assert_eq!(sniff(b"FORM\0\0\0\0AIFFCOMM"), Sniffed::Refused("AIFF"));
    }

    #[test]
    fn text_and_documents_are_recognised_as_not_audio() {
        assert_eq!(sniff(b"<!doctype html>\n<p>hi"), Sniffed::NotAudio("text"));
        assert_eq!(
            sniff("你好，歡迎收聽".as_bytes()),
            Sniffed::NotAudio("text")
        );
        // Cut inside a three-byte character, as the 4 KiB window can cut one.
        assert_eq!(sniff(&"a好".as_bytes()[..3]), Sniffed::NotAudio("text"));
        assert_eq!(sniff(&"好".as_bytes()[..2]), Sniffed::Unknown);
        assert_eq!(sniff(b"%PDF-1.7"), Sniffed::NotAudio("a PDF document"));
        assert_eq!(sniff(b"\0\x01\x02\x03binary"), Sniffed::Unknown);
    }
}
