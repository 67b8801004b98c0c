//! Go duration strings (`time.ParseDuration`): an optional sign, then one or more
//! `<decimal><unit>` pairs with units ns, us, µs, μs, ms, s, m, h; or a bare `0`.

pub(crate) fn is_go_duration(text: &str) -> bool {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    if text == "0" {
        return true;
    }
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[number_len..];
        let Some(unit) = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|unit| rest.starts_with(unit))
            .max_by_key(|unit| unit.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::is_go_duration;

    #[test]
    fn go_durations_are_recognised() {
        for valid in [
            "0",
            "30s",
            "1h30m",
            "1.5h",
            "-2m",
            "300ms",
            "10µs",
            "1h2m3s4ms",
        ] {
            assert!(is_go_duration(valid), "{valid}");
        }
        for invalid in ["", "30", "1d", "h", "1.2.3s", "30 s", "abc", "."] {
            assert!(!is_go_duration(invalid), "{invalid}");
        }
    }
}
