use super::*;

fn nested(depth: usize) -> String {
    format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth))
}

fn limits(max_flow_depth: usize) -> Limits {
    Limits {
        max_bytes: 1 << 20,
        max_flow_depth,
    }
}

/// The nesting depth of a parsed value (collections count one level each).
fn value_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn deep_flow_nesting_is_refused_with_its_line_and_shallow_nesting_passes() {
    assert_eq!(check(&nested(100), &Limits::DEFAULT), Ok(()));
    assert_eq!(
        check(&format!("a: 1\n{}", nested(16_000)), &Limits::DEFAULT),
        Err(LimitError::TooDeep { max: 256, line: 2 })
    );
    assert_eq!(
        check(&"{a: ".repeat(300), &Limits::DEFAULT),
        Err(LimitError::TooDeep { max: 256, line: 1 })
    );
}

#[test]
fn size_is_checked_first() {
    let error = check(
        &"a".repeat(11),
        &Limits {
            max_bytes: 10,
            max_flow_depth: 5,
        },
    );
    assert_eq!(error, Err(LimitError::TooLarge { len: 11, max: 10 }));
    assert!(error.unwrap_err().to_string().contains("limit of 10 bytes"));
}

#[test]
fn closings_hidden_in_quotes_comments_and_tags_do_not_lower_the_bound() {
    // Each line is real nesting 10 deep, with fake closings the parser does not see.
    for text in [
        "[[[[[ \"]]]]]\", [[[[[ 1 ]]]]] ]]]]]",
        "[[[[[ ']]]]]', [[[[[ 1 ]]]]] ]]]]]",
        "[[[[[ 'it''s ]]]]]', [[[[[ 1 ]]]]] ]]]]]",
        "[[[[[ \"\\\" ]]]]]\", [[[[[ 1 ]]]]] ]]]]]",
        "[[[[[ !t]]]]] x, [[[[[ 1 ]]]]] ]]]]]",
        "[[[[[ # ]]]]]\n [[[[[ 1 ]]]]] ]]]]]",
        "[[[[[ a 'b, [[[[[ 1 ]]]]] c' ]]]]]",
        "[[[[[ \"a\n ]]]]]\", [[[[[ 1 ]]]]] ]]]]]",
    ] {
        assert!(max_flow_depth_bound(text) >= 10, "{text:?}");
        assert!(check(text, &limits(9)).is_err(), "{text:?}");
        if let Ok(value) = serde_yaml_ng::from_str::<serde_json::Value>(text) {
            assert!(
                max_flow_depth_bound(text) >= value_depth(&value),
                "{text:?}"
            );
        }
    }
}

#[test]
fn brackets_in_text_do_not_add_up() {
    let text = "\
description: It's [not] a list, and neither is [this
script: |
  if [ -f /etc/x ]; then echo \"[ok]\"; fi
  echo '{\"a\": [1, {\"b\": 2}]}' # a comment with [[[[
annotations: {json: '{\"a\": [1, [2]]}', re: \"^[a-z]+$\"}
list: [a, [b, c], {d: [e]}]
";
    assert_eq!(
        serde_yaml_ng::from_str::<serde_json::Value>(text)
            .map(|_| ())
            .ok(),
        Some(())
    );
    // Real nesting 3 (`list`), one unclosed `[` in prose, and brackets inside quotes while they
    // are open: a handful, nowhere near the limit, and not growing with the document's length.
    assert!(
        max_flow_depth_bound(text) <= 5,
        "{}",
        max_flow_depth_bound(text)
    );
    // Balanced text does not add up however long it is; each unmatched `[` in prose (here the
    // first line) raises the bound by one, which the limit of 256 leaves room for.
    let balanced = text.replace("[this", "this");
    assert!(max_flow_depth_bound(&balanced.repeat(1000)) <= 5);
    assert_eq!(max_flow_depth_bound(&text.repeat(10)), 14);
}

#[test]
fn the_bound_is_never_below_the_depth_of_json_documents() {
    // JSON is flow YAML: its value depth is its flow depth. Strings carry brackets and quotes.
    let strings = ["]", "}]", "[", "it's", "\\\"]", "a # b ]", "!x]"];
    let mut documents = Vec::new();
    for depth in 1..12 {
        for (i, s) in strings.iter().enumerate() {
            let mut value = serde_json::json!(s);
            for level in 0..depth {
                value = if (level + i) % 2 == 0 {
                    serde_json::json!([s, value, {"k]": s}])
                } else {
                    serde_json::json!({"a": value, "b}": [s]})
                };
            }
            documents.push((serde_json::to_string(&value).unwrap(), depth));
        }
    }
    for (text, _) in &documents {
        let value: serde_json::Value = serde_yaml_ng::from_str(text).expect(text);
        assert!(
            max_flow_depth_bound(text) >= value_depth(&value),
            "{text}: bound {} < {}",
            max_flow_depth_bound(text),
            value_depth(&value)
        );
    }
}
