//! The vault's public behaviour: round trips, commitments, erasure, reopening, linking, limits
//! and the key file.

use std::os::unix::fs::PermissionsExt;

use deedlog_vault::{
    Commitment, KEY_FILE_NAME, SubjectId, SubjectKind, VALUE_BYTES_MAX, Vault, VaultError,
};
use proptest::prelude::*;

const ID_A: &str = "53010219900307123X";
const ID_B: &str = "530103198512120016";

fn open() -> (tempfile::TempDir, Vault) {
    let tmp = tempfile::tempdir().unwrap();
    let vault = Vault::open(tmp.path()).unwrap();
    (tmp, vault)
}

#[test]
fn put_then_get_round_trips_and_missing_fields_are_none() {
    let (_tmp, vault) = open();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    vault.put(&a, "name", "张小明".as_bytes()).unwrap();
    vault.put(&a, "face_check", b"{\"passed\":true}").unwrap();
    vault.put(&a, "empty", b"").unwrap();
    assert_eq!(
        vault.get(&a, "name").unwrap().as_deref(),
        Some("张小明".as_bytes())
    );
    assert_eq!(vault.get(&a, "empty").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(vault.get(&a, "phone").unwrap(), None);
    vault.put(&a, "name", "张晓明".as_bytes()).unwrap();
    assert_eq!(
        vault.get(&a, "name").unwrap().as_deref(),
        Some("张晓明".as_bytes())
    );
    assert_eq!(vault.fields(&a).unwrap(), ["empty", "face_check", "name"]);
}

#[test]
fn the_same_identifier_finds_the_same_subject_after_normalization() {
    let (_tmp, vault) = open();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    assert_eq!(vault.subject_by_id_number(&ID_A.to_lowercase()).unwrap(), a);
    assert_eq!(
        vault.subject_by_id_number(&format!(" {ID_A}\n")).unwrap(),
        a
    );
    assert_ne!(vault.subject_by_id_number(ID_B).unwrap(), a);
    let p = vault.subject_by_phone("13812345678").unwrap();
    assert_eq!(vault.subject_by_phone("+86 138-1234-5678").unwrap(), p);
    assert_ne!(p, a);
    assert_eq!(vault.kind(&a).unwrap(), SubjectKind::IdNumber);
    assert_eq!(vault.kind(&p).unwrap(), SubjectKind::Phone);
}

#[test]
fn an_id_number_and_a_phone_with_the_same_digits_are_different_subjects() {
    // The index separates the kinds: "id_number\0…" and "phone\0…" never collide.
    let (_tmp, vault) = open();
    let digits = "13812345678";
    assert_ne!(
        vault.subject_by_id_number(digits).unwrap(),
        vault.subject_by_phone(digits).unwrap()
    );
}

#[test]
fn commitments_are_stable_and_differ_per_subject_and_per_field() {
    let (tmp, vault) = open();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    let b = vault.subject_by_id_number(ID_B).unwrap();
    let c1 = vault.commit(&a, "id_number", ID_A).unwrap();
    assert_eq!(vault.commit(&a, "id_number", ID_A).unwrap(), c1);
    assert_eq!(c1.to_hex().len(), 64);
    assert!(
        c1.to_hex()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_ne!(
        vault.commit(&b, "id_number", ID_A).unwrap(),
        c1,
        "another subject"
    );
    assert_ne!(vault.commit(&a, "name", ID_A).unwrap(), c1, "another field");
    assert_ne!(
        vault.commit(&a, "id_number", ID_B).unwrap(),
        c1,
        "another value"
    );
    // The field/value boundary is unambiguous: ("ab", "c") and ("a", "bc") differ.
    assert_ne!(
        vault.commit(&a, "ab", "c").unwrap(),
        vault.commit(&a, "a", "bc").unwrap()
    );
    // A commitment is not the plain SHA-256 of the value.
    use sha2::Digest;
    let plain: [u8; 32] = sha2::Sha256::digest(ID_A.as_bytes()).into();
    assert_ne!(c1.0, plain);

    drop(vault);
    let vault = Vault::open(tmp.path()).unwrap();
    let a_again = vault.subject_by_id_number(ID_A).unwrap();
    assert_eq!(a_again, a);
    assert_eq!(
        vault.commit(&a, "id_number", ID_A).unwrap(),
        c1,
        "stable across reopening"
    );
}

#[test]
fn commitments_parse_and_print_as_lower_hex() {
    let c = Commitment([0xab; 32]);
    let text = c.to_string();
    assert_eq!(text, "ab".repeat(32));
    assert_eq!(text.parse::<Commitment>(), Ok(c));
    assert!(text.to_uppercase().parse::<Commitment>().is_err());
    assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{text}\""));
    assert_eq!(
        serde_json::from_str::<Commitment>(&format!("\"{text}\"")).unwrap(),
        c
    );
}

