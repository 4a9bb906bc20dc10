//! Word lists for invented places and organisations, and the real administrative groupings they
//! sit in. Hospital, trust and ICB names are invented (made from parts that sound English or Welsh)
//! so that no synthetic figure can be read as a real service's performance; NHS England regions,
//! Welsh health boards and Northern Ireland's trusts are real, public names.

/// Parts of invented English place names (`Rowan` + `bridge`).
pub(crate) const ENGLISH_STEMS: [&str; 30] = [
    "Alder", "Bram", "Briar", "Cray", "Elder", "Fen", "Gorse", "Haw", "Heron", "Ivy", "Kestrel", "Lark", "Linden",
    "Mere", "Nettle", "Otter", "Pebble", "Plover", "Quarry", "Rook", "Rowan", "Sedge", "Sorrel", "Teal", "Thistle",
    "Wren", "Yarrow", "Willow", "Hazel", "Bracken",
];
pub(crate) const ENGLISH_ENDINGS: [&str; 14] = [
    "bury", "ford", "ham", "ley", "field", "ton", "worth", "wick", "mouth", "dale", "bridge", "stead", "combe",
    "thorpe",
];

/// Parts of invented Welsh place names (`Aber` + `celyn`).
pub(crate) const WELSH_STEMS: [&str; 8] = ["Aber", "Llan", "Pen", "Caer", "Cwm", "Tre", "Pont", "Bryn"];
pub(crate) const WELSH_ENDINGS: [&str; 10] =
    ["gwyn", "dour", "hafod", "celyn", "derw", "ferin", "garth", "nant", "ystrad", "wern"];

/// Endings of invented ICB areas (`Larkshire`, `Teal Vale`).
pub(crate) const COUNTY_ENDINGS: [&str; 4] = ["shire", " Vale", " and District", "land"];

/// Used when a place list runs out, to keep every service name unique.
pub(crate) const COMPASS: [&str; 4] = ["North", "South", "East", "West"];

/// NHS England's seven regions with a rough share of England's population (services are spread
/// in proportion) and postcode areas of the region (outward codes are built on them).
pub(crate) const ENGLISH_REGIONS: [(&str, f64, &[&str]); 7] = [
    ("London", 0.16, &["E", "N", "NW", "SE", "SW", "W", "BR", "CR", "HA", "UB", "EN", "IG", "RM", "KT", "TW"]),
    ("South East", 0.17, &["BN", "GU", "RH", "ME", "CT", "TN", "OX", "RG", "SO", "PO", "MK", "HP", "SL"]),
    ("South West", 0.10, &["BS", "BA", "EX", "PL", "TQ", "TA", "TR", "GL", "SN", "SP", "BH", "DT"]),
    ("Midlands", 0.19, &["B", "CV", "DE", "DY", "LE", "NG", "NN", "ST", "WS", "WV", "WR", "HR", "TF", "LN"]),
    ("East of England", 0.12, &["CB", "CM", "CO", "IP", "NR", "PE", "SG", "SS", "AL", "LU"]),
    ("North East and Yorkshire", 0.14, &["NE", "SR", "DH", "DL", "TS", "YO", "HU", "LS", "BD", "HG", "HD", "WF", "S"]),
    ("North West", 0.12, &["M", "L", "WA", "WN", "BL", "OL", "SK", "PR", "BB", "FY", "LA", "CA", "CH", "CW"]),
];

pub(crate) const WELSH_HEALTH_BOARDS: [&str; 7] = [
    "Betsi Cadwaladr University Health Board",
    "Hywel Dda University Health Board",
    "Swansea Bay University Health Board",
    "Cwm Taf Morgannwg University Health Board",
    "Cardiff and Vale University Health Board",
    "Aneurin Bevan University Health Board",
    "Powys Teaching Health Board",
];
pub(crate) const WELSH_POSTCODE_AREAS: &[&str] = &["CF", "SA", "NP", "LL", "LD", "SY"];

pub(crate) const NI_TRUSTS: [&str; 5] = [
    "Belfast Health and Social Care Trust",
    "Northern Health and Social Care Trust",
    "South Eastern Health and Social Care Trust",
    "Southern Health and Social Care Trust",
    "Western Health and Social Care Trust",
];
pub(crate) const NI_POSTCODE_AREAS: &[&str] = &["BT"];

/// Postcode areas for a service from its region or nation (services supplied by a caller may name
/// regions this crate does not know; they get areas from all of England).
pub(crate) fn postcode_areas(nation: Option<&str>, region: Option<&str>) -> Vec<&'static str> {
    if let Some((_, _, areas)) = ENGLISH_REGIONS.iter().find(|(name, _, _)| Some(*name) == region) {
        return areas.to_vec();
    }
    match nation {
        Some("wales") => WELSH_POSTCODE_AREAS.to_vec(),
        Some("northern_ireland") => NI_POSTCODE_AREAS.to_vec(),
        _ => ENGLISH_REGIONS.iter().flat_map(|(_, _, areas)| areas.iter().copied()).collect(),
    }
}

/// The letters of the inward code's unit (a real postcode never uses C, I, K, M, O or V there).
pub(crate) const UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
