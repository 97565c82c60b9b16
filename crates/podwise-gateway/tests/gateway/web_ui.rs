//! The listener web UI: how the gateway serves its files (types, policy, caching, what is
//! refused), then the UI itself in headless Chromium against the real services
//! ([`browser`]).

mod browser;

use podwise_common::testing::settings_with;
use reqwest::Method;
use reqwest::header::HeaderMap;

use crate::harness::Gateway;

/// The page's versioned links to its files (`/ui/<version>/<name>`).
fn asset_links(page: &str) -> Vec<String> {
    page.split('"')
        .filter(|part| part.starts_with("/ui/"))
        .map(str::to_owned)
        .collect()
}

/// The link of the page's file whose name ends with `name`, read from the page itself.
async fn asset_link(client: &reqwest::Client, gateway: &Gateway, name: &str) -> String {
    let html = client
        .get(format!("{}/", gateway.base))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("the page");
    asset_links(&html)
        .into_iter()
        .find(|link| link.ends_with(name))
        .unwrap_or_else(|| panic!("the page links no {name}"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .expect("a text header")
}

/// Every directive a browser needs to hold the page to the gateway's own origin.
fn assert_strict_policy(headers: &HeaderMap) {
    let policy = header(headers, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    let media = policy
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("media-src "))
        .unwrap_or_else(|| panic!("no media-src: {policy}"));
    assert!(
        media.contains("'self'") && media.contains("blob:"),
        "{media}"
    );
    assert!(
        !policy.contains('*') && !policy.contains("unsafe"),
        "{policy}"
    );
    assert_eq!(header(headers, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_page_and_each_of_its_files_come_with_their_type_a_strict_policy_and_caching() {
    let gateway = Gateway::start(&settings_with(&[])).await;
    let client = reqwest::Client::new();

    let page = client
        .get(format!("{}/", gateway.base))
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    assert_strict_policy(&headers);
    let etag = header(&headers, "etag").to_owned();
    let html = page.text().await.expect("the page");
    assert!(html.contains("<main id=\"view\""), "{html}");

    let links = asset_links(&html);
    assert!(
        links.iter().any(|link| link.ends_with("/app.js")),
        "{links:?}"
    );
    let mut files = links.clone();
    // The modules the entry module imports are served beside it.
    let base = links[0].rsplit_once('/').expect("a versioned path").0;
    for module in [
        "api.js",
        "i18n.js",
        "onboarding.js",
        "chat.js",
        "pcm-worklet.js",
    ] {
        files.push(format!("{base}/{module}"));
    }
    for link in &files {
        let response = client
            .get(format!("{}{link}", gateway.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{link}");
        let headers = response.headers().clone();
        let expected = match link.rsplit_once('.').expect("an extension").1 {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected file type {other} in {link}"),
        };
        assert_eq!(header(&headers, "content-type"), expected, "{link}");
        let caching = header(&headers, "cache-control");
        assert!(caching.contains("immutable") && caching.contains("max-age=31536000"));
        assert_strict_policy(&headers);
        assert!(!response.bytes().await.expect("body").is_empty(), "{link}");
    }

    // The page a browser already holds is not sent again.
    let again = client
        .get(format!("{}/", gateway.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.expect("body").is_empty());

    gateway.stop().await;
}

#[tokio::test]
async fn unknown_files_and_files_of_another_build_are_not_found() {
    let gateway = Gateway::start(&settings_with(&[])).await;
    let client = reqwest::Client::new();
    let app = asset_link(&client, &gateway, "/app.js").await;
    let base = app.trim_end_matches("app.js");

    for path in [
        format!("{base}no-such-file.js"),
        format!("{base}index.html"),
        format!("{base}%2e%2e%2fsrc%2flib.rs"),
        "/ui/000000000000/app.js".to_owned(),
        "/ui/app.js".to_owned(),
        "/index.html".to_owned(),
    ] {
        let response = client
            .get(format!("{}{path}", gateway.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.expect("the error shape");
        assert_eq!(body["code"], "not_found", "{path}: {body}");
    }
    gateway.stop().await;
}

#[tokio::test]
async fn the_ui_answers_get_and_head_and_refuses_every_other_method() {
    let gateway = Gateway::start(&settings_with(&[])).await;
    let client = reqwest::Client::new();
    let style = asset_link(&client, &gateway, "/style.css").await;

    for path in ["/".to_owned(), style] {
        let head = client
            .head(format!("{}{path}", gateway.base))
            .send()
            .await
            .expect("request");
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert!(header(head.headers(), "content-type").starts_with("text/"));
        assert_strict_policy(head.headers());
        assert!(head.bytes().await.expect("body").is_empty(), "HEAD {path}");

        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let refused = client
                .request(method.clone(), format!("{}{path}", gateway.base))
                .send()
                .await
                .expect("request");
            assert_eq!(refused.status(), 405, "{method} {path}");
            assert_eq!(header(refused.headers(), "allow"), "GET, HEAD");
        }
    }
    gateway.stop().await;
}
