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

/// A line chart of weekly values: one polyline per `(name, colour, values)` series over the
/// `labels`; a missing value breaks its line. `title` is its accessible name.
pub fn lines(title: &str, labels: &[String], series: &[(&str, &str, &Vec<Option<i64>>)]) -> Markup {
    let (width, height, left, bottom, top) = (560.0_f64, 220.0_f64, 48.0_f64, 28.0_f64, 14.0_f64);
    let max =
        series.iter().flat_map(|(_, _, v)| v.iter().flatten()).copied().max().unwrap_or(0).max(1) as f64;
    let step = if labels.len() > 1 { (width - left - 12.0) / (labels.len() - 1) as f64 } else { 0.0 };
    let x = |i: usize| left + step * i as f64;
    let y = |v: i64| top + (height - bottom - top) * (1.0 - v as f64 / max);
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(title) {
                title { (title) }
                line x1=(left) y1=(y(0)) x2=(width - 8.0) y2=(y(0)) stroke="#c8ccd2" {}
                text x="4" y=(y(0) + 4.0) font-size="11" fill="#555" { "0" }
                text x="4" y=(top + 4.0) font-size="11" fill="#555" { (max as i64) }
                @for (i, label) in labels.iter().enumerate() {
                    text x=(format!("{:.1}", x(i) - 14.0)) y=(height - 8.0) font-size="11" fill="#555" { (label) }
                }
                @for (name, colour, values) in series {
                    @let points: Vec<String> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect();
                    @if !points.is_empty() && !name.is_empty() {
                        polyline points=(points.join(" ")) fill="none" stroke=(colour) stroke-width="2.5" {}
                        @for (i, v) in values.iter().enumerate() {
                            @if let Some(v) = v { circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(*v))) r="3" fill=(colour) {} }
                        }
                    }
                }
            }
            figcaption {
                @for (name, colour, _) in series {
                    @if !name.is_empty() { span.legend { svg width="12" height="12" { rect width="12" height="12" fill=(colour) {} } " " (name) " " } }
                }
            }
        }
    }
}
