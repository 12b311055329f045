//! The strict `policy.xml` reader: one pass over the bytes, each event checked against
//! the schema, each error naming its line (see the invariant in [`super`]).

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::schema::{elements_inside, schema, schema_name};
use super::values::{parse_clock, parse_days, parse_percent};
use super::*;
use crate::conventions::{check_label, matching_form};
use crate::datetime::UtcTime;
use crate::rollout::period::Period;

/// Parses and checks a policy.
pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(PolicyError {
            line: 0,
            message: format!(
                "{} bytes is larger than the limit of {MAX_POLICY_BYTES} bytes",
                bytes.len()
            ),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| PolicyError {
        line: line_of(bytes, e.valid_up_to()),
        message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
    })?;
    Parser::new(text).run()
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    let end = offset.min(bytes.len());
    1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
}

struct Parser<'a> {
    text: &'a str,
    reader: Reader<&'a [u8]>,
    /// Open elements, outermost first.
    open: Vec<&'static str>,
    check: Option<(Period, Option<Period>)>,
    window: Option<Window>,
    channels: BTreeMap<String, Channel>,
    /// The channel being read: every element below `<channel>` belongs to it.
    last_channel: Option<String>,
    /// Byte offset where the event being handled starts.
    event_start: usize,
    /// The 1-based line of `event_start`, counted on from the previous event's, so that
    /// the whole parse reads each byte once (an error names its line at no extra cost).
    event_line: usize,
    seen_root: bool,
    /// Each `<early>` entry read, by channel, attribute and matching form: its spelling and line.
    early_seen: BTreeMap<(String, &'static str, String), (String, usize)>,
    early_repeats: Vec<PolicyError>,
}