#[test]
fn subject_ids_parse_and_print() {
    let (_tmp, vault) = open();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    let text = a.to_string();
    assert!(text.starts_with("sj-") && text.len() == 3 + 32, "{text}");
    assert_eq!(text.parse::<SubjectId>().unwrap(), a);
    for bad in [
        "",
        "sj-",
        "SJ-00000000000000000000000000000000",
        "sj-0000000000000000000000000000000g",
    ] {
        assert!(bad.parse::<SubjectId>().is_err(), "{bad}");
    }
    assert_eq!(
        serde_json::from_str::<SubjectId>(&serde_json::to_string(&a).unwrap()).unwrap(),
        a
    );
}

#[test]
fn erasure_makes_get_put_and_commit_fail_and_is_idempotent() {
    let (_tmp, vault) = open();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    let b = vault.subject_by_id_number(ID_B).unwrap();
    vault.put(&a, "name", "张小明".as_bytes()).unwrap();
    vault.put(&a, "phone", b"13812345678").unwrap();
    vault.put(&b, "name", "李四".as_bytes()).unwrap();
    let before = vault.commit(&a, "id_number", ID_A).unwrap();

    let receipt = vault.erase(&a).unwrap();
    assert_eq!(receipt.subject, a);
    assert_eq!(receipt.erased_fields_count, 2);
    assert_ne!(receipt.commitment, before);
    assert!(vault.is_erased(&a).unwrap());
    assert!(!vault.is_erased(&b).unwrap());
    assert!(matches!(vault.get(&a, "name"), Err(VaultError::Erased(s)) if s == a));
    assert!(matches!(
        vault.commit(&a, "id_number", ID_A),
        Err(VaultError::Erased(_))
    ));
    assert!(matches!(
        vault.put(&a, "name", b"x"),
        Err(VaultError::Erased(_))
    ));
    assert!(matches!(vault.fields(&a), Err(VaultError::Erased(_))));
    let message = vault.commit(&a, "name", "x").unwrap_err().to_string();
    assert!(message.contains("erased"), "{message}");
    assert_eq!(
        vault.erase(&a).unwrap(),
        receipt,
        "erasing twice gives the same receipt"
    );
    assert_eq!(
        vault.get(&b, "name").unwrap().as_deref(),
        Some("李四".as_bytes())
    );

    // The same person coming back gets a new subject, whose commitments are unrelated.
    let a2 = vault.subject_by_id_number(ID_A).unwrap();
    assert_ne!(a2, a);
    assert_ne!(vault.commit(&a2, "id_number", ID_A).unwrap(), before);
    assert!(vault.is_erased(&a).unwrap(), "the old id stays erased");
    assert_eq!(vault.get(&a2, "name").unwrap(), None);
}

#[test]
fn unknown_subjects_are_refused() {
    let (_tmp, vault) = open();
    let ghost: SubjectId = "sj-00000000000000000000000000000001".parse().unwrap();
    assert!(matches!(
        vault.get(&ghost, "name"),
        Err(VaultError::SubjectUnknown(_))
    ));
    assert!(matches!(
        vault.commit(&ghost, "name", "x"),
        Err(VaultError::SubjectUnknown(_))
    ));
    assert!(matches!(
        vault.put(&ghost, "name", b"x"),
        Err(VaultError::SubjectUnknown(_))
    ));
    assert!(matches!(
        vault.erase(&ghost),
        Err(VaultError::SubjectUnknown(_))
    ));
    assert!(matches!(
        vault.is_erased(&ghost),
        Err(VaultError::SubjectUnknown(_))
    ));
}

#[test]
fn reopening_keeps_subjects_data_and_erasures() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, p);
    {
        let vault = Vault::open(tmp.path()).unwrap();
        a = vault.subject_by_id_number(ID_A).unwrap();
        b = vault.subject_by_id_number(ID_B).unwrap();
        p = vault.subject_by_phone("13912345678").unwrap();
        vault.link(&p, &a).unwrap();
        vault.put(&a, "name", "张小明".as_bytes()).unwrap();
        vault.put(&b, "name", "李四".as_bytes()).unwrap();
        vault.erase(&b).unwrap();
    }
    let vault = Vault::open(tmp.path()).unwrap();
    assert_eq!(vault.subject_by_id_number(ID_A).unwrap(), a);
    assert_eq!(vault.subject_by_phone("13912345678").unwrap(), p);
    assert_eq!(
        vault.get(&a, "name").unwrap().as_deref(),
        Some("张小明".as_bytes())
    );
    assert_eq!(vault.links(&a).unwrap(), [p]);
    assert!(vault.is_erased(&b).unwrap());
    assert!(matches!(vault.get(&b, "name"), Err(VaultError::Erased(_))));
}

