//! TUF delegation path patterns, matched as python-tuf matches them: the pattern and the
//! target name are split on `/`, must have the same number of segments, and each segment
//! matches as Python's `fnmatch.fnmatchcase` (`*`, `?`, `[...]` with `!` and ranges). No
//! wildcard ever crosses a `/`, and a malformed class (an unclosed `[`) is a literal `[`, as
//! in Python. Matching works on characters (Unicode scalar values), as Python's `str` does.

/// Whether target `name` matches delegation path `pattern`.
pub(crate) fn path_matches(pattern: &str, name: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.split('/').collect();
    let name_parts: Vec<&str> = name.split('/').collect();
    pattern_parts.len() == name_parts.len()
        && pattern_parts
            .iter()
            .zip(&name_parts)
            .all(|(p, n)| segment_matches(&tokens(p), &n.chars().collect::<Vec<_>>()))
}

/// Whether `pattern` may match some target name inside `folder` (a name `folder/...`):
/// a folder of k segments is in reach of a pattern of more than k segments whose first k
/// match the folder's. Exact, because no wildcard crosses a `/`.
pub(crate) fn may_match_under(pattern: &str, folder: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.split('/').collect();
    let folder_parts: Vec<&str> = folder.split('/').collect();
    pattern_parts.len() > folder_parts.len()
        && pattern_parts
            .iter()
            .zip(&folder_parts)
            .all(|(p, f)| segment_matches(&tokens(p), &f.chars().collect::<Vec<_>>()))
}

/// The number of segments of the names inside `folder` that `pattern` matches every one
/// of: `Some(n)` when `pattern` is `folder` itself followed by `*` segments only (n segments
/// in all), else `None`.
pub(crate) fn covers_all_under(pattern: &str, folder: &str) -> Option<usize> {
    let pattern_parts: Vec<&str> = pattern.split('/').collect();
    let folder_parts: Vec<&str> = folder.split('/').collect();
    let (head, rest) = pattern_parts.split_at_checked(folder_parts.len())?;
    (!rest.is_empty() && head == folder_parts.as_slice() && rest.iter().all(|s| *s == "*"))
        .then_some(pattern_parts.len())
}

/// The number of segments of `pattern`.
pub(crate) fn segments(pattern: &str) -> usize {
    pattern.split('/').count()
}

/// One piece of a segment pattern.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: any one character.
    Any,
    /// `[...]`: one character in (or, negated, not in) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Literal(char),
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star | Token::Any => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
            }
            Token::Literal(l) => *l == c,
        }
    }
}

/// Reads a segment pattern as Python's `fnmatch.translate` does.
fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push(Token::Star),
            '?' => out.push(Token::Any),
            '[' => match class(&chars[i..]) {
                Some((token, used)) => {
                    out.push(token);
                    i += used;
                }
                // No closing `]`: the `[` is an ordinary character.
                None => out.push(Token::Literal('[')),
            },
            _ => out.push(Token::Literal(c)),
        }
    }
    out
}

/// The class that `rest` (what follows a `[`) opens, and how many characters it takes
/// including the closing `]`; `None` if it is never closed.
///
/// As in Python: a `!` first negates; a `]` first (after any `!`) is a member; `x-y` is a
/// range (empty if `x > y`), taken left to right, so a `-` first, last or right after a
/// range is a member; `\`, `^` and the rest are members like any other character.
fn class(rest: &[char]) -> Option<(Token, usize)> {
    let negated = rest.first() == Some(&'!');
    let start = usize::from(negated);
    // The first member may itself be `]`: the closing one is searched for after it.
    let first_member_end = (start + 1).min(rest.len());
    let close = first_member_end
        + rest
            .get(first_member_end..)?
            .iter()
            .position(|&c| c == ']')?;
    let members = &rest[start..close];
    let mut ranges = Vec::new();
    let mut p = 0;
    while p < members.len() {
        if members.get(p + 1) == Some(&'-') && p + 2 < members.len() {
            ranges.push((members[p], members[p + 2]));
            p += 3;
        } else {
            ranges.push((members[p], members[p]));
            p += 1;
        }
    }
    Some((Token::Class { negated, ranges }, close + 1))
}

