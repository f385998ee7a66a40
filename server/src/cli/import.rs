//! `fieldsync import customers FILE.csv|FILE.xlsx --store PATH`: a team's customer spreadsheet
//! into a store, through the same duplicate check the phone runs before saving a customer.
//!
//! The whole file is read and its header mapped before the store is opened, so a file that
//! cannot be used (unknown format, unreadable, no company-name column) changes nothing. The rows
//! then go into the store in one transaction ([`Store::import_customers`]): a row that is the
//! same company as a stored customer or as an earlier row is merged into it, a row that is only
//! possibly the same is created and listed for review, a row that breaks a record rule is
//! listed and skipped.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use fieldsync_core::Store;
use fieldsync_core::dedup::{MatchReason, PhoneKind, normalize_phone};
use fieldsync_core::model::{Contact, NewCustomer};
use fieldsync_core::store::{DuplicateCandidate, ImportedCustomer};

/// Largest spreadsheet accepted, so a wrong file fails fast instead of filling memory.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    CompanyName,
    /// A company line (switchboard, office phone).
    Phone,
    /// A mobile: the contact's when the row names one contact, else the company's.
    Mobile,
    Contact,
    Title,
    Email,
    Address,
    CreditCode,
    Tags,
}

/// Header names per field, compared after [`header_key`]. `name`/`名称` alone is only read as
/// the company name when no other column is (an English sheet often means the person by it).
const HEADERS: &[(Field, &[&str])] = &[
    (
        Field::CompanyName,
        &[
            "公司名称",
            "客户名称",
            "公司",
            "客户",
            "企业名称",
            "单位名称",
            "公司全称",
            "客户全称",
            "company",
            "companyname",
            "customer",
            "customername",
        ],
    ),
    (
        Field::Phone,
        &[
            "电话",
            "公司电话",
            "联系电话",
            "办公电话",
            "座机",
            "固话",
            "固定电话",
            "总机",
            "电话号码",
            "phone",
            "phonenumber",
            "tel",
            "telephone",
        ],
    ),
    (
        Field::Mobile,
        &["手机", "手机号", "手机号码", "移动电话", "mobile", "mobilephone", "cell", "cellphone"],
    ),
    (Field::Contact, &["联系人", "联系人姓名", "姓名", "contact", "contactname", "contactperson"]),
    (Field::Title, &["职务", "职位", "title", "jobtitle"]),
    (Field::Email, &["邮箱", "电子邮箱", "邮件", "email"]),
    (Field::Address, &["地址", "公司地址", "详细地址", "联系地址", "address"]),
    (
        Field::CreditCode,
        &["统一社会信用代码", "社会信用代码", "信用代码", "creditcode", "uscc", "unifiedsocialcreditcode"],
    ),
    (Field::Tags, &["标签", "tags", "tag"]),
];
const WEAK_COMPANY_HEADERS: &[&str] = &["name", "名称"];

/// A spreadsheet's cells as text: the header row and the data rows with their row numbers in
/// the file (1-based, as a spreadsheet program shows them).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Header cells.
    pub header: Vec<String>,
    /// (row number, cells) of every non-empty row after the header.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Which column feeds which field.
#[derive(Debug, Clone, PartialEq)]
struct ColumnMap {
    fields: Vec<Option<Field>>,
    ignored: Vec<String>,
}

/// The counts and lines of an import, as printed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    /// New customers saved (including possible duplicates).
    pub created: usize,
    /// Of those, rows that may duplicate a customer and should be reviewed.
    pub possible: usize,
    /// Rows merged into an existing customer (or an earlier row).
    pub merged: usize,
    /// Rows not imported.
    pub skipped: usize,
    /// One line per merge, possible duplicate, skipped row and ignored column.
    pub lines: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} rows: {} created ({} possible duplicates to review), {} merged into existing customers, {} skipped",
            self.rows, self.created, self.possible, self.merged, self.skipped
        )?;
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Customer drafts with the row number each came from.
pub type Drafts = Vec<(usize, NewCustomer)>;

