//! The corpus layouts people have, read into [`ManifestEntry`]s (docs/training.md, "Data"):
//! - our JSONL manifest ([`read_manifest`]);
//! - a Common Voice release, `LANG/{train,dev,test}.tsv` with a header row (`path` names an mp3
//!   under `LANG/clips/`, `sentence` is the transcript, `locale` the language when present);
//! - FLEURS, `LANG/{train,dev,test}.tsv` without a header (id, file name, raw transcription,
//!   normalised transcription, characters, samples, gender) and `LANG/audio/SPLIT/*.wav`.
//!
//! A corpus is named by a spec: `cv:DIR` or `fleurs:DIR` (the split's TSV in DIR), `cv:FILE.tsv`
//! or `fleurs:FILE.tsv`, a bare `FILE.tsv` (Common Voice when its first row is a header naming
//! Common Voice's columns, FLEURS otherwise), or any other file as a JSONL manifest.

use std::path::Path;

use super::manifest::{read_manifest, ManifestEntry};
use crate::decode::languages::normalize_language;
use crate::{Error, Result};

/// Which part of a release a directory spec stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl Split {
    /// The TSV's file stem in Common Voice and FLEURS releases.
    pub fn file_stem(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

/// The layout of a TSV corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    CommonVoice,
    Fleurs,
}

/// Columns whose presence in the first row marks a Common Voice header.
const COMMON_VOICE_HEADER_HINTS: [&str; 5] =
    ["client_id", "path", "sentence", "locale", "up_votes"];

/// FLEURS rows: id, file name, raw transcription, normalised transcription, characters,
/// number of samples, gender.
const FLEURS_COLUMNS: usize = 7;

/// Reads the corpus named by `spec` (see the module docs); a directory stands for its `split`.
pub fn read_corpus(spec: &str, split: Split) -> Result<Vec<ManifestEntry>> {
    let (layout, path) = match spec.split_once(':') {
        Some(("cv", p)) => (Some(Layout::CommonVoice), p),
        Some(("fleurs", p)) => (Some(Layout::Fleurs), p),
        _ => (None, spec),
    };
    let path = Path::new(path);
    if path.is_dir() {
        let Some(layout) = layout else {
            return Err(Error::InvalidInput(format!(
                "{} is a directory: name its layout, cv:{0} for a Common Voice release or \
                 fleurs:{0} for FLEURS, or give a manifest or TSV file",
                path.display()
            )));
        };
        return read_tsv(&path.join(format!("{}.tsv", split.file_stem())), layout);
    }
    let is_tsv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    match layout {
        Some(layout) => read_tsv(path, layout),
        None if is_tsv => read_tsv(path, detect_layout(path)?),
        None => read_manifest(path),
    }
}

/// Common Voice when the first row holds one of its column names, FLEURS otherwise.
pub fn detect_layout(path: &Path) -> Result<Layout> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut first = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut first)
        .map_err(|e| Error::io(path, e))?;
    let header = first
        .split('\t')
        .any(|c| COMMON_VOICE_HEADER_HINTS.contains(&c.trim()));
    Ok(if header {
        Layout::CommonVoice
    } else {
        Layout::Fleurs
    })
}

/// Reads one split's TSV in `layout`.
pub fn read_tsv(path: &Path, layout: Layout) -> Result<Vec<ManifestEntry>> {
    let entries = match layout {
        Layout::CommonVoice => read_common_voice(path)?,
        Layout::Fleurs => read_fleurs(path)?,
    };
    if entries.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{} lists no utterances",
            path.display()
        )));
    }
    Ok(entries)
}

/// Common Voice writes its TSVs without quoting (sentences hold bare `"`), so quotes are
/// ordinary characters here.
fn tsv_reader(path: &Path, has_headers: bool) -> Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .quoting(false)
        .has_headers(has_headers)
        .flexible(true)
        .from_path(path)
        .map_err(|e| tsv_error(path, e))
}

fn tsv_error(path: &Path, e: csv::Error) -> Error {
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        _ => Error::InvalidInput(format!("{}: not a readable TSV: {message}", path.display())),
    }
}

/// The directory a TSV's clips are found under (its parent, `.` for a bare file name).
fn release_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The language a release directory is named after (`ca`, `sv-SE`, FLEURS' `ca_es`), as
/// Whisper's code when it knows the name or its part before `-`/`_`, otherwise as written (so
/// a run in another language reports it).
fn language_of(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let base = name.split(['-', '_']).next().unwrap_or(name);
    let code = normalize_language(name).or_else(|| normalize_language(base));
    Some(code.map_or_else(|| name.to_string(), str::to_string))
}

fn dir_language(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(language_of)
}

fn read_common_voice(path: &Path) -> Result<Vec<ManifestEntry>> {
    let mut reader = tsv_reader(path, true)?;
    let headers = reader.headers().map_err(|e| tsv_error(path, e))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{}: no '{name}' column in the header ({}); a Common Voice TSV needs 'path' \
                 (the clip's file name under clips/) and 'sentence' (its transcript)",
                    path.display(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })
    };
    let (audio, sentence) = (column("path")?, column("sentence")?);
    let locale = column("locale").ok();
    let dir = release_dir(path);
    let clips = dir.join("clips");
    let fallback_language = dir_language(dir);
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| tsv_error(path, e))?;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let line = i + 2;
        let field = |c: usize, name: &str| {
            row.get(c).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{}:{line}: the row has {} columns, no '{name}' (column {})",
                    path.display(),
                    row.len(),
                    c + 1
                ))
            })
        };
        let file = field(audio, "path")?.trim();
        if file.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{}:{line}: empty 'path'",
                path.display()
            )));
        }
        let language = match locale.map(|c| row.get(c).unwrap_or_default()) {
            Some(l) if !l.trim().is_empty() => language_of(l),
            _ => fallback_language.clone(),
        };
        out.push(ManifestEntry {
            audio: clips.join(file),
            text: field(sentence, "sentence")?.to_string(),
            language,
        });
    }
    Ok(out)
}

