//! How a policy names a device or a group and the device recognises itself: one rule for
//! both, applied on both sides (the device's configured id and groups, the policy's
//! `<early device>` and `<early group>`). Invariant: two spellings match exactly when their
//! [`matching_form`]s are equal, and every comparison goes through it.
//!
//! The rule: Unicode canonical composition (NFC), then Unicode lower case
//! (`str::to_lowercase`), then NFC again (lower-casing may decompose, as `İ` does). So `Ä`,
//! `ä` and `a` followed by a combining diaeresis are one name; `ß` and `ss` are two (this is
//! lower-casing, not case folding). ASCII names are only lower-cased, as they always were,
//! so ids of the form `AA:BB:..` keep their rollout buckets.

use unicode_normalization::UnicodeNormalization;

/// The form in which device ids and group names are compared.
pub fn matching_form(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    let composed: String = name.nfc().collect();
    composed.to_lowercase().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_composition_do_not_matter() {
        assert_eq!(matching_form("Ärger-01"), "ärger-01");
        assert_eq!(matching_form("A\u{308}rger-01"), "ärger-01");
        assert_eq!(matching_form("AA:BB:cc"), "aa:bb:cc");
        assert_eq!(matching_form("ÉQUIPE"), matching_form("équipe"));
        assert_eq!(matching_form("İ"), "i\u{307}");
    }

    #[test]
    fn lower_casing_is_not_case_folding() {
        assert_ne!(matching_form("STRASSE"), matching_form("straße"));
        assert_eq!(matching_form("STRAẞE"), matching_form("straße"));
    }
}