/// The table's rows as customer drafts with their row numbers, and the columns ignored: what the
/// CLI and the console's 导入 read from a file. A table without a company column is an error.
pub fn drafts_of(table: &Table) -> Result<(Drafts, Vec<String>)> {
    let columns = map_columns(&table.header)?;
    let drafts = table.rows.iter().map(|(row, cells)| (*row, row_to_customer(&columns, cells))).collect();
    Ok((drafts, columns.ignored))
}

/// Imports the customers in `file` into the store at `store_path` (created if missing).
/// Shows a progress bar on stderr when it is a terminal.
pub fn import_customers(file: &Path, store_path: &Path) -> Result<ImportReport> {
    let table = read_table(file)?;
    let (drafts, ignored) = drafts_of(&table)?;

    let store =
        Store::open(store_path).with_context(|| format!("cannot open the store {}", store_path.display()))?;
    let progress = progress_bar(drafts.len());
    let names: Vec<String> = drafts.iter().map(|(_, d)| d.company_name.clone()).collect();
    let row_numbers: Vec<usize> = drafts.iter().map(|(row, _)| *row).collect();
    let outcomes = store.import_customers(drafts.into_iter().map(|(_, d)| d).collect(), &mut |done| {
        progress.set_position(done as u64)
    });
    progress.finish_and_clear();
    let outcomes = outcomes.context("the import failed and was rolled back; the store is unchanged")?;
    store.close()?;

    let mut report = ImportReport { rows: outcomes.len(), ..Default::default() };
    for ((outcome, row), name) in outcomes.iter().zip(&row_numbers).zip(&names) {
        match outcome {
            ImportedCustomer::Created { candidates, .. } if candidates.is_empty() => report.created += 1,
            ImportedCustomer::Created { id, candidates } => {
                report.created += 1;
                report.possible += 1;
                let best = &candidates[0];
                report.lines.push(format!(
                    "possible row {row} \"{name}\" created as {id}; resembles \"{}\" ({}): {}",
                    best.customer.company_name,
                    best.customer.id,
                    describe(best)
                ));
            }
            ImportedCustomer::Merged { into, candidate, conflicts } => {
                report.merged += 1;
                let mut line = format!(
                    "merged row {row} \"{name}\" into \"{}\" ({into}): {}",
                    candidate.customer.company_name,
                    describe(candidate)
                );
                for conflict in conflicts {
                    let _ = write!(
                        line,
                        "; {} kept \"{}\", file has \"{}\"",
                        conflict.field, conflict.kept, conflict.other
                    );
                }
                report.lines.push(line);
            }
            ImportedCustomer::Refused(problem) => {
                report.skipped += 1;
                report.lines.push(format!("skipped row {row}: {problem}"));
            }
        }
    }
    if !ignored.is_empty() {
        report.lines.push(format!("ignored columns: {}", ignored.join(", ")));
    }
    Ok(report)
}

