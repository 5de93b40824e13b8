//! The data path: the teacher-forcing layout of tokens and targets with the real
//! multilingual tokenizer (the manifest reader is the runtime's, tested there).

use std::path::Path;

use whisper_clsr_train::data::{check_same_tokenizer, TextEncoder};
use whisper_clsr_train::loss::vocab::IGNORE;

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
    }
    check_same_tokenizer(w, w).unwrap();
}
