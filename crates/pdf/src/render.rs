//! Drawing the filed contract: the text is laid out into pages first (pure arithmetic on the
//! input), then written with krilla as PDF/A-3b with the input attached.

use krilla::Document;
use krilla::SerializeSettings;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use serde_json::Value;

use crate::layout::{Metrics, date, utc, yuan};
use crate::{ATTACHMENT, FONT, PdfError, PdfInput, TLOG_PROOF_ATTACHMENT, validate};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const LEFT: f32 = 56.0;
const RIGHT: f32 = PAGE_W - 56.0;
const TOP: f32 = 64.0;
const BOTTOM: f32 = PAGE_H - 64.0;
const BODY: f32 = 10.0;
/// The QR code's side in points, and where it sits on the first page.
const QR_SIDE: f32 = 110.0;
const QR_X: f32 = RIGHT - QR_SIDE;
const QR_Y: f32 = TOP - 8.0;

/// One thing drawn on a page.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
    },
    Rule {
        y: f32,
    },
}

/// Pages of text, filled top to bottom.
struct Flow<'m> {
    m: &'m Metrics<'m>,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// The right edge of text, narrower beside the QR code on the first page.
    right: f32,
}

impl<'m> Flow<'m> {
    fn new(m: &'m Metrics<'m>) -> Self {
        Self {
            m,
            pages: vec![Vec::new()],
            y: TOP,
            right: QR_X - 12.0,
        }
    }

    fn page(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let n = self.pages.len() - 1;
        &mut self.pages[n]
    }

    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = TOP;
        }
        if self.y > QR_Y + QR_SIDE + 6.0 || self.pages.len() > 1 {
            self.right = RIGHT;
        }
    }

    fn text(&mut self, text: &str, size: f32, indent: f32) {
        let lh = size * 1.55;
        let max = self.right - LEFT - indent;
        let text = self.m.drawable(text);
        for line in self.m.break_lines(&text, size, max) {
            self.room(lh);
            self.y += lh;
            let y = self.y - size * 0.35;
            self.page().push(Op::Text {
                x: LEFT + indent,
                y,
                size,
                text: line,
            });
        }
    }

    /// `label: value`, the value's lines indented under the label when they wrap.
    fn field(&mut self, label: &str, value: &str) {
        self.text(&format!("{label}：{value}"), BODY, 12.0);
    }

    fn heading(&mut self, text: &str) {
        self.room(BODY * 3.2);
        self.y += BODY * 0.8;
        self.text(text, BODY + 2.0, 0.0);
        let y = self.y + 3.0;
        self.page().push(Op::Rule { y });
        self.y += 4.0;
    }
}

/// The Chinese and English label of a terms field.
fn label(key: &str) -> String {
    let l = match key {
        "seller" => "卖方 seller",
        "buyer" => "买方 buyer",
        "agent" => "经纪人 agent",
        "property" => "房屋 property",
        "certificate_no" => "不动产权证号 certificate",
        "area_centi_m2" => "建筑面积 area",
        "mortgage" => "抵押 mortgage",
        "bank" => "银行 bank",
        "amount_fen" => "金额 amount",
        "discharge_before_transfer" => "过户前解除抵押 discharge before transfer",
        "leased" => "已出租 leased",
        "total_fen" => "总价 total price",
        "method" => "方式 method",
        "schedule" => "付款安排 schedule",
        "due_ms" => "日期 due",
        "deed_tax" => "契税 deed tax",
        "value_added_tax" => "增值税 VAT",
        "income_tax" => "个人所得税 income tax",
        "fees" => "登记与交易费 fees",
        "date_ms" => "交付日期 date",
        "condition" => "交付状况 condition",
        "apply_by_ms" => "申请过户期限 apply by",
        "late_permyriad_per_day" => "逾期违约金（每日万分之）late, per day (1/10000)",
        "default_penalty_fen" => "违约金 penalty",
        "venue" => "机构 venue",
        other => other,
    };
    l.to_owned()
}

