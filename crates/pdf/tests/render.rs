//! Rendering without a log: the same input gives the same bytes, the attached input comes back
//! out unchanged, and a PDF whose proofs do not verify is refused before its bytes are compared.

use deedlog_core::bundle::ProofBundle;
use deedlog_pdf::{Names, PdfError, PdfInput, check, extract, render};
use serde_json::json;

fn bundle(seq: u64) -> ProofBundle {
    ProofBundle::new(
        seq,
        b"{}",
        seq + 1,
        &[],
        "not a note",
        "example+00000000+AAAA",
    )
}

fn input() -> PdfInput {
    PdfInput {
        format: deedlog_pdf::INPUT_FORMAT.to_owned(),
        filing_code: "FC-0A1B2C3D4E5F6071".to_owned(),
        check_url: "https://deedlog.example/#/contract/FC-0M6SC-7N75Y-R3H$".to_owned(),
        contract: json!({"id": "contract/CT-1", "seller": "party/PA-1", "buyer": "party/PA-2",
            "agent": null, "document_hash": "ab".repeat(32),
            "terms": {"price": {"total_fen": 120_000_000u64, "method": "lump_sum",
                "schedule": [{"due_ms": 1_764_547_200_000i64, "amount_fen": 120_000_000u64}]},
                "handover": {"date_ms": 1_764_547_200_000i64, "condition": "按现状交付，附家具清单。".repeat(20)},
                "disputes": {"method": "court", "venue": "昆明市官渡区人民法院"}}}),
        property: json!({"id": "property/PR-1", "address": "官渡区柏林大道276号3栋1单元2104",
            "district": "官渡区", "community": "阳宗园"}),
        names: Some(Names {
            seller: "王晶月".into(),
            buyer: "李四".into(),
        }),
        filing: bundle(9),
        document: bundle(3),
        registration: bundle(1),
        signatures: Vec::new(),
    }
}

#[test]
fn the_same_input_renders_the_same_bytes_and_carries_itself() {
    let i = input();
    let a = render(&i).expect("renders");
    let b = render(&i).expect("renders again");
    assert!(a.starts_with(b"%PDF-"));
    assert_eq!(a, b, "rendering is deterministic");
    assert_eq!(extract(&a).expect("the attached input"), i);
    // Without names (the shape of a public copy) the bytes differ and carry no name.
    let mut public = i.clone();
    public.names = None;
    let p = render(&public).expect("renders");
    assert_ne!(p, a);
    assert!(!String::from_utf8_lossy(&p).contains("王晶月"));
}

#[test]
fn proofs_that_do_not_verify_are_refused_and_limits_hold() {
    let pdf = render(&input()).expect("renders");
    assert!(matches!(
        check(&pdf, "example+00000000+AAAA"),
        Err(PdfError::Proof { .. })
    ));
    assert!(matches!(
        check(b"%PDF-1.7 nothing", "k"),
        Err(PdfError::NoAttachment)
    ));
    let mut wrong_url = input();
    wrong_url.check_url = "https://deedlog.example/#/contract/FC-00000-00000-0000".into();
    assert!(matches!(render(&wrong_url), Err(PdfError::Input(_))));
    let mut long_name = input();
    long_name.names = Some(Names {
        seller: "名".repeat(65),
        buyer: "李四".into(),
    });
    assert!(matches!(render(&long_name), Err(PdfError::Input(_))));
}
