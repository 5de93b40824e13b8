//! Whisper's `EnglishNumberNormalizer`: spelled-out English numbers become arabic numerals.
//!
//! A line-by-line port of `whisper/normalizers/english.py` from openai/whisper (MIT licence,
//! Copyright (c) 2022 OpenAI). It
//! - keeps suffixes such as `1960s`, `274th`, `32nd`;
//! - writes currency words as symbols before the number (`twenty dollars` → `$20`);
//! - reads successive single digits as a nominal number (`one oh one` → `101`);
//! - writes `one`/`ones` instead of `1`/`1s` for readability.
//!
//! Python's integers are unbounded, so numbers here are [`BigUint`]s; the running value is,
//! as upstream, either an integer or a string of digits and dots, and the two behave
//! differently (Python's `isinstance(value, str)` branches).

use std::collections::{HashMap, HashSet};

use num_bigint::BigUint;
use num_traits::Zero;
use regex::{Captures, Regex};

use super::digits::parse_decimal_times_power_of_ten;

/// The number being built from the words seen so far.
#[derive(Clone, Debug)]
enum Value {
    Int(BigUint),
    /// Digits with dots that are not (yet) an integer: `007`, `3.14`, `2.`.
    Text(String),
}

impl Value {
    fn int(n: u64) -> Value {
        Value::Int(BigUint::from(n))
    }

    fn render(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Text(s) => s.clone(),
        }
    }
}

/// Python's `value % modulus == 0`.
fn divisible_by(n: &BigUint, modulus: u32) -> bool {
    (n % modulus).is_zero()
}

/// Python's `str(value or "")`: nothing, the integer 0 and the empty string are all falsy.
fn render_or_empty(value: &Option<Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::Int(n)) if n.is_zero() => String::new(),
        Some(v) => v.render(),
    }
}

/// Python's `Fraction(value) * 10**exponent`, when that is an integer.
fn times_power_of_ten(value: &Value, exponent: u32) -> Option<BigUint> {
    match value {
        Value::Int(n) => Some(n * BigUint::from(10u32).pow(exponent)),
        Value::Text(s) => parse_decimal_times_power_of_ten(s, exponent),
    }
}

/// Python's `value // 1000 * 1000 + value % 1000 * 10**exponent`: a multiplier applies to
/// the last group of three digits (`two thousand three hundred` → 2000 + 3·100).
fn apply_multiplier(n: &BigUint, exponent: u32) -> BigUint {
    let thousand = BigUint::from(1000u32);
    let before = n / &thousand * &thousand;
    let residual = n % &thousand;
    before + residual * BigUint::from(10u32).pow(exponent)
}

/// The suffix after a number word: `sixes` → (6, "s"), `third` → (3, "rd").
type Suffixed = (u32, &'static str);

pub struct EnglishNumberNormalizer {
    zeros: HashSet<&'static str>,
    ones: HashMap<&'static str, u32>,
    ones_suffixed: HashMap<String, Suffixed>,
    tens: HashMap<&'static str, u32>,
    tens_suffixed: HashMap<String, Suffixed>,
    /// Powers of ten by name: `hundred` → 2.
    multipliers: HashMap<&'static str, u32>,
    multipliers_suffixed: HashMap<String, Suffixed>,
    decimals: HashSet<&'static str>,
    preceding_prefixers: HashMap<&'static str, char>,
    following_prefixers: HashMap<&'static str, char>,
    prefixes: HashSet<char>,
    specials: HashSet<&'static str>,
    words: HashSet<String>,
    numeric: Regex,
    and_a_half: Regex,
    letter_digit: Regex,
    digit_letter: Regex,
    spaced_suffix: Regex,
    currency_and_cents: Regex,
    zero_currency_cents: Regex,
    lone_one: Regex,
}

const ONES: [&str; 19] = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const TENS: [(&str, u32); 8] = [
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];

const MULTIPLIERS: [(&str, u32); 12] = [
    ("hundred", 2),
    ("thousand", 3),
    ("million", 6),
    ("billion", 9),
    ("trillion", 12),
    ("quadrillion", 15),
    ("quintillion", 18),
    ("sextillion", 21),
    ("septillion", 24),
    ("octillion", 27),
    ("nonillion", 30),
    ("decillion", 33),
];

/// `per cent` and `percent` become `%` after a number.
const PERCENT_WORDS: [&str; 2] = ["per", "percent"];

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant pattern compiles")
}

