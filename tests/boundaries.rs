//! The layers of ARCHITECTURE.md, kept by a test: every file under `src/` may name only the
//! modules of ours and the outside crates its row of the table "Who may use whom" allows.
//! A failure names the file, the line and what it named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One row of the table: what a module may use of ours, and which outside crates it may not.
struct Rule {
    allowed: Vec<String>,
    forbidden_crates: Vec<String>,
}

fn architecture() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md")
}

/// The rows of "Who may use whom", by module (`domain`, `bin/voucherctl`, …).
fn rules() -> BTreeMap<String, Rule> {
    let text = architecture();
    let section = text
        .split("### Who may use whom")
        .nth(1)
        .expect("ARCHITECTURE.md has a section \"Who may use whom\"");
    let mut rules = BTreeMap::new();
    for line in section
        .lines()
        .skip_while(|line| !line.starts_with("| module"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if !line.starts_with("| `") || cells.len() < 4 {
            if rules.is_empty() {
                continue;
            }
            break;
        }
        let words = |cell: &str| -> Vec<String> {
            cell.split(',')
                .map(|word| word.split_whitespace().next().unwrap_or("").to_owned())
                .filter(|word| !word.is_empty() && word != "—")
                .collect()
        };
        for module in cells[1].split(',') {
            let module = module.trim().trim_matches('`').to_owned();
            let rule = Rule {
                allowed: words(cells[2]),
                forbidden_crates: words(cells[3]),
            };
            rules.insert(module, rule);
        }
    }
    assert!(rules.len() >= 10, "the table was read: {:?}", rules.keys());
    rules
}

fn rust_files(directory: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The table's name for the module a file belongs to: `api` for `src/api/auth.rs`,
/// `bin/voucherctl` for `src/bin/voucherctl/main.rs`, `lib` for `src/lib.rs`.
fn module_of(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .components()
        .map(|part| {
            part.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    match parts.as_slice() {
        [bin, name, ..] if bin == "bin" => format!("bin/{name}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// What a line names: modules of ours (`crate::x`, or `voucher_ledger::x` in a binary, with the
/// next segment too, as `store::backup`) and outside crates (`sled::`, `tonic::`, …).
fn named_in(line: &str, in_binary: bool) -> (Vec<(String, String)>, Vec<String>) {
    let code = line.split("//").next().unwrap_or("");
    let prefix = if in_binary {
        "voucher_ledger::"
    } else {
        "crate::"
    };
    let mut ours = Vec::new();
    for (index, _) in code.match_indices(prefix) {
        let rest = &code[index + prefix.len()..];
        let mut segments = rest.split("::").map(|segment| {
            segment
                .chars()
                .take_while(|character| character.is_alphanumeric() || *character == '_')
                .collect::<String>()
        });
        let first = segments.next().unwrap_or_default();
        let second = segments.next().unwrap_or_default();
        ours.push((first, second));
    }
    let crates = code
        .split(|character: char| {
            !(character.is_alphanumeric() || character == '_' || character == ':')
        })
        .filter_map(|token| token.split("::").next().filter(|_| token.contains("::")))
        .map(str::to_owned)
        .collect();
    (ours, crates)
}

#[test]
fn every_module_uses_only_what_architecture_md_allows() {
    let rules = rules();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut crossings = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let module = module_of(relative);
        let Some(rule) = rules.get(&module) else {
            if module != "lib" {
                crossings.push(format!(
                    "{}: module `{module}` has no row in the table",
                    relative.display()
                ));
            }
            continue;
        };
        let in_binary = module.starts_with("bin/");
        let text = std::fs::read_to_string(file).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            let (ours, crates) = named_in(line, in_binary);
            for (first, second) in ours {
                let own = !in_binary && first == module;
                let allowed = rule
                    .allowed
                    .iter()
                    .any(|allowed| allowed == &first || *allowed == format!("{first}::{second}"));
                if !own && !allowed {
                    crossings.push(format!(
                        "{}:{}: `{module}` uses `{first}::{second}`",
                        relative.display(),
                        number + 1
                    ));
                }
            }
            for named in crates {
                if rule.forbidden_crates.contains(&named) {
                    crossings.push(format!(
                        "{}:{}: `{module}` names the crate `{named}`",
                        relative.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "crossings of ARCHITECTURE.md's boundaries:\n{}",
        crossings.join("\n")
    );
}

#[test]
fn a_crossing_is_seen() {
    // The reader of lines must see what a crossing looks like, or the test above passes on
    // nothing.
    let (ours, crates) = named_in("use crate::store::records::writes_of; // crate::web", false);
    assert_eq!(ours, vec![("store".to_owned(), "records".to_owned())]);
    assert!(crates.contains(&"crate".to_owned()));
    let (ours, crates) = named_in("    let x = sled::open(path)?;", false);
    assert!(ours.is_empty());
    assert_eq!(crates, vec!["sled".to_owned()]);
    let (ours, _) = named_in("use voucher_ledger::store::backup::check_backup;", true);
    assert_eq!(ours, vec![("store".to_owned(), "backup".to_owned())]);
}