#[test]
fn a_phone_subject_links_to_its_id_subject_and_both_are_erased_together() {
    let (_tmp, vault) = open();
    let phone = vault.subject_by_phone("13912345678").unwrap();
    let phone_commitment = vault.commit(&phone, "phone", "13912345678").unwrap();
    let person = vault.subject_by_id_number(ID_A).unwrap();
    let other = vault.subject_by_id_number(ID_B).unwrap();
    vault.link(&phone, &person).unwrap();
    vault.link(&person, &phone).unwrap();
    assert_eq!(vault.links(&phone).unwrap(), [person]);
    assert_eq!(vault.links(&person).unwrap(), [phone]);
    // Linking keeps each subject's own secret: the phone commitment already on the log holds.
    assert_eq!(
        vault.commit(&phone, "phone", "13912345678").unwrap(),
        phone_commitment
    );

    let receipts = vault.erase_person(&person).unwrap();
    assert_eq!(
        receipts.iter().map(|r| r.subject).collect::<Vec<_>>(),
        [person, phone]
    );
    assert!(vault.is_erased(&phone).unwrap() && vault.is_erased(&person).unwrap());
    assert!(!vault.is_erased(&other).unwrap());
    assert!(matches!(
        vault.link(&other, &person),
        Err(VaultError::Erased(_))
    ));
}

#[test]
fn erasing_one_linked_subject_unlinks_it_from_the_other() {
    let (_tmp, vault) = open();
    let phone = vault.subject_by_phone("13912345678").unwrap();
    let person = vault.subject_by_id_number(ID_A).unwrap();
    vault.link(&phone, &person).unwrap();
    vault.erase(&phone).unwrap();
    assert_eq!(vault.links(&person).unwrap(), Vec::<SubjectId>::new());
}

#[test]
fn limits_are_enforced() {
    let (_tmp, vault) = open();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    vault.put(&a, "big", &vec![7u8; VALUE_BYTES_MAX]).unwrap();
    assert!(matches!(
        vault.put(&a, "big", &vec![7u8; VALUE_BYTES_MAX + 1]),
        Err(VaultError::ValueTooLarge { .. })
    ));
    assert!(matches!(
        vault.put(&a, "Name", b"x"),
        Err(VaultError::FieldInvalid(_))
    ));
    assert!(matches!(
        vault.put(&a, "vault.erasure", b"x"),
        Err(VaultError::FieldInvalid(_))
    ));
    assert!(matches!(
        vault.commit(&a, &"f".repeat(65), "x"),
        Err(VaultError::FieldInvalid(_))
    ));
    assert!(matches!(
        vault.get(&a, ""),
        Err(VaultError::FieldInvalid(_))
    ));
    assert!(matches!(
        vault.subject_by_id_number(""),
        Err(VaultError::IdentifierInvalid { .. })
    ));
    assert!(matches!(
        vault.subject_by_id_number(&"1".repeat(33)),
        Err(VaultError::IdentifierInvalid { .. })
    ));
    assert!(matches!(
        vault.subject_by_phone("call me"),
        Err(VaultError::IdentifierInvalid { .. })
    ));
}

#[test]
fn the_key_file_is_private_and_required() {
    let tmp = tempfile::tempdir().unwrap();
    let key_path = tmp.path().join(KEY_FILE_NAME);
    {
        let vault = Vault::open(tmp.path()).unwrap();
        vault.subject_by_id_number(ID_A).unwrap();
        assert!(!format!("{vault:?}").contains("key"), "Debug shows no keys");
    }
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        Vault::open(tmp.path()),
        Err(VaultError::KeyFilePermissions { .. })
    ));
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let saved = std::fs::read(&key_path).unwrap();
    std::fs::remove_file(&key_path).unwrap();
    assert!(matches!(
        Vault::open(tmp.path()),
        Err(VaultError::KeyFileMissing(_))
    ));
    assert!(
        !key_path.exists(),
        "a missing key file is not silently replaced"
    );

    // A key file from another vault is refused.
    let other = tempfile::tempdir().unwrap();
    drop(Vault::open(other.path()).unwrap());
    std::fs::copy(other.path().join(KEY_FILE_NAME), &key_path).unwrap();
    assert!(matches!(
        Vault::open(tmp.path()),
        Err(VaultError::KeyFileInvalid { .. })
    ));

    let mut corrupt = saved.clone();
    corrupt[10] ^= 1;
    std::fs::write(&key_path, &corrupt).unwrap();
    assert!(matches!(
        Vault::open(tmp.path()),
        Err(VaultError::KeyFileInvalid { .. })
    ));

    std::fs::write(&key_path, &saved).unwrap();
    let vault = Vault::open(tmp.path()).unwrap();
    assert!(vault.subject_by_id_number(ID_A).is_ok());
}

