//! `fieldsync import customers`, run as a real process on CSV and XLSX files; the store is opened
//! afterwards to check what the import really wrote.

use std::path::Path;

use fieldsync_core::Store;
use fieldsync_core::model::{Contact, Customer, NewCustomer};
use fieldsync_e2e::run_fieldsync;

/// A store holding one customer, closed again; returns the customer.
fn store_with_one_customer(path: &Path) -> Customer {
    let store = Store::open(path).unwrap();
    let customer = store
        .create(NewCustomer {
            company_name: "苏州市精工机械有限公司".into(),
            phones: vec!["0512-6888 8888".into()],
            contacts: vec![Contact { name: "张伟".into(), ..Default::default() }],
            ..Default::default()
        })
        .unwrap();
    store.close().unwrap();
    customer
}

fn import(file: &Path, store: &Path) -> (bool, String, String) {
    let out =
        run_fieldsync(&["import", "customers", file.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn only_customer(store: &Store, name_prefix: &str) -> Customer {
    let found = store.customers_by_name_prefix(name_prefix, 10).unwrap();
    assert_eq!(found.len(), 1, "one customer named {name_prefix}…: {found:?}");
    store.get(found[0].id).unwrap()
}

#[test]
fn a_csv_import_merges_known_customers_and_earlier_rows_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("team.fieldsync");
    let existing = store_with_one_customer(&store_path);
    let csv = dir.path().join("客户.csv");
    std::fs::write(
        &csv,
        "公司名称,电话,手机,联系人,地址,统一社会信用代码,标签,备注\n\
         精工机械（苏州）,+86 512 68888888,13812345678,张伟,苏州工业园区星湖街8号,,展会、A类,老客户\n\
         无锡市恒通电气有限公司,0510-8123 4567,13912345678,李娜,,,,\n\
         恒通电气,,139 1234 5678,,,,,\n\
         苏州精工模具有限公司,0512-68888888,,,,,,\n\
         ,13900000000,,,,,,\n\
         宁波海天塑机有限公司,0574-86181234；13705741234,,,,,,\n",
    )
    .unwrap();

    let (ok, stdout, stderr) = import(&csv, &store_path);
    assert!(ok, "stderr: {stderr}\nstdout: {stdout}");
    assert!(
        stdout.starts_with(
            "6 rows: 3 created (1 possible duplicates to review), 2 merged into existing customers, 1 skipped"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "merged row 2 \"精工机械（苏州）\" into \"苏州市精工机械有限公司\" ({}): shared phone +8651268888888, name 1.00",
            existing.id
        )),
        "{stdout}"
    );
    assert!(stdout.contains("merged row 4 \"恒通电气\" into \"无锡市恒通电气有限公司\""), "{stdout}");
    assert!(stdout.contains("shared phone +8613912345678"), "{stdout}");
    assert!(stdout.contains("possible row 5 \"苏州精工模具有限公司\" created as "), "{stdout}");
    assert!(stdout.contains("the names differ by a word"), "{stdout}");
    assert!(stdout.contains("skipped row 6: customer company_name: must not be empty"), "{stdout}");
    assert!(stdout.contains("ignored columns: 备注"), "{stdout}");

    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.document_count().unwrap(), 4, "existing + 恒通 + 模具 + 海天");
    let jinggong: Customer = store.get(existing.id).unwrap();
    assert_eq!(jinggong.company_name, "苏州市精工机械有限公司", "the stored record stays canonical");
    assert_eq!(jinggong.phones, vec!["0512-6888 8888"], "the same switchboard is kept once");
    assert_eq!(jinggong.contacts.len(), 1, "张伟 of the file is the stored 张伟");
    assert_eq!(jinggong.contacts[0].phones, vec!["13812345678"]);
    assert_eq!(jinggong.address.as_deref(), Some("苏州工业园区星湖街8号"));
    assert_eq!(jinggong.tags, vec!["展会", "A类"]);

    let hengtong = only_customer(&store, "无锡市恒通");
    assert_eq!(hengtong.phones, vec!["0510-8123 4567", "139 1234 5678"]);
    assert_eq!(hengtong.contacts[0].phones, vec!["13912345678"]);
    let haitian = only_customer(&store, "宁波海天");
    assert_eq!(haitian.phones, vec!["0574-86181234", "13705741234"]);
    only_customer(&store, "苏州精工模具");
}

