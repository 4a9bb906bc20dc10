//! The content of a report as a small document model, so that one description of each report
//! is written out twice, as self-contained HTML ([`crate::html`]) and as typst markup for the PDF
//! ([`crate::typst`]), and the two cannot drift apart.

use flsdb_kpi::Band;

/// A whole report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// The document title (PDF metadata, HTML `<title>`, running header).
    pub title: String,
    pub cover: Cover,
    pub blocks: Vec<Block>,
    /// A stable identifier (hashed into the PDF's document id): report kind, period, as-of date and
    /// data fingerprint.
    pub ident: String,
}

/// The title page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cover {
    /// Small line above the title (e.g. the audit's name).
    pub kicker: String,
    pub title: String,
    pub subtitle: String,
    /// Label and value lines (period, as-of date, KPI set, fingerprint…).
    pub facts: Vec<(String, String)>,
    /// A note at the foot of the cover (e.g. the disclosure rule).
    pub note: String,
    /// A table of contents follows the cover.
    pub contents: bool,
}

/// A block of content.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Headings of level 1 start a new page in the PDF. `id` is the HTML anchor.
    Heading {
        level: u8,
        text: String,
        id: String,
    },
    Paragraph(Vec<Inline>),
    Bullets(Vec<Vec<Inline>>),
    /// Large figures side by side: label, value, detail (smaller), band of the value.
    Tiles(Vec<Tile>),
    Table(Table),
    Figure(Figure),
    /// A highlighted box (e.g. the suggested QI target).
    Callout {
        title: String,
        body: Vec<Inline>,
    },
    /// A small explanatory note.
    Note(Vec<Inline>),
    /// Content laid out on landscape pages in the PDF (wide tables).
    Landscape(Vec<Block>),
    /// Starts a new page in the PDF (nothing in HTML).
    PageBreak,
}

/// A run of text.
#[derive(Clone, Debug, PartialEq)]
pub enum Inline {
    Text(String),
    Strong(String),
    Emph(String),
    /// A coloured band chip ("green").
    Band(Band),
}

/// Plain text as inlines.
pub fn text(s: impl Into<String>) -> Vec<Inline> {
    vec![Inline::Text(s.into())]
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tile {
    pub label: String,
    pub value: String,
    pub detail: String,
    pub band: Option<Band>,
}

/// A table; the first row of `header` rows are repeated on each page in the PDF.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub caption: String,
    /// Smaller type (wide appendix tables).
    pub small: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub header: String,
    pub align: Align,
    /// Let this column take the remaining width (names); others are as wide as their content.
    pub wide: bool,
}

impl Column {
    pub fn left(header: impl Into<String>) -> Self {
        Column { header: header.into(), align: Align::Left, wide: false }
    }

    pub fn wide(header: impl Into<String>) -> Self {
        Column { header: header.into(), align: Align::Left, wide: true }
    }

    pub fn right(header: impl Into<String>) -> Self {
        Column { header: header.into(), align: Align::Right, wide: false }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table row. `level` says which level of the audit it shows ("overall", "nation", "region",
/// "commissioner", "service"): published reports tag their count cells with it, so a reader (or
/// a test) can see which figures fall under disclosure control.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub level: Option<&'static str>,
    /// Emphasised (e.g. the national row).
    pub strong: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    /// Fill the cell with the band's colour.
    pub band: Option<Band>,
    /// A count of patients (marked `class="count"` in HTML).
    pub count: bool,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Self {
        Cell { text: text.into(), band: None, count: false }
    }

    pub fn count(text: impl Into<String>) -> Self {
        Cell { text: text.into(), band: None, count: true }
    }

    pub fn banded(text: impl Into<String>, band: Option<Band>) -> Self {
        Cell { text: text.into(), band, count: false }
    }
}

/// A chart: an SVG of `flsdb-charts`, inlined in HTML and embedded in the PDF under `name`.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// A file name unique in the document (`kpi4-funnel.svg`).
    pub name: String,
    pub svg: String,
    pub caption: String,
    /// Width in the PDF as a fraction of the text width.
    pub width: f64,
}

/// The band as a word for text.
pub fn band_word(band: Band) -> &'static str {
    match band {
        Band::Red => "red",
        Band::Amber => "amber",
        Band::Green => "green",
    }
}

/// Fill and text colours of a band chip or cell (NHS red, amber, green).
pub fn band_colours(band: Band) -> (&'static str, &'static str) {
    match band {
        Band::Red => ("#DA291C", "#FFFFFF"),
        Band::Amber => ("#FFB81C", "#231F20"),
        Band::Green => ("#009639", "#FFFFFF"),
    }
}
