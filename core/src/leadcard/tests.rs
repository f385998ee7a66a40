//! Lead-card parsing against real-world-style payloads, error cases, and a no-panic property
//! test. The sample files double as the fuzz seed corpus in `core/tests/data/qr_payloads/`.

use super::*;

/// Sample payloads from the seed corpus, kept in files so fuzzers and these tests share them.
macro_rules! sample {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/data/qr_payloads/", $name))
    };
}

fn parse_sample(bytes: &[u8]) -> ParsedLead {
    match parse_payload_bytes(bytes) {
        Ok(lead) => lead,
        Err(error) => panic!("sample failed to parse: {error}"),
    }
}

fn phone(label: &str, value: &str) -> LabeledValue {
    LabeledValue { label: label.to_owned(), value: value.to_owned() }
}

fn s(value: &str) -> Option<String> {
    Some(value.to_owned())
}

#[test]
fn android_vcard_2_1_with_utf8_quoted_printable_and_soft_breaks() {
    let lead = parse_sample(sample!("vcard21_android_qp_utf8.txt"));
    assert_eq!(lead.format, PayloadFormat::VCard { version: VCardVersion::V2_1 });
    assert_eq!(lead.name, s("张伟"));
    assert_eq!(lead.company, s("苏州恒力精密机械有限公司"));
    assert_eq!(lead.department, s("华东销售部"));
    assert_eq!(lead.title, s("销售经理"));
    assert_eq!(
        lead.phones,
        vec![phone("cell", "138-1234-5678"), phone("work", "0512-68888888"), phone("fax", "0512-68888889"),]
    );
    assert_eq!(lead.emails, vec!["zhangwei@hengli-jixie.example.cn"]);
    assert_eq!(lead.address, s("中国江苏省苏州市工业园区星湖街328号创意产业园12栋 215000"));
    assert_eq!(lead.website, s("http://www.hengli-jixie.example.cn"));
    assert_eq!(lead.note, s("2024工博会 5.1馆 展位A088，主营数控车床与加工中心"));
    assert_eq!(lead.wechat_id, s("zhangwei_hl88"));
}

#[test]
fn same_android_card_parses_identically_from_text_and_bytes() {
    let bytes = sample!("vcard21_android_qp_utf8.txt");
    let text = std::str::from_utf8(bytes).unwrap();
    assert_eq!(parse_payload(text), parse_payload_bytes(bytes));
}

#[test]
fn gbk_encoded_vcard_bytes_are_detected_and_decoded() {
    let bytes = sample!("vcard21_gbk_raw.txt");
    // 李 in GBK: the sample must hold raw GBK, not UTF-8.
    assert!(bytes.windows(2).any(|w| w == [0xC0, 0xEE]));
    let lead = parse_sample(bytes);
    assert_eq!(lead.name, s("李娜"));
    assert_eq!(lead.company, s("宁波海天塑机集团有限公司"));
    assert_eq!(lead.department, s("国际贸易部"));
    assert_eq!(lead.title, s("采购主管"));
    assert_eq!(lead.phones, vec![phone("cell", "13957812345"), phone("work", "0574-86182888")]);
    assert_eq!(lead.address, s("中国浙江省宁波市北仑区小港江南出口加工贸易区 315800"));
}

#[test]
fn gbk_bytes_inside_quoted_printable_follow_the_charset_parameter() {
    let lead = parse_sample(sample!("vcard21_qp_gbk.txt"));
    assert_eq!(lead.name, s("王建国"));
    assert_eq!(lead.company, s("东莞市长安镇宏达五金制品厂"));
    assert_eq!(lead.phones, vec![phone("cell", "+86 139 2266 8899")]);
}

#[test]
fn apple_vcard_3_0_with_groups_labels_escapes_and_a_photo() {
    let lead = parse_sample(sample!("vcard30_apple_groups.txt"));
    assert_eq!(lead.format, PayloadFormat::VCard { version: VCardVersion::V3_0 });
    assert_eq!(lead.name, s("陈静"));
    assert_eq!(lead.company, s("上海浦江电气设备有限公司"));
    assert_eq!(lead.department, s("市场部 / 华东大区"));
    assert_eq!(
        lead.phones,
        vec![
            phone("work", "+86 21 5888 6666"),
            phone("cell", "+86 186 2176 5432"),
            phone("fax", "021-58886667"),
        ]
    );
    assert_eq!(lead.emails, vec!["chenjing@pujiang-elec.example.com", "chenjing1988@qq.com"]);
    assert_eq!(lead.address, s("中国上海市浦东新区张江高科技园区, 碧波路690号 201203"));
    assert_eq!(lead.note, s("展会现场扫码; 对变频器感兴趣\n下周回访"));
    assert_eq!(lead.website, s("https://www.pujiang-elec.example.com"));
    assert_eq!(lead.wechat_id, s("chenjing_pj"));
    assert_eq!(lead.qq, s("281234567"));
}