fn progress_bar(rows: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(rows as u64), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// The evidence of a candidate in words, identity evidence first, then the name similarity,
/// then what speaks against it: `shared phone +8651262345678, name 0.93`.
fn describe(candidate: &DuplicateCandidate) -> String {
    let mut parts = Vec::new();
    let mut caveats = Vec::new();
    for reason in &candidate.reasons {
        match reason {
            MatchReason::CreditCodeMatch => parts.push("same credit code".to_owned()),
            MatchReason::CreditCodeMismatch => caveats.push("different credit codes".to_owned()),
            MatchReason::SharedPhone { e164, .. } => parts.push(format!("shared phone {e164}")),
            MatchReason::SharedSwitchboard { e164 } => {
                parts.push(format!("shared switchboard {e164} (other extension)"))
            }
            MatchReason::SameName | MatchReason::SimilarName => {}
            MatchReason::DifferentNameWord => caveats.push("the names differ by a word".to_owned()),
            MatchReason::DifferentRegions => caveats.push("different regions".to_owned()),
            MatchReason::BranchOfSameCompany => caveats.push("a branch and its head office".to_owned()),
        }
    }
    parts.push(format!("name {:.2}", candidate.score));
    parts.extend(caveats);
    parts.join(", ")
}

/// Reads a CSV (UTF-8, or GB18030/GBK as Excel writes it on Chinese Windows) or a spreadsheet
/// (`.xlsx`, `.xlsm`, `.xls`, `.ods`; first sheet) into text cells.
pub fn read_table(path: &Path) -> Result<Table> {
    let extension =
        path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if size > MAX_FILE_BYTES {
        bail!("{} is {} MB; the limit is {} MB", path.display(), size >> 20, MAX_FILE_BYTES >> 20);
    }
    let rows = match extension.as_str() {
        "csv" | "tsv" => read_csv(path)?,
        "xlsx" | "xlsm" | "xls" | "ods" => read_spreadsheet(path)?,
        other => bail!(
            "{}: unknown format{}; give a .csv or .xlsx file",
            path.display(),
            if other.is_empty() { String::new() } else { format!(" .{other}") }
        ),
    };
    let mut rows = rows.into_iter().filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    let Some((_, header)) = rows.next() else {
        bail!("{} has no rows; the first row must name the columns (公司名称, 电话, …)", path.display());
    };
    Ok(Table { header, rows: rows.collect() })
}

fn read_csv(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = decode_text(&bytes).with_context(|| {
        format!("{} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8", path.display())
    })?;
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .filter(|d| first_line.as_bytes().contains(d))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{} is not valid CSV", path.display()))?;
        let line = record.position().map_or(rows.len() + 1, |p| p.line() as usize);
        rows.push((line, record.iter().map(|c| c.trim().to_owned()).collect()));
    }
    Ok(rows)
}

/// UTF-8 (a byte-order mark is dropped), else GB18030, which covers GBK and GB2312.
fn decode_text(bytes: &[u8]) -> Result<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        bail!("undecodable bytes");
    }
    Ok(text.into_owned())
}

fn read_spreadsheet(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    use calamine::Reader;
    let mut workbook = calamine::open_workbook_auto(path)
        .with_context(|| format!("{} is not a readable spreadsheet", path.display()))?;
    let range = workbook
        .worksheet_range_at(0)
        .with_context(|| format!("{} has no sheet", path.display()))?
        .with_context(|| format!("cannot read the first sheet of {}", path.display()))?;
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let first_column = range.start().map_or(0, |(_, column)| column as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut text = vec![String::new(); first_column];
            text.extend(cells.iter().map(cell_text));
            (first_row + i + 1, text)
        })
        .collect())
}

fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        // Phone numbers typed into a number cell: 13812345678, not 1.3812345678e10.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e17 => format!("{}", *f as i64),
        other => other.to_string().trim().to_owned(),
    }
}

/// Header cell → comparable key: lower case, without spaces, `-`, `_`, `*`, colons and
/// bracketed notes (`电话（必填）` → `电话`).
fn header_key(cell: &str) -> String {
    let mut key = String::new();
    let mut depth = 0u32;
    for c in cell.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_whitespace() || matches!(c, '-' | '_' | '*' | ':' | '：' | '.') => {}
            c => key.extend(c.to_lowercase()),
        }
    }
    key
}

