//! A posted form whose fields may repeat (the providers ticked in a list of checkboxes), which
//! axum's `Form` cannot read into a list: the body's `name=value` pairs, in order.

use axum::body::Bytes;

use crate::domain::typed;

/// The fields of an `application/x-www-form-urlencoded` body.
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    pub fn parse(body: &Bytes) -> Fields {
        Fields {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`, or empty when the form lacks it.
    pub fn one(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Every value of `name` that is not blank, trimmed, in the form's order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }
}

/// An id or credit code as typed (full-width, any case, spaces): as the strict parser reads it.
pub fn code(text: &str) -> String {
    typed::id_as_typed(text)
}

/// A day as typed (`2026/11/30`, `2026年11月30日`, full-width) as `YYYY-MM-DD`; what does not
/// read as a day is passed on normalised, for the strict parser to refuse in the field's name.
pub fn day(text: &str) -> String {
    typed::date_as_typed(text).map_or_else(
        |_| typed::normalise(text),
        |date| date.format("%Y-%m-%d").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_all_kept_and_a_missing_one_is_empty() {
        let fields = Fields::parse(&Bytes::from_static(
            b"csrf=abc&provider=A&provider=+&provider=B%20&purpose=%E8%AE%AD%E7%BB%83",
        ));
        assert_eq!(fields.one("csrf"), "abc");
        assert_eq!(fields.all("provider"), vec!["A", "B"]);
        assert_eq!(fields.one("purpose"), "训练");
        assert_eq!(fields.one("reason"), "");
    }
}
