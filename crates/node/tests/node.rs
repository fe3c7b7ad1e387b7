//! The node on a temporary data folder: first start (keys, genesis), reopen, audit.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use deedlog_node::{Node, NodeOptions};

#[test]
fn first_start_writes_private_keys_and_genesis_and_a_reopen_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    let node = Node::open(options.clone()).unwrap();
    assert_eq!(node.reader().size(), 1, "genesis only");
    let keys = dir.path().join("data/keys");
    for name in [
        "log.key",
        "platform.key",
        "authority_housing.key",
        "authority_identity.key",
        "authority_registry.key",
    ] {
        let mode = std::fs::metadata(keys.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is readable by others");
    }
    let vkey = std::fs::read_to_string(dir.path().join("data/log.vkey")).unwrap();
    assert_eq!(vkey.trim(), node.log_vkey());
    assert!(
        node.views()
            .wait_applied_blocking(1, Duration::from_secs(10))
    );
    assert!(
        node.views()
            .actor_key("authority/housing")
            .unwrap()
            .is_some()
    );
    node.shutdown();
    drop(node);

    let node = Node::open(options).unwrap();
    assert_eq!(node.reader().size(), 1, "a reopen appends nothing");
    let report = deedlog_node::semantic_audit(node.reader()).unwrap();
    assert!(report.is_clean(), "{report:?}");
    // The node signs for the authorities it holds keys for; the sequencer accepts it.
    let cmd = node
        .sign_as("authority/housing", "agency.certify", "agency/AG-9", serde_json::json!({
            "name": "昆明测试房产经纪有限公司", "licence_no": "KMJJ-2023-0009", "district": "五华区", "address": "五华区东风西路1号"}), Some(0))
        .unwrap();
    let receipt = node.handle().submit_blocking(cmd).unwrap();
    assert_eq!(receipt.seq, 1);
    node.shutdown();
}

#[test]
fn a_log_without_its_keys_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    Node::open(options.clone()).unwrap().shutdown();
    std::fs::remove_file(dir.path().join("data/keys/platform.key")).unwrap();
    assert!(matches!(
        Node::open(options),
        Err(deedlog_node::NodeError::Keys(_))
    ));
}

#[test]
fn a_missing_log_key_is_an_error_and_never_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    Node::open(options.clone()).unwrap().shutdown();
    let data = dir.path().join("data");
    let vkey = std::fs::read(data.join("log.vkey")).unwrap();
    std::fs::remove_file(data.join("keys/log.key")).unwrap();
    match Node::open(options.clone()) {
        Err(deedlog_node::NodeError::Keys(message)) => {
            assert!(message.contains("log.key is missing"), "{message}");
            assert!(message.contains("already holds a log"), "{message}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("opened with a new log key"),
    }
    assert!(!data.join("keys/log.key").exists(), "no key was made");
    assert_eq!(std::fs::read(data.join("log.vkey")).unwrap(), vkey);
    // Segments alone (log.vkey lost too) still count as an existing log.
    std::fs::remove_file(data.join("log.vkey")).unwrap();
    assert!(matches!(
        Node::open(options),
        Err(deedlog_node::NodeError::Keys(_))
    ));
    assert!(!data.join("keys/log.key").exists());
}

#[test]
fn the_published_log_vkey_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    Node::open(options.clone()).unwrap().shutdown();
    let path = dir.path().join("data/log.vkey");
    let vkey = std::fs::read(&path).unwrap();
    // Another origin gives another vkey for the same key: refused, the file untouched.
    let mut other = options.clone();
    other.origin = "another.deedlog.example/log".into();
    match Node::open(other) {
        Err(deedlog_node::NodeError::Keys(message)) => {
            assert!(message.contains("refusing to overwrite"), "{message}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened under another origin"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), vkey);
    // A vkey file that names another key is refused too, and left as it is.
    std::fs::write(&path, b"someone.else/log+00000000+AQ==\n").unwrap();
    assert!(matches!(
        Node::open(options.clone()),
        Err(deedlog_node::NodeError::Keys(_))
    ));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"someone.else/log+00000000+AQ==\n"
    );
    std::fs::write(&path, &vkey).unwrap();
    Node::open(options).unwrap().shutdown();
}

