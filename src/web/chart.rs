//! The overview's chart of redeemed yuan per invoice month, drawn by the server as inline SVG:
//! no script, no library, nothing fetched. Pure: amounts in, markup out. The axis reads in
//! 万元 (or thousands of yuan in English), each bar's label has its year.

use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::i18n::Language;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 86.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 14.0;

/// One bar: its label (`2026-11`, drawn as `2026年11月` or `Nov 2026`) and its amount in yuan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub amount: Decimal,
}

/// A bar chart of `bars`, scaled to the largest; `title` is read by screen readers.
pub fn monthly_bars(language: Language, title: &str, bars: &[Bar]) -> Markup {
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
                text class="axis" x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" { (axis_amount(language, value)) }
            }
            @for (index, bar) in bars.iter().enumerate() {
                @let height = share(bar.amount, scale_top) * plot_height;
                @let x = LEFT + slot * index as f64 + slot * 0.15;
                rect class="bar" x=(x) y=(TOP + plot_height - height) width=(slot * 0.7) height=(height) {
                    title { (month_label(language, &bar.label)) ": " (bar.amount) }
                }
                text class="axis" x=(x + slot * 0.35) y=(HEIGHT - 10.0) text-anchor="middle" {
                    (month_label(language, &bar.label))
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

/// An axis value: in 万元 for a Chinese reader (`50万`), in thousands of yuan for an English
/// one (`500k`); the chart's heading names the unit.
fn axis_amount(language: Language, value: Decimal) -> String {
    match language {
        Language::Chinese => {
            let wan = value / Decimal::from(10_000);
            if wan.is_zero() {
                "0".to_owned()
            } else {
                format!("{}万", wan.normalize())
            }
        }
        Language::English => {
            let thousand = Decimal::from(1000);
            if value >= thousand {
                format!("{}k", (value / thousand).normalize())
            } else {
                value.normalize().to_string()
            }
        }
    }
}

/// `2026-11` as `2026年11月` or `Nov 2026`; any other label as it is.
fn month_label(language: Language, label: &str) -> String {
    let Some((year, month)) = label.split_once('-') else {
        return label.to_owned();
    };
    let Ok(month_number) = month.parse::<usize>() else {
        return label.to_owned();
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match (language, MONTHS.get(month_number.wrapping_sub(1))) {
        (Language::Chinese, _) => format!("{year}年{month_number}月"),
        (Language::English, Some(name)) => format!("{name} {year}"),
        (Language::English, None) => label.to_owned(),
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
    fn the_chinese_axis_reads_in_wan_yuan() {
        assert_eq!(axis_amount(Language::Chinese, Decimal::from(0)), "0");
        assert_eq!(axis_amount(Language::Chinese, Decimal::from(5000)), "0.5万");
        assert_eq!(
            axis_amount(Language::Chinese, Decimal::from(2_000_000)),
            "200万"
        );
        assert_eq!(month_label(Language::Chinese, "2027-01"), "2027年1月");
        assert_eq!(month_label(Language::English, "2027-13"), "2027-13");
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
        let svg = monthly_bars(Language::Chinese, "redeemed", &bars).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2026年11月: 15000.00"), "{svg}");
        assert!(
            svg.contains(">2万<"),
            "the axis tops at 2万 (20,000): {svg}"
        );
        assert!(
            svg.contains(">2026年10月<"),
            "each month has its year: {svg}"
        );
        let english = monthly_bars(Language::English, "redeemed", &bars).into_string();
        assert!(english.contains(">20k<"), "{english}");
        assert!(english.contains(">Nov 2026<"), "{english}");
    }
}
