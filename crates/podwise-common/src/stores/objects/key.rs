//! Object keys that are safe on every adapter: no traversal, no absolute paths, no
//! characters a file system or URL would treat specially.

use std::fmt;

use crate::stores::StoreError;

/// Longest key accepted; S3 allows 1024 bytes, file systems less per component.
const MAX_KEY_LEN: usize = 512;

/// A validated object key: `/`-separated segments of ASCII letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Accepts a key built by the service.
    ///
    /// # Errors
    /// `Invalid` for an empty key, an empty, `.` or `..` segment, a leading `/`, a
    /// character outside the allowed set, or more than 512 bytes.
    pub fn new(key: impl Into<String>) -> Result<Self, StoreError> {
        let key = key.into();
        let invalid = |why: &str| Err(StoreError::Invalid(format!("object key {key:?} {why}")));
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return invalid("must be 1 to 512 bytes long");
        }
        for segment in key.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return invalid("has an empty, '.' or '..' segment");
            }
            if segment.starts_with('.') {
                return invalid("has a segment starting with '.'");
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return invalid("may hold only ASCII letters, digits, '.', '_', '-' and '/'");
            }
        }
        Ok(Self(key))
    }

    /// Builds a key from parts that may come from users (ids, file names): every
    /// character outside the safe set becomes `_`, so the parts cannot add segments.
    ///
    /// # Errors
    /// When a part is empty after cleaning.
    pub fn from_parts(parts: &[&str]) -> Result<Self, StoreError> {
        let cleaned: Vec<String> = parts
            .iter()
            .map(|part| {
                let cleaned: String = part
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "._-".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                cleaned.trim_start_matches('.').to_owned()
            })
            .collect();
        Self::new(cleaned.join("/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_are_refused() {
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "..",
            "./a",
            "a/.hidden",
            "a\\b",
            "音檔.mp3",
            "a b",
        ] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn ordinary_keys_are_accepted() {
        for good in ["audio/pod-1/ep_2.mp3", "previews/x.wav", "a"] {
            assert_eq!(ObjectKey::new(good).expect(good).as_str(), good);
        }
    }

    #[test]
    fn user_supplied_parts_are_cleaned_into_one_segment_each() {
        let parts = ["audio", "../../etc", "第1集 passwd.mp3"];
        let key = ObjectKey::from_parts(&parts).expect("key");
        assert_eq!(key.as_str(), "audio/_.._etc/_1__passwd.mp3");
    }
}