/// A terms value in words: money, dates, areas and enumerations spelt out.
fn value(key: &str, v: &Value) -> String {
    match v {
        Value::Null => "无 none".to_owned(),
        Value::Bool(true) => "是 yes".to_owned(),
        Value::Bool(false) => "否 no".to_owned(),
        Value::Number(n) => match (key, n.as_u64(), n.as_i64()) {
            (k, Some(f), _) if k.ends_with("_fen") => yuan(f),
            ("area_centi_m2", Some(a), _) => format!("{}.{:02} m²", a / 100, a % 100),
            (k, _, Some(ms)) if k.ends_with("_ms") => date(ms),
            _ => n.to_string(),
        },
        Value::String(s) => match s.as_str() {
            "seller" => "卖方 seller".to_owned(),
            "buyer" => "买方 buyer".to_owned(),
            "by_law" => "依法各自承担 as the law assigns".to_owned(),
            "lump_sum" => "一次性付款 lump sum".to_owned(),
            "loan" => "贷款 loan".to_owned(),
            "instalments" => "分期付款 instalments".to_owned(),
            "court" => "人民法院诉讼 court".to_owned(),
            "arbitration" => "仲裁委员会仲裁 arbitration".to_owned(),
            other => other.to_owned(),
        },
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// Writes a terms object as fields, nested objects and arrays as indented groups.
fn fields(flow: &mut Flow<'_>, prefix: &str, v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        flow.text(&format!("{prefix}{}", label(k)), BODY, 12.0);
                        fields(flow, &format!("{prefix}  "), item);
                    }
                    _ => flow.field(&format!("{prefix}{}", label(k)), &value(k, item)),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(map) => {
                        let parts: Vec<String> = map
                            .iter()
                            .map(|(k, x)| format!("{} {}", label(k), value(k, x)))
                            .collect();
                        flow.field(&format!("{prefix}{}", i + 1), &parts.join("；"));
                    }
                    other => flow.field(&format!("{prefix}{}", i + 1), &value("", other)),
                }
            }
        }
        other => flow.field(prefix.trim(), &value("", other)),
    }
}