#[test]
fn a_second_open_of_the_same_folder_is_refused_while_the_first_is_open() {
    let (tmp, _vault) = open();
    assert!(matches!(Vault::open(tmp.path()), Err(VaultError::Store(_))));
}

#[test]
fn compaction_keeps_everything_current() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = Vault::open(tmp.path()).unwrap();
    let a = vault.subject_by_id_number(ID_A).unwrap();
    let b = vault.subject_by_id_number(ID_B).unwrap();
    vault.put(&a, "name", b"A").unwrap();
    vault.put(&b, "name", b"B").unwrap();
    let commitment = vault.commit(&a, "name", "A").unwrap();
    let receipt = vault.erase(&b).unwrap();
    let vault = vault.compact().unwrap();
    assert_eq!(vault.get(&a, "name").unwrap().as_deref(), Some(&b"A"[..]));
    assert_eq!(vault.commit(&a, "name", "A").unwrap(), commitment);
    assert_eq!(vault.subject_by_id_number(ID_A).unwrap(), a);
    assert_eq!(vault.erase(&b).unwrap(), receipt);
    let c = vault.subject_by_id_number("530114200202020020").unwrap();
    assert_ne!(c, a);
    drop(vault);
    let vault = Vault::open(tmp.path()).unwrap();
    assert_eq!(vault.get(&a, "name").unwrap().as_deref(), Some(&b"A"[..]));
}

#[test]
fn concurrent_writers_find_one_subject_per_identifier() {
    let (_tmp, vault) = open();
    let found: Vec<Vec<SubjectId>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|i| {
                            vault
                                .subject_by_id_number(&format!("5301112000010100{i:02}"))
                                .unwrap()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(found.windows(2).all(|w| w[0] == w[1]));
}

/// The model of one person: subject, erased, field number → value.
type ModelSubject = (SubjectId, bool, std::collections::BTreeMap<u8, Vec<u8>>);

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8, Vec<u8>),
    Erase(u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u8..3, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(s, f, v)| Op::Put(s, f, v)),
        1 => (0u8..4).prop_map(Op::Erase),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random puts, erasures and reopenings agree with a plain in-memory model.
    #[test]
    fn the_vault_agrees_with_a_model(ops in proptest::collection::vec(op(), 1..40)) {
        use std::collections::BTreeMap;
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = Vault::open(tmp.path()).unwrap();
        // person -> (subject, erased, field -> value)
        let mut model: BTreeMap<u8, ModelSubject> = BTreeMap::new();
        let id = |p: u8| format!("5301022000010100{p:02}");
        for op in ops {
            match op {
                Op::Put(p, f, v) => {
                    let entry = model.entry(p).or_insert_with(|| {
                        (vault.subject_by_id_number(&id(p)).unwrap(), false, BTreeMap::new())
                    });
                    let field = format!("f{f}");
                    if entry.1 {
                        let refused = matches!(vault.put(&entry.0, &field, &v), Err(VaultError::Erased(_)));
                        prop_assert!(refused);
                    } else {
                        vault.put(&entry.0, &field, &v).unwrap();
                        entry.2.insert(f, v);
                    }
                }
                Op::Erase(p) => {
                    if let Some(entry) = model.get_mut(&p) {
                        let receipt = vault.erase(&entry.0).unwrap();
                        if !entry.1 {
                            prop_assert_eq!(receipt.erased_fields_count, entry.2.len() as u64);
                        }
                        entry.1 = true;
                        entry.2.clear();
                    }
                }
                Op::Reopen => {
                    drop(vault);
                    vault = Vault::open(tmp.path()).unwrap();
                }
            }
            for (p, (subject, erased, fields)) in &model {
                if *erased {
                    prop_assert!(vault.is_erased(subject).unwrap());
                    continue;
                }
                prop_assert_eq!(&vault.subject_by_id_number(&id(*p)).unwrap(), subject);
                for f in 0u8..3 {
                    let field = format!("f{f}");
                    prop_assert_eq!(vault.get(subject, &field).unwrap(), fields.get(&f).cloned());
                }
            }
        }
    }
}