/// Every batch's last entry commits the state map's root, the reopen recomputes it, and a log
/// whose committed root differs (a wrongly rooted batch written through the store directly,
/// with valid signatures, chain and checkpoint) refuses to open, naming the entry.
#[test]
fn a_committed_state_root_that_differs_from_the_replay_refuses_to_open() {
    use deedlog_store::{LogOptions, LogWriter, NoteFormat};
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    let node = Node::open(options.clone()).unwrap();
    let cmd = node
        .sign_as("authority/housing", "agency.certify", "agency/AG-9", serde_json::json!({
            "name": "昆明测试房产经纪有限公司", "licence_no": "KMJJ-2023-0009", "district": "五华区", "address": "五华区东风西路1号"}), Some(0))
        .unwrap();
    let receipt = node.handle().submit_blocking(cmd).unwrap();
    assert!(
        receipt.derived["state_root"].is_string(),
        "the batch's last entry commits the root: {:?}",
        receipt.derived
    );
    let entries: Vec<_> = (0..node.reader().size())
        .map(|s| node.reader().whole_entry(s).unwrap())
        .collect();
    for e in &entries {
        assert!(
            e.derived["state_root"].is_string(),
            "entry {} ends a batch",
            e.seq
        );
    }
    node.shutdown();
    drop(node);
    // A clean reopen recomputes every root.
    Node::open(options.clone()).unwrap().shutdown();

    // The same log, its last root changed, written through the store with the node's keys.
    let forged_dir = dir.path().join("forged");
    std::fs::create_dir_all(forged_dir.join("keys")).unwrap();
    for f in std::fs::read_dir(dir.path().join("data/keys")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), forged_dir.join("keys").join(f.file_name())).unwrap();
    }
    std::fs::copy(
        dir.path().join("data/log.vkey"),
        forged_dir.join("log.vkey"),
    )
    .unwrap();
    std::fs::copy(
        dir.path().join("data/initialized"),
        forged_dir.join("initialized"),
    )
    .unwrap();
    let secret = deedlog_node::keys::read(&forged_dir.join("keys/log.key")).unwrap();
    let format = NoteFormat::new(&options.origin, secret).unwrap();
    let (mut writer, _, _) = LogWriter::open(
        &forged_dir,
        LogOptions::default(),
        std::sync::Arc::new(format),
    )
    .unwrap();
    let last = entries.len() - 1;
    let mut prev = deedlog_core::hash::ZERO_HASH;
    for (i, e) in entries.iter().enumerate() {
        let mut e = e.clone();
        e.prev_hash = prev;
        if i == last {
            e.derived["state_root"] = serde_json::json!("ab".repeat(32));
        }
        let (bytes, opening) = e.encode_record().unwrap();
        prev = writer.stage(&e, &bytes, opening.as_deref()).unwrap();
        writer.commit(e.recorded_at_ms).unwrap();
    }
    drop(writer);
    let mut forged = options.clone();
    forged.data_dir = forged_dir;
    let err = Node::open(forged).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "the state map does not match the log at entry {last}"
        )),
        "{err}"
    );
    assert!(err.contains(&"ab".repeat(32)), "{err}");
}

