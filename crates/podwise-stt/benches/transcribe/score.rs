//! Error rates over a whole set of clips: edits summed over every clip divided by the
//! reference units summed over every clip, so long clips weigh more than short ones.

/// Edits and reference units accumulated over clips.
#[derive(Debug, Default, Clone, Copy)]
pub struct ErrorRate {
    edits: usize,
    units: usize,
}

impl ErrorRate {
    /// Adds one clip, compared word by word (English).
    pub fn add_words(&mut self, reference: &str, heard: &str) -> f64 {
        self.add(&words(reference), &words(heard))
    }

    /// Adds one clip, compared character by character (Chinese).
    pub fn add_characters(&mut self, reference: &str, heard: &str) -> f64 {
        let characters =
            |t: &str| -> Vec<char> { t.chars().filter(|c| c.is_alphanumeric()).collect() };
        self.add(&characters(reference), &characters(heard))
    }

    fn add<T: PartialEq>(&mut self, reference: &[T], heard: &[T]) -> f64 {
        let edits = levenshtein(reference, heard);
        self.edits += edits;
        self.units += reference.len();
        edits as f64 / reference.len().max(1) as f64
    }

    /// The edits counted so far.
    pub fn edits(&self) -> usize {
        self.edits
    }

    /// The rate so far, 0 before any clip.
    pub fn rate(&self) -> f64 {
        self.edits as f64 / self.units.max(1) as f64
    }
}

/// Lower-case words, punctuation dropped, apostrophes kept ("Don't." is "don't"). Whisper
/// writes the title "Mr." where the recordings' transcripts spell "mister": the two are
/// one word.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .map(|w| if w == "mr" { "mister".to_owned() } else { w })
        .collect()
}

/// Fewest insertions, deletions and substitutions turning `a` into `b`, one row at a time.
fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let replace = previous[j] + usize::from(x != y);
            current[j + 1] = replace.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}
