//! The edit list of an MP4 file: which part of the decoded track is the recording.
//!
//! An AAC encoder starts every stream with a frame or two of priming (1024 samples from
//! ffmpeg, 2112 from Apple's encoders) and pads the end to a whole frame. MP4 files say so
//! in the audio track's edit list (`moov/trak/edts/elst`): where in the track presentation
//! starts, and how long it lasts. Symphonia reads that box but does not apply it, so
//! without this every word of an M4A upload would come 23 to 48 ms late, and the audio
//! would run up to another frame past its end.

/// The stretch of a track that is meant to be heard, in seconds of the decoded track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Presentation {
    /// Decoded audio before this is priming.
    pub(crate) skip_seconds: f64,
    /// How long the recording lasts from there, when the edit list says.
    pub(crate) keep_seconds: Option<f64>,
}

/// The presentation of the track `track_id` in the MP4 file `bytes`, when its edit list
/// gives one. A malformed or missing box gives `None`, never a panic.
pub(crate) fn presentation(bytes: &[u8], track_id: u32) -> Option<Presentation> {
    let moov = find(bytes, b"moov")?;
    let movie_scale = timescale(find(moov, b"mvhd")?)?;
    let trak = boxes(moov)
        .filter(|(kind, _)| kind == b"trak")
        .map(|(_, body)| body)
        .find(|trak| find(trak, b"tkhd").and_then(tkhd_track_id) == Some(track_id))?;
    let media_scale = timescale(find(find(trak, b"mdia")?, b"mdhd")?)?;
    let (duration, media_time) = first_edit(find(find(trak, b"edts")?, b"elst")?)?;

    Some(Presentation {
        skip_seconds: media_time as f64 / f64::from(media_scale),
        keep_seconds: (duration > 0).then(|| duration as f64 / f64::from(movie_scale)),
    })
}

/// The boxes directly inside `data`, as (type, body), until one is malformed.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, data.len()),
            1 => (16, usize::try_from(read_u64(data, 8)?).ok()?),
            size => (8, usize::try_from(size).ok()?),
        };
        let body = data.get(header..size)?;
        data = data.get(size..)?;
        Some((kind, body))
    })
}

fn find<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data)
        .find(|(found, _)| found == kind)
        .map(|(_, body)| body)
}

/// The timescale of an `mvhd` or `mdhd` box, which share their first fields.
fn timescale(body: &[u8]) -> Option<u32> {
    let at = if *body.first()? == 1 { 20 } else { 12 };
    read_u32(body, at).filter(|&scale| scale > 0)
}

fn tkhd_track_id(body: &[u8]) -> Option<u32> {
    read_u32(body, if *body.first()? == 1 { 20 } else { 12 })
}

/// The first edit that plays media, as (duration in the movie's timescale, start in the
/// track's). Empty edits, which insert silence before the track, are passed over.
fn first_edit(body: &[u8]) -> Option<(u64, u64)> {
    let version = *body.first()?;
    let entry = if version == 1 { 20 } else { 12 };
    // The count is bounded by the box, whatever the file claims.
    let count = (read_u32(body, 4)? as usize).min(body.len() / entry);
    (0..count).find_map(|i| {
        let at = 8 + i * entry;
        let (duration, start) = if version == 1 {
            (read_u64(body, at)?, read_u64(body, at + 8)? as i64)
        } else {
            let start = read_u32(body, at + 4)? as i32;
            (u64::from(read_u32(body, at)?), i64::from(start))
        };
        u64::try_from(start).ok().map(|start| (duration, start))
    })
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// Version-0 header boxes: four bytes of version and flags, then two of times, then
    /// the field of interest.
    fn header_with(field: u32) -> Vec<u8> {
        let mut body = vec![0; 12];
        body.extend_from_slice(&field.to_be_bytes());
        body.extend_from_slice(&[0; 8]);
        body
    }

    /// The moov box ffmpeg writes for 4.553 s of 44.1 kHz AAC primed with 1024 samples.
    fn ffmpeg_like_moov(track_id: u32, edits: &[(u32, i32)]) -> Vec<u8> {
        let mut elst = vec![0, 0, 0, 0];
        elst.extend_from_slice(&(edits.len() as u32).to_be_bytes());
        for &(duration, start) in edits {
            elst.extend_from_slice(&duration.to_be_bytes());
            elst.extend_from_slice(&start.to_be_bytes());
            elst.extend_from_slice(&[0, 1, 0, 0]);
        }
        let mdia = boxed(b"mdia", &boxed(b"mdhd", &header_with(44_100)));
        let edts = boxed(b"edts", &boxed(b"elst", &elst));
        let trak = [boxed(b"tkhd", &header_with(track_id)), edts, mdia].concat();
        let moov = [boxed(b"mvhd", &header_with(1000)), boxed(b"trak", &trak)].concat();
        [
            boxed(b"ftyp", b"M4A "),
            boxed(b"mdat", &[0; 64]),
            boxed(b"moov", &moov),
        ]
        .concat()
    }

    #[test]
    fn the_priming_and_the_length_come_from_the_audio_tracks_edit_list() {
        let file = ffmpeg_like_moov(1, &[(4553, 1024)]);

        let presentation = presentation(&file, 1).expect("an edit list");

        assert!((presentation.skip_seconds - 1024.0 / 44_100.0).abs() < 1e-12);
        assert_eq!(presentation.keep_seconds, Some(4.553));
    }

    #[test]
    fn an_empty_edit_before_the_media_is_passed_over() {
        let file = ffmpeg_like_moov(1, &[(100, -1), (4553, 2112)]);

        let presentation = presentation(&file, 1).expect("an edit list");

        assert!((presentation.skip_seconds - 2112.0 / 44_100.0).abs() < 1e-12);
    }

    #[test]
    fn another_track_or_a_damaged_moov_gives_nothing_and_never_panics() {
        let file = ffmpeg_like_moov(1, &[(4553, 1024)]);
        assert_eq!(presentation(&file, 2), None);

        for cut in 0..file.len() {
            let _ = presentation(&file[..cut], 1);
        }
        // Every field in turn made zero, one, odd or huge: sizes, counts, timescales.
        for at in 0..file.len() - 4 {
            for value in [0, 1, 7, u32::MAX] {
                let mut damaged = file.clone();
                damaged[at..at + 4].copy_from_slice(&value.to_be_bytes());
                let _ = presentation(&damaged, 1);
            }
        }
    }
}
