//! The listener web UI: plain HTML, CSS and ES modules from `web/`, compiled into the
//! binary, so a container image needs no files beside it and no build step makes them.
//!
//! - `GET /` answers the page. Its links point at `/ui/<version>/`, where `<version>` is a
//!   digest of every file: a new build changes it, so a browser may keep an asset for a
//!   year and still never mix the files of two builds. The page itself is revalidated on
//!   every visit (an `ETag` makes that a 304).
//! - `GET /ui/<version>/<name>` answers one file with its content type; an unknown name,
//!   or the version of another build, is 404.
//!
//! `HEAD` works wherever `GET` does. Every answer carries a Content-Security-Policy that
//! allows only the gateway itself, plus the origins episode audio is signed for and the
//! `blob:` URLs of recorded questions and spoken answers.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use podwise_common::ServiceError;
use podwise_common::settings::{Profile, Settings};
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::api_error::ApiError;

/// Where the files live, below a version segment.
pub(crate) const ASSET_PREFIX: &str = "/ui/";

/// What the page's links are written with, replaced by `/ui/<version>` when served.
const ASSET_PLACEHOLDER: &str = "{{ASSETS}}";

/// One file of the UI as it is served.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../web/", $name)),
        }
    };
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

const ASSETS: [Asset; 12] = [
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JAVASCRIPT),
    asset!("api.js", JAVASCRIPT),
    asset!("chat.js", JAVASCRIPT),
    asset!("dom.js", JAVASCRIPT),
    asset!("i18n.js", JAVASCRIPT),
    asset!("onboarding.js", JAVASCRIPT),
    asset!("pcm-worklet.js", JAVASCRIPT),
    asset!("recommendations.js", JAVASCRIPT),
    asset!("recorder.js", JAVASCRIPT),
    asset!("store.js", JAVASCRIPT),
];

const INDEX: &str = include_str!("../web/index.html");

/// Immutable assets may be kept this long: their path changes with every build.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// The build's version: the first bytes of a digest over the page and every file.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut digest = Sha256::new();
        digest.update(INDEX.as_bytes());
        for asset in &ASSETS {
            digest.update(asset.name.as_bytes());
            digest.update([0]);
            digest.update(asset.bytes);
        }
        digest.finalize()[..6]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    })
}

/// The page with its links pointing at this build's files.
fn index_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| INDEX.replace(ASSET_PLACEHOLDER, &format!("/ui/{}", version())))
}

pub(crate) async fn index(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let etag = format!("\"{}\"", version());
    let mut response = secured(&state.settings);
    response
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag.as_str()));
    if matches_etag(&request, &etag) {
        return response
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish();
    }
    response
        .content_type("text/html; charset=utf-8")
        .body(index_html())
}

pub(crate) async fn asset(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (asked_version, name) = path.into_inner();
    let found = ASSETS.iter().find(|asset| asset.name == name);
    let Some(asset) = found.filter(|_| asked_version == version()) else {
        return Err(ServiceError::NotFound(format!(
            "the web UI has no file {name} in version {asked_version}"
        ))
        .into());
    };
    Ok(secured(&state.settings)
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, ASSET_CACHE))
        .body(asset.bytes))
}

/// True when the client already holds the version `etag` names.
fn matches_etag(request: &HttpRequest, etag: &str) -> bool {
    request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == "*" || tag.trim() == etag)
        })
}

/// A 200 with the headers every UI answer carries.
fn secured(settings: &Settings) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(settings),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            "Permissions-Policy",
            "microphone=(self), camera=(), geolocation=()",
        ));
    response
}

/// Only the gateway itself, except for audio: signed links point at the public URL the
/// gateway was given (which a listener may reach under another name) or, in a cluster,
/// at the object store's own server; recorded and spoken audio are `blob:` URLs.
pub(crate) fn content_security_policy(settings: &Settings) -> String {
    let mut media = vec!["'self'".to_owned(), "blob:".to_owned()];
    media.extend(origin(&settings.objects.public_url));
    if settings.profile == Profile::Cluster {
        let scheme = if settings.minio.secure {
            "https"
        } else {
            "http"
        };
        let server = format!("{scheme}://{}:{}", settings.minio.host, settings.minio.port);
        media.extend(origin(&server));
    }
    media.dedup();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         media-src {}; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        media.join(" ")
    )
}

/// The `scheme://host[:port]` of a URL, when it is one a policy can name safely.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    let fits = matches!(scheme, "http" | "https") && !authority.is_empty();
    (fits && authority.chars().all(plain)).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_names_is_served_and_no_link_is_left_unversioned() {
        let page = index_html();
        assert!(!page.contains(ASSET_PLACEHOLDER));
        let prefix = format!("/ui/{}/", version());
        for link in page.split(&prefix).skip(1) {
            let name = link.split('"').next().expect("a quoted link");
            assert!(ASSETS.iter().any(|asset| asset.name == name), "{name}");
        }
        assert!(page.contains(&format!("{prefix}app.js")));
    }

    #[test]
    fn every_module_imported_by_another_is_served() {
        for asset in ASSETS
            .iter()
            .filter(|asset| asset.content_type == JAVASCRIPT)
        {
            let source = std::str::from_utf8(asset.bytes).expect("UTF-8");
            for import in source.split("from './").skip(1) {
                let name = import.split('\'').next().expect("a quoted module");
                assert!(
                    ASSETS.iter().any(|served| served.name == name),
                    "{} imports {name}, which is not served",
                    asset.name
                );
            }
        }
    }

    fn media_sources(settings: &Settings) -> String {
        let policy = content_security_policy(settings);
        let media = policy
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("media-src "));
        media.expect("a media-src directive").to_owned()
    }

    #[test]
    fn audio_may_come_from_the_public_url_and_in_a_cluster_from_the_object_store() {
        use podwise_common::testing::settings_with;

        let embedded = settings_with(&[("PODWISE_PUBLIC_URL", "https://podwise.example.tw/")]);
        assert_eq!(
            media_sources(&embedded),
            "media-src 'self' blob: https://podwise.example.tw"
        );
        let cluster = settings_with(&[
            ("PODWISE_PROFILE", "cluster"),
            ("PODWISE_PUBLIC_URL", "https://podwise.example.tw"),
            ("MINIO_HOST", "objects.example.tw"),
            ("MINIO_PORT", "9000"),
            ("MINIO_SECURE", "true"),
            ("MINIO_ACCESS_KEY", "access-key-for-the-test"),
            ("MINIO_SECRET_KEY", "secret-key-for-the-test"),
        ]);
        assert_eq!(
            media_sources(&cluster),
            "media-src 'self' blob: https://podwise.example.tw https://objects.example.tw:9000"
        );
    }

    #[test]
    fn only_plain_origins_of_http_urls_enter_the_policy() {
        assert_eq!(
            origin("https://podwise.example.tw/base").as_deref(),
            Some("https://podwise.example.tw")
        );
        assert_eq!(
            origin("http://127.0.0.1:8000").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(origin("ftp://files.example"), None);
        assert_eq!(origin("http://evil.example; script-src *"), None);
        assert_eq!(origin("http:///path"), None);
    }
}