fn map_columns(header: &[String]) -> Result<ColumnMap> {
    let keys: Vec<String> = header.iter().map(|h| header_key(h)).collect();
    let mut fields: Vec<Option<Field>> = keys
        .iter()
        .map(|key| HEADERS.iter().find(|(_, names)| names.contains(&key.as_str())).map(|(field, _)| *field))
        .collect();
    let has = |fields: &[Option<Field>], wanted: Field| fields.contains(&Some(wanted));
    for (i, key) in keys.iter().enumerate() {
        if fields[i].is_none() && WEAK_COMPANY_HEADERS.contains(&key.as_str()) {
            let field = if !has(&fields, Field::CompanyName) {
                Some(Field::CompanyName)
            } else if !has(&fields, Field::Contact) {
                Some(Field::Contact)
            } else {
                None
            };
            fields[i] = field;
        }
    }
    // Phones may come from several columns; every other field from its first column only.
    let mut ignored = Vec::new();
    let mut seen = Vec::new();
    for (i, field) in fields.iter_mut().enumerate() {
        match *field {
            Some(Field::Phone | Field::Mobile) => {}
            Some(f) if seen.contains(&f) => {
                *field = None;
                ignored.push(header[i].clone());
            }
            Some(f) => seen.push(f),
            None if !header[i].trim().is_empty() => ignored.push(header[i].clone()),
            None => {}
        }
    }
    if !has(&fields, Field::CompanyName) {
        bail!(
            "no company-name column: the header row has [{}]; name one column 公司名称, 客户名称, company or name",
            header.join(", ")
        );
    }
    Ok(ColumnMap { fields, ignored })
}

/// Splits a phone cell: several numbers separated by `,;/、` (or their full-width forms) or,
/// when every space-separated part is a number of its own, by spaces. A part that is not a
/// number is kept as typed. Extensions stay with their number: `;ext=8021` (RFC 3966) is not a
/// separator, and a bare local number after a landline (`021 6234 5678 / 6234 5679`) is written
/// out with the area code it shares.
fn split_phones(cell: &str) -> Vec<String> {
    let mut phones: Vec<String> = Vec::new();
    for piece in cell.split([',', ';', '/', '、', '，', '；', '|', '\n']) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let is_extension = piece.get(..4).is_some_and(|head| head.eq_ignore_ascii_case("ext="));
        if let Some(previous) = phones.last_mut().filter(|_| is_extension) {
            previous.push(';');
            previous.push_str(piece);
            continue;
        }
        let shared_area = phones
            .last()
            .and_then(|previous| normalize_phone(previous))
            .filter(|previous| previous.kind == PhoneKind::Landline && normalize_phone(piece).is_none())
            .map(|previous| format!("0{} {piece}", previous.area_code()))
            .filter(|written| normalize_phone(written).is_some());
        if let Some(written) = shared_area {
            phones.push(written);
            continue;
        }
        let words: Vec<&str> = piece.split_whitespace().collect();
        if normalize_phone(piece).is_none()
            && words.len() > 1
            && words.iter().all(|w| normalize_phone(w).is_some())
        {
            phones.extend(words.iter().map(|w| w.to_string()));
        } else {
            phones.push(piece.to_owned());
        }
    }
    phones
}

