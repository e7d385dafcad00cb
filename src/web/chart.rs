//! The overview's chart of redeemed yuan per month, drawn by the server as inline SVG: no
//! script, no library, nothing fetched. Pure: amounts in, markup out.

use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 86.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 14.0;

/// One bar: its label (`2026-11`) and its amount in yuan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub amount: Decimal,
}

/// A bar chart of `bars`, scaled to the largest; `title` is read by screen readers.
pub fn monthly_bars(title: &str, bars: &[Bar]) -> Markup {
    let largest = bars
        .iter()
        .map(|bar| bar.amount)
        .max()
        .unwrap_or(Decimal::ZERO);
    let scale_top = nice_ceiling(largest);
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / bars.len().max(1) as f64;
    html! {
        svg class="chart" role="img" viewBox={"0 0 " (WIDTH) " " (HEIGHT)}
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for step in 0..=4u32 {
                @let value = scale_top * Decimal::from(step) / Decimal::from(4);
                @let y = TOP + plot_height - plot_height * f64::from(step) / 4.0;
                line class="grid" x1=(LEFT) x2=(WIDTH) y1=(y) y2=(y) {}
                text class="axis" x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" { (short_yuan(value)) }
            }
            @for (index, bar) in bars.iter().enumerate() {
                @let height = share(bar.amount, scale_top) * plot_height;
                @let x = LEFT + slot * index as f64 + slot * 0.15;
                rect class="bar" x=(x) y=(TOP + plot_height - height) width=(slot * 0.7) height=(height) {
                    title { (bar.label) ": " (bar.amount) }
                }
                text class="axis" x=(x + slot * 0.35) y=(HEIGHT - 10.0) text-anchor="middle" {
                    (bar.label.get(5..).unwrap_or(&bar.label))
                }
            }
        }
    }
}

/// `part / whole` as a fraction between 0 and 1, for drawing only (never for money).
pub fn share(part: Decimal, whole: Decimal) -> f64 {
    if whole <= Decimal::ZERO {
        return 0.0;
    }
    (part / whole).to_f64().unwrap_or(0.0).clamp(0.0, 1.0)
}

/// A round number at least `value`, so the axis reads 0, 250k, 500k… rather than odd steps.
fn nice_ceiling(value: Decimal) -> Decimal {
    if value <= Decimal::ZERO {
        return Decimal::from(1000);
    }
    let mut step = Decimal::from(1000);
    loop {
        for multiple in [1, 2, 5] {
            let candidate = step * Decimal::from(multiple);
            if candidate >= value {
                return candidate;
            }
        }
        step *= Decimal::from(10);
    }
}

/// `1.2万`-style is ambiguous across languages; the axis uses k and M of yuan.
fn short_yuan(value: Decimal) -> String {
    let thousand = Decimal::from(1000);
    let million = Decimal::from(1_000_000);
    if value >= million {
        format!("{}M", (value / million).normalize())
    } else if value >= thousand {
        format!("{}k", (value / thousand).normalize())
    } else {
        value.normalize().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_tops_at_a_round_number_above_the_largest_bar() {
        assert_eq!(nice_ceiling(Decimal::from(1)), Decimal::from(1000));
        assert_eq!(nice_ceiling(Decimal::from(1001)), Decimal::from(2000));
        assert_eq!(
            nice_ceiling(Decimal::from(2_000_000)),
            Decimal::from(2_000_000)
        );
        assert_eq!(
            nice_ceiling(Decimal::from(2_000_001)),
            Decimal::from(5_000_000)
        );
    }

    #[test]
    fn a_bar_is_drawn_for_every_month_with_its_exact_amount_in_its_title() {
        let bars = vec![
            Bar {
                label: "2026-10".into(),
                amount: Decimal::new(0, 2),
            },
            Bar {
                label: "2026-11".into(),
                amount: Decimal::new(1_500_000, 2),
            },
        ];
        let svg = monthly_bars("redeemed", &bars).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2026-11: 15000.00"), "{svg}");
        assert!(svg.contains(">20k<"), "the axis tops at 20k: {svg}");
    }
}
