//! The stylesheet is one hand-written file that several changes append to; a lost brace silently
//! unstyles everything after it (browsers read the rest as part of the unclosed block), so it is
//! checked here.

#[test]
fn every_block_of_the_stylesheet_is_closed_and_no_merge_marker_is_left() {
    let css = include_str!("../style/main.css");
    let mut depth = 0i32;
    for (n, line) in css.lines().enumerate() {
        let at = n + 1;
        assert!(!["<<<<<<<", "=======", ">>>>>>>"].iter().any(|m| line.starts_with(m)), "line {at}: a merge marker");
        // Rules inside `@media` are indented, so an unindented rule starts at the top level.
        let unindented_rule = !line.starts_with(char::is_whitespace) && line.trim_end().ends_with('{');
        assert!(!(unindented_rule && depth != 0), "line {at}: `{line}` opens inside a block that was never closed");
        for c in line.chars() {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            assert!(depth >= 0, "line {at}: a '}}' closes nothing");
        }
    }
    assert_eq!(depth, 0, "every '{{' is closed");
}
