//! `docs/EVENTS.md` is rendered from the authorization table; this test keeps the file current.

use std::path::Path;

#[test]
fn events_md_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/EVENTS.md");
    let rendered = deedlog_domain::docs::events_md();
    if std::env::var_os("DEEDLOG_REGENERATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &rendered).expect("docs/EVENTS.md is writable");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == rendered,
        "docs/EVENTS.md differs from the code; run `DEEDLOG_REGENERATE_DOCS=1 cargo test -p deedlog-domain --test docs`"
    );
}