#[test]
fn vcard_4_0_tel_uris_with_quoted_type_lists() {
    let lead = parse_sample(sample!("vcard40_tel_uri.txt"));
    assert_eq!(lead.format, PayloadFormat::VCard { version: VCardVersion::V4_0 });
    assert_eq!(lead.name, s("Zhou Min"));
    assert_eq!(lead.company, s("Kunshan Yuanda Precision Molds Co., Ltd."));
    assert_eq!(lead.department, s("Export Sales"));
    assert_eq!(
        lead.phones,
        vec![phone("work", "+86-512-6888-8888"), phone("cell", "+86-150-0621-3344;ext=12")]
    );
    assert_eq!(lead.wechat_id, s("zhoumin_yd"));
    assert_eq!(lead.address, s("No. 88 Qianjin East Road, Kunshan, Jiangsu 215300, China"));
}

/// The number and extension the duplicate check reads from each of a card's phones.
fn phone_keys(lead: &ParsedLead) -> Vec<(String, Option<String>)> {
    lead.phones
        .iter()
        .map(|p| {
            let n = crate::dedup::normalize_phone(&p.value)
                .unwrap_or_else(|| panic!("{:?} should be a number", p.value));
            (n.e164, n.extension)
        })
        .collect()
}

fn switchboard(extension: &str) -> Vec<(String, Option<String>)> {
    vec![("+862162345678".to_owned(), Some(extension.to_owned()))]
}

#[test]
fn a_vcard_4_tel_uri_keeps_its_extension() {
    let lead = parse_payload(
        "BEGIN:VCARD\nVERSION:4.0\nFN:周敏\nTEL;VALUE=uri;TYPE=work:tel:+86-21-6234-5678;ext=8021\nEND:VCARD",
    )
    .unwrap();
    assert_eq!(lead.phones, vec![phone("work", "+86-21-6234-5678;ext=8021")]);
    assert_eq!(phone_keys(&lead), switchboard("8021"));
}

#[test]
fn a_vcard_3_trailing_extension_is_kept() {
    let lead = parse_payload("BEGIN:VCARD\nVERSION:3.0\nFN:周敏\nTEL;TYPE=WORK:021-62345678-8021\nEND:VCARD")
        .unwrap();
    assert_eq!(lead.phones, vec![phone("work", "021-62345678-8021")]);
    assert_eq!(phone_keys(&lead), switchboard("8021"));
}

#[test]
fn a_tel_link_keeps_its_extension_and_drops_other_parameters() {
    let lead = parse_payload("tel:+862162345678;phone-context=example.cn;ext=12").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "+862162345678;ext=12")]);
    assert_eq!(phone_keys(&lead), switchboard("12"));
    let lead = parse_payload("tel:+862162345678;ext=8%2D021").unwrap();
    assert_eq!(phone_keys(&lead), switchboard("8021"));
}

#[test]
fn a_mecard_tel_uri_keeps_its_extension_escaped_or_not() {
    for payload in [
        "MECARD:N:周,敏;TEL:tel:+862162345678;ext=12;;",
        "MECARD:N:周,敏;TEL:+862162345678\\;ext=12;;",
        "BIZCARD:N:敏;X:周;B:tel:+862162345678;ext=12;;",
    ] {
        let lead = parse_payload(payload).unwrap();
        assert_eq!(lead.phones.len(), 1, "{payload}");
        assert_eq!(lead.phones[0].value, "+862162345678;ext=12", "{payload}");
        assert_eq!(phone_keys(&lead), switchboard("12"), "{payload}");
    }
}

