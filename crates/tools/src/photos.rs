//! The demo's listing photos: generated pictures of rooms.

use sha2::{Digest as _, Sha256};

/// A generated picture of a room for the demo's listings: a PNG of `width` × `height` pixels
/// whose colours and proportions are a pure function of `seed` (the same seed, the same bytes,
/// so a demo run again uploads the same photos). Wall, floor, a window with its frame and a
/// door; no text, nothing of anybody.
#[must_use]
pub fn room_picture(seed: &[u8], width: u32, height: u32) -> Vec<u8> {
    let d = Sha256::digest([b"deedlog/demo-photo/v1\n".as_slice(), seed].concat());
    let (w, h) = (width.max(16), height.max(16));
    let tone = |i: usize, lo: u8| lo + d[i] % (255 - lo);
    let wall = [tone(0, 170), tone(1, 160), tone(2, 140)];
    let floor = [
        tone(3, 90) / 2 + 40,
        tone(4, 60) / 2 + 30,
        tone(5, 40) / 2 + 20,
    ];
    let sky = [120 + d[6] % 60, 170 + d[7] % 60, 215 + d[8] % 40];
    let horizon = h * (55 + u32::from(d[9] % 15)) / 100;
    let win_x0 = w * (10 + u32::from(d[10] % 30)) / 100;
    let win_x1 = win_x0 + w * (25 + u32::from(d[11] % 15)) / 100;
    let win_y0 = h * (12 + u32::from(d[12] % 10)) / 100;
    let win_y1 = horizon - h / 10;
    let door_x0 = w * (72 + u32::from(d[13] % 10)) / 100;
    let door_x1 = (door_x0 + w / 8).min(w - 1);
    let door_y0 = h * 25 / 100;
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let frame = 3;
            let in_window = (win_x0..win_x1).contains(&x) && (win_y0..win_y1).contains(&y);
            let on_frame = in_window
                && (x < win_x0 + frame
                    || x + frame >= win_x1
                    || y < win_y0 + frame
                    || y + frame >= win_y1
                    || x.abs_diff((win_x0 + win_x1) / 2) < 2);
            let in_door = (door_x0..door_x1).contains(&x) && (door_y0..horizon).contains(&y);
            let px = if on_frame {
                [245, 245, 240]
            } else if in_window {
                sky
            } else if in_door {
                [floor[0] / 2 + 60, floor[1] / 2 + 40, floor[2] / 2 + 25]
            } else if y >= horizon {
                // Floorboards: a darker line every few rows, shading towards the front.
                let shade = u8::try_from((y - horizon) * 40 / (h - horizon).max(1)).unwrap_or(40);
                let line = if (y - horizon) % 12 == 0 { 25 } else { 0 };
                floor.map(|c| c.saturating_sub(shade / 2).saturating_sub(line))
            } else {
                // The wall, lit from the window's side.
                let fall = u8::try_from(x.abs_diff(win_x0) * 30 / w).unwrap_or(30);
                wall.map(|c| c.saturating_sub(fall))
            };
            pixels.extend_from_slice(&px);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing into a Vec cannot fail, and the size matches the pixels by construction; an
        // error would leave `out` short, which the upload's own checks then refuse.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&pixels);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_png_deterministic_and_distinct() {
        let a = room_picture(b"LS-1/1", 160, 120);
        assert!(a.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(a, room_picture(b"LS-1/1", 160, 120));
        assert_ne!(a, room_picture(b"LS-1/2", 160, 120));
        let decoder = png::Decoder::new(std::io::Cursor::new(&a));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (160, 120));
        assert!(a.len() < 64 * 1024);
    }
}