const SECTIONS: [(&str, &str); 11] = [
    ("parties", "一、当事人 Parties"),
    ("property", "二、房屋基本情况 The property"),
    ("title", "三、权属与抵押 Title and encumbrances"),
    ("price", "四、价款与支付 Price and payment"),
    ("deposit", "五、定金 Deposit"),
    ("loan", "六、贷款 Loan"),
    ("taxes", "七、税费 Taxes and fees"),
    ("handover", "八、房屋交付 Handover"),
    ("transfer", "九、转移登记 Transfer registration"),
    ("breach", "十、违约责任 Breach"),
    ("disputes", "十一、争议解决 Disputes"),
];

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Lays the whole contract out into pages.
fn lay_out(input: &PdfInput, m: &Metrics<'_>) -> Result<Vec<Vec<Op>>, PdfError> {
    let mut flow = Flow::new(m);
    let c = &input.contract;
    let p = &input.property;
    let terms = c.get("terms").unwrap_or(&Value::Null);
    flow.text("存量房买卖合同（已备案）", 18.0, 0.0);
    flow.text("Resale housing contract — filed", 11.0, 0.0);
    flow.y += 6.0;
    flow.field("备案码 filing code", &input.spoken_code());
    flow.field("（日志中的形式 as on the log）", &input.filing_code);
    flow.field("合同 contract", s(c, "id"));
    flow.field(
        "备案 filed",
        &format!(
            "seq {} · {}",
            input.filing.seq,
            input.filing_recorded_at().map_or_else(String::new, utc)
        ),
    );
    flow.field("核验 check at", &input.check_url);

    for (key, title) in SECTIONS {
        let section = terms.get(key);
        if section.is_none() && !matches!(key, "parties" | "property") {
            continue;
        }
        flow.heading(title);
        match key {
            "parties" => {
                for role in ["seller", "buyer"] {
                    flow.field(&label(role), s(c, role));
                    if let Some(n) = &input.names {
                        let name = if role == "seller" {
                            &n.seller
                        } else {
                            &n.buyer
                        };
                        flow.field("  姓名 name", name);
                    }
                }
                let agent = c.get("agent").and_then(Value::as_str);
                flow.field(&label("agent"), agent.unwrap_or("无（自行成交）none"));
                if input.names.is_none() {
                    flow.text(
                        "姓名只印在当事人下载的副本中。Names are printed only in the copy a party downloads.",
                        BODY - 1.0,
                        12.0,
                    );
                }
            }
            "property" => {
                flow.field("坐落 address", s(p, "address"));
                flow.field("区 district", s(p, "district"));
                flow.field("小区 community", s(p, "community"));
                flow.field("房屋 id", s(p, "id"));
                if let Some(section) = section {
                    let mut rest = section.clone();
                    if let Some(o) = rest.as_object_mut() {
                        o.remove("property");
                    }
                    fields(&mut flow, "", &rest);
                }
            }
            _ => {
                if let Some(section) = section {
                    fields(&mut flow, "", section);
                }
            }
        }
    }

    flow.heading("签名 Signatures");
    flow.field("合同文本 SHA-256 document", s(c, "document_hash"));
    for b in &input.signatures {
        let e = deedlog_core::entry::LoggedEntry::decode(
            &deedlog_core::keys::from_base64(&b.entry)
                .map_err(|_| PdfError::Input("a signature entry is not base64".into()))?,
        )
        .map_err(|e| PdfError::Input(e.to_string()))?;
        let (actor, key) = match &e.signed {
            deedlog_core::entry::Logged::Clear(c) => (&c.actor, &c.key),
            deedlog_core::entry::Logged::Sealed(c) => (&c.actor, &c.key),
        };
        let key_id = key_id(key);
        flow.field(
            "签名 signed",
            &format!(
                "{actor} · {} · key {key_id} · seq {}",
                utc(e.recorded_at_ms),
                e.seq
            ),
        );
    }

    flow.heading("验真 How to check");
    flow.text(
        "本文件附有完整的离线证明（附件 deedlog-contract.json；备案记录的 C2SP tlog-proof 证明另见附件 deedlog-filing.tlog-proof）。用 deedlog check --pdf 文件 校验：证明在日志公钥下成立，且文件与日志数据逐字节重新生成的结果一致。",
        BODY,
        0.0,
    );
    flow.text(
        "The full offline proof is attached (deedlog-contract.json; the filing entry's C2SP tlog-proof is attached as deedlog-filing.tlog-proof). `deedlog check --pdf FILE` verifies it under the log key and renders this file again from the log data: any changed byte fails.",
        BODY,
        0.0,
    );
    flow.field("日志公钥 log key", &input.filing.log_key);
    flow.field("证明摘要 proof SHA-256", &input.proof_digest()?);

    // Footers, now that the page count is known.
    let total = flow.pages.len();
    let code = input.spoken_code();
    for (i, page) in flow.pages.iter_mut().enumerate() {
        page.push(Op::Text {
            x: LEFT,
            y: PAGE_H - 36.0,
            size: 8.0,
            text: m.drawable(&format!("备案码 {code} · 第 {} / {total} 页 page", i + 1)),
        });
    }
    Ok(flow.pages)
}

/// A short key id: the first 8 bytes of SHA-256 of the key's base64 text, in hex.
fn key_id(key: &str) -> String {
    let h = deedlog_core::hash::sha256(key.as_bytes());
    hex::encode(&h[..8])
}

/// The QR code's text: the spoken filing code, the check URL and the proof digest, one a line.
fn qr_text(input: &PdfInput) -> Result<String, PdfError> {
    Ok(format!(
        "{}\n{}\nproof-sha256:{}",
        input.spoken_code(),
        input.check_url,
        input.proof_digest()?
    ))
}