#[test]
fn plain_text_extensions_in_every_notation_are_kept() {
    for (text, written) in [
        ("电话：021-62345678-8021", "021-62345678-8021"),
        ("Tel 021 6234 5678 ext. 8021 Fax", "021 6234 5678 ext. 8021"),
        ("Tel: +86 21 6234 5678 x 102", "+86 21 6234 5678 x 102"),
        ("电话021-62345678转8021。", "021-62345678转8021"),
        ("电话 021-62345678 分机 8021", "021-62345678 分机 8021"),
        ("电话 021-62345678（分机8021）", "021-62345678（分机8021）"),
        ("总机 (021)62345678#8021", "(021)62345678#8021"),
    ] {
        let lead = parse_payload(text).unwrap();
        assert_eq!(lead.phones, vec![phone("other", written)], "{text}");
        let extension = if written.ends_with("102") { "102" } else { "8021" };
        assert_eq!(phone_keys(&lead), switchboard(extension), "{text}");
    }
}

#[test]
fn a_huge_or_garbage_extension_is_not_kept() {
    let lead = parse_payload("tel:+862162345678;ext=12345678901234567890").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "+862162345678")]);
    let lead = parse_payload("tel:+862162345678;ext=abc").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "+862162345678")]);
    let lead = parse_payload("电话 021-62345678转12345678901 王").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "021-62345678")]);
    let lead = parse_payload("日期 0512-68888888-2024-05-12").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "0512-68888888")]);
}

#[test]
fn a_slash_between_landlines_is_two_numbers() {
    let lead = parse_payload("上海办 电话 021 6234 5678 / 6234 5679 周敏").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "021 6234 5678"), phone("other", "021 6234 5679")]);
    let keys: Vec<String> = phone_keys(&lead).into_iter().map(|(e164, _)| e164).collect();
    assert_eq!(keys, vec!["+862162345678", "+862162345679"]);
    let lead = parse_payload("电话：0512-68888888-801/68888889 手机 13812345678").unwrap();
    let values: Vec<&str> = lead.phones.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(values, vec!["0512-68888888-801", "0512 68888889", "13812345678"]);
    let lead = parse_payload("手机 13812345678 / 13912345678").unwrap();
    let values: Vec<&str> = lead.phones.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(values, vec!["13812345678", "13912345678"]);
}

#[test]
fn a_vcard_phone_listing_two_numbers_with_a_slash_yields_both() {
    let lead = parse_payload(
        "BEGIN:VCARD\nVERSION:3.0\nFN:周敏\nTEL;TYPE=WORK:021 6234 5678 / 6234 5679\nEND:VCARD",
    )
    .unwrap();
    assert_eq!(lead.phones, vec![phone("work", "021 6234 5678"), phone("work", "021 6234 5679")]);
}

#[test]
fn structured_latin_name_is_used_when_there_is_no_fn() {
    let lead =
        parse_payload("BEGIN:VCARD\nVERSION:3.0\nN:Smith;John;;;\nTEL:+1 555 0100 123\nEND:VCARD").unwrap();
    assert_eq!(lead.name, s("John Smith"));
    assert_eq!(lead.phones, vec![phone("other", "+1 555 0100 123")]);
}

#[test]
fn cjk_structured_name_has_no_space_and_fn_wins_when_present() {
    let lead = parse_payload("BEGIN:VCARD\nN:张;三;;;\nTEL:13800001111\nEND:VCARD").unwrap();
    assert_eq!(lead.name, s("张三"));
    assert_eq!(lead.phones, vec![phone("cell", "13800001111")]);
    let lead =
        parse_payload("BEGIN:VCARD\nN:张;三;;;\nFN:张三丰 (总经理)\nTEL:13800001111\nEND:VCARD").unwrap();
    assert_eq!(lead.name, s("张三丰 (总经理)"));
}

#[test]
fn base64_text_values_are_decoded_with_their_charset() {
    let lead = parse_payload(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN;ENCODING=b;CHARSET=UTF-8:5byg5LiJ\r\n\
         NOTE;ENCODING=BASE64:5bGV5Lya\r\nEND:VCARD\r\n",
    )
    .unwrap();
    assert_eq!(lead.name, s("张三"));
    assert_eq!(lead.note, s("展会"));
}

#[test]
fn broken_base64_in_a_text_value_names_the_property_and_line() {
    let error = parse_payload("BEGIN:VCARD\nVERSION:3.0\nFN:x\nNOTE;ENCODING=b:!!!\nEND:VCARD").unwrap_err();
    assert_eq!(error, PayloadError::InvalidBase64 { property: "NOTE".to_owned(), line: 4 });
    assert!(error.to_string().contains("NOTE on line 4"));
}

