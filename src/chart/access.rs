//! What a chart offers besides its picture: a cursor the keyboard moves over its points (its readout
//! says what the pointer would), and its series as tables short enough to read.

use super::format_value;

/// A table never holds more rows than this (plus the last row, kept whatever the stride).
pub const MAX_ROWS: usize = 50;

/// Where `key` (a `KeyboardEvent.key`) moves a cursor over `len` points that is at `at` (`None`: not
/// shown yet, so Right and Home go to the first point, Left and End to the last): Left and Right one
/// point, Page Up and Page Down a tenth of them, Home and End to the ends. `None` for any other key, or
/// when there are no points.
pub fn cursor_step(key: &str, at: Option<usize>, len: usize) -> Option<usize> {
    let last = len.checked_sub(1)?;
    let page = (len / 10).max(1);
    let next = match (key, at) {
        ("Home", _) | ("ArrowRight" | "PageDown", None) => 0,
        ("End", _) | ("ArrowLeft" | "PageUp", None) => last,
        ("ArrowRight", Some(i)) => i + 1,
        ("ArrowLeft", Some(i)) => i.saturating_sub(1),
        ("PageDown", Some(i)) => i + page,
        ("PageUp", Some(i)) => i.saturating_sub(page),
        _ => return None,
    };
    Some(next.min(last))
}

/// Where `key` moves a cursor over the cells of an `n` × `n` grid at (`row`, `col`): the arrows one cell,
/// Home and End to the row's first and last cell; a cursor not shown yet starts at the first cell.
pub fn grid_step(key: &str, at: Option<(usize, usize)>, n: usize) -> Option<(usize, usize)> {
    let last = n.checked_sub(1)?;
    let moves = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End"];
    let Some((row, col)) = at else { return moves.contains(&key).then_some((0, 0)) };
    let (row, col) = (row.min(last), col.min(last));
    Some(match key {
        "ArrowUp" => (row.saturating_sub(1), col),
        "ArrowDown" => ((row + 1).min(last), col),
        "ArrowLeft" => (row, col.saturating_sub(1)),
        "ArrowRight" => (row, (col + 1).min(last)),
        "Home" => (row, 0),
        "End" => (row, last),
        _ => return None,
    })
}

/// Which of `len` rows a table keeps: all of them up to [`MAX_ROWS`], else every `stride`-th and the
/// last. Returns the stride and the kept rows' indices.
pub fn thinned(len: usize) -> (usize, Vec<usize>) {
    let stride = len.div_ceil(MAX_ROWS).max(1);
    let mut kept: Vec<usize> = (0..len).step_by(stride).collect();
    if let Some(last) = len.checked_sub(1).filter(|l| kept.last() != Some(l)) {
        kept.push(last);
    }
    (stride, kept)
}

/// One chart's data as a table: a caption, the column headers (the first names the rows' headers) and
/// the rows, at most [`MAX_ROWS`] and the last.
#[derive(Clone, Debug, PartialEq)]
pub struct DataTable {
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<String>)>,
}

/// What a table shows where a series has no value at a row.
pub const NO_VALUE: &str = "—";

impl DataTable {
    /// The table `title` of `rows` (header and cells) under `columns`, thinned; its caption says how.
    pub fn new(title: &str, columns: Vec<String>, rows: Vec<(String, Vec<String>)>) -> Self {
        let total = rows.len();
        let (stride, kept) = thinned(total);
        let caption = match total {
            0 => format!("{title}: nothing recorded yet"),
            _ if stride == 1 => format!("{title}: all {total} rows"),
            _ => format!("{title}: one row in every {stride} of {total}, and the last"),
        };
        let mut rows: Vec<Option<(String, Vec<String>)>> = rows.into_iter().map(Some).collect();
        let rows = kept.into_iter().filter_map(|i| rows[i].take()).collect();
        Self { caption, columns, rows }
    }

