//! Subtitle and table formats of a transcript's segments: SubRip (`.srt`), WebVTT (`.vtt`)
//! and tab-separated values (`.tsv`, start and end in integer milliseconds, as OpenAI's
//! writer makes them). Segments without text are left out.

use crate::decode::longform::Segment;

/// `HH:MM:SS<sep>mmm` of `seconds` (negative values clamp to 0).
pub fn timestamp(seconds: f64, decimal_marker: char) -> String {
    let total_ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, rest) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{decimal_marker}{ms:03}")
}

/// Cue text: trimmed, and without the blank lines that would end a cue early.
fn cue_text(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("-->", "->")
}

fn spoken(segments: &[Segment]) -> impl Iterator<Item = &Segment> {
    segments.iter().filter(|s| !s.text.trim().is_empty())
}

/// SubRip: numbered cues from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text, blank line.
pub fn srt(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, s) in spoken(segments).enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            timestamp(s.start, ','),
            timestamp(s.end, ','),
            cue_text(&s.text)
        ));
    }
    out
}

/// WebVTT: the `WEBVTT` header, then `HH:MM:SS.mmm --> HH:MM:SS.mmm`, text, blank line.
pub fn vtt(segments: &[Segment]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in spoken(segments) {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            timestamp(s.start, '.'),
            timestamp(s.end, '.'),
            cue_text(&s.text)
        ));
    }
    out
}

/// `start<TAB>end<TAB>text` with a header row; times in integer milliseconds.
pub fn tsv(segments: &[Segment]) -> String {
    let mut out = String::from("start\tend\ttext\n");
    for s in spoken(segments) {
        out.push_str(&format!(
            "{}\t{}\t{}\n",
            (s.start * 1000.0).round() as i64,
            (s.end * 1000.0).round() as i64,
            s.text.trim().replace(['\t', '\n'], " ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            id: 0,
            seek: 0,
            start,
            end,
            text: text.into(),
            tokens: vec![],
            temperature: 0.0,
            avg_logprob: -0.2,
            compression_ratio: 1.2,
            no_speech_prob: 0.01,
            words: None,
        }
    }

    /// Parses `HH:MM:SS<sep>mmm` back to seconds.
    fn parse_time(t: &str, sep: char) -> f64 {
        let (hms, ms) = t.split_once(sep).expect("decimal marker");
        let parts: Vec<f64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3, "{t}");
        assert_eq!(ms.len(), 3, "{t}");
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2] + ms.parse::<f64>().unwrap() / 1000.0
    }

    /// A strict reader of the cue blocks both formats share: (start, end, text) per cue.
    fn parse_cues(body: &str, sep: char, numbered: bool) -> Vec<(f64, f64, String)> {
        let mut cues = Vec::new();
        for (n, block) in body.split("\n\n").filter(|b| !b.is_empty()).enumerate() {
            let mut lines = block.lines();
            if numbered {
                assert_eq!(lines.next().unwrap(), (n + 1).to_string(), "cue number");
            }
            let (a, b) = lines.next().unwrap().split_once(" --> ").expect("arrow");
            let text: Vec<&str> = lines.collect();
            assert!(!text.is_empty(), "cue without text");
            cues.push((parse_time(a, sep), parse_time(b, sep), text.join("\n")));
        }
        cues
    }

    fn sample() -> Vec<Segment> {
        vec![
            segment(0.0, 2.5, " And so my fellow Americans,"),
            segment(2.5, 2.5 + 3600.0 + 61.004, " ask not --> what"),
            segment(4.0, 4.5, "   "),
            segment(3725.25, 3730.0, " two\n\nlines"),
        ]
    }

    #[test]
    fn timestamps_carry_hours_and_milliseconds() {
        assert_eq!(timestamp(0.0, ','), "00:00:00,000");
        assert_eq!(timestamp(3725.2506, '.'), "01:02:05.251");
        assert_eq!(timestamp(-1.0, ','), "00:00:00,000");
    }

    #[test]
    fn srt_parses_back() {
        let text = srt(&sample());
        assert!(text.ends_with("\n\n"));
        let cues = parse_cues(&text, ',', true);
        assert_eq!(cues.len(), 3, "the blank segment is left out");
        assert_eq!(cues[0], (0.0, 2.5, "And so my fellow Americans,".into()));
        assert!((cues[1].1 - 3663.504).abs() < 1e-9);
        assert_eq!(cues[1].2, "ask not -> what");
        assert_eq!(cues[2].2, "two\nlines");
    }

    #[test]
    fn vtt_parses_back() {
        let text = vtt(&sample());
        let body = text.strip_prefix("WEBVTT\n\n").expect("header");
        let cues = parse_cues(body, '.', false);
        assert_eq!(cues.len(), 3);
        assert_eq!(cues[2].0, 3725.25);
    }

    #[test]
    fn tsv_has_a_header_and_milliseconds() {
        let text = tsv(&sample());
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows[0], ["start", "end", "text"]);
        assert_eq!(rows[1], ["0", "2500", "And so my fellow Americans,"]);
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.len() == 3));
    }
}