#[test]
fn vcard_with_no_contact_fields_is_refused() {
    let error = parse_payload("BEGIN:VCARD\nVERSION:3.0\nNOTE:hello\nEND:VCARD").unwrap_err();
    assert_eq!(error, PayloadError::NoContactFields { format: "vCard 3.0" });
}

#[test]
fn impossible_vcard_version_is_refused() {
    let error = parse_payload("BEGIN:VCARD\nVERSION:9.9\nFN:x\nEND:VCARD").unwrap_err();
    assert_eq!(error, PayloadError::UnsupportedVCardVersion { found: "9.9".to_owned() });
}

#[test]
fn lines_after_end_vcard_and_unreadable_lines_are_ignored() {
    let lead = parse_payload(
        "BEGIN:VCARD\nVERSION:2.1\nthis line has no colon\nFN:Li Lei\nEND:VCARD\nFN:Han Meimei",
    )
    .unwrap();
    assert_eq!(lead.name, s("Li Lei"));
}

#[test]
fn mecard_with_chinese_fields_and_escapes() {
    let lead = parse_sample(sample!("mecard_cn.txt"));
    assert_eq!(lead.format, PayloadFormat::MeCard);
    assert_eq!(lead.name, s("刘洋"));
    assert_eq!(lead.phones, vec![phone("cell", "13761234567"), phone("other", "021-64281234")]);
    assert_eq!(lead.emails, vec!["liuyang@example-valve.cn"]);
    assert_eq!(lead.company, s("上海良工阀门厂"));
    assert_eq!(lead.title, s("技术总监"));
    assert_eq!(lead.address, s("上海市闵行区七宝镇漕宝路3366号"));
    assert_eq!(lead.website, s("http://www.example-valve.cn"));
    assert_eq!(lead.note, s("需要DN200蝶阀报价;月底前"));
}

#[test]
fn mecard_latin_name_is_last_comma_first() {
    let lead = parse_payload("MECARD:N:Owen,Sean;TEL:+12125551212;EMAIL:so@example.com;;").unwrap();
    assert_eq!(lead.name, s("Sean Owen"));
    assert_eq!(lead.phones, vec![phone("other", "+12125551212")]);
}

#[test]
fn bizcard_fields_map_to_lead_fields() {
    let lead = parse_sample(sample!("bizcard_en.txt"));
    assert_eq!(lead.format, PayloadFormat::BizCard);
    assert_eq!(lead.name, s("Sean Owen"));
    assert_eq!(lead.title, s("Purchasing Director"));
    assert_eq!(lead.company, s("Acme Industrial Supply"));
    assert_eq!(lead.address, s("76 9th Avenue, New York, NY 10011"));
    assert_eq!(
        lead.phones,
        vec![
            phone("work", "+1 212 555 1212"),
            phone("cell", "+1 917 555 0199"),
            phone("fax", "+1 212 555 1213"),
        ]
    );
    assert_eq!(lead.emails, vec!["sowen@acme-supply.example.com"]);
    let lead = parse_payload("BIZCARD:N:三;X:张;M:13912345678;;").unwrap();
    assert_eq!(lead.name, s("张三"));
}

#[test]
fn empty_mecard_is_refused() {
    assert_eq!(parse_payload("MECARD:;;"), Err(PayloadError::NoContactFields { format: "MECARD" }));
}

#[test]
fn wecom_contact_link_is_recognised() {
    let lead = parse_sample(sample!("wecom_contact.txt"));
    assert_eq!(lead.format, PayloadFormat::WeComContact);
    assert_eq!(lead.url, s("https://work.weixin.qq.com/u/vc8a1b2c3d4e5f6a7b?v=4.1.20.26620&bb=2e2c8a5f0c"));
    assert_eq!(lead.website, None);
    let lead = parse_payload("https://work.weixin.qq.com/ca/cawcde5a3b2f1e0d9c8b").unwrap();
    assert_eq!(lead.format, PayloadFormat::WeComContact);
    let lead = parse_payload("https://work.weixin.qq.com/wework_admin/loginpage").unwrap();
    assert_eq!(lead.format, PayloadFormat::Url);
}

