//! Gathers the configuration layers, lowest first: built-in defaults (applied while
//! parsing), an optional TOML file, a `.env` file, then the process environment.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, File, FileFormat};

use super::contract::{VARIABLES, key_of};

/// Where settings come from. Tests build one by hand instead of touching the process
/// environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A TOML file keyed by the settings tree (`[postgres] host = "..."`).
    pub file: Option<PathBuf>,
    /// Whether a missing `file` is an error (true when the operator named it).
    pub file_required: bool,
    /// A `.env` file of `NAME=value` lines.
    pub dotenv: Option<PathBuf>,
    /// Variables as the process environment would give them.
    pub environment: HashMap<String, String>,
}

impl Sources {
    /// The sources of a running process: `PODWISE_CONFIG_FILE` (or `./podwise.toml` when
    /// it exists), `PODWISE_DOTENV` (or `./.env`), and the process environment.
    pub fn from_process() -> Self {
        let environment: HashMap<String, String> = std::env::vars().collect();
        let (file, file_required) = match environment.get("PODWISE_CONFIG_FILE") {
            Some(path) => (Some(PathBuf::from(path)), true),
            None => (Some(PathBuf::from("podwise.toml")), false),
        };
        let dotenv = environment
            .get("PODWISE_DOTENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".env"));
        Self {
            file,
            file_required,
            dotenv: Some(dotenv),
            environment,
        }
    }

    /// Sources holding only the given variables: no file, no `.env`.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            environment: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..Self::default()
        }
    }
}

/// The merged layers, read by variable name.
#[derive(Debug)]
pub(super) struct Layers {
    merged: Config,
    /// True when the process runs inside a Kubernetes pod.
    pub(super) in_kubernetes: bool,
}

impl Layers {
    pub(super) fn gather(sources: &Sources) -> Result<Self, String> {
        let mut builder = Config::builder();

        if let Some(path) = &sources.file {
            let exists = path.exists();
            if sources.file_required && !exists {
                return Err(format!(
                    "configuration file {} does not exist",
                    path.display()
                ));
            }
            if exists {
                builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Toml));
            }
        }

        // `.env` first, then the environment, so the environment wins.
        let mut overrides = dotenv_pairs(sources.dotenv.as_ref())?;
        overrides.extend(
            sources
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        for (name, value) in VARIABLES
            .iter()
            .filter_map(|(name, _)| overrides.get(*name).map(|v| (*name, v)))
        {
            // An empty value (`POSTGRES_PASSWORD=`) means "not set", as in most tools.
            if value.is_empty() {
                continue;
            }
            let key = key_of(name).expect("VARIABLES lists its own names");
            builder = builder
                .set_override(key, value.as_str())
                .map_err(|e| format!("{name}: {e}"))?;
        }

        let merged = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            merged,
            in_kubernetes: overrides.contains_key("KUBERNETES_SERVICE_HOST"),
        })
    }

    /// The value set for a variable (or its tree key) in any layer, if any.
    pub(super) fn get(&self, variable: &str) -> Option<String> {
        let key = key_of(variable)?;
        self.merged
            .get_string(key)
            .ok()
            .filter(|value| !value.is_empty())
    }
}

fn dotenv_pairs(path: Option<&PathBuf>) -> Result<HashMap<String, String>, String> {
    let Some(path) = path.filter(|p| p.exists()) else {
        return Ok(HashMap::new());
    };
    let entries = dotenvy::from_path_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    entries
        .map(|entry| entry.map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}
