//! The editable text of the reports: recommendations for services, commissioners and executive
//! teams. Built-in defaults; `--text FILE` replaces them with the audit team's own words.
//!
//! The file is a small subset of Markdown, so clinicians can edit it in any text editor:
//!
//! ```markdown
//! ## For services
//! - Review this report at your **bone health** meeting.
//!
//! A paragraph, wrapped over
//! several lines.
//!
//! ## For commissioners
//! * …
//! ```
//!
//! `## ` starts a section (a `# ` title line is ignored), `- ` or `* ` a bullet, a blank line ends
//! a paragraph; `**bold**` and `_emphasis_` work inside text. Placeholders are filled from the
//! data: `{year}`, `{previous_year}`, `{period}`, `{as_of}`, `{weakest_kpi}` (the KPI furthest
//! below its green threshold nationally), `{services}`, `{records}`.

use crate::doc::{Block, Inline};

/// The built-in recommendations.
pub const DEFAULT_TEXT: &str = "\
## For services
- Discuss this report at your trust's bone health or quality improvement meeting, and agree an \
improvement plan for every KPI in the red band; nationally the KPI furthest below its green \
threshold is {weakest_kpi}.
- Check your data completeness (KPI 1): a field missing in more than 20% of the records it applies \
to makes every KPI that depends on it unreliable.
- Contact every patient due a 16-week and a 52-week follow-up, and record the contact, the \
treatment started and whether it is still taken.
- Use the statistical process control charts of your service report to tell real change from \
month-to-month noise before acting on a single month.

## For commissioners
- Make sure every population you commission is served by a fracture liaison service that \
identifies patients with all types of fragility fracture, including spine fractures, not only \
hip fractures.
- Review with each service you commission any KPI below the 99.8% funnel limit, and agree a \
plan and a date to review it.
- Commission follow-up at 16 and 52 weeks: it is what turns a treatment recommendation into \
treatment taken.

## For executive teams
- Name an executive lead for fracture prevention, and receive this report at board level each year.
- Give the service the staff and the clinical time (DXA scanning, falls services) that its \
caseload needs.
- Support complete data entry: a service that cannot submit complete data cannot show the care \
it gives.
";

/// Values for the placeholders.
#[derive(Clone, Debug, Default)]
pub struct Placeholders {
    pub pairs: Vec<(&'static str, String)>,
}

impl Placeholders {
    pub fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (key, value) in &self.pairs {
            out = out.replace(&format!("{{{key}}}"), value);
        }
        out
    }
}

/// One `## ` section of the text.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

/// Parses the Markdown subset into sections (text before the first `## ` goes into a section
/// with an empty title).
pub fn parse(text: &str, placeholders: &Placeholders) -> Vec<Section> {
    let text = placeholders.fill(text);
    let mut sections: Vec<Section> = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let mut bullets: Vec<Vec<Inline>> = Vec::new();
    let mut bullet: Option<Vec<String>> = None;

    fn current(sections: &mut Vec<Section>) -> &mut Section {
        if sections.is_empty() {
            sections.push(Section { title: String::new(), blocks: Vec::new() });
        }
        let last = sections.len() - 1;
        &mut sections[last]
    }
    let flush = |sections: &mut Vec<Section>,
                 paragraph: &mut Vec<String>,
                 bullets: &mut Vec<Vec<Inline>>,
                 bullet: &mut Option<Vec<String>>| {
        if let Some(b) = bullet.take() {
            bullets.push(inline(&b.join(" ")));
        }
        if !bullets.is_empty() {
            current(sections).blocks.push(Block::Bullets(std::mem::take(bullets)));
        }
        if !paragraph.is_empty() {
            current(sections).blocks.push(Block::Paragraph(inline(&paragraph.join(" "))));
            paragraph.clear();
        }
    };

    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(title) = trimmed.strip_prefix("## ") {
            flush(&mut sections, &mut paragraph, &mut bullets, &mut bullet);
            sections.push(Section { title: title.trim().to_owned(), blocks: Vec::new() });
        } else if trimmed.starts_with("# ") || trimmed == "#" || trimmed.is_empty() {
            // A title line is ignored; like a blank line it ends the paragraph or list.
            flush(&mut sections, &mut paragraph, &mut bullets, &mut bullet);
        } else if let Some(item) = trimmed.strip_prefix("- ").or_else(|| trimmed.strip_prefix("* ")) {
            if !paragraph.is_empty() {
                let p = std::mem::take(&mut paragraph);
                current(&mut sections).blocks.push(Block::Paragraph(inline(&p.join(" "))));
            }
            if let Some(b) = bullet.take() {
                bullets.push(inline(&b.join(" ")));
            }
            bullet = Some(vec![item.trim().to_owned()]);
        } else if let Some(b) = bullet.as_mut() {
            // A continuation line of the bullet.
            b.push(trimmed.to_owned());
        } else {
            paragraph.push(trimmed.to_owned());
        }
    }
    flush(&mut sections, &mut paragraph, &mut bullets, &mut bullet);
    sections.retain(|s| !s.title.is_empty() || !s.blocks.is_empty());
    sections
}