fn pdf_date(ms: i64) -> DateTime {
    let t = utc(ms);
    let num = |a: usize, b: usize| t.get(a..b).and_then(|x| x.parse::<u16>().ok()).unwrap_or(0);
    DateTime::new(num(0, 4))
        .month(u8::try_from(num(5, 7)).unwrap_or(1))
        .day(u8::try_from(num(8, 10)).unwrap_or(1))
        .hour(u8::try_from(num(11, 13)).unwrap_or(0))
        .minute(u8::try_from(num(14, 16)).unwrap_or(0))
        .second(0)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

/// Renders the filed contract. The same input gives the same bytes, always: nothing is read
/// from the clock or drawn at random (the PDF's dates are the filing entry's time).
///
/// # Errors
/// [`PdfError::Input`] for an input that fails its limits; [`PdfError::Render`] if krilla
/// refuses the document.
pub fn render(input: &PdfInput) -> Result<Vec<u8>, PdfError> {
    validate(input)?;
    let metrics = Metrics::new(FONT).ok_or_else(|| PdfError::Render("the font".into()))?;
    let pages = lay_out(input, &metrics)?;
    let font = Font::new(FONT.to_vec().into(), 0)
        .ok_or_else(|| PdfError::Render("the font does not load".into()))?;
    let qr =
        qrcode::QrCode::with_error_correction_level(qr_text(input)?.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| PdfError::Render(e.to_string()))?;
    let filed_ms = input.filing_recorded_at().unwrap_or(0);

    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A3_B)
        .finish()
        .map_err(|e| PdfError::Render(format!("{e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        ..SerializeSettings::default()
    };
    let mut doc = Document::new_with(settings);
    doc.set_metadata(
        Metadata::new()
            .title(format!("存量房买卖合同 {}", input.spoken_code()))
            .creator("deedlog".to_owned())
            .language("zh-CN".to_owned())
            .creation_date(pdf_date(filed_ms))
            .document_id(input.filing_code.clone()),
    );
    for (i, ops) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Render("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text { x, y, size, text } => surface.draw_text(
                    Point::from_xy(*x, *y),
                    font.clone(),
                    *size,
                    text,
                    false,
                    TextDirection::Auto,
                ),
                Op::Rule { y } => {
                    let mut pb = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(LEFT, *y, RIGHT - LEFT, 0.6) {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        surface.draw_path(&path);
                    }
                }
            }
        }
        if i == 0 {
            let width = qr.width();
            let colors = qr.to_colors();
            let module = QR_SIDE / f32::from(u16::try_from(width).unwrap_or(1));
            let mut pb = PathBuilder::new();
            for (n, c) in colors.iter().enumerate() {
                if *c == qrcode::Color::Dark {
                    let (row, col) = (n / width, n % width);
                    let at = |k: usize| f32::from(u16::try_from(k).unwrap_or(0)) * module;
                    if let Some(r) = Rect::from_xywh(QR_X + at(col), QR_Y + at(row), module, module)
                    {
                        pb.push_rect(r);
                    }
                }
            }
            if let Some(path) = pb.finish() {
                surface.draw_path(&path);
            }
        }
        surface.finish();
        page.finish();
    }
    let attached = EmbeddedFile {
        path: ATTACHMENT.to_owned(),
        mime_type: MimeType::new("application/json"),
        description: Some(
            "The filed contract's data and the proof bundles of every fact shown (deedlog/contract-pdf/v1)"
                .to_owned(),
        ),
        association_kind: AssociationKind::Source,
        data: input.to_bytes()?.into(),
        modification_date: Some(pdf_date(filed_ms)),
        // Stored as is, so that the check (and the web page) finds the canonical JSON verbatim.
        compress: Some(false),
        location: None,
    };
    doc.embed_file(attached)
        .ok_or_else(|| PdfError::Render("the proof could not be attached".into()))?;
    // The filing entry's proof again in the C2SP `tlog-proof` text, for tools that speak the C2SP
    // formats and not this project's bundle. It is derived from the filing bundle alone, so the
    // file stays a pure function of its input and the check's re-rendering covers it.
    let tlog_proof = deedlog_core::tlog_proof::TlogProof::from_bundle(&input.filing)
        .map_err(|e| PdfError::Input(e.to_string()))?;
    let standard = EmbeddedFile {
        path: TLOG_PROOF_ATTACHMENT.to_owned(),
        mime_type: MimeType::new("text/plain"),
        description: Some(
            "The filing entry's inclusion proof, C2SP tlog-proof v1 (the entry's bytes as extra data)"
                .to_owned(),
        ),
        association_kind: AssociationKind::Supplement,
        data: tlog_proof.encode().into_bytes().into(),
        modification_date: Some(pdf_date(filed_ms)),
        compress: Some(false),
        location: None,
    };
    doc.embed_file(standard)
        .ok_or_else(|| PdfError::Render("the tlog-proof could not be attached".into()))?;
    doc.finish().map_err(|e| PdfError::Render(format!("{e:?}")))
}
