//! The random models of the released sizes (examples/bench_random.rs, the browser benchmark)
//! get a tokenizer with the special tokens where OpenAI's vocabularies have them.

use whisper_clsr::decode::{Task, WhisperTokenizer};
use whisper_clsr_test_kit::random_model::multilingual_tokenizer_json;

#[test]
fn the_random_tokenizer_has_the_real_special_token_ids() {
    // (vocabulary, languages, <|notimestamps|>): v2 sizes, then large-v3 with Cantonese.
    for (vocab, languages, no_timestamps) in [(51865, 99, 50363), (51866, 100, 50364)] {
        let json = multilingual_tokenizer_json(vocab).unwrap();
        let tok = WhisperTokenizer::from_bytes(&json)
            .unwrap()
            .for_vocab_size(vocab);
        assert_eq!((tok.eot, tok.sot), (50257, 50258), "{vocab}");
        assert_eq!(tok.languages.len(), languages, "{vocab}");
        assert_eq!(tok.language_token("en"), Some(50259));
        assert_eq!(tok.no_timestamps, no_timestamps);
        assert_eq!(tok.timestamp_begin, no_timestamps + 1);
        assert_eq!(tok.no_speech, Some(no_timestamps - 1));
        assert_eq!(tok.sot_prev, Some(no_timestamps - 2));
        assert_eq!(
            (tok.translate, tok.transcribe),
            (Some(no_timestamps - 5), Some(no_timestamps - 4))
        );
        // The vocabulary ends with the last timestamp, <|30.00|>.
        assert_eq!(tok.timestamp_begin as usize + 1501, vocab);
        assert_eq!(
            tok.prompt(Some("en"), Task::Transcribe).unwrap(),
            [50258, 50259, no_timestamps - 4, no_timestamps]
        );
        // Text tokens decode to their synthetic words; specials are dropped.
        assert_eq!(tok.decode(&[0, 1, 3, 50257]).unwrap(), "a a b");
    }
    for bad in [40, 51765, 51867] {
        let err = multilingual_tokenizer_json(bad).unwrap_err();
        assert!(err.contains(&bad.to_string()), "{err}");
    }
}
