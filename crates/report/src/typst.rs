//! A [`Document`] as typst markup plus its in-memory files (the chart SVGs): a [`PdfJob`] for
//! `flsdb-pdf`, which renders it offline.
//!
//! Every piece of text reaches typst as a string literal in code mode (`"…"`, escaped by
//! [`lit`]), never as markup, so a service called `*Star* #1 [North]` cannot change the layout
//! or run code.

use crate::doc::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const PREAMBLE: &str = include_str!("preamble.typ");

/// What `flsdb-pdf` reads on standard input (the same field names as `flsdb_pdf::Job`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PdfJob {
    pub main: String,
    pub files: BTreeMap<String, String>,
    pub ident: Option<String>,
}

impl PdfJob {
    pub fn to_json(&self) -> String {
        // Strings and a map of strings always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A typst string literal holding `s`.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => {}
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The document as typst source and files.
pub fn render(doc: &Document) -> PdfJob {
    let mut files = BTreeMap::new();
    let mut out = String::with_capacity(64 * 1024);
    let _ = writeln!(out, "#let doc-title = {}", lit(&doc.title));
    out.push_str(PREAMBLE);
    out.push('\n');
    let c = &doc.cover;
    let facts: Vec<String> = c.facts.iter().map(|(k, v)| format!("({}, {})", lit(k), lit(v))).collect();
    let _ = writeln!(
        out,
        "#cover({}, {}, {}, ({}{}), {})",
        lit(&c.kicker),
        lit(&c.title),
        lit(&c.subtitle),
        facts.join(", "),
        if facts.len() == 1 { "," } else { "" },
        lit(&c.note)
    );
    out.push_str("#pagebreak()\n");
    if c.contents {
        out.push_str("#outline(title: \"Contents\", depth: 2)\n");
    }
    for block in &doc.blocks {
        self::block(&mut out, &mut files, block);
    }
    PdfJob { main: out, files, ident: Some(doc.ident.clone()) }
}

/// Inlines as one code-mode expression of content.
fn inlines(parts: &[Inline]) -> String {
    if parts.is_empty() {
        return "[]".into();
    }
    let pieces: Vec<String> = parts
        .iter()
        .map(|p| match p {
            Inline::Text(t) => format!("[#{}]", lit(t)),
            Inline::Strong(t) => format!("strong({})", lit(t)),
            Inline::Emph(t) => format!("emph({})", lit(t)),
            Inline::Band(b) => chip(*b),
        })
        .collect();
    format!("({})", pieces.join(" + "))
}

fn chip(band: flsdb_kpi::Band) -> String {
    let (fill, ink) = band_colours(band);
    format!("band-chip({}, {}, {})", lit(band_word(band)), lit(fill), lit(ink))
}

fn block(out: &mut String, files: &mut BTreeMap<String, String>, block: &Block) {
    match block {
        Block::Heading { level, text, .. } => {
            let _ = writeln!(out, "#heading(level: {}, {})", (*level).clamp(1, 4), lit(text));
        }
        Block::Paragraph(parts) => {
            let _ = writeln!(out, "#par({})\n", inlines(parts));
        }
        Block::Note(parts) => {
            let _ = writeln!(out, "#note({})\n", inlines(parts));
        }
        Block::Bullets(items) => {
            let items: Vec<String> = items.iter().map(|i| inlines(i)).collect();
            let _ = writeln!(out, "#list(spacing: 0.7em, {})\n", items.join(", "));
        }
        Block::Tiles(tiles) => {
            let n = tiles.len().clamp(1, 4);
            let cells: Vec<String> = tiles
                .iter()
                .map(|t| {
                    let detail = match t.band {
                        Some(b) => format!("({} + [ ] + [#{}])", chip(b), lit(&t.detail)),
                        None => lit(&t.detail),
                    };
                    format!("tile({}, {}, {})", lit(&t.label), lit(&t.value), detail)
                })
                .collect();
            let _ = writeln!(out, "#grid(columns: (1fr,) * {n}, gutter: 8pt, {})\n", cells.join(", "));
        }
        Block::Table(t) => table(out, t),
        Block::Figure(f) => {
            let width = pdf_width(f);
            let _ = writeln!(
                out,
                "#figure(image({}, width: {:.1}%), caption: {})\n",
                lit(&f.name),
                width * 100.0,
                lit(&f.caption)
            );
            files.insert(f.name.clone(), f.svg.clone());
        }
        Block::Callout { title, body } => {
            let _ = writeln!(out, "#callout({}, {})\n", lit(title), inlines(body));
        }
        Block::Landscape(blocks) => {
            out.push_str("#set page(flipped: true, margin: (x: 1.5cm, top: 1.8cm, bottom: 1.5cm))\n");
            for b in blocks {
                self::block(out, files, b);
            }
            out.push_str("#set page(flipped: false, margin: (x: 1.8cm, top: 2cm, bottom: 1.8cm))\n");
        }
        Block::PageBreak => out.push_str("#pagebreak(weak: true)\n"),
    }
}

/// The figure's width in the PDF: as asked, but narrower when the chart is so tall that it would
/// not fit on a page (a caterpillar plot of many services).
fn pdf_width(f: &Figure) -> f64 {
    let attr = |name: &str| -> Option<f64> {
        let head = f.svg.get(..f.svg.find('>')?)?;
        let start = head.find(&format!(" {name}=\""))? + name.len() + 3;
        let rest = head.get(start..)?;
        rest.get(..rest.find('"')?)?.parse().ok()
    };
    let (Some(w), Some(h)) = (attr("width"), attr("height")) else { return f.width };
    // A4 portrait text area: about 17.4 cm wide, and 23 cm is left for a figure and its caption.
    let fit = 23.0 / 17.4 * w / h;
    f.width.min(fit).clamp(0.2, 1.0)
}

fn table(out: &mut String, t: &Table) {
    out.push_str("#{\n");
    if t.small {
        out.push_str("  set text(size: 6.8pt)\n  set table(inset: (x: 2.5pt, y: 2pt))\n");
    } else {
        out.push_str("  set text(size: 8.5pt)\n");
    }
    if !t.caption.is_empty() {
        let _ = writeln!(out, "  block(below: 0.5em, text(weight: \"bold\", {}))", lit(&t.caption));
    }
    let columns: Vec<&str> = t.columns.iter().map(|c| if c.wide { "1fr" } else { "auto" }).collect();
    let align: Vec<&str> = t.columns.iter().map(|c| if c.align == Align::Right { "right" } else { "left" }).collect();
    let _ = writeln!(
        out,
        "  table(columns: ({},), align: ({},), fill: (x, y) => if y == 0 {{ blue }},",
        columns.join(", "),
        align.join(", ")
    );
    let header: Vec<String> = t.columns.iter().map(|c| lit(&c.header)).collect();
    let _ = writeln!(out, "    table.header({}),", header.join(", "));
    for row in &t.rows {
        out.push_str("    ");
        for cell in &row.cells {
            let text = if row.strong { format!("strong({})", lit(&cell.text)) } else { lit(&cell.text) };
            match cell.band {
                Some(b) => {
                    let (fill, ink) = band_colours(b);
                    let _ = write!(out, "band-cell({text}, {}, {}), ", lit(fill), lit(ink));
                }
                None => {
                    let _ = write!(out, "{text}, ");
                }
            }
        }
        out.push('\n');
    }
    out.push_str("  )\n}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_everything_typst_would_read() {
        assert_eq!(lit(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(lit("x\ny\r"), r#""x\ny""#);
        assert_eq!(lit("*Star* #1 [North] $x$"), "\"*Star* #1 [North] $x$\"");
    }

    #[test]
    fn tall_figures_are_narrowed() {
        let f = |w: u32, h: u32| Figure {
            name: "a.svg".into(),
            svg: format!(r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}">"#),
            caption: String::new(),
            width: 1.0,
        };
        assert_eq!(pdf_width(&f(720, 400)), 1.0);
        assert!(pdf_width(&f(720, 1400)) < 0.7);
    }
}
