//! The data path: the teacher-forcing layout of tokens and targets with the real
//! multilingual tokenizer, and the background decoder against decoding inline (the corpus
//! readers are the runtime's, tested there).

use std::path::Path;

use whisper_clsr::audio::LogMel;
use whisper_clsr::eval::ManifestEntry;
use whisper_clsr_test_kit::fixtures::write_wav;
use whisper_clsr_train::data::{check_same_tokenizer, prepare, TextEncoder, TokenizerKey};
use whisper_clsr_train::decode_ahead::DecodeAhead;
use whisper_clsr_train::loss::vocab::IGNORE;
use whisper_clsr_train::trainer::batch_indices;

fn tokenizer(name: &str) -> Option<Vec<u8>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
        .join("tokenizer.json");
    p.exists().then(|| std::fs::read(p).unwrap())
}

#[test]
fn teacher_forcing_layout_with_the_multilingual_tokenizer() {
    let Some(json) = tokenizer("whisper-base") else {
        panic!("models/whisper-base/tokenizer.json is missing: run scripts/fetch-models.sh first");
    };
    let enc = TextEncoder::from_bytes(&json).unwrap();
    let w = &enc.whisper;
    let (tokens, targets) = enc.teacher_forcing("Bon dia.", "ca", 448).unwrap();
    let text = enc.encode("Bon dia.").unwrap();
    let prompt = [
        w.sot,
        w.language_token("ca").unwrap(),
        w.transcribe.unwrap(),
        w.no_timestamps,
    ];
    assert_eq!(&tokens[..4], &prompt);
    assert_eq!(&tokens[4..], &text[..]);
    assert_eq!(&targets[..3], &[IGNORE; 3]);
    assert_eq!(&targets[3..3 + text.len()], &text[..]);
    assert_eq!(*targets.last().unwrap(), w.eot);
    assert_eq!(tokens.len(), targets.len());
    assert_eq!(w.decode(&text).unwrap().trim(), "Bon dia.");
    // Truncation keeps tokens and targets aligned.
    let (t, g) = enc
        .teacher_forcing("una frase bastant més llarga que el límit", "ca", 6)
        .unwrap();
    assert_eq!((t.len(), g.len()), (6, 6));
    // A tokenizer with other special tokens (English-only) is refused as a teacher's.
    if let Some(en) = tokenizer("whisper-tiny.en") {
        let en = TextEncoder::from_bytes(&en).unwrap();
        let err = check_same_tokenizer(w, &en.whisper)
            .unwrap_err()
            .to_string();
        assert!(err.contains("share one tokenizer"), "{err}");
        // Both tokenizers are named, with their vocabulary sizes and special-token ids.
        for key in [w, &en.whisper].map(TokenizerKey::of) {
            assert!(err.contains(&key.to_string()), "{err} names {key}");
        }
        assert!(
            err.contains("teacher's tokenizer (teacher: vocabulary")
                && err
                    .contains("from the student's (vocabulary 51865, <|startoftranscript|> 50258"),
            "{err}"
        );
    }
    check_same_tokenizer(w, w).unwrap();
}

/// The background decoder, fed the trainer's order over three steps (an epoch boundary
/// included), delivers each example equal to decoding it inline, in that order, with a
/// queue shorter than the order; a missing clip comes through as its error, in place.
#[test]
fn background_decoder_delivers_the_inline_examples_in_the_trainers_order() {
    let json = tokenizer("whisper-base").expect("models/whisper-base/tokenizer.json is missing");
    let text = TextEncoder::from_bytes(&json).unwrap();
    let mel = LogMel::new(80).unwrap();
    let dir = std::env::temp_dir().join(format!("train-decode-ahead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut entries: Vec<ManifestEntry> = (0..4)
        .map(|i| {
            let audio = dir.join(format!("{i}.wav"));
            let tone: Vec<f32> = (0..4000 + 1000 * i)
                .map(|t| (t as f32 * 0.05 * (i + 1) as f32).sin() * 0.3)
                .collect();
            write_wav(&audio, &tone, 16000, 1);
            ManifestEntry {
                audio,
                text: format!("Frase {i}."),
                language: None,
            }
        })
        .collect();
    entries[2].audio = dir.join("gone.wav");
    let load = |i: usize| prepare(&entries[i], "ca", &text, &mel, None, 448);
    let order: Vec<usize> = (0..3)
        .flat_map(|step| batch_indices(7, 3, step, entries.len()))
        .collect();
    assert_eq!(order.len(), 9);
    std::thread::scope(|scope| {
        let ahead = DecodeAhead::spawn(scope, order.clone().into_iter(), 2, load);
        for &i in &order {
            let (j, got) = ahead.next().expect("the decoder ended early");
            assert_eq!(j, i);
            match (got, load(i)) {
                (Ok(got), Ok(inline)) => assert!(got == inline, "example {i} differs"),
                (Err(got), Err(inline)) => assert_eq!(got.to_string(), inline.to_string()),
                (got, inline) => panic!("example {i}: {got:?} vs {inline:?}"),
            }
        }
        assert!(ahead.next().is_none(), "more examples than the order");
    });
    std::fs::remove_dir_all(&dir).ok();
}
