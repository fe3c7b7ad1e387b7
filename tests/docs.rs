//! The project's files cite nothing outside the repository: no design notes kept elsewhere, no
//! sibling folders of the checkout. ARCHITECTURE.md is the design; every `*.md` named anywhere is
//! a file in the repository (or a named public specification).

use std::path::{Path, PathBuf};

/// Folders that are not the project's own text.
const SKIP_DIRS: &[&str] = &["target", ".git", "node_modules"];
/// Extensions of the text files read.
const TEXT: &[&str] = &[
    "md", "rs", "toml", "sh", "yml", "yaml", "json", "html", "js", "mjs", "css", "txt", "",
];
/// Markdown files named in the repository that are public specifications, not project files.
const PUBLIC_SPECS: &[&str] = &["tlog-cosignature.md"];

/// Fragments that point out of the checkout. Built from pieces so that this file does not match
/// itself.
fn outside_fragments() -> Vec<String> {
    vec![
        format!("{}/{}", "..", "shared"),
        format!("{}/{}", "shared", "docs"),
        format!("{}/", "peers"),
        format!("{}.md", "DESIGN"),
        format!("{}.md", "MISSION"),
        format!("{}.md", "STYLE"),
        format!("{}.md", "LIBRARIES"),
    ]
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(&path, out);
            }
        } else {
            let ext = path
                .extension()
                .map_or(String::new(), |e| e.to_string_lossy().into_owned());
            if TEXT.contains(&ext.as_str()) {
                out.push(path);
            }
        }
    }
}

/// The project's text files, this one left out: it names what it looks for.
fn project_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(root, &mut files);
    files.retain(|f| !f.ends_with("tests/docs.rs"));
    files.sort();
    files
}

/// The `NAME.md` words in `text`.
fn markdown_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices(".md") {
        let after = text[at + 3..].chars().next();
        if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let start = text[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .map_or(0, |i| i + 1);
        if start < at {
            names.push(format!("{}.md", &text[start..at]));
        }
    }
    names
}

#[test]
fn no_project_file_cites_a_file_outside_the_repository() {
    let files = project_files();
    assert!(
        files.iter().any(|f| f.ends_with("docs/ARCHITECTURE.md")),
        "the walk found the docs"
    );
    let fragments = outside_fragments();
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for fragment in &fragments {
            if text.contains(fragment.as_str()) {
                found.push(format!("{}: {fragment}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "citations of files outside the repository: {found:#?}"
    );
}

#[test]
fn every_markdown_file_named_is_in_the_repository() {
    let files = project_files();
    let present: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".md"))
        .collect();
    let mut missing = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for name in markdown_names(&text) {
            if !present.contains(&name) && !PUBLIC_SPECS.contains(&name.as_str()) {
                missing.push(format!("{}: {name}", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "markdown files named but not in the repository: {missing:#?}"
    );
}

#[test]
fn the_checks_would_catch_a_citation() {
    // The two checks above are only worth something if they see what they look for.
    let design = format!("{}.md", "DESIGN");
    assert_eq!(
        markdown_names(&format!("see {design}, and `docs/FORMAT.md`; not x.mdx")),
        vec![design.clone(), "FORMAT.md".to_owned()]
    );
    let line = format!("as {}/{}/{}.md says", "..", "shared", "DESIGN");
    assert!(
        outside_fragments()
            .iter()
            .any(|f| line.contains(f.as_str()))
    );
}