/// `**bold**` and `_emphasis_` (or `*emphasis*`) inside a line.
pub fn inline(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (marker, make): (&str, fn(String) -> Inline) = if rest.starts_with("**") {
            ("**", Inline::Strong)
        } else if rest.starts_with('_') && !plain.ends_with(|c: char| c.is_alphanumeric()) {
            ("_", Inline::Emph)
        } else if rest.starts_with('*') {
            ("*", Inline::Emph)
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                plain.push(c);
            }
            rest = chars.as_str();
            continue;
        };
        let after = &rest[marker.len()..];
        match after.find(marker) {
            Some(end) if end > 0 => {
                if !plain.is_empty() {
                    out.push(Inline::Text(std::mem::take(&mut plain)));
                }
                out.push(make(after[..end].to_owned()));
                rest = &after[end + marker.len()..];
            }
            _ => {
                plain.push_str(marker);
                rest = after;
            }
        }
    }
    if !plain.is_empty() {
        out.push(Inline::Text(plain));
    }
    out
}

/// The sections whose title contains `word` (case-insensitive).
pub fn sections_about<'a>(sections: &'a [Section], word: &str) -> Vec<&'a Section> {
    let word = word.to_lowercase();
    sections.iter().filter(|s| s.title.to_lowercase().contains(&word)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_subset() {
        let text = "# Title\n\n## For services\n- one **bold**\n  continued\n* two _em_ x\n\nA para\nwrapped.\n\n## For commissioners\nText {year}.\n";
        let ph = Placeholders { pairs: vec![("year", "2023".into())] };
        let s = parse(text, &ph);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].title, "For services");
        assert_eq!(
            s[0].blocks,
            vec![
                Block::Bullets(vec![
                    vec![Inline::Text("one ".into()), Inline::Strong("bold".into()), Inline::Text(" continued".into())],
                    vec![Inline::Text("two ".into()), Inline::Emph("em".into()), Inline::Text(" x".into())],
                ]),
                Block::Paragraph(vec![Inline::Text("A para wrapped.".into())]),
            ]
        );
        assert_eq!(s[1].blocks, vec![Block::Paragraph(vec![Inline::Text("Text 2023.".into())])]);
        assert_eq!(sections_about(&s, "COMMISSIONER").len(), 1);
    }

    #[test]
    fn unmatched_markers_stay_text() {
        assert_eq!(inline("a * b and snake_case"), vec![Inline::Text("a * b and snake_case".into())]);
        assert_eq!(inline("**"), vec![Inline::Text("**".into())]);
    }

    #[test]
    fn defaults_have_the_three_audiences() {
        let s = parse(DEFAULT_TEXT, &Placeholders::default());
        let titles: Vec<&str> = s.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["For services", "For commissioners", "For executive teams"]);
    }
}
