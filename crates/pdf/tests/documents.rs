//! Every kind of block `flsdb-report` writes compiles in typst, whatever the text: names with
//! typst markup, quotes, backslashes and brackets reach the PDF as plain text.

use flsdb_kpi::Band;
use flsdb_report::doc::*;

const HOSTILE: &str = r#"*Star* #1 [North] $x$ "quoted" back\slash <tag> @ref `code` = - + / _under_"#;

fn document() -> Document {
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="300" height="120" viewBox="0 0 300 120" font-family="DejaVu Sans, Arial, sans-serif"><rect width="300" height="120" fill="#FFFFFF"/><text x="10" y="60" font-size="14">A chart &amp; its text</text></svg>"##;
    let table = Table {
        columns: vec![Column::left("KPI"), Column::wide(HOSTILE), Column::right("Value")],
        rows: vec![
            Row {
                cells: vec![Cell::new("kpi4"), Cell::new(HOSTILE), Cell::banded("71.0%", Some(Band::Amber))],
                level: Some("overall"),
                strong: true,
            },
            Row {
                cells: vec![Cell::new("kpi5"), Cell::new("x"), Cell::count("*")],
                level: Some("service"),
                strong: false,
            },
        ],
        caption: HOSTILE.into(),
        small: false,
    };
    Document {
        title: HOSTILE.into(),
        cover: Cover {
            kicker: HOSTILE.into(),
            title: HOSTILE.into(),
            subtitle: HOSTILE.into(),
            facts: vec![(HOSTILE.into(), HOSTILE.into())],
            note: HOSTILE.into(),
            contents: true,
        },
        blocks: vec![
            Block::Heading { level: 1, text: HOSTILE.into(), id: "a".into() },
            Block::Paragraph(vec![
                Inline::Text(HOSTILE.into()),
                Inline::Strong(HOSTILE.into()),
                Inline::Emph(".method()".into()),
                Inline::Band(Band::Red),
            ]),
            Block::Bullets(vec![text(HOSTILE), vec![Inline::Band(Band::Green)]]),
            Block::Tiles(vec![Tile {
                label: HOSTILE.into(),
                value: "70.0%".into(),
                detail: HOSTILE.into(),
                band: Some(Band::Green),
            }]),
            Block::Table(table.clone()),
            Block::Figure(Figure { name: "c.svg".into(), svg: svg.into(), caption: HOSTILE.into(), width: 0.5 }),
            Block::Callout { title: HOSTILE.into(), body: text(HOSTILE) },
            Block::Note(text(HOSTILE)),
            Block::PageBreak,
            Block::Landscape(vec![
                Block::Heading { level: 2, text: "Wide".into(), id: "w".into() },
                Block::Table(Table { small: true, ..table }),
            ]),
            Block::Paragraph(text("back in portrait")),
        ],
        ident: "test".into(),
    }
}

#[test]
fn every_block_kind_compiles_with_hostile_text() {
    let job = flsdb_report::typst::render(&document());
    let pdf = flsdb_pdf::render(&flsdb_pdf::Job { main: job.main, files: job.files, ident: job.ident })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pdf.starts_with(b"%PDF-"));
}