impl Default for EnglishNumberNormalizer {
    fn default() -> Self {
        Self::new()
    }
}

impl EnglishNumberNormalizer {
    pub fn new() -> Self {
        let zeros: HashSet<&str> = ["o", "oh", "zero"].into();
        let ones: HashMap<&str, u32> = ONES.iter().zip(1..).map(|(n, v)| (*n, v)).collect();
        let mut ones_suffixed: HashMap<String, Suffixed> = ones
            .iter()
            .map(|(name, &value)| {
                let plural = if *name == "six" {
                    "sixes".to_string()
                } else {
                    format!("{name}s")
                };
                (plural, (value, "s"))
            })
            .collect();
        let irregular_ordinals = [
            ("zeroth", 0, "th"),
            ("first", 1, "st"),
            ("second", 2, "nd"),
            ("third", 3, "rd"),
            ("fifth", 5, "th"),
            ("twelfth", 12, "th"),
        ];
        for (name, value, suffix) in irregular_ordinals {
            ones_suffixed.insert(name.to_string(), (value, suffix));
        }
        for (name, &value) in &ones {
            if value > 3 && value != 5 && value != 12 {
                // Upstream's rule: "eight" + "h", "nine" + "th" (so "nineth", not "ninth").
                let ending = if name.ends_with('t') { "h" } else { "th" };
                ones_suffixed.insert(format!("{name}{ending}"), (value, "th"));
            }
        }

        let tens: HashMap<&str, u32> = TENS.into_iter().collect();
        let mut tens_suffixed: HashMap<String, Suffixed> = HashMap::new();
        for (name, &value) in &tens {
            tens_suffixed.insert(name.replace('y', "ies"), (value, "s"));
            tens_suffixed.insert(name.replace('y', "ieth"), (value, "th"));
        }

        let multipliers: HashMap<&str, u32> = MULTIPLIERS.into_iter().collect();
        let mut multipliers_suffixed: HashMap<String, Suffixed> = HashMap::new();
        for (name, &exponent) in &multipliers {
            multipliers_suffixed.insert(format!("{name}s"), (exponent, "s"));
            multipliers_suffixed.insert(format!("{name}th"), (exponent, "th"));
        }

        let decimals: HashSet<&str> = ones
            .keys()
            .chain(tens.keys())
            .chain(zeros.iter())
            .copied()
            .collect();
        let preceding_prefixers: HashMap<&str, char> = [
            ("minus", '-'),
            ("negative", '-'),
            ("plus", '+'),
            ("positive", '+'),
        ]
        .into();
        let following_prefixers: HashMap<&str, char> = [
            ("pound", '£'),
            ("pounds", '£'),
            ("euro", '€'),
            ("euros", '€'),
            ("dollar", '$'),
            ("dollars", '$'),
            ("cent", '¢'),
            ("cents", '¢'),
        ]
        .into();
        let prefixes = preceding_prefixers
            .values()
            .chain(following_prefixers.values())
            .copied()
            .collect();
        let specials: HashSet<&str> = ["and", "double", "triple", "point"].into();

        let mut words: HashSet<String> = HashSet::new();
        words.extend(zeros.iter().map(|w| w.to_string()));
        words.extend(ones.keys().map(|w| w.to_string()));
        words.extend(ones_suffixed.keys().cloned());
        words.extend(tens.keys().map(|w| w.to_string()));
        words.extend(tens_suffixed.keys().cloned());
        words.extend(multipliers.keys().map(|w| w.to_string()));
        words.extend(multipliers_suffixed.keys().cloned());
        words.extend(preceding_prefixers.keys().map(|w| w.to_string()));
        words.extend(following_prefixers.keys().map(|w| w.to_string()));
        words.extend(PERCENT_WORDS.iter().map(|w| w.to_string()));
        words.extend(specials.iter().map(|w| w.to_string()));

        EnglishNumberNormalizer {
            zeros,
            ones,
            ones_suffixed,
            tens,
            tens_suffixed,
            multipliers,
            multipliers_suffixed,
            decimals,
            preceding_prefixers,
            following_prefixers,
            prefixes,
            specials,
            words,
            numeric: compile(r"^\d+(\.\d+)?$"),
            and_a_half: compile(r"\band\s+a\s+half\b"),
            letter_digit: compile(r"([a-z])([0-9])"),
            digit_letter: compile(r"([0-9])([a-z])"),
            spaced_suffix: compile(r"([0-9])\s+(st|nd|rd|th|s)\b"),
            currency_and_cents: compile(r"([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b"),
            zero_currency_cents: compile(r"[€£$]0.([0-9]{1,2})\b"),
            lone_one: compile(r"\b1(s?)\b"),
        }
    }

