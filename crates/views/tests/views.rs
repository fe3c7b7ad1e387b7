//! Views projected from a testkit log: batch boundaries do not change a single byte, and the
//! cursor and last leaf hash follow the log.

use deedlog_domain::State;
use deedlog_domain::testkit::Ledger;
use deedlog_views::{Paging, Projection, Views, keys::Relation};

fn log() -> Vec<Vec<u8>> {
    let mut l = Ledger::new();
    let seller = l.party("seller");
    l.party("buyer");
    let agency = l.agency("one");
    l.agent("a1", &agency);
    l.agent("a2", &agency);
    l.bank("b1");
    l.office("o1");
    l.property("p1", &[&seller]);
    l.entries
        .iter()
        .map(|e| e.encode_stored().unwrap())
        .collect()
}

fn answers(views: &Views) -> Vec<serde_json::Value> {
    let page = Paging {
        offset: 0,
        limit: 100,
    };
    vec![
        views.agents_by_rating(None, page).unwrap().to_value(100, 0),
        serde_json::json!(views.all_of("agency", None).unwrap()),
        serde_json::json!(views.all_of("bank", None).unwrap()),
        serde_json::json!(views.all_of("office", Some("五华区")).unwrap()),
        views.doc_value("party/PA-seller").unwrap().unwrap(),
        serde_json::json!(views.actor_key("agent/AT-a1").unwrap()),
        views
            .owned("party/PA-seller", Relation::Listings, page)
            .unwrap()
            .to_value(100, 0),
    ]
}

#[test]
fn batch_boundaries_change_nothing_and_the_cursor_follows_the_log() {
    let entries = log();
    let one = tempfile::tempdir().unwrap();
    let views_one = Views::open(one.path()).unwrap();
    let mut p = Projection::new(views_one.clone(), State::default()).unwrap();
    for e in &entries {
        p.apply(std::slice::from_ref(e)).unwrap();
    }
    let all = tempfile::tempdir().unwrap();
    let views_all = Views::open(all.path()).unwrap();
    Projection::new(views_all.clone(), State::default())
        .unwrap()
        .apply(&entries)
        .unwrap();
    assert_eq!(answers(&views_one), answers(&views_all));
    assert_eq!(views_all.applied(), entries.len() as u64);
    let last =
        deedlog_core::hash::leaf_hash(deedlog_core::entry::split_record(entries.last().unwrap()).0);
    assert!(
        views_all
            .check(entries.len() as u64, |_| Some(last))
            .unwrap()
    );
    assert!(
        !views_all
            .check(entries.len() as u64 - 1, |_| Some(last))
            .unwrap(),
        "views ahead of the log"
    );
    let agents = &answers(&views_all)[0]["items"];
    assert_eq!(agents.as_array().unwrap().len(), 2);
    // A gap is refused.
    let fresh = tempfile::tempdir().unwrap();
    let mut p = Projection::new(Views::open(fresh.path()).unwrap(), State::default()).unwrap();
    assert!(p.apply(&entries[1..2]).is_err());
}

#[test]
fn a_locked_views_folder_is_a_view_error_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Views::open_with_cache(dir.path(), 1 << 20).unwrap();
    let Err(error) = Views::open(dir.path()) else {
        panic!("a second open of a locked views folder succeeded");
    };
    assert!(
        matches!(error, deedlog_views::ViewError::Store(_)),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("the views database failed: "),
        "{error}"
    );
}

#[test]
fn views_left_in_an_earlier_engines_layout_are_removed_and_start_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let views_dir = dir.path().join("views");
    std::fs::create_dir_all(views_dir.join("blobs")).unwrap();
    // sled's layout: a `conf` and a `db` file (contents that the current engine cannot read).
    std::fs::write(views_dir.join("conf"), b"segment_size: 524288\n").unwrap();
    std::fs::write(views_dir.join("db"), vec![0x5a; 4096]).unwrap();
    let views = Views::open(&views_dir).unwrap();
    assert_eq!(
        views.applied(),
        0,
        "the views start from zero, to be rebuilt"
    );
    assert!(!views_dir.join("conf").exists() && !views_dir.join("db").exists());
    // And they are usable: a projection applies onto them and survives a reopen.
    let entries = log();
    let mut p = Projection::new(views, State::default()).unwrap();
    p.apply(&entries).unwrap();
    let applied = p.views().applied();
    p.views().flush().unwrap();
    drop(p);
    assert_eq!(Views::open(&views_dir).unwrap().applied(), applied);
}