#[test]
fn an_xlsx_import_reads_english_headers_and_numeric_phone_cells() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("fresh.fieldsync");
    let xlsx = dir.path().join("customers.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (column, title) in ["Company Name", "Mobile", "Tel", "Contact", "Tags"].iter().enumerate() {
        sheet.write_string(0, column as u16, *title).unwrap();
    }
    sheet.write_string(1, 0, "Ningbo Haitian Plastics Machinery Co., Ltd.").unwrap();
    sheet.write_number(1, 1, 13_705_741_234.0).unwrap();
    sheet.write_string(1, 2, "0574-8618 1234").unwrap();
    sheet.write_string(1, 3, "Chen Ming").unwrap();
    sheet.write_string(1, 4, "trade fair").unwrap();
    sheet.write_string(2, 0, "东莞市鸿盛五金制品有限公司").unwrap();
    sheet.write_string(2, 2, "0769-8512 3456 / 13800138000").unwrap();
    sheet.write_string(3, 0, "HAITIAN PLASTICS MACHINERY CO., LTD").unwrap();
    sheet.write_string(3, 1, "+86 137 0574 1234").unwrap();
    sheet.write_string(3, 4, "key account").unwrap();
    workbook.save(&xlsx).unwrap();

    let (ok, stdout, stderr) = import(&xlsx, &store_path);
    assert!(ok, "stderr: {stderr}\nstdout: {stdout}");
    assert!(stdout.starts_with("3 rows: 2 created (0 possible duplicates to review), 1 merged"), "{stdout}");
    assert!(stdout.contains("merged row 4 \"HAITIAN PLASTICS MACHINERY CO., LTD\""), "{stdout}");
    assert!(stdout.contains("shared phone +8613705741234"), "{stdout}");

    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.document_count().unwrap(), 2);
    let haitian = only_customer(&store, "ningbo");
    assert_eq!(haitian.contacts[0].name, "Chen Ming");
    assert_eq!(haitian.contacts[0].phones, vec!["13705741234"], "the number cell reads as digits");
    assert_eq!(haitian.phones, vec!["0574-8618 1234", "+86 137 0574 1234"]);
    assert_eq!(haitian.tags, vec!["trade fair", "key account"]);
    let hongsheng = only_customer(&store, "东莞市鸿盛");
    assert_eq!(hongsheng.phones, vec!["0769-8512 3456", "13800138000"]);
}

#[test]
fn a_file_that_cannot_be_imported_changes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("team.fieldsync");
    store_with_one_customer(&store_path);
    let before = std::fs::read(&store_path).unwrap();

    let no_name = dir.path().join("contacts.csv");
    std::fs::write(&no_name, "联系人,电话\n张伟,13812345678\n").unwrap();
    let text = dir.path().join("customers.txt");
    std::fs::write(&text, "公司名称\n精工机械\n").unwrap();
    let not_a_workbook = dir.path().join("broken.xlsx");
    std::fs::write(&not_a_workbook, "公司名称\n精工机械\n").unwrap();
    let missing = dir.path().join("missing.csv");
    let not_text = dir.path().join("binary.csv");
    std::fs::write(&not_text, [0x81u8, 0x20, 0xff, 0xfe, 0x00, 0x81]).unwrap();

    for (file, message) in [
        (&no_name, "no company-name column: the header row has [联系人, 电话]"),
        (&text, "unknown format .txt; give a .csv or .xlsx file"),
        (&not_a_workbook, "is not a readable spreadsheet"),
        (&missing, "cannot read"),
        (&not_text, "neither UTF-8 nor GB18030"),
    ] {
        let (ok, stdout, stderr) = import(file, &store_path);
        assert!(!ok, "{}: should fail; stdout {stdout}", file.display());
        assert!(stderr.contains(message), "{}: {stderr}", file.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(std::fs::read(&store_path).unwrap(), before, "the store file was not touched");
    let fresh = dir.path().join("never-created.fieldsync");
    let (ok, _, _) = import(&no_name, &fresh);
    assert!(!ok);
    assert!(!fresh.exists(), "a refused file does not even create the store");
}