    /// The table `title` of named series of (x, value) points, one row per x any of them has (in
    /// order), the x column headed `x_name`.
    pub fn of_series(title: &str, x_name: &str, series: &[(&str, &[(f64, f64)])]) -> Self {
        let mut xs: Vec<f64> = series.iter().flat_map(|(_, points)| points.iter().map(|p| p.0)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let (_, kept) = thinned(xs.len());
        let mut rows: Vec<(String, Vec<String>)> = xs.iter().map(|&x| (format!("{x:.0}"), Vec::new())).collect();
        for i in kept {
            let x = xs[i];
            rows[i].1 = series
                .iter()
                .map(|(_, points)| points.iter().find(|p| p.0 == x).map_or(NO_VALUE.to_string(), |p| format_value(p.1)))
                .collect();
        }
        let columns =
            std::iter::once(x_name.to_string()).chain(series.iter().map(|(name, _)| name.to_string())).collect();
        Self::new(title, columns, rows)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_moves_by_point_page_and_end() {
        assert_eq!(cursor_step("ArrowRight", None, 5), Some(0));
        assert_eq!(cursor_step("ArrowLeft", None, 5), Some(4));
        assert_eq!(cursor_step("ArrowRight", Some(1), 5), Some(2));
        assert_eq!(cursor_step("ArrowRight", Some(4), 5), Some(4), "it stops at the last point");
        assert_eq!(cursor_step("ArrowLeft", Some(0), 5), Some(0));
        assert_eq!(cursor_step("End", Some(1), 5), Some(4));
        assert_eq!(cursor_step("Home", Some(3), 5), Some(0));
        assert_eq!(cursor_step("PageDown", Some(3), 100), Some(13));
        assert_eq!(cursor_step("PageUp", Some(3), 100), Some(0));
        assert_eq!(cursor_step("Enter", Some(3), 5), None, "other keys are left to the page");
        assert_eq!(cursor_step("Home", None, 0), None);
        assert_eq!(cursor_step("ArrowLeft", Some(9), 5), Some(4), "a cursor past a shrunk series comes back");
    }

    #[test]
    fn the_grid_cursor_moves_over_cells() {
        assert_eq!(grid_step("ArrowDown", None, 4), Some((0, 0)));
        assert_eq!(grid_step("ArrowDown", Some((0, 2)), 4), Some((1, 2)));
        assert_eq!(grid_step("ArrowUp", Some((0, 2)), 4), Some((0, 2)));
        assert_eq!(grid_step("ArrowRight", Some((1, 3)), 4), Some((1, 3)));
        assert_eq!(grid_step("ArrowLeft", Some((1, 3)), 4), Some((1, 2)));
        assert_eq!(grid_step("End", Some((2, 0)), 4), Some((2, 3)));
        assert_eq!(grid_step("Home", Some((2, 3)), 4), Some((2, 0)));
        assert_eq!(grid_step("Tab", Some((2, 3)), 4), None);
        assert_eq!(grid_step("Tab", None, 4), None);
        assert_eq!(grid_step("ArrowUp", None, 0), None);
    }

    #[test]
    fn long_tables_keep_every_kth_row_and_the_last() {
        assert_eq!(thinned(3), (1, vec![0, 1, 2]));
        assert_eq!(thinned(0), (1, vec![]));
        let (stride, kept) = thinned(1001);
        assert_eq!(stride, 21);
        assert_eq!((kept[1], kept.last().copied()), (21, Some(1000)));
        assert!(kept.len() <= MAX_ROWS + 1, "{}", kept.len());
        assert_eq!(thinned(101).1.last(), Some(&100), "the last row is not repeated");
    }

    #[test]
    fn series_share_rows_by_step_and_the_caption_says_what_was_left_out() {
        let train: Vec<(f64, f64)> = (1..=120).map(|s| (s as f64, 3.0)).collect();
        let val = [(60.0, 2.5), (120.0, f64::NAN)];
        let t = DataTable::of_series("Loss", "step", &[("train", &train), ("val", &val)]);
        assert_eq!(t.columns, ["step", "train", "val"]);
        assert_eq!(t.caption, "Loss: one row in every 3 of 120, and the last");
        assert_eq!(t.rows[0], ("1".to_string(), vec!["3.000".to_string(), NO_VALUE.to_string()]));
        assert_eq!(t.rows.last().unwrap(), &("120".to_string(), vec!["3.000".to_string(), "NaN".to_string()]));
        assert_eq!(t.rows.len(), 41);
        let short = DataTable::of_series("Loss", "step", &[("val", &val)]);
        assert_eq!((short.caption.as_str(), short.rows.len()), ("Loss: all 2 rows", 2));
        assert_eq!(DataTable::of_series("Loss", "step", &[]).caption, "Loss: nothing recorded yet");
    }
}
