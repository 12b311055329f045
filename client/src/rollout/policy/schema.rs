//! The schema of `policy.xml`: where each element may appear and which attributes it takes,
//! in one table the reader checks against and its error messages quote.

/// Where each element may appear, and which attributes it takes (required ones marked by
/// a leading `!`).
pub(super) fn schema(element: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match element {
        "policy" => ("", &[]),
        "check" => ("policy", &["!every", "jitter"]),
        "window" => ("policy", &["days", "!from", "!to"]),
        "channel" => ("policy", &["!name", "platforms"]),
        "target" => ("channel", &["!release", "downgrade", "restart"]),
        "via" => ("channel", &["!release", "!below"]),
        "revoked" => ("channel", &["!release"]),
        "halt" => ("channel", &[]),
        "early" => ("target", &["device", "group"]),
        "wave" => ("target", &["!start", "!percent"]),
        _ => return None,
    })
}

/// Every element of the schema.
const NAMES: [&str; 10] = [
    "policy", "check", "window", "channel", "target", "via", "revoked", "halt", "early", "wave",
];

pub(super) fn schema_name(name: &str) -> &'static str {
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("")
}

/// The elements allowed inside `parent`, in words: what a misspelt element should have been.
pub(super) fn elements_inside(parent: &str) -> String {
    let names: Vec<String> = NAMES
        .iter()
        .filter(|n| schema(n).is_some_and(|(p, _)| p == parent))
        .map(|n| format!("<{n}>"))
        .collect();
    match parent {
        "" => format!("the top element is {}", names.join(", ")),
        _ => format!("inside <{parent}> the elements are {}", names.join(", ")),
    }
}
