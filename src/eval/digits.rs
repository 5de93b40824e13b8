//! Decimal numbers written as text, read the way Python's `int()` and `Fraction()` read them
//! (Whisper's number normaliser relies on both).

use num_bigint::BigUint;
use num_traits::Zero;
use unicode_general_category::{get_general_category, GeneralCategory};

/// The value of a decimal digit: ASCII `0`–`9` or any other Unicode `Nd` character
/// (Python's `\d` and `int()` accept `٣` as 3).
pub fn unicode_decimal_value(c: char) -> Option<u32> {
    if let Some(d) = c.to_digit(10) {
        return Some(d);
    }
    if get_general_category(c) != GeneralCategory::DecimalNumber {
        return None;
    }
    // Unicode encodes decimal digits in contiguous runs of 0..=9 (a stability policy), some
    // runs back to back (the mathematical digits), so the value is the offset from the
    // start of the run, modulo 10.
    let mut start = c as u32;
    while let Some(before) = start.checked_sub(1).and_then(char::from_u32) {
        if get_general_category(before) != GeneralCategory::DecimalNumber {
            break;
        }
        start -= 1;
    }
    Some((c as u32 - start) % 10)
}

/// `Fraction(text) * 10**exponent` when `text` is a decimal (`12`, `3.14`, `2.`, `.5`) and the
/// product is an integer; `None` for anything else (`.`, `1.2.3`, `3.$5`, or `3.14` with
/// exponent 1).
pub fn parse_decimal_times_power_of_ten(text: &str, exponent: u32) -> Option<BigUint> {
    let (integer_part, fraction_part) = match text.split_once('.') {
        Some((integer, fraction)) => (integer, fraction),
        None => (text, ""),
    };
    // Fraction's grammar wants a digit first, or a dot and then a digit.
    if integer_part.is_empty() && fraction_part.is_empty() {
        return None;
    }
    let mut digits = BigUint::zero();
    for c in integer_part.chars().chain(fraction_part.chars()) {
        digits = digits * 10u32 + unicode_decimal_value(c)?;
    }
    let fraction_digits = fraction_part.chars().count() as u32;
    if exponent >= fraction_digits {
        return Some(digits * BigUint::from(10u32).pow(exponent - fraction_digits));
    }
    let divisor = BigUint::from(10u32).pow(fraction_digits - exponent);
    (&digits % &divisor).is_zero().then(|| digits / divisor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(text: &str, exponent: u32) -> Option<String> {
        parse_decimal_times_power_of_ten(text, exponent).map(|n| n.to_string())
    }

    #[test]
    fn decimals_times_powers_of_ten() {
        assert_eq!(product("12", 0).as_deref(), Some("12"));
        assert_eq!(product("007", 0).as_deref(), Some("7"));
        assert_eq!(product("3.0", 0).as_deref(), Some("3"));
        assert_eq!(product("3.14", 0), None);
        assert_eq!(product("2.5", 6).as_deref(), Some("2500000"));
        assert_eq!(product("2.50", 1).as_deref(), Some("25"));
        assert_eq!(product("2.55", 1), None);
        assert_eq!(product("2.", 3).as_deref(), Some("2000"));
        assert_eq!(product(".5", 1).as_deref(), Some("5"));
        assert_eq!(product(".", 3), None);
        assert_eq!(product("", 3), None);
        assert_eq!(product("1.2.3", 3), None);
        assert_eq!(product("3.$5", 3), None);
        assert_eq!(
            product("123456789012345678901234567890", 33).map(|s| s.len()),
            Some(63)
        );
    }

    #[test]
    fn unicode_digits_have_their_values() {
        assert_eq!(unicode_decimal_value('7'), Some(7));
        assert_eq!(unicode_decimal_value('٣'), Some(3)); // ARABIC-INDIC DIGIT THREE
        assert_eq!(unicode_decimal_value('९'), Some(9)); // DEVANAGARI DIGIT NINE
        assert_eq!(unicode_decimal_value('𝟘'), Some(0)); // MATHEMATICAL DOUBLE-STRUCK ZERO
        assert_eq!(unicode_decimal_value('𝟡'), Some(9)); // ... DOUBLE-STRUCK NINE
        assert_eq!(unicode_decimal_value('𝟢'), Some(0)); // ... SANS-SERIF ZERO, next run
        assert_eq!(unicode_decimal_value('a'), None);
        assert_eq!(unicode_decimal_value('½'), None);
    }
}