fn read_fleurs(path: &Path) -> Result<Vec<ManifestEntry>> {
    let mut reader = tsv_reader(path, false)?;
    let dir = release_dir(path);
    let split = path.file_stem().and_then(|s| s.to_str()).unwrap_or("train");
    let audio = dir.join("audio").join(split);
    let language = dir_language(dir);
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| tsv_error(path, e))?;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if row.len() != FLEURS_COLUMNS {
            return Err(Error::InvalidInput(format!(
                "{}:{}: {} columns, but a FLEURS row has {FLEURS_COLUMNS} (id, file name, raw \
                 transcription, normalised transcription, characters, samples, gender); a \
                 Common Voice TSV needs its header row with 'path' and 'sentence'",
                path.display(),
                i + 1,
                row.len()
            )));
        }
        out.push(ManifestEntry {
            audio: audio.join(row[1].trim()),
            text: row[2].to_string(),
            language: language.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn release(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("whisper-clsr-corpus-{}", std::process::id()))
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    #[test]
    fn common_voice_splits_quotes_and_locale() {
        let dir = release(
            "ca",
            &[
                (
                    "train.tsv",
                    "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\n\
                     c1\ta.mp3\tEl \"gat\" diu \"hola\tx\t2\t0\t\t\t\tca\n\
                     c2\tb.mp3\tSense locale.\t2\t0\t\t\t\t\n",
                ),
                ("dev.tsv", "path\tsentence\nd.mp3\tBon dia.\n"),
            ],
        );
        let spec = format!("cv:{}", dir.display());
        let train = read_corpus(&spec, Split::Train).unwrap();
        assert_eq!(train.len(), 2);
        assert_eq!(train[0].audio, dir.join("clips").join("a.mp3"));
        // Quotes are text (QUOTE_NONE), even an unbalanced one.
        assert_eq!(train[0].text, "El \"gat\" diu \"hola");
        assert_eq!(train[0].language.as_deref(), Some("ca"));
        // Without a locale the directory names the language.
        assert_eq!(train[1].language.as_deref(), Some("ca"));
        let dev = read_corpus(&spec, Split::Dev).unwrap();
        assert_eq!(dev.len(), 1);
        assert_eq!(dev[0].text, "Bon dia.");
        // A bare TSV is recognised by its header.
        let bare = read_corpus(dir.join("dev.tsv").to_str().unwrap(), Split::Train).unwrap();
        assert_eq!(bare, dev);
        let err = read_corpus(&spec, Split::Test).unwrap_err().to_string();
        assert!(err.contains("test.tsv"), "{err}");
    }

    #[test]
    fn fleurs_rows_have_no_header_and_use_the_raw_transcription() {
        let dir = release(
            "ca_es",
            &[(
                "dev.tsv",
                "1\t10.wav\tEl Gat, \"diu\".\tel gat diu\te l | g a t\t16000\tMALE\n",
            )],
        );
        let spec = format!("fleurs:{}", dir.display());
        let dev = read_corpus(&spec, Split::Dev).unwrap();
        assert_eq!(dev.len(), 1);
        assert_eq!(dev[0].audio, dir.join("audio").join("dev").join("10.wav"));
        assert_eq!(dev[0].text, "El Gat, \"diu\".");
        assert_eq!(dev[0].language.as_deref(), Some("ca"));
        let bare = read_corpus(dir.join("dev.tsv").to_str().unwrap(), Split::Train).unwrap();
        assert_eq!(bare, dev);
    }

    #[test]
    fn missing_columns_and_bare_directories_are_named() {
        let dir = release(
            "es",
            &[
                ("train.tsv", "client_id\tpath\ttext\nc\ta.mp3\thola\n"),
                ("dev.tsv", "1\t10.wav\thola\n"),
            ],
        );
        let err = read_corpus(&format!("cv:{}", dir.display()), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'sentence'") && err.contains("train.tsv"),
            "{err}"
        );
        let err = read_corpus(dir.join("dev.tsv").to_str().unwrap(), Split::Dev)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dev.tsv:1") && err.contains("FLEURS"), "{err}");
        let err = read_corpus(dir.to_str().unwrap(), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cv:") && err.contains("fleurs:"), "{err}");
    }

    #[test]
    fn language_names_become_whisper_codes() {
        assert_eq!(language_of("sv-SE").as_deref(), Some("sv"));
        assert_eq!(language_of("ca_es").as_deref(), Some("ca"));
        assert_eq!(language_of("xx-YY").as_deref(), Some("xx-YY"));
    }
}
