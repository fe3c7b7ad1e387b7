//! Line breaking and the formatting of values, in integers where the value is money or time.
//!
//! krilla shapes a line but does not break text into lines, so this module measures each
//! character's advance in the font and breaks greedily: between any two CJK characters, at
//! spaces in Latin text, and inside a word only when the word alone is wider than the line.

use ttf_parser::Face;

/// Advance widths of the font, in em.
pub(crate) struct Metrics<'a> {
    face: Face<'a>,
    per_em: f32,
}

impl<'a> Metrics<'a> {
    pub(crate) fn new(font: &'a [u8]) -> Option<Self> {
        let face = Face::parse(font, 0).ok()?;
        let per_em = f32::from(face.units_per_em());
        Some(Self { face, per_em })
    }

    /// The advance of `c` in em; a character the font lacks counts as one em, like its box.
    fn advance(&self, c: char) -> f32 {
        self.face
            .glyph_index(c)
            .and_then(|g| self.face.glyph_hor_advance(g))
            .map_or(1.0, |a| f32::from(a) / self.per_em)
    }

    /// `text` with every character the font cannot draw replaced by `?`: PDF/A refuses a
    /// document that draws the font's empty `.notdef` glyph, and a name or a term may hold a
    /// character outside GB2312.
    pub(crate) fn drawable(&self, text: &str) -> String {
        text.chars()
            .map(|c| {
                if c.is_control() || self.face.glyph_index(c).is_none() {
                    '?'
                } else {
                    c
                }
            })
            .collect()
    }

    /// The width of `text` at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// Breaks `text` into lines no wider than `max` points at `size` points.
    pub(crate) fn break_lines(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            let mut width = 0.0;
            for token in tokens(para) {
                let w = self.width(&token, size);
                if width + w <= max || line.is_empty() && w <= max {
                    line.push_str(&token);
                    width += w;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(line.trim_end().to_owned());
                }
                let token = token.trim_start().to_owned();
                line = String::new();
                width = 0.0;
                // A token wider than the line (a long hash or URL) is cut by character.
                for c in token.chars() {
                    let cw = self.advance(c) * size;
                    if width + cw > max && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        width = 0.0;
                    }
                    line.push(c);
                    width += cw;
                }
            }
            lines.push(line.trim_end().to_owned());
        }
        lines
    }
}

/// Whether a line may break before or after `c` (CJK ideographs, kana, full-width forms and
/// CJK punctuation each stand alone).
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c), 0x2E80..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

/// Splits a paragraph into the units a line may break between: each CJK character alone, and
/// runs of other characters with the spaces that follow them.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else if c == ' ' {
            cur.push(c);
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Fen as yuan with two decimals and thousands separators: `¥1,200,000.00`.
pub(crate) fn yuan(fen: u64) -> String {
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("¥{grouped}.{:02}", fen % 100)
}

/// Milliseconds since the epoch as a UTC date and time (`2026-12-01 15:49 UTC`), by the civil
/// calendar algorithm of Howard Hinnant, in integers.
pub(crate) fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The date part of [`utc`].
pub(crate) fn date(ms: i64) -> String {
    utc(ms).chars().take(10).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_time_are_spelt_exactly() {
        assert_eq!(yuan(120_000_000), "¥1,200,000.00");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(100_000), "¥1,000.00");
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_764_547_200_000), "2025-12-01 00:00 UTC");
        assert_eq!(date(951_782_400_000), "2000-02-29");
    }

    #[test]
    fn lines_break_between_hanzi_and_at_spaces_and_never_overflow() {
        let m = Metrics::new(crate::FONT).expect("the committed font parses");
        let text = "官渡区柏林大道276号3栋1单元2104 and a long Latin sentence that wraps 0123456789abcdef0123456789abcdef0123456789abcdef";
        for max in [40.0_f32, 90.0, 200.0] {
            let lines = m.break_lines(text, 10.0, max);
            assert!(lines.len() > 1);
            for l in &lines {
                assert!(m.width(l, 10.0) <= max + 0.01, "{l:?} is wider than {max}");
            }
            let joined: String = lines.concat().split_whitespace().collect();
            let want: String = text.split_whitespace().collect();
            assert_eq!(joined, want, "no character lost at {max}");
        }
    }
}