fn split_list(cell: &str) -> Vec<String> {
    cell.split([',', ';', '、', '，', '；', '|', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn row_to_customer(columns: &ColumnMap, cells: &[String]) -> NewCustomer {
    let mut customer = NewCustomer::default();
    let (mut company_phones, mut mobiles, mut contacts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut title, mut email) = (None, None);
    let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    for (field, cell) in columns.fields.iter().zip(cells) {
        let cell = cell.trim();
        match field {
            Some(Field::CompanyName) => customer.company_name = cell.to_owned(),
            Some(Field::Phone) => company_phones.extend(split_phones(cell)),
            Some(Field::Mobile) => mobiles.extend(split_phones(cell)),
            Some(Field::Contact) => contacts = split_list(cell),
            Some(Field::Title) => title = text(cell),
            Some(Field::Email) => email = text(cell),
            Some(Field::Address) => customer.address = text(cell),
            Some(Field::CreditCode) => customer.credit_code = text(cell),
            Some(Field::Tags) => customer.tags = split_list(cell),
            None => {}
        }
    }
    if let [name] = &contacts[..] {
        customer.contacts.push(Contact { name: name.clone(), title, phones: mobiles, email });
    } else {
        company_phones.append(&mut mobiles);
        customer.contacts = contacts.into_iter().map(|name| Contact { name, ..Default::default() }).collect();
    }
    customer.phones = company_phones;
    customer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn chinese_and_english_headers_map_to_fields() {
        let map = map_columns(&header(&[
            "客户名称",
            "联系人",
            "手机",
            "电话（必填）",
            "备注",
            "Credit Code",
            "标签",
        ]))
        .unwrap();
        assert_eq!(
            map.fields,
            vec![
                Some(Field::CompanyName),
                Some(Field::Contact),
                Some(Field::Mobile),
                Some(Field::Phone),
                None,
                Some(Field::CreditCode),
                Some(Field::Tags)
            ]
        );
        assert_eq!(map.ignored, vec!["备注"]);
        let map = map_columns(&header(&["Company", "Name", "Tel"])).unwrap();
        assert_eq!(map.fields, vec![Some(Field::CompanyName), Some(Field::Contact), Some(Field::Phone)]);
        let map = map_columns(&header(&["name", "phone"])).unwrap();
        assert_eq!(map.fields[0], Some(Field::CompanyName));
    }

    #[test]
    fn a_sheet_without_a_company_column_is_refused_with_its_headers() {
        let err = map_columns(&header(&["联系人", "电话"])).unwrap_err().to_string();
        assert!(err.contains("no company-name column") && err.contains("联系人, 电话"), "{err}");
    }

    #[test]
    fn several_phones_in_one_cell_are_split_but_a_spaced_number_is_one() {
        assert_eq!(split_phones("138 1234 5678"), vec!["138 1234 5678"]);
        assert_eq!(split_phones("0512-6888 8888"), vec!["0512-6888 8888"]);
        assert_eq!(split_phones("13812345678 13912345678"), vec!["13812345678", "13912345678"]);
        assert_eq!(
            split_phones("13812345678、0512-68888888转201；13900001111/ 见名片"),
            vec!["13812345678", "0512-68888888转201", "13900001111", "见名片"]
        );
        assert!(split_phones("  ").is_empty());
    }

    #[test]
    fn a_cell_s_extensions_and_shared_area_codes_stay_with_their_numbers() {
        assert_eq!(split_phones("+86-21-6234-5678;ext=8021"), vec!["+86-21-6234-5678;ext=8021"]);
        assert_eq!(split_phones("021 6234 5678 / 6234 5679"), vec!["021 6234 5678", "021 6234 5679"]);
        assert_eq!(
            split_phones("021-62345678转8021 / 62345679 x 12; 13812345678"),
            vec!["021-62345678转8021", "021 62345679 x 12", "13812345678"]
        );
    }

    #[test]
    fn one_contact_takes_the_mobiles_and_several_leave_them_to_the_company() {
        let map = map_columns(&header(&["公司名称", "电话", "手机", "联系人", "职务"])).unwrap();
        let row = |contact: &str| {
            row_to_customer(&map, &header(&["精工机械", "0512-68888888", "13812345678", contact, "经理"]))
        };
        let one = row("张伟");
        assert_eq!(one.phones, vec!["0512-68888888"]);
        assert_eq!(one.contacts[0].phones, vec!["13812345678"]);
        assert_eq!(one.contacts[0].title.as_deref(), Some("经理"));
        let two = row("张伟、李娜");
        assert_eq!(two.phones, vec!["0512-68888888", "13812345678"]);
        assert_eq!(two.contacts.len(), 2);
    }

    #[test]
    fn gbk_csv_from_excel_is_decoded() {
        let (bytes, _, _) = encoding_rs::GBK.encode("公司名称,电话\n苏州精工机械有限公司,0512-68888888\n");
        assert_eq!(decode_text(&bytes).unwrap(), "公司名称,电话\n苏州精工机械有限公司,0512-68888888\n");
        assert_eq!(decode_text(b"\xEF\xBB\xBFname").unwrap(), "name");
        assert!(decode_text(&[0x81, 0x20, 0xff, 0xfe]).is_err());
    }

    #[test]
    fn header_keys_ignore_case_spacing_marks_and_notes() {
        assert_eq!(header_key(" Company_Name* "), "companyname");
        assert_eq!(header_key("电话（必填）"), "电话");
        assert_eq!(header_key("E-mail"), "email");
    }
}