/// Views that belong to another log (same size, another last leaf) are cleared and rebuilt on
/// open, so a node never serves documents its own log does not hold.
#[test]
fn views_of_another_log_are_cleared_and_rebuilt_from_this_one() {
    let certify = |node: &Node, agency: &str, licence: &str| {
        let cmd = node
            .sign_as(
                "authority/housing",
                "agency.certify",
                agency,
                serde_json::json!({"name": "昆明测试房产经纪有限公司", "licence_no": licence,
                    "district": "五华区", "address": "五华区东风西路1号"}),
                Some(0),
            )
            .unwrap();
        node.handle().submit_blocking(cmd).unwrap();
        assert!(
            node.views()
                .wait_applied_blocking(2, Duration::from_secs(10))
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| {
        let mut options = NodeOptions::new(dir.path().join(name));
        options.reference_dir = None;
        Node::open(options).unwrap()
    };
    let a = open("a");
    certify(&a, "agency/AG-9", "KMJJ-2023-0009");
    a.shutdown();
    drop(a);
    let b = open("b");
    certify(&b, "agency/AG-8", "KMJJ-2023-0008");
    b.shutdown();
    drop(b);
    // b's views replaced by a's: the same number of entries applied, another log.
    let (a_views, b_views) = (dir.path().join("a/views"), dir.path().join("b/views"));
    std::fs::remove_dir_all(&b_views).unwrap();
    std::fs::create_dir_all(&b_views).unwrap();
    for file in walk(&a_views) {
        let to = b_views.join(file.strip_prefix(&a_views).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap();
    }
    let b = open("b");
    assert!(b.views().wait_applied_blocking(2, Duration::from_secs(10)));
    assert!(b.views().doc_value("agency/AG-8").unwrap().is_some());
    assert!(
        b.views().doc_value("agency/AG-9").unwrap().is_none(),
        "a document of the other log is still served"
    );
    b.shutdown();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The projector keeps no state while the sequencer feeds it; detached (as when the views fall
/// too far behind), it goes on with a state of its own from the views' cursor. Both write the
/// very bytes a projection with its own state writes from the log, and a restart feeds it again.
#[test]
fn a_detached_projector_goes_on_with_its_own_state_and_writes_the_same_views() {
    let certify = |node: &Node, n: u64| {
        let cmd = node
            .sign_as(
                "authority/housing",
                "agency.certify",
                &format!("agency/AG-{n}"),
                serde_json::json!({"name": format!("昆明测试房产经纪有限公司{n}"),
                    "licence_no": format!("KMJJ-2023-{n:04}"),
                    "district": "五华区", "address": "五华区东风西路1号"}),
                Some(0),
            )
            .unwrap();
        node.handle().submit_blocking(cmd).unwrap();
    };
    let same_as_own_state = |node: &Node| {
        let size = node.reader().size();
        assert!(
            node.views()
                .wait_applied_blocking(size, Duration::from_secs(10))
        );
        let own_dir = tempfile::tempdir().unwrap();
        let own = deedlog_views::Views::open(own_dir.path()).unwrap();
        let mut p =
            deedlog_views::Projection::new(own.clone(), deedlog_domain::State::default()).unwrap();
        p.apply(&node.reader().records(0, size).unwrap()).unwrap();
        assert_eq!(node.views().dump().unwrap(), own.dump().unwrap());
    };
    let dir = tempfile::tempdir().unwrap();
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.reference_dir = None;
    options.caches.state_entries = 2;
    let node = Node::open(options.clone()).unwrap();
    assert!(node.views_fed());
    for n in 1..=5 {
        certify(&node, n);
    }
    same_as_own_state(&node);
    node.detach_views_feed();
    assert!(!node.views_fed());
    for n in 6..=12 {
        certify(&node, n);
    }
    same_as_own_state(&node);
    assert!(node.views().doc_value("agency/AG-12").unwrap().is_some());
    node.shutdown();
    drop(node);
    // Views behind the log on open (their folder dropped): the replay feeds them.
    std::fs::remove_dir_all(dir.path().join("data/views")).unwrap();
    let node = Node::open(options).unwrap();
    assert!(node.views_fed(), "a restart feeds the projector again");
    // The state's scratch store is made afresh: the one of the run before is gone.
    let scratch = std::fs::read_dir(dir.path().join("data/state"))
        .unwrap()
        .count();
    assert_eq!(scratch, 1, "one scratch store, this run's");
    assert_eq!(node.views().applied(), node.reader().size());
    certify(&node, 13);
    same_as_own_state(&node);
    node.shutdown();
}