type Attrs = BTreeMap<&'static str, String>;

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let mut reader = Reader::from_str(text);
        reader.config_mut().trim_text(true);
        Parser {
            text,
            reader,
            open: Vec::new(),
            check: None,
            window: None,
            channels: BTreeMap::new(),
            last_channel: None,
            event_start: 0,
            event_line: 1,
            seen_root: false,
            early_seen: BTreeMap::new(),
            early_repeats: Vec::new(),
        }
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> PolicyError {
        PolicyError {
            line: line_of(self.text.as_bytes(), offset),
            message: message.into(),
        }
    }

    /// An error on the element or event just read, at the line where it starts.
    fn error(&self, message: impl Into<String>) -> PolicyError {
        PolicyError {
            line: self.event_line,
            message: message.into(),
        }
    }

    /// Moves `event_start` on to `offset` (never back), counting the lines passed.
    fn advance_to(&mut self, offset: usize) {
        let passed = self.text.as_bytes().get(self.event_start..offset);
        self.event_line += passed.map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        self.event_start = self.event_start.max(offset);
    }

    fn run(mut self) -> Result<Policy, PolicyError> {
        loop {
            let before = usize::try_from(self.reader.buffer_position()).unwrap_or(0);
            // Whitespace before an event is skipped (trimmed): the event starts after it.
            let rest = self.text.get(before..).unwrap_or_default();
            self.advance_to(before + (rest.len() - rest.trim_start().len()));
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = usize::try_from(self.reader.error_position()).unwrap_or(0);
                    return Err(self.error_at(at, format!("malformed XML: {e}")));
                }
            };
            match event {
                Event::Decl(_) if !self.seen_root && self.open.is_empty() => {}
                Event::Comment(_) => {}
                Event::DocType(_) => {
                    return Err(self.error("a DTD is not allowed (no entities, no external files)"))
                }
                Event::PI(_) | Event::Decl(_) => {
                    return Err(self.error("processing instructions are not allowed"))
                }
                Event::CData(_) => return Err(self.error("CDATA is not allowed")),
                Event::Text(t) => {
                    let raw = String::from_utf8_lossy(&t).trim().to_owned();
                    if !raw.is_empty() {
                        let shown: String = raw.chars().take(40).collect();
                        return Err(self.error(format!("unexpected text {shown:?}")));
                    }
                }
                Event::Start(e) => {
                    let name = self.element(&e)?;
                    self.open.push(name);
                }
                Event::Empty(e) => {
                    self.element(&e)?;
                }
                Event::End(_) => {
                    self.open.pop();
                }
                Event::Eof => break,
            }
        }
        if !self.seen_root {
            return Err(PolicyError {
                line: 0,
                message: "no <policy> element".into(),
            });
        }
        self.finish()
    }

    /// Checks one element's place and attributes, and records what it says.
    fn element(&mut self, e: &BytesStart) -> Result<&'static str, PolicyError> {
        let raw_name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let parent = self.open.last().copied().unwrap_or("");
        let Some((expected_parent, allowed)) = schema(&raw_name) else {
            return Err(self.error(format!(
                "unknown element <{raw_name}>: {}",
                elements_inside(parent)
            )));
        };
        if expected_parent != parent {
            let place = if parent.is_empty() {
                "at the top".to_owned()
            } else {
                format!("inside <{parent}>")
            };
            return Err(self.error(format!("<{raw_name}> is not allowed {place}")));
        }
        if raw_name == "policy" {
            if self.seen_root {
                return Err(self.error("a second <policy> element"));
            }
            self.seen_root = true;
        }
        let name = schema_name(&raw_name);
        let attrs = self.attributes(e, name, allowed)?;
        self.record(name, attrs)?;
        Ok(name)
    }

    fn attributes(
        &self,
        e: &BytesStart,
        element: &str,
        allowed: &[&'static str],
    ) -> Result<Attrs, PolicyError> {
        let mut attrs = Attrs::new();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| self.error(format!("<{element}>: {err}")))?;
            let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
            let Some(known) = allowed
                .iter()
                .map(|a| a.trim_start_matches('!'))
                .find(|a| *a == key)
            else {
                let known: Vec<String> = allowed
                    .iter()
                    .map(|a| format!("{:?}", a.trim_start_matches('!')))
                    .collect();
                let known = match known.is_empty() {
                    true => "it has none".to_owned(),
                    false => format!("its attributes are {}", known.join(", ")),
                };
                return Err(self.error(format!("<{element}> has no attribute {key:?}: {known}")));
            };
            let value = attr
                .unescape_value()
                .map_err(|err| self.error(format!("<{element} {key}>: {err}")))?;
            attrs.insert(known, value.into_owned());
        }
        for required in allowed.iter().filter_map(|a| a.strip_prefix('!')) {
            if !attrs.contains_key(required) {
                return Err(self.error(format!("<{element}> needs the attribute {required:?}")));
            }
        }
        Ok(attrs)
    }

    /// Records one element's attributes into the policy being built.
    fn record(&mut self, element: &'static str, attrs: Attrs) -> Result<(), PolicyError> {
        match element {
            "check" => self.record_check(&attrs),
            "window" => self.record_window(&attrs),
            "channel" => self.record_channel(&attrs),
            "target" => self.record_target(&attrs),
            "via" => self.record_via(&attrs),
            "revoked" => self.record_revoked(&attrs),
            "halt" => self.record_halt(),
            "early" => self.record_early(&attrs),
            "wave" => self.record_wave(&attrs),
            _ => Ok(()),
        }
    }

    /// `<check>`.
    fn record_check(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        if self.check.is_some() {
            return Err(self.error("a second <check>"));
        }
        let every = attr(attrs, "every")
            .parse::<Period>()
            .map_err(|e| self.error(e))?;
        let jitter = match attrs.get("jitter") {
            Some(j) => Some(j.parse::<Period>().map_err(|e| self.error(e))?),
            None => None,
        };
        self.check = Some((every, jitter));
        Ok(())
    }

    /// `<window>`.
    fn record_window(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        if self.window.is_some() {
            return Err(self.error("a second <window>"));
        }
        let days = parse_days(attrs.get("days").map_or("mon-sun", String::as_str))
            .map_err(|e| self.error(e))?;
        let from = parse_clock(attr(attrs, "from"))
            .map_err(|e| self.error(format!("<window from>: {e}")))?;
        let to =
            parse_clock(attr(attrs, "to")).map_err(|e| self.error(format!("<window to>: {e}")))?;
        if from == to {
            return Err(self.error("<window> from and to are the same time"));
        }
        self.window = Some(Window { days, from, to });
        Ok(())
    }

    /// `<channel>`.
    fn record_channel(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        let name = attr(attrs, "name").to_owned();
        if name.is_empty() {
            return Err(self.error("<channel> name is empty"));
        }
        if self.channels.contains_key(&name) {
            return Err(self.error(format!("channel {name:?} is defined twice")));
        }
        let platforms = match attrs.get("platforms") {
            None => None,
            Some(list) => Some(self.platforms(list)?),
        };
        self.last_channel = Some(name.clone());
        self.channels.insert(
            name.clone(),
            Channel {
                name,
                target: None,
                vias: Vec::new(),
                revoked: BTreeSet::new(),
                halt: false,
                platforms,
            },
        );
        Ok(())
    }

    /// `<target>`.
    fn record_target(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        let release = self.release(attr(attrs, "release"))?;
        let downgrade = match attrs.get("downgrade").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(self.error(format!(
                    "<target downgrade> must be true or false, not {other:?}"
                )))
            }
        };
        let restart = match attrs.get("restart") {
            None => None,
            Some(text) => Some(
                UtcTime::parse(text).map_err(|e| self.error(format!("<target restart>: {e}")))?,
            ),
        };
        let err = self.error("a channel has one <target>; this is a second");
        let channel = self.current_channel()?;
        if channel.target.is_some() {
            return Err(err);
        }
        channel.target = Some(Target {
            release,
            downgrade,
            early_devices: BTreeSet::new(),
            early_groups: BTreeSet::new(),
            waves: Vec::new(),
            restart,
        });
        Ok(())
    }

    /// `<via>`.
    fn record_via(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        let via = Via {
            release: self.release(attr(attrs, "release"))?,
            below: self.release(attr(attrs, "below"))?,
        };
        if via.release > via.below {
            return Err(self.error(format!(
                "<via release=\"{}\"> is above its below=\"{}\"",
                via.release, via.below
            )));
        }
        self.current_channel()?.vias.push(via);
        Ok(())
    }

    /// `<revoked>`.
    fn record_revoked(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        let release = self.release(attr(attrs, "release"))?;
        self.current_channel()?.revoked.insert(release);
        Ok(())
    }

    /// `<halt>`.
    fn record_halt(&mut self) -> Result<(), PolicyError> {
        let err = self.error("a second <halt>");
        let channel = self.current_channel()?;
        if channel.halt {
            return Err(err);
        }
        channel.halt = true;
        Ok(())
    }

    /// `<early>`: a device id or group, kept in its matching form. A repeat (the same
    /// name under the matching rule) is harmless to a device but is recorded for `repo`.
    fn record_early(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        let (device, group) = (attrs.get("device"), attrs.get("group"));
        let err = self.error("<early> takes exactly one non-empty attribute: device or group");
        let (kind, spelling) = match (device, group) {
            (Some(d), None) if !d.is_empty() => ("device", d),
            (None, Some(g)) if !g.is_empty() => ("group", g),
            _ => return Err(err),
        };
        let name = matching_form(spelling);
        let channel = self.last_channel.clone().unwrap_or_default();
        let key = (channel, kind, name.clone());
        if let Some((first, line)) = self.early_seen.get(&key) {
            let repeat = self.error(format!(
                "<early {kind}={spelling:?}> names the same {kind} as {first:?} on line {line} (ids and groups match after NFC and lower-casing)"
            ));
            self.early_repeats.push(repeat);
        } else {
            self.early_seen
                .insert(key, (spelling.clone(), self.event_line));
        }
        let target = self.current_target()?;
        match kind {
            "device" => target.early_devices.insert(name),
            _ => target.early_groups.insert(name),
        };
        Ok(())
    }

    /// `<wave>`.
    fn record_wave(&mut self, attrs: &Attrs) -> Result<(), PolicyError> {
        let start = UtcTime::parse(attr(attrs, "start"))
            .map_err(|e| self.error(format!("<wave start>: {e}")))?;
        let share = parse_percent(attr(attrs, "percent")).map_err(|e| self.error(e))?;
        let last = self.current_target()?.waves.last().copied();
        if let Some(last) = last {
            if start <= last.start {
                return Err(self.error(format!(
                    "waves must be in time order: {start} is not after {}",
                    last.start
                )));
            }
            if share < last.share {
                return Err(self.error(format!(
                    "a wave's percent may not go down ({} after {})",
                    show_share(share),
                    show_share(last.share)
                )));
            }
        }
        self.current_target()?.waves.push(Wave { start, share });
        Ok(())
    }

    /// `<channel platforms="armv7, x86_64">`: platform labels, comma-separated, at least one.
    fn platforms(&self, list: &str) -> Result<BTreeSet<String>, PolicyError> {
        let mut platforms = BTreeSet::new();
        for platform in list.split(',').map(str::trim) {
            check_label("platform", platform)
                .map_err(|e| self.error(format!("<channel platforms>: {e}")))?;
            if !platforms.insert(platform.to_owned()) {
                return Err(
                    self.error(format!("<channel platforms>: {platform:?} is listed twice"))
                );
            }
        }
        Ok(platforms)
    }

    fn release(&self, name: &str) -> Result<Release, PolicyError> {
        Release::new(name).map_err(|e| self.error(e.to_string()))
    }

    fn current_channel(&mut self) -> Result<&mut Channel, PolicyError> {
        let err = self.error("no open <channel>");
        match &self.last_channel {
            Some(name) => self.channels.get_mut(name).ok_or(err),
            None => Err(err),
        }
    }

    fn current_target(&mut self) -> Result<&mut Target, PolicyError> {
        let err = self.error("no open <target>");
        self.current_channel()?.target.as_mut().ok_or(err)
    }

    fn finish(mut self) -> Result<Policy, PolicyError> {
        channels::check_and_restart(&mut self.channels)?;
        let (check_every, check_jitter) = self
            .check
            .unwrap_or((Period::hours(6), Some(Period::minutes(30))));
        Ok(Policy {
            check_every,
            check_jitter,
            window: self.window,
            channels: self.channels,
            early_repeats: self.early_repeats,
        })
    }
}

/// Attribute `key` of an element, empty when absent (required ones are checked before).
fn attr<'a>(attrs: &'a Attrs, key: &str) -> &'a str {
    attrs.get(key).map(String::as_str).unwrap_or_default()
}