/// Glob matching without recursion or backtracking blow-up: on a mismatch, only the last
/// `*` is retried one character further, so a hostile pattern costs at most
/// O(pattern x text) steps and no stack.
fn segment_matches(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(token) if token.matches(text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn a_folder_is_in_reach_of_patterns_deeper_than_it_whose_segments_match() {
        let folder = "releases/2.0.0";
        for pattern in ["releases/2.0.0/*/*", "releases/*/*/*", "*/2.?.0/x86_64/*"] {
            assert!(may_match_under(pattern, folder), "{pattern}");
        }
        // Too shallow (the folder itself, or a name one level down that the layout never
        // uses is still in reach), another release, another folder.
        assert!(may_match_under("releases/2.0.0/*", folder));
        for pattern in [
            "releases/2.0.0",
            "releases/*",
            "releases/1.0.0/*/*",
            "docs/*/*/*",
        ] {
            assert!(!may_match_under(pattern, folder), "{pattern}");
        }
    }

    fn glob(pattern: &str, text: &str) -> bool {
        segment_matches(&tokens(pattern), &text.chars().collect::<Vec<_>>())
    }

    #[test]
    fn a_folder_followed_by_stars_covers_every_name_of_its_depth() {
        assert_eq!(
            covers_all_under("releases/2.0.0/*/*", "releases/2.0.0"),
            Some(4)
        );
        assert_eq!(
            covers_all_under("releases/2.0.0/*", "releases/2.0.0"),
            Some(3)
        );
        assert_eq!(
            covers_all_under("releases/2.0.0/x/*", "releases/2.0.0"),
            None
        );
        assert_eq!(
            covers_all_under("releases/2.0.?/*/*", "releases/2.0.0"),
            None
        );
        assert_eq!(covers_all_under("releases/2.0.0", "releases/2.0.0"), None);
        assert_eq!(covers_all_under("releases/*/*/*", "releases/2.0.0"), None);
        assert_eq!(covers_all_under("releases", "releases/2.0.0"), None);
    }

    #[test]
    fn stars_and_question_marks() {
        for (pattern, text, expected) in [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "abd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.tar.gz", "x.tar.gz", true),
            ("*b*b*", "abcbd", true),
            ("file", "file", true),
            ("file", "files", false),
            ("**x", "yyx", true),
            // One `?` is one character, not one byte.
            ("?", "é", true),
            ("??", "é", false),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn classes_as_python_reads_them() {
        for (pattern, text, expected) in [
            ("[abc]", "b", true),
            ("[abc]", "d", false),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("[!a-c]x", "dx", true),
            ("[]a]", "]", true),
            ("[!]a]", "]", false),
            ("[!]a]", "b", true),
            ("[a-]", "-", true),
            ("[-a]", "-", true),
            ("[z-a]", "z", false),
            ("[!z-a]", "q", true),
            ("[a-c-e]", "-", true),
            ("[a-c-e]", "d", false),
            ("[^a]", "^", true),
            ("[\\]", "\\", true),
            ("[é-ê]", "ê", true),
            // Unclosed: a literal `[`, the rest read as usual.
            ("[", "[", true),
            ("[a", "[a", true),
            ("[a*", "[abc", true),
            ("[!", "[!", true),
            ("[]", "[]", true),
            ("[!]", "[!]", true),
            ("[!]", "a", false),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn wildcards_never_cross_a_slash() {
        assert!(path_matches("policy.xml", "policy.xml"));
        assert!(path_matches(
            "releases/*/armv7/*",
            "releases/2.4.1/armv7/app.tar"
        ));
        assert!(!path_matches("releases/*", "releases/2.4.1/app.tar"));
        assert!(path_matches("*.xm?", "policy.xml"));
        assert!(!path_matches("policy.xml", "policy.xmlx"));
        assert!(!path_matches("a?b", "a/b"));
        assert!(!path_matches("a[!x]b", "a/b"));
        assert!(!path_matches("a[/]b", "a/b"));
        assert!(path_matches(
            "releases/[0-9]*/armv[67]/*",
            "releases/2.4/armv7/x"
        ));
    }

    #[test]
    fn hostile_patterns_cost_little() {
        let pattern = format!("{}#", "*".repeat(100_000));
        assert!(!glob(&pattern, &"a".repeat(25)));
        let pattern = format!("{}#", "*[a-z]".repeat(20_000));
        assert!(!glob(&pattern, &"a".repeat(25)));
    }

    /// python-tuf's `DelegatedRole._is_target_in_pathpattern` (tuf/api/_payload.py), which
    /// this module follows: split on `/`, same count, `fnmatch.fnmatchcase` per part.
    const PYTHON_TUF: &str = r#"
import fnmatch, json, sys

def is_target_in_pathpattern(targetpath, pathpattern):
    target_parts = targetpath.split("/")
    pattern_parts = pathpattern.split("/")
    if len(target_parts) != len(pattern_parts):
        return False
    for target, pattern in zip(target_parts, pattern_parts, strict=True):
        if not fnmatch.fnmatchcase(target, pattern):
            return False
    return True

pairs = json.load(sys.stdin)
json.dump([is_target_in_pathpattern(name, pattern) for pattern, name in pairs], sys.stdout)
"#;

    /// A small deterministic generator (xorshift), so a failure can be replayed.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }

        fn string(&mut self, pieces: &[&str], max: usize) -> String {
            let len = self.below(max + 1);
            (0..len).map(|_| self.pick(pieces)).collect()
        }
    }

    /// Patterns built from classes well-formed and not, wildcards and the characters that
    /// mean something inside a class, each with strings it may match; names over the same
    /// characters, some at random and some made from those strings, so that both answers
    /// are common (pieces that meet can still read differently, which is the point).
    fn pairs() -> Vec<(String, String)> {
        const PIECES: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("b", &["b"]),
            ("z", &["z"]),
            ("-", &["-"]),
            ("]", &["]"]),
            ("!", &["!"]),
            ("^", &["^"]),
            ("\\", &["\\"]),
            ("é", &["é"]),
            ("[", &["["]),
            ("/", &["/"]),
            ("*", &["", "a", "ab-", "]]", "é["]),
            ("?", &["a", "é", "]", "/"]),
            ("[a-c]", &["b", "c", "d"]),
            ("[!a-c]", &["b", "d", "-"]),
            ("[]a]", &["]", "a", "b"]),
            ("[!]b]", &["]", "c"]),
            ("[z-a]", &["z", "a"]),
            ("[!z-a]", &["q", "/"]),
            ("[a-]", &["-", "a"]),
            ("[-a]", &["-", "b"]),
            ("[a-c-z]", &["-", "b", "y", "z"]),
            ("[^a]", &["^", "b"]),
            ("[é-ê]", &["ê", "e"]),
            ("[!]", &["[!]", "a"]),
            ("[]", &["[]"]),
            ("[--a]", &["-", "A", "b"]),
            ("[a--]", &["a", "-"]),
            ("[\\-a]", &["\\", "]", "b"]),
        ];
        const NAME_CHARS: &[&str] = &[
            "a", "b", "c", "z", "-", "]", "!", "^", "\\", "é", "ê", "[", "/", "*", "?",
        ];
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let mut pairs = Vec::new();
        for _ in 0..300 {
            let count = random.below(6);
            let pieces: Vec<_> = (0..count)
                .map(|_| PIECES[random.below(PIECES.len())])
                .collect();
            let pattern: String = pieces.iter().map(|(p, _)| *p).collect();
            for _ in 0..2 {
                let fitted: String = pieces.iter().map(|(_, fits)| random.pick(fits)).collect();
                pairs.push((pattern.clone(), fitted));
            }
            pairs.push((pattern, random.string(NAME_CHARS, 5)));
        }
        pairs
    }

    #[test]
    fn answers_as_python_tuf_does() {
        let pairs = pairs();
        let mut python = Command::new("python3")
            .args(["-c", PYTHON_TUF])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let input = serde_json::to_vec(&pairs).unwrap();
        python.stdin.take().unwrap().write_all(&input).unwrap();
        let output = python.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let expected: Vec<bool> = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(expected.len(), pairs.len());
        let matched = expected.iter().filter(|m| **m).count();
        assert!(
            matched * 4 >= pairs.len() && matched * 4 <= pairs.len() * 3,
            "too one-sided to tell: {matched} of {} match",
            pairs.len()
        );
        let differ: Vec<_> = pairs
            .iter()
            .zip(&expected)
            .filter(|((pattern, name), python)| path_matches(pattern, name) != **python)
            .collect();
        assert!(
            differ.is_empty(),
            "{} of {} pairs differ from Python, e.g. {:?}",
            differ.len(),
            pairs.len(),
            &differ[..differ.len().min(10)]
        );
    }
}
