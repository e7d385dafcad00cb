//! Chinese first, English on request: every label is written as a pair where it is used, so a
//! page reads in one language and no key can go missing.

/// The cookie remembering the reader's language.
pub const LANGUAGE_COOKIE: &str = "voucher_lang";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    #[default]
    Chinese,
    English,
}

impl Language {
    /// From the cookie's value; anything but `en` is Chinese.
    pub fn from_cookie(value: Option<&str>) -> Language {
        match value {
            Some("en") => Language::English,
            _ => Language::Chinese,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Chinese => "zh",
            Language::English => "en",
        }
    }

    /// The HTML `lang` attribute.
    pub fn html_lang(self) -> &'static str {
        match self {
            Language::Chinese => "zh-CN",
            Language::English => "en",
        }
    }

    /// The other language: what the toggle switches to.
    pub fn other(self) -> Language {
        match self {
            Language::Chinese => Language::English,
            Language::English => Language::Chinese,
        }
    }

    /// The label in this language.
    pub fn pick<'a>(self, chinese: &'a str, english: &'a str) -> &'a str {
        match self {
            Language::Chinese => chinese,
            Language::English => english,
        }
    }
}
