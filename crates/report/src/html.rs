//! A [`Document`] as one self-contained HTML file: inline CSS, charts as inline SVG, no
//! scripts and no external references (it can be mailed, archived or opened offline).

use crate::doc::*;
use std::fmt::Write as _;

/// The charts' escaping serves HTML too (`&apos;` is an HTML5 entity): one implementation.
pub use flsdb_charts::escape;

const CSS: &str = r#"
:root { --blue: #005EB8; --text: #231F20; --grey: #425563; --pale: #E8EDEE; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: var(--text); margin: 0; background: #F0F4F5; line-height: 1.45; }
main { max-width: 60rem; margin: 0 auto; background: #fff; padding: 2rem 3rem 4rem; }
header.cover { border-bottom: 4px solid var(--blue); padding-bottom: 1.5rem; margin-bottom: 1.5rem; }
.kicker { color: var(--blue); font-weight: bold; text-transform: uppercase; letter-spacing: .05em; margin: 0; }
h1.title { font-size: 2.2rem; margin: .4rem 0; color: var(--blue); }
.subtitle { font-size: 1.2rem; margin: 0 0 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { font-weight: bold; color: var(--grey); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.cover-note { font-size: .85rem; color: var(--grey); margin-top: 1rem; }
nav.contents ol { columns: 2; }
h1 { color: var(--blue); border-bottom: 2px solid var(--pale); padding-bottom: .3rem; margin-top: 2.5rem; }
h2 { color: var(--blue); margin-top: 2rem; }
h3 { margin-top: 1.5rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
table.small { font-size: .75rem; }
caption { text-align: left; font-weight: bold; padding-bottom: .4rem; }
th, td { border-bottom: 1px solid var(--pale); padding: .25rem .5rem; vertical-align: top; }
th { background: var(--blue); color: #fff; text-align: left; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr.strong td { font-weight: bold; background: #F0F4F5; }
.band { display: inline-block; border-radius: .6rem; padding: 0 .5rem; font-size: .8rem; font-weight: bold; }
.tiles { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.tile { flex: 1 1 12rem; border: 1px solid var(--pale); border-top: 4px solid var(--blue); padding: .6rem .8rem; }
.tile .label { font-size: .8rem; color: var(--grey); }
.tile .value { font-size: 1.6rem; font-weight: bold; }
.tile .detail { font-size: .8rem; }
figure { margin: 1.5rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: var(--grey); }
.callout { border-left: 6px solid var(--blue); background: #E8F1FA; padding: .6rem 1rem; margin: 1rem 0; }
.callout .title { font-weight: bold; color: var(--blue); }
.note { font-size: .85rem; color: var(--grey); }
@media print { body { background: #fff; } main { max-width: none; padding: 0; } h1 { break-before: page; } }
"#;

/// The document as HTML.
pub fn render(doc: &Document) -> String {
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&doc.title));
    let _ = writeln!(out, "<meta name=\"flsdb-ident\" content=\"{}\">", escape(&doc.ident));
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>\n<main>");
    cover(&mut out, doc);
    for block in &doc.blocks {
        self::block(&mut out, block);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn cover(out: &mut String, doc: &Document) {
    let c = &doc.cover;
    out.push_str("<header class=\"cover\">\n");
    if !c.kicker.is_empty() {
        let _ = writeln!(out, "<p class=\"kicker\">{}</p>", escape(&c.kicker));
    }
    let _ = writeln!(out, "<h1 class=\"title\">{}</h1>", escape(&c.title));
    if !c.subtitle.is_empty() {
        let _ = writeln!(out, "<p class=\"subtitle\">{}</p>", escape(&c.subtitle));
    }
    out.push_str("<dl class=\"facts\">\n");
    for (label, value) in &c.facts {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl>\n");
    if !c.note.is_empty() {
        let _ = writeln!(out, "<p class=\"cover-note\">{}</p>", escape(&c.note));
    }
    out.push_str("</header>\n");
    if c.contents {
        out.push_str("<nav class=\"contents\"><h2>Contents</h2><ol>\n");
        for block in &doc.blocks {
            let Block::Heading { level: 1, text, id } = block else { continue };
            let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", escape(id), escape(text));
        }
        out.push_str("</ol></nav>\n");
    }
}

fn inlines(out: &mut String, parts: &[Inline]) {
    for part in parts {
        match part {
            Inline::Text(t) => out.push_str(&escape(t)),
            Inline::Strong(t) => {
                let _ = write!(out, "<strong>{}</strong>", escape(t));
            }
            Inline::Emph(t) => {
                let _ = write!(out, "<em>{}</em>", escape(t));
            }
            Inline::Band(b) => chip(out, *b),
        }
    }
}

fn chip(out: &mut String, band: flsdb_kpi::Band) {
    let (fill, ink) = band_colours(band);
    let _ = write!(out, "<span class=\"band\" style=\"background:{fill};color:{ink}\">{}</span>", band_word(band));
}

fn block(out: &mut String, block: &Block) {
    match block {
        Block::Heading { level, text, id } => {
            let level = (*level).clamp(1, 4);
            let _ = writeln!(out, "<h{level} id=\"{}\">{}</h{level}>", escape(id), escape(text));
        }
        Block::Paragraph(parts) => {
            out.push_str("<p>");
            inlines(out, parts);
            out.push_str("</p>\n");
        }
        Block::Note(parts) => {
            out.push_str("<p class=\"note\">");
            inlines(out, parts);
            out.push_str("</p>\n");
        }
        Block::Bullets(items) => {
            out.push_str("<ul>\n");
            for item in items {
                out.push_str("<li>");
                inlines(out, item);
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        Block::Tiles(tiles) => {
            out.push_str("<div class=\"tiles\">\n");
            for t in tiles {
                let _ = write!(
                    out,
                    "<div class=\"tile\"><div class=\"label\">{}</div><div class=\"value\">{}</div>",
                    escape(&t.label),
                    escape(&t.value)
                );
                out.push_str("<div class=\"detail\">");
                if let Some(b) = t.band {
                    chip(out, b);
                    out.push(' ');
                }
                let _ = writeln!(out, "{}</div></div>", escape(&t.detail));
            }
            out.push_str("</div>\n");
        }
        Block::Table(t) => table(out, t),
        Block::Figure(f) => {
            out.push_str("<figure>\n");
            out.push_str(f.svg.trim());
            let _ = writeln!(out, "\n<figcaption>{}</figcaption>\n</figure>", escape(&f.caption));
        }
        Block::Callout { title, body } => {
            let _ = write!(out, "<div class=\"callout\"><div class=\"title\">{}</div><p>", escape(title));
            inlines(out, body);
            out.push_str("</p></div>\n");
        }
        Block::Landscape(blocks) => {
            for b in blocks {
                self::block(out, b);
            }
        }
        Block::PageBreak => {}
    }
}

fn table(out: &mut String, t: &Table) {
    let _ = writeln!(out, "<table{}>", if t.small { " class=\"small\"" } else { "" });
    if !t.caption.is_empty() {
        let _ = writeln!(out, "<caption>{}</caption>", escape(&t.caption));
    }
    out.push_str("<thead><tr>");
    for c in &t.columns {
        let class = if c.align == Align::Right { " class=\"r\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(&c.header));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        let mut attrs = String::new();
        if row.strong {
            attrs.push_str(" class=\"strong\"");
        }
        if let Some(level) = row.level {
            let _ = write!(attrs, " data-level=\"{level}\"");
        }
        let _ = write!(out, "<tr{attrs}>");
        for (cell, column) in row.cells.iter().zip(&t.columns) {
            let mut classes = Vec::new();
            if column.align == Align::Right {
                classes.push("r");
            }
            if cell.count {
                classes.push("count");
            }
            let class = if classes.is_empty() { String::new() } else { format!(" class=\"{}\"", classes.join(" ")) };
            let style = match cell.band {
                Some(b) => {
                    let (fill, ink) = band_colours(b);
                    format!(" style=\"background:{fill};color:{ink}\"")
                }
                None => String::new(),
            };
            let _ = write!(out, "<td{class}{style}>{}</td>", escape(&cell.text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_contained_and_escaped() {
        let doc = Document {
            title: "A <b> & c".into(),
            cover: Cover { title: "T".into(), contents: true, ..Cover::default() },
            blocks: vec![
                Block::Heading { level: 1, text: "One".into(), id: "one".into() },
                Block::Table(Table {
                    columns: vec![Column::left("Name"), Column::right("Records")],
                    rows: vec![Row {
                        cells: vec![Cell::new("x<y"), Cell::count("*")],
                        level: Some("service"),
                        strong: false,
                    }],
                    ..Table::default()
                }),
            ],
            ident: "id".into(),
        };
        let html = render(&doc);
        assert!(html.contains("<title>A &lt;b&gt; &amp; c</title>"));
        assert!(html.contains("<a href=\"#one\">One</a>"));
        assert!(html.contains("<tr data-level=\"service\"><td>x&lt;y</td><td class=\"r count\">*</td></tr>"));
        for external in ["src=", "<link", "<script", "http://", "https://"] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
