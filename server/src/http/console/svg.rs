//! Charts drawn on the server as SVG (docs/console.md): no script, no outside asset. Text goes
//! through maud, so a title or a rep's name can never become markup.

use maud::{Markup, html};

/// A horizontal bar chart: one bar per `(label, value, shown)`, scaled to the largest value,
/// with `title` as its accessible name.
pub fn bars(title: &str, rows: &[(String, i64, String)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let row_h = 28;
    let label_w = 110;
    let bar_w = 220;
    let height = row_h * rows.len().max(1) as i64 + 8;
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (label_w + bar_w + 130) " " (height) }
                role="img" aria-label=(title) {
                title { (title) }
                @for (i, (label, value, shown)) in rows.iter().enumerate() {
                    @let y = 4 + row_h * i as i64;
                    @let w = (value.max(&0) * bar_w / max).max(if *value > 0 { 2 } else { 0 });
                    text x="0" y=(y + 18) font-size="13" fill="#333" { (label) }
                    rect x=(label_w) y=(y + 4) width=(w) height="18" rx="3" fill="#2f6fde" {}
                    text x=(label_w + w + 6) y=(y + 18) font-size="12" fill="#555" { (shown) }
                }
            }
            figcaption { (title) }
        }
    }
}
