//! Whisper's text normalisers. The first three tests are openai/whisper's
//! `tests/test_normalizer.py`, every case, with its expected values (MIT licence, Copyright
//! (c) 2022 OpenAI); the others check the basic normaliser against values worked out by hand
//! from `whisper/normalizers/basic.py`.

use whisper_clsr::eval::{
    BasicTextNormalizer, EnglishNumberNormalizer, EnglishSpellingNormalizer, EnglishTextNormalizer,
};

/// `test_number_normalizer`, which upstream runs on both the number normaliser alone and the
/// whole English normaliser.
fn check_number_normalizer(std: impl Fn(&str) -> String) {
    let cases = [
        ("two", "2"),
        ("thirty one", "31"),
        ("five twenty four", "524"),
        ("nineteen ninety nine", "1999"),
        ("twenty nineteen", "2019"),
        ("two point five million", "2500000"),
        ("four point two billions", "4200000000s"),
        ("200 thousand", "200000"),
        ("200 thousand dollars", "$200000"),
        ("$20 million", "$20000000"),
        ("€52.4 million", "€52400000"),
        ("£77 thousands", "£77000s"),
        ("two double o eight", "2008"),
        ("three thousand twenty nine", "3029"),
        ("forty three thousand two hundred sixty", "43260"),
        ("forty three thousand two hundred and sixty", "43260"),
        ("nineteen fifties", "1950s"),
        ("thirty first", "31st"),
        (
            "thirty three thousand and three hundred and thirty third",
            "33333rd",
        ),
        ("three billion", "3000000000"),
        ("millions", "1000000s"),
        ("july third twenty twenty", "july 3rd 2020"),
        ("august twenty sixth twenty twenty one", "august 26th 2021"),
        ("3 14", "3 14"),
        ("3.14", "3.14"),
        ("3 point 2", "3.2"),
        ("3 point 14", "3.14"),
        ("fourteen point 4", "14.4"),
        ("two point two five dollars", "$2.25"),
        ("two hundred million dollars", "$200000000"),
        ("$20.1 million", "$20100000"),
        ("ninety percent", "90%"),
        ("seventy six per cent", "76%"),
        ("double oh seven", "007"),
        ("double zero seven", "007"),
        ("nine one one", "911"),
        ("nine double one", "911"),
        ("one triple oh one", "10001"),
        ("two thousandth", "2000th"),
        ("thirty two thousandth", "32000th"),
        ("minus 500", "-500"),
        ("positive twenty thousand", "+20000"),
        ("two dollars and seventy cents", "$2.70"),
        ("3 cents", "¢3"),
        ("$0.36", "¢36"),
        ("three euros and sixty five cents", "€3.65"),
        ("three and a half million", "3500000"),
        ("forty eight and a half dollars", "$48.5"),
        ("b747", "b 747"),
        ("10 th", "10th"),
        ("10th", "10th"),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(input, expected)| {
            let got = std(input);
            (got != *expected).then(|| format!("{input:?}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn number_normalizer() {
    let std = EnglishNumberNormalizer::new();
    check_number_normalizer(|s| std.normalize(s));
}

#[test]
fn number_normalizer_within_text_normalizer() {
    let std = EnglishTextNormalizer::new();
    check_number_normalizer(|s| std.normalize(s));
}

#[test]
fn spelling_normalizer() {
    let std = EnglishSpellingNormalizer::new();
    assert_eq!(std.normalize("mobilisation"), "mobilization");
    assert_eq!(std.normalize("cancelation"), "cancellation");
}

#[test]
fn text_normalizer() {
    let std = EnglishTextNormalizer::new();
    assert_eq!(std.normalize("Let's"), "let us");
    assert_eq!(std.normalize("he's like"), "he is like");
    assert_eq!(std.normalize("she's been like"), "she has been like");
    assert_eq!(std.normalize("10km"), "10 km");
    assert_eq!(std.normalize("10mm"), "10 mm");
    assert_eq!(std.normalize("RC232"), "rc 232");
    assert_eq!(
        std.normalize("Mr. Park visited Assoc. Prof. Kim Jr."),
        "mister park visited associate professor kim junior"
    );
}

// The basic normaliser has no upstream test; these values follow basic.py step by step.

#[test]
fn basic_normalizer_drops_brackets_and_symbols_keeps_diacritics() {
    let std = BasicTextNormalizer::new(false, false);
    // lowercase; "[music]" and "(laughs)" removed; "," and "!" become spaces; runs of
    // whitespace collapse to one space, ends included (upstream does not trim).
    assert_eq!(
        std.normalize("[Music] Ça va, (laughs) très bien!"),
        " ça va très bien "
    );
}

#[test]
fn basic_normalizer_can_remove_diacritics() {
    let std = BasicTextNormalizer::new(true, false);
    // NFKD splits é into e + U+0301 (dropped); æ and ß are spelled out; "-" becomes a space.
    assert_eq!(std.normalize("Æsir-straße café"), "aesir strasse cafe");
}

#[test]
fn basic_normalizer_can_split_letters() {
    let std = BasicTextNormalizer::new(false, true);
    // Each grapheme cluster stands alone. Thai vowel and tone marks are category Mn, which
    // the basic normaliser turns into spaces before splitting: "กี่" keeps only its consonant.
    assert_eq!(std.normalize("กี่คน"), "ก ค น");
    assert_eq!(std.normalize("你好，世界"), "你 好 世 界");
}