    /// Normalises the numbers of one line.
    pub fn normalize(&self, text: &str) -> String {
        let text = self.preprocess(text);
        let words: Vec<&str> = text.split_whitespace().collect();
        let text = self.process_words(&words).join(" ");
        self.postprocess(&text)
    }

    /// `<number> and a half` → `<number> point five`; spaces at digit/letter boundaries.
    fn preprocess(&self, text: &str) -> String {
        let segments: Vec<&str> = self.and_a_half.split(text).collect();
        let mut results: Vec<&str> = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            if segment.trim().is_empty() {
                continue;
            }
            results.push(segment);
            if i != segments.len() - 1 {
                let last_word = segment.split_whitespace().last().unwrap_or_default();
                if self.decimals.contains(last_word) || self.multipliers.contains_key(last_word) {
                    results.push("point five");
                } else {
                    results.push("and a half");
                }
            }
        }
        let text = results.join(" ");
        let text = self.letter_digit.replace_all(&text, "${1} ${2}");
        let text = self.digit_letter.replace_all(&text, "${1} ${2}");
        // ... but keep what could be a suffix: "10 th" → "10th".
        self.spaced_suffix
            .replace_all(&text, "${1}${2}")
            .into_owned()
    }

    /// Currency clean-up (`$2 and ¢7` → `$2.07`, `$0.36` → `¢36`) and `1` → `one`.
    fn postprocess(&self, text: &str) -> String {
        let text = self.currency_and_cents.replace_all(text, |c: &Captures| {
            format!("{}{}.{:0>2}", &c[1], &c[2], &c[3])
        });
        let text = self.zero_currency_cents.replace_all(&text, |c: &Captures| {
            let cents = c[1].trim_start_matches('0');
            format!("¢{}", if cents.is_empty() { "0" } else { cents })
        });
        self.lone_one.replace_all(&text, "one${1}").into_owned()
    }

    fn is_numeric(&self, word: &str) -> bool {
        self.numeric.is_match(word)
    }

    /// The word-level state machine of upstream's `process_words`.
    fn process_words(&self, words: &[&str]) -> Vec<String> {
        let mut state = NumberState::default();
        let mut out: Vec<String> = Vec::new();
        let mut skip = false;

        for (i, &current) in words.iter().enumerate() {
            if skip {
                skip = false;
                continue;
            }
            let prev = i.checked_sub(1).map(|p| words[p]);
            let next = words.get(i + 1).copied();
            let prev_is_ones = prev.is_some_and(|p| self.ones.contains_key(p));
            let prev_is_multiplier = prev.is_some_and(|p| self.multipliers.contains_key(p));
            let next_is_numeric = next.is_some_and(|n| self.is_numeric(n));
            let next_is_word = next.is_some_and(|n| self.words.contains(n));

            let first = current.chars().next().unwrap_or_default();
            let has_prefix = self.prefixes.contains(&first);
            let without_prefix = if has_prefix {
                &current[first.len_utf8()..]
            } else {
                current
            };

            if self.is_numeric(without_prefix) {
                // Arabic numbers, possibly with a sign or currency and decimals.
                if let Some(value) = &state.value {
                    if let Value::Text(text) = value {
                        if text.ends_with('.') {
                            // Decimals or the parts of an IP address.
                            state.value = Some(Value::Text(format!("{text}{current}")));
                            continue;
                        }
                    }
                    let rendered = value.render();
                    out.push(state.output(rendered));
                }
                if has_prefix {
                    state.prefix = Some(first);
                }
                state.value = Some(match parse_decimal_times_power_of_ten(without_prefix, 0) {
                    Some(n) => Value::Int(n),
                    None => Value::Text(without_prefix.to_string()),
                });
            } else if !self.words.contains(current) {
                // Not a number word.
                state.flush_into(&mut out);
                out.push(state.output(current.to_string()));
            } else if self.zeros.contains(current) {
                state.value = Some(Value::Text(render_or_empty(&state.value) + "0"));
            } else if let Some(&ones) = self.ones.get(current) {
                state.value = Some(match state.value.take() {
                    None => Value::int(ones.into()),
                    Some(Value::Int(n)) if !prev_is_ones => {
                        let modulus = if ones < 10 { 10 } else { 100 };
                        if divisible_by(&n, modulus) {
                            Value::Int(n + ones)
                        } else {
                            Value::Text(format!("{n}{ones}"))
                        }
                    }
                    Some(value) => Value::Text(self.append_ones(&value, ones, prev)),
                });
            } else if let Some(&(ones, suffix)) = self.ones_suffixed.get(current) {
                // An ordinal or a plural: the number ends here.
                let number = match state.value.take() {
                    None => ones.to_string(),
                    Some(Value::Int(n)) if !prev_is_ones => {
                        let modulus = if ones < 10 { 10 } else { 100 };
                        if divisible_by(&n, modulus) {
                            (n + ones).to_string()
                        } else {
                            format!("{n}{ones}")
                        }
                    }
                    Some(value) => self.append_ones(&value, ones, prev),
                };
                out.push(state.output(format!("{number}{suffix}")));
            } else if let Some(&tens) = self.tens.get(current) {
                state.value = Some(match state.value.take() {
                    None => Value::int(tens.into()),
                    Some(Value::Text(text)) => Value::Text(format!("{text}{tens}")),
                    Some(Value::Int(n)) => {
                        if divisible_by(&n, 100) {
                            Value::Int(n + tens)
                        } else {
                            Value::Text(format!("{n}{tens}"))
                        }
                    }
                });
            } else if let Some(&(tens, suffix)) = self.tens_suffixed.get(current) {
                let number = match state.value.take() {
                    None => tens.to_string(),
                    Some(Value::Text(text)) => format!("{text}{tens}"),
                    Some(Value::Int(n)) => {
                        if divisible_by(&n, 100) {
                            (n + tens).to_string()
                        } else {
                            format!("{n}{tens}")
                        }
                    }
                };
                out.push(state.output(format!("{number}{suffix}")));
            } else if let Some(&exponent) = self.multipliers.get(current) {
                let multiplier = || Value::Int(BigUint::from(10u32).pow(exponent));
                state.value = Some(match state.value.take() {
                    None => multiplier(),
                    Some(Value::Int(n)) if !n.is_zero() => {
                        Value::Int(apply_multiplier(&n, exponent))
                    }
                    Some(value) => match times_power_of_ten(&value, exponent) {
                        Some(product) => Value::Int(product),
                        None => {
                            out.push(state.output(value.render()));
                            multiplier()
                        }
                    },
                });
            } else if let Some(&(exponent, suffix)) = self.multipliers_suffixed.get(current) {
                let multiplier = BigUint::from(10u32).pow(exponent);
                match state.value.take() {
                    None => out.push(state.output(format!("{multiplier}{suffix}"))),
                    Some(Value::Text(text)) => {
                        match parse_decimal_times_power_of_ten(&text, exponent) {
                            Some(product) => out.push(state.output(format!("{product}{suffix}"))),
                            None => {
                                out.push(state.output(text));
                                out.push(state.output(format!("{multiplier}{suffix}")));
                            }
                        }
                    }
                    Some(Value::Int(n)) => {
                        let product = apply_multiplier(&n, exponent);
                        out.push(state.output(format!("{product}{suffix}")));
                    }
                }
            } else if let Some(&sign) = self.preceding_prefixers.get(current) {
                // A sign applies only if a number follows.
                state.flush_into(&mut out);
                if next_is_word || next_is_numeric {
                    state.prefix = Some(sign);
                } else {
                    out.push(state.output(current.to_string()));
                }
            } else if let Some(&currency) = self.following_prefixers.get(current) {
                // A currency applies only after a number.
                match state.value.take() {
                    Some(value) => {
                        state.prefix = Some(currency);
                        out.push(state.output(value.render()));
                    }
                    None => out.push(state.output(current.to_string())),
                }
            } else if PERCENT_WORDS.contains(&current) {
                match state.value.take() {
                    Some(value) if current == "percent" => {
                        out.push(state.output(format!("{}%", value.render())));
                    }
                    Some(value) if next == Some("cent") => {
                        out.push(state.output(format!("{}%", value.render())));
                        skip = true;
                    }
                    Some(value) => {
                        out.push(state.output(value.render()));
                        out.push(state.output(current.to_string()));
                    }
                    None => out.push(state.output(current.to_string())),
                }
            } else if self.specials.contains(current) {
                if !next_is_word && !next_is_numeric {
                    // Only special when the next word can be part of a number.
                    state.flush_into(&mut out);
                    out.push(state.output(current.to_string()));
                } else if current == "and" {
                    // "and" after hundred, thousand, ... is dropped.
                    if !prev_is_multiplier {
                        state.flush_into(&mut out);
                        out.push(state.output(current.to_string()));
                    }
                } else if current == "double" || current == "triple" {
                    let next_digit = next.and_then(|n| {
                        if self.zeros.contains(n) {
                            Some(0)
                        } else {
                            self.ones.get(n).copied()
                        }
                    });
                    match next_digit {
                        Some(digit) => {
                            let repeats = if current == "double" { 2 } else { 3 };
                            let digits = digit.to_string().repeat(repeats);
                            state.value =
                                Some(Value::Text(render_or_empty(&state.value) + &digits));
                            skip = true;
                        }
                        None => {
                            state.flush_into(&mut out);
                            out.push(state.output(current.to_string()));
                        }
                    }
                } else {
                    // "point": starts the decimals if one follows; otherwise dropped, as upstream.
                    let next_is_decimal = next.is_some_and(|n| self.decimals.contains(n));
                    if next_is_decimal || next_is_numeric {
                        state.value = Some(Value::Text(render_or_empty(&state.value) + "."));
                    }
                }
            }
        }
        state.flush_into(&mut out);
        out
    }

    /// A digit word after a string value or after another digit word: appended, or, after
    /// a tens word, written over the tens' zero (`twenty` `one` → `21`).
    fn append_ones(&self, value: &Value, ones: u32, prev: Option<&str>) -> String {
        let text = value.render();
        let after_tens = prev.is_some_and(|p| self.tens.contains_key(p));
        match text.strip_suffix('0') {
            Some(head) if after_tens && ones < 10 => format!("{head}{ones}"),
            _ => format!("{text}{ones}"),
        }
    }
}

/// The sign or currency waiting for a number, and the number being built.
#[derive(Default)]
struct NumberState {
    prefix: Option<char>,
    value: Option<Value>,
}

impl NumberState {
    /// Upstream's `output`: prepends the pending prefix and clears the state.
    fn output(&mut self, result: String) -> String {
        self.value = None;
        match self.prefix.take() {
            Some(prefix) => format!("{prefix}{result}"),
            None => result,
        }
    }

    /// Emits the number being built, if any.
    fn flush_into(&mut self, out: &mut Vec<String>) {
        if let Some(value) = self.value.take() {
            out.push(self.output(value.render()));
        }
    }
}
