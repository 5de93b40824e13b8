//! Renames the snake_case keys of the runtime's JSON (the CLI's format) to the camelCase the
//! JavaScript API uses (`gate_stats` → `gateStats`, `encoder_ms` → `encoderMs`), so the two
//! stay the same fields without a second copy of every struct.

use serde_json::Value;

/// `encoder_ms` → `encoderMs`; keys without underscores are unchanged.
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every object key in `value`, recursively.
pub fn camel_case_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (camel_case(&k), camel_case_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_case_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_keys_not_values() {
        assert_eq!(camel_case("encoder_ms"), "encoderMs");
        assert_eq!(camel_case("tokens_per_s"), "tokensPerS");
        assert_eq!(camel_case("rtf"), "rtf");
        assert_eq!(camel_case("_private"), "private");
        let v = json!({"gate_stats": {"encoder": [0.5, null]}, "text": "a_b", "list": [{"load_ms": 1}]});
        assert_eq!(
            camel_case_keys(v),
            json!({"gateStats": {"encoder": [0.5, null]}, "text": "a_b", "list": [{"loadMs": 1}]})
        );
    }
}