#[test]
fn wechat_contact_links_are_recognised() {
    let lead = parse_sample(sample!("wechat_contact.txt"));
    assert_eq!(lead.format, PayloadFormat::WeChatContact);
    assert_eq!(lead.url, s("https://u.wechat.com/EJ7yOpFl5mOk0eUHrSIgL1Q"));
    let lead = parse_payload("HTTPS://WEIXIN.QQ.COM/r/o0zV0aHEvLkNrXxB90iP").unwrap();
    assert_eq!(lead.format, PayloadFormat::WeChatContact);
    let lead = parse_payload("weixin://contacts/profile/wxid_k2j3h4g5f6").unwrap();
    assert_eq!(lead.format, PayloadFormat::WeChatContact);
    assert_eq!(lead.wechat_id, s("wxid_k2j3h4g5f6"));
    let lead = parse_payload("weixin://wxpay/bizpayurl?pr=abc").unwrap();
    assert_eq!(lead.format, PayloadFormat::Url);
    assert_eq!(lead.wechat_id, None);
}

#[test]
fn web_link_becomes_the_website() {
    let lead = parse_payload("  https://www.example.com.cn:8443/contact?id=7#top \n").unwrap();
    assert_eq!(lead.format, PayloadFormat::Url);
    assert_eq!(lead.website, s("https://www.example.com.cn:8443/contact?id=7#top"));
    assert_eq!(lead.url, lead.website);
}

#[test]
fn tel_and_mailto_links_fill_phone_and_email() {
    let lead = parse_payload("tel:+86-138-1234-5678").unwrap();
    assert_eq!(lead.format, PayloadFormat::Url);
    assert_eq!(lead.phones, vec![phone("cell", "+86-138-1234-5678")]);
    let lead = parse_payload("TEL:0512-68888888;ext=801").unwrap();
    assert_eq!(lead.phones, vec![phone("other", "0512-68888888;ext=801")]);
    let lead = parse_payload("mailto:sales@example.cn,%E5%BC%A0@example.cn?subject=hi").unwrap();
    assert_eq!(lead.emails, vec!["sales@example.cn", "张@example.cn"]);
    assert_eq!(
        parse_payload("tel:"),
        Err(PayloadError::EmptyLink { scheme: "tel", expected: "phone number" })
    );
    assert!(matches!(
        parse_payload("mailto:?subject=x"),
        Err(PayloadError::EmptyLink { scheme: "mailto", .. })
    ));
}

#[test]
fn plain_text_card_yields_phones_emails_and_website() {
    let lead = parse_sample(sample!("plain_text_card.txt"));
    assert_eq!(lead.format, PayloadFormat::PlainText);
    assert_eq!(
        lead.phones,
        vec![
            phone("cell", "139 1357 2468"),
            phone("other", "0512-6666 1234-802"),
            phone("fax", "0512-66661235"),
        ]
    );
    assert_eq!(lead.emails, vec!["zhaoqiang@jinding-mould.example.cn"]);
    assert_eq!(lead.website, s("https://www.jinding-mould.example.cn"));
    assert!(lead.note.as_deref().is_some_and(|n| n.starts_with("苏州市吴中区")));
    assert_eq!(lead.name, None);
}

#[test]
fn link_followed_by_text_is_plain_text() {
    let lead = parse_payload("https://example.cn\n王五 13800138000").unwrap();
    assert_eq!(lead.format, PayloadFormat::PlainText);
    assert_eq!(lead.phones, vec![phone("cell", "13800138000")]);
    assert_eq!(lead.website, s("https://example.cn"));
}

#[test]
fn gbk_plain_text_bytes_are_decoded() {
    let (bytes, _, _) = encoding_rs::GBK.encode("联系人：孙丽 手机 18612345678");
    let lead = parse_payload_bytes(&bytes).unwrap();
    assert_eq!(lead.phones, vec![phone("cell", "18612345678")]);
    assert_eq!(lead.note, s("联系人：孙丽 手机 18612345678"));
}

#[test]
fn declared_big5_bytes_are_decoded_as_big5() {
    let (bytes, _, _) = encoding_rs::BIG5.encode(
        "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=BIG5:林志明\r\nORG;CHARSET=BIG5:台灣精機\r\nEND:VCARD",
    );
    let lead = parse_payload_bytes(&bytes).unwrap();
    assert_eq!(lead.name, s("林志明"));
    assert_eq!(lead.company, s("台灣精機"));
}

#[test]
fn utf16_with_bom_is_decoded() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "MECARD:N:张,三;TEL:13800001111;;".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(parse_payload_bytes(&bytes).unwrap().name, s("张三"));
}

#[test]
fn empty_payloads_are_refused() {
    assert_eq!(parse_payload(""), Err(PayloadError::Empty));
    assert_eq!(parse_payload(" \r\n\t\u{feff}"), Err(PayloadError::Empty));
    assert_eq!(parse_payload_bytes(b""), Err(PayloadError::Empty));
}

#[test]
fn oversized_payloads_are_refused_before_parsing() {
    let big = "a".repeat(MAX_PAYLOAD_BYTES + 1);
    assert_eq!(
        parse_payload(&big),
        Err(PayloadError::TooLarge { bytes: MAX_PAYLOAD_BYTES + 1, limit: MAX_PAYLOAD_BYTES })
    );
    assert!(matches!(parse_payload_bytes(big.as_bytes()), Err(PayloadError::TooLarge { .. })));
    assert!(parse_payload(&"a".repeat(MAX_PAYLOAD_BYTES)).is_ok());
    let message = parse_payload(&big).unwrap_err().to_string();
    assert!(message.contains("8193 bytes"), "{message}");
}

#[test]
fn payloads_with_too_many_lines_are_refused() {
    let exactly = "x\n".repeat(MAX_PAYLOAD_LINES);
    assert!(parse_payload(&exactly).is_ok());
    let over = "x\n".repeat(MAX_PAYLOAD_LINES + 1);
    assert_eq!(parse_payload(&over), Err(PayloadError::TooManyLines { limit: MAX_PAYLOAD_LINES }));
}

#[test]
fn binary_garbage_is_not_text() {
    assert_eq!(parse_payload_bytes(&[0xFF, 0x00, 0x80, 0xFF, 0xFF]), Err(PayloadError::NotText));
}

#[test]
fn format_display_names_say_which_card_it_was() {
    let lead = parse_payload("MECARD:N:张,三;;").unwrap();
    assert_eq!(lead.format.display_name(), "MECARD");
    assert_eq!(PayloadFormat::VCard { version: VCardVersion::V4_0 }.display_name(), "vCard 4.0");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Fragments that steer random payloads into the parsers' interesting paths.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("BEGIN:VCARD\r\n".to_owned()),
            Just("VERSION:2.1\n".to_owned()),
            Just("END:VCARD".to_owned()),
            Just("MECARD:".to_owned()),
            Just("BIZCARD:".to_owned()),
            Just("N;CHARSET=GBK;ENCODING=QUOTED-PRINTABLE:".to_owned()),
            Just("item1.TEL;TYPE=\"work,voice\";VALUE=uri:tel:".to_owned()),
            Just("NOTE;ENCODING=b:".to_owned()),
            Just("X-ABLabel:".to_owned()),
            Just("https://".to_owned()),
            Just("weixin://contacts/profile/".to_owned()),
            Just("mailto:".to_owned()),
            Just("=\r\n".to_owned()),
            Just("=E5=".to_owned()),
            Just("\\".to_owned()),
            Just(";".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("\"".to_owned()),
            Just("+86 ".to_owned()),
            Just("１３８".to_owned()),
            Just("@".to_owned()),
            Just(" ".to_owned()),
            Just("\r".to_owned()),
            "[0-9]{1,12}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn arbitrary_text_never_panics(raw in any::<String>()) {
            let _ = parse_payload(&raw);
        }

        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_payload_bytes(&raw);
        }

        #[test]
        fn card_like_fragments_never_panic(parts in proptest::collection::vec(fragment(), 0..40)) {
            let raw = parts.concat();
            let _ = parse_payload(&raw);
            let _ = parse_payload_bytes(raw.as_bytes());
        }

        #[test]
        fn results_hold_no_empty_strings(parts in proptest::collection::vec(fragment(), 0..40)) {
            if let Ok(lead) = parse_payload(&parts.concat()) {
                for field in [&lead.name, &lead.company, &lead.title, &lead.department,
                              &lead.address, &lead.website, &lead.note, &lead.wechat_id,
                              &lead.qq, &lead.url].into_iter().flatten() {
                    prop_assert!(!field.trim().is_empty());
                }
                prop_assert!(lead.phones.iter().all(|p| !p.value.is_empty()));
                prop_assert!(lead.emails.iter().all(|e| !e.is_empty()));
            }
        }
    }
}
