use super::*;
use crate::model::Counted;
use crate::model::{Category, IncidentId, Timestamp};

fn counted<T>(value: T, count: u64) -> Counted<T> {
    Counted { value, count }
}

fn pattern(id: &str, template: &str, count: u64) -> Pattern {
    Pattern {
        id: id.to_string(),
        template: template.to_string(),
        name: template
            .replace("<*>", "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        count,
        first_seen: Timestamp::from_micros(1_736_000_000_000_000),
        last_seen: Timestamp::from_micros(1_752_000_000_000_000),
        categories: vec![counted(Category::Failure, count)],
        components: vec![counted("worker".to_string(), count)],
        statuses: vec![],
        recurrences: 1,
        resolved: count - 1,
        mean_resolve_secs: Some(5100.0),
        median_resolve_secs: Some(3000.0),
        root_causes: vec![counted("サービス停止".to_string(), 2)],
        actions: vec![
            counted("systemctl restart app".to_string(), count - 1),
            counted("ログを確認".to_string(), 1),
        ],
        action_sets: vec![],
        preventive_measures: vec![counted("監視を追加".to_string(), 1)],
        last_fix: vec![],
        examples: vec![IncidentId::new(20250709, 3), IncidentId::new(20250701, 1)],
    }
}

fn rabbit() -> Pattern {
    let mut p = pattern("P1a2b3c4d", "Connection refused to RabbitMQ at <*>", 6);
    p.components = vec![counted("rabbitmq".to_string(), 6)];
    p
}

fn disk() -> Pattern {
    pattern("P00d15c00", "Disk usage above <*> percent on <*>", 4)
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// The text with every generated block and the blank line inserted before it removed.
fn without_blocks(text: &str) -> String {
    let doc = doc::parse(text);
    let mut out = String::new();
    let mut cursor = 0;
    for b in &doc.blocks {
        let start = if text[..b.start].ends_with("\n\n") {
            b.start - 1
        } else {
            b.start
        };
        out.push_str(&text[cursor..start]);
        cursor = b.end;
    }
    out.push_str(&text[cursor..]);
    out
}

#[test]
fn second_run_changes_nothing() {
    let pats = [
        rabbit(),
        disk(),
        pattern("P0000000a", "Slack notification failed <*>", 3),
    ];
    let opts = KbOptions::default();
    let first = suggest(KB_TEMPLATE, &pats, &none(), &opts);
    assert!(!first.is_unchanged());
    let second = suggest(&first.new_text, &pats, &none(), &opts);
    assert_eq!(second.new_text, first.new_text);
    assert!(second.is_unchanged(), "{second:#?}");
    assert_eq!(diff(&first.new_text, &second.new_text, "a", "b"), "");
}

#[test]
fn human_text_is_kept_byte_for_byte() {
    let edited = KB_TEMPLATE
        .replace(
            "  2. サービス再起動\n",
            "  2. サービス再起動（夜間は当番に連絡）\n",
        )
        .replace(
            "## 既知のパターン\n",
            "## 既知のパターン\n\n人が追記した段落。  \n",
        )
        + "\n## 付録\n\n手書きのメモ <!-- コメント -->\n";
    let update = suggest(&edited, &[rabbit(), disk()], &none(), &KbOptions::default());
    assert_eq!(update.added.len(), 1);
    assert_eq!(update.enriched.len(), 1);
    assert_eq!(without_blocks(&update.new_text), edited);
    assert!(
        update
            .new_text
            .ends_with("\n## 付録\n\n手書きのメモ <!-- コメント -->\n")
    );
}

#[test]
fn enriches_the_matching_hand_written_entry() {
    let update = suggest(KB_TEMPLATE, &[rabbit()], &none(), &KbOptions::default());
    assert!(update.added.is_empty(), "{:?}", update.added);
    assert_eq!(
        update.enriched,
        [KbChange {
            entry: Some("INCIDENT_002".into()),
            title: "RabbitMQ接続断".into(),
            pattern_id: "P1a2b3c4d".into(),
        }]
    );
    let text = &update.new_text;
    let entry = text.find("### INCIDENT_002").expect("entry");
    let block = text
        .find("<!-- incident:enrich P1a2b3c4d -->")
        .expect("block");
    let next = text.find("### INCIDENT_003").expect("next");
    assert!(entry < block && block < next);
    assert!(
        text[..block].ends_with("  - クライアント側に再接続（指数バックオフ付き）を実装する\n\n")
    );
    let enrich = &text[block..next];
    assert!(enrich.contains("- **発生件数**: 6件（初回: "), "{enrich}");
    assert!(
        enrich.contains("- **平均解決時間**: 1時間25分（中央値: 50分、解決済み: 5件）"),
        "{enrich}"
    );
    assert!(enrich.contains("- **関連インシデント**: INC-20250709-0003, INC-20250701-0001"));
    assert!(enrich.contains("  1. `systemctl restart app`（5件）"));
}

#[test]
fn new_entries_take_numbers_after_the_highest() {
    let existing = "# KB\n\n### INCIDENT_001: a\n- x\n\n### INCIDENT_002: b\n\n### INCIDENT_007: c\n- **症状**: z\n\n## 付録\n";
    let mut other = pattern("P000000b2", "Cache miss storm on <*>", 5);
    other.components.clear();
    let mut small = pattern("P000000c3", "Rare thing <*>", 2);
    small.components.clear();
    let update = suggest(
        existing,
        &[disk(), other, small],
        &none(),
        &KbOptions::default(),
    );
    let added: Vec<_> = update
        .added
        .iter()
        .map(|c| (c.entry.clone().unwrap_or_default(), c.pattern_id.as_str()))
        .collect();
    assert_eq!(
        added,
        [
            ("INCIDENT_008".to_string(), "P000000b2"),
            ("INCIDENT_009".to_string(), "P00d15c00")
        ]
    );
    let text = &update.new_text;
    let eight = text
        .find("### INCIDENT_008: Cache miss storm on")
        .expect("008");
    assert!(text.find("- **症状**: z").expect("z") < eight);
    assert!(eight < text.find("### INCIDENT_009").expect("009"));
    assert!(
        text.ends_with("<!-- /incident:pattern -->\n\n## 付録\n"),
        "{text}"
    );
    assert!(!text.contains("P000000c3"), "below min_count");
}

#[test]
fn generated_entries_are_updated_in_place() {
    let opts = KbOptions::default();
    let first = suggest(KB_TEMPLATE, &[disk()], &none(), &opts);
    assert_eq!(first.added[0].entry.as_deref(), Some("INCIDENT_006"));
    let mut more = disk();
    more.count = 9;
    let mut scripts = none();
    scripts.insert(more.id.clone(), "auto_fix/P00d15c00.sh".to_string());
    let second = suggest(&first.new_text, &[more], &scripts, &opts);
    assert!(second.added.is_empty());
    assert_eq!(second.updated[0].entry.as_deref(), Some("INCIDENT_006"));
    assert_eq!(second.new_text.matches("INCIDENT_006").count(), 1);
    assert!(second.new_text.contains("- **発生件数**: 9件"));
    assert!(
        second
            .new_text
            .contains("- **自動修正スクリプト**: [auto_fix/P00d15c00.sh](auto_fix/P00d15c00.sh)")
    );
    assert_eq!(without_blocks(&second.new_text), KB_TEMPLATE);
    let gone = suggest(&second.new_text, &[], &none(), &opts);
    assert_eq!(
        gone.new_text, second.new_text,
        "blocks of absent patterns are kept"
    );
}

#[test]
fn a_pin_attaches_a_pattern_to_an_entry() {
    let pinned = KB_TEMPLATE.replace(
        "### INCIDENT_004: 処理時間超過\n",
        "### INCIDENT_004: 処理時間超過\n<!-- incident:match P00d15c00 -->\n",
    );
    let mut small = disk();
    small.count = 1;
    small.resolved = 0;
    let update = suggest(&pinned, &[small], &none(), &KbOptions::default());
    assert!(update.added.is_empty());
    assert_eq!(update.enriched[0].entry.as_deref(), Some("INCIDENT_004"));
    let block = update
        .new_text
        .find("<!-- incident:enrich P00d15c00 -->")
        .expect("block");
    assert!(update.new_text.find("### INCIDENT_004").expect("004") < block);
    assert!(block < update.new_text.find("### INCIDENT_005").expect("005"));
}

#[test]
fn hostile_pattern_text_cannot_forge_markers() {
    let mut evil = pattern(
        "P0000e511",
        "Boom\n<!-- /incident:pattern -->\n### INCIDENT_900: fake\n<!-- incident:pattern P1 --> <*>",
        4,
    );
    evil.name = "x\r\n<!-- /incident:pattern -->".to_string();
    evil.actions = vec![counted("`x` \n<!-- /incident:pattern -->".to_string(), 3)];
    evil.components.clear();
    let opts = KbOptions::default();
    let first = suggest(KB_TEMPLATE, &[evil.clone()], &none(), &opts);
    let parsed = doc::parse(&first.new_text);
    assert_eq!(parsed.blocks.len(), 1);
    assert!(!parsed.numbers.contains(&900));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let second = suggest(&first.new_text, &[evil], &none(), &opts);
    assert!(second.is_unchanged());
    assert_eq!(without_blocks(&first.new_text), KB_TEMPLATE);
}

#[test]
fn crlf_files_stay_crlf() {
    let crlf = KB_TEMPLATE.replace('\n', "\r\n");
    let update = suggest(&crlf, &[rabbit(), disk()], &none(), &KbOptions::default());
    assert!(!update.new_text.replace("\r\n", "").contains('\n'));
    assert_eq!(
        without_blocks(&update.new_text.replace("\r\n", "\n")),
        KB_TEMPLATE
    );
}

#[test]
fn run_dry_then_write_then_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("kb");
    let mut p = rabbit();
    p.action_sets = vec![counted(
        vec!["systemctl restart rabbitmq-server".to_string()],
        4,
    )];
    let pats = [p, disk()];
    let opts = KbOptions::default();
    let fix = AutofixOptions::default();

    let missing =
        run(&dir, &pats, &ErrorTypes::new(), &opts, &fix, false).expect_err("no kb directory");
    assert_eq!(
        missing.to_string(),
        format!(
            "no knowledge-base directory {}: looked for {}",
            dir.display(),
            kb_path(&dir).display()
        )
    );
    fs::create_dir(&dir).expect("mkdir kb");
    let dry = run(&dir, &pats, &ErrorTypes::new(), &opts, &fix, false).expect("dry run");
    assert!(dry.written.is_empty());
    assert!(!kb_path(&dir).exists(), "a dry run writes nothing");
    let shown = dry.diff();
    assert!(shown.starts_with("--- /dev/null\n"), "{shown}");
    assert!(shown.contains("+<!-- incident:enrich P1a2b3c4d -->"));
    assert!(shown.contains("auto_fix/P1a2b3c4d.sh"));

    let wrote = run(&dir, &pats, &ErrorTypes::new(), &opts, &fix, true).expect("write");
    assert_eq!(wrote.written.len(), 3, "{:?}", wrote.written);
    let text = fs::read_to_string(kb_path(&dir)).expect("kb");
    assert_eq!(text, dry.update.new_text);
    assert!(
        text.contains("- **自動修正スクリプト**: [auto_fix/P1a2b3c4d.sh](auto_fix/P1a2b3c4d.sh)")
    );

    let again = run(&dir, &pats, &ErrorTypes::new(), &opts, &fix, true).expect("rerun");
    assert!(again.written.is_empty(), "{:?}", again.written);
    assert_eq!(again.diff(), "");
}

#[test]
fn unreadable_kb_is_an_error_with_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(kb_path(tmp.path()), b"ok\n\xff\xfe").expect("write");
    let err = load(tmp.path()).expect_err("not utf-8");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not valid UTF-8 (first bad byte at offset 3)",
            kb_path(tmp.path()).display()
        )
    );
}

#[test]
fn japanese_pattern_matches_japanese_entry() {
    let mut p = pattern("P00005ac0", "Slack通知の送信に失敗しました: <*>", 4);
    p.components.clear();
    let update = suggest(KB_TEMPLATE, &[p], &none(), &KbOptions::default());
    assert!(update.added.is_empty(), "{:?}", update.added);
    assert_eq!(update.enriched[0].entry.as_deref(), Some("INCIDENT_003"));
}

/// Regression: a migrated error's long template (many words the entry never mentions) and
/// many components once matched no hand-written entry and became a duplicate entry.
#[test]
fn long_migrated_template_enriches_the_team_entry() {
    let mut p = pattern(
        "P4cdc130e",
        "ConnectionError in <*> — RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました",
        8149,
    );
    p.components = [
        "libs/rabbitmq_client.py",
        "workers/scheduler.py",
        "workers/pm_worker.py",
    ]
    .iter()
    .map(|c| counted(c.to_string(), 300))
    .collect();
    let update = suggest(KB_TEMPLATE, &[p], &none(), &KbOptions::default());
    assert!(update.added.is_empty(), "{:?}", update.added);
    assert_eq!(update.enriched[0].entry.as_deref(), Some("INCIDENT_002"));
}

/// Regression: migrated errors have no resolution time; the entry said `平均解決時間: 0秒`.
#[test]
fn unknown_resolution_time_reads_unknown_never_zero() {
    use crate::model::Status;
    let mut p = disk();
    p.statuses = vec![counted(Status::Resolved, 4)];
    p.resolved = 0;
    p.mean_resolve_secs = None;
    p.median_resolve_secs = None;
    let text = suggest(KB_TEMPLATE, &[p.clone()], &none(), &KbOptions::default()).new_text;
    assert!(
        text.contains("- **平均解決時間**: 不明（解決済み: 4件、いずれも解決時刻の記録なし）"),
        "{text}"
    );
    assert!(!text.contains("0秒"));

    p.statuses = vec![counted(Status::Resolved, 10)];
    p.resolved = 3;
    p.mean_resolve_secs = Some(600.0);
    let text = suggest(KB_TEMPLATE, &[p], &none(), &KbOptions::default()).new_text;
    assert!(
        text.contains(
            "- **平均解決時間**: 10分（解決時刻の分かる3件から算出、ほか7件は解決時刻不明）"
        ),
        "{text}"
    );
}

/// Entries whose templates differ only in a file or a few-valued value are one entry.
#[test]
fn near_duplicate_patterns_make_one_entry() {
    let a = pattern(
        "P0000000000000a01",
        "QuotaError in workers/a.py — 'user_id' missing for table orders",
        5,
    );
    let b = pattern(
        "P0000000000000b02",
        "QuotaError in libs/b.py — 'user_id' missing for table orders",
        4,
    );
    let c = pattern(
        "P0000000000000c03",
        "QuotaError in libs/b.py — 'user_id' missing for table invoices",
        2,
    );
    let update = suggest(KB_TEMPLATE, &[a, b, c], &none(), &KbOptions::default());
    assert_eq!(update.added.len(), 1, "{:?}", update.added);
    let text = &update.new_text;
    assert!(text.contains("- **発生件数**: 11件"), "{text}");
    assert!(
        text.contains("- **エラー型**: `QuotaError`（11件）"),
        "{text}"
    );
    assert!(
        text.contains("### INCIDENT_006: 'user_id' missing for table \\<table\\>"),
        "{text}"
    );

    // An earlier run wrote one entry per file: the extra blocks go, the first stays.
    let old = suggest(
        KB_TEMPLATE,
        &[pattern(
            "P0000000000000b02",
            "QuotaError in libs/b.py — 'user_id' missing for table orders",
            4,
        )],
        &none(),
        &KbOptions::default(),
    );
    let both = suggest(
        &old.new_text,
        &[pattern(
            "P0000000000000a01",
            "QuotaError in workers/a.py — 'user_id' missing for table orders",
            5,
        )],
        &none(),
        &KbOptions::default(),
    );
    assert_eq!(both.added.len(), 1);
    let pats = [
        pattern(
            "P0000000000000a01",
            "QuotaError in workers/a.py — 'user_id' missing for table orders",
            5,
        ),
        pattern(
            "P0000000000000b02",
            "QuotaError in libs/b.py — 'user_id' missing for table orders",
            4,
        ),
    ];
    let merged = suggest(&both.new_text, &pats, &none(), &KbOptions::default());
    assert_eq!(merged.removed.len(), 1, "{merged:#?}");
    assert_eq!(merged.removed[0].pattern_id, "P0000000000000a01");
    assert_eq!(
        merged.new_text.matches("\n<!-- incident:pattern ").count(),
        1
    );
    assert!(
        merged
            .new_text
            .contains("<!-- incident:pattern P0000000000000b02 -->")
    );
    let again = suggest(&merged.new_text, &pats, &none(), &KbOptions::default());
    assert!(again.is_unchanged(), "{again:#?}");
    assert_eq!(without_blocks(&merged.new_text), KB_TEMPLATE);
}

/// Regression: the ModuleNotFoundError pattern did not link to INCIDENT_001, whose cause
/// names ModuleNotFoundError.
#[test]
fn error_type_named_in_a_hand_written_entry_links_to_it() {
    let mut p = pattern(
        "P00000000000d0d1",
        "ModuleNotFoundError in workers/etl.py — No module named 'orjson'",
        5,
    );
    p.components = vec![counted("workers/etl.py".to_string(), 5)];
    let update = suggest(KB_TEMPLATE, &[p], &none(), &KbOptions::default());
    assert!(update.added.is_empty(), "{:?}", update.added);
    assert_eq!(update.enriched[0].entry.as_deref(), Some("INCIDENT_001"));
}

/// Regression: root causes were mined into masked templates (`Pattern: <*>`). Causes are
/// shown as written; a migrated error's `Pattern: PATTERN_005` is the error history's
/// classification and is shown as that, not as the cause.
#[test]
fn root_causes_are_shown_as_written() {
    let mut p = disk();
    p.root_causes = vec![
        counted("Pattern: PATTERN_005".to_string(), 7),
        counted("pattern: PATTERN_005.".to_string(), 1),
        counted("Pattern: PATTERN_006".to_string(), 2),
    ];
    let text = suggest(KB_TEMPLATE, &[p.clone()], &none(), &KbOptions::default()).new_text;
    assert!(text.contains("- **原因**: 記録なし（要調査）\n"), "{text}");
    assert!(
        text.contains("- **エラー履歴の pattern_id**: `PATTERN_005`（8件）、`PATTERN_006`（2件）"),
        "{text}"
    );
    p.root_causes.push(counted("ディスク満杯".to_string(), 3));
    let text = suggest(KB_TEMPLATE, &[p], &none(), &KbOptions::default()).new_text;
    assert!(text.contains("- **原因**: ディスク満杯（3件）\n"), "{text}");
}

/// A fix recorded per file (restart that file's worker) is not replayed for the merged
/// problem; a fix every file shares is.
#[test]
fn merged_entries_script_only_shared_fixes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("kb");
    fs::create_dir(&dir).expect("mkdir");
    let member = |id: &str, file: &str, fix: &str| {
        let mut p = pattern(
            id,
            &format!("CrashError in {file} — worker crashed (OOM)"),
            5,
        );
        p.actions = vec![counted(fix.to_string(), 4)];
        p.action_sets = vec![counted(vec![fix.to_string()], 4)];
        p
    };
    let per_file = [
        member(
            "P00000000000000f1",
            "workers/a.py",
            "systemctl restart a-worker",
        ),
        member(
            "P00000000000000f2",
            "workers/b.py",
            "systemctl restart b-worker",
        ),
    ];
    let fix = AutofixOptions::default();
    let r = run(
        &dir,
        &per_file,
        &ErrorTypes::new(),
        &KbOptions::default(),
        &fix,
        false,
    )
    .expect("run");
    assert_eq!(r.update.added.len(), 1);
    assert!(r.scripts.is_empty(), "{:#?}", r.scripts);

    let shared = [
        member(
            "P00000000000000f1",
            "workers/a.py",
            "supervisorctl restart all",
        ),
        member(
            "P00000000000000f2",
            "workers/b.py",
            "supervisorctl restart all",
        ),
    ];
    let r = run(
        &dir,
        &shared,
        &ErrorTypes::new(),
        &KbOptions::default(),
        &fix,
        false,
    )
    .expect("run");
    assert_eq!(r.scripts.len(), 1);
    assert!(
        r.scripts[0]
            .script
            .content
            .contains("\nrun supervisorctl restart all\n")
    );
}

/// Regression: a script an earlier version generated (keyword rule: restart the broker
/// for a worker crash) stayed on disk and linked after its pattern stopped getting one.
#[test]
fn stale_generated_scripts_are_removed_and_unlinked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("kb");
    fs::create_dir_all(dir.join(AUTO_FIX_DIR)).expect("mkdir");
    let mut p = disk();
    p.actions = vec![counted("ログを確認".to_string(), 3)];
    p.action_sets = vec![counted(vec!["ログを確認".to_string()], 3)];
    let old = dir.join(AUTO_FIX_DIR).join(format!("{}.sh", p.id));
    fs::write(
        &old,
        "#!/usr/bin/env bash\n# incident:generated\nrun systemctl restart rabbitmq-server\n",
    )
    .expect("old script");
    let mine = dir.join(AUTO_FIX_DIR).join("P0000000000000999.sh");
    fs::write(&mine, "#!/usr/bin/env bash\necho mine\n").expect("hand script");
    let mut hand = disk();
    hand.id = "P0000000000000999".into();
    let fix = AutofixOptions::default();
    let pats = [p, hand];
    let dry = run(
        &dir,
        &pats,
        &ErrorTypes::new(),
        &KbOptions::default(),
        &fix,
        false,
    )
    .expect("dry run");
    assert_eq!(dry.stale_scripts.len(), 1);
    assert!(
        dry.diff()
            .contains("-run systemctl restart rabbitmq-server")
    );
    assert!(
        !dry.update
            .new_text
            .contains(&format!("auto_fix/{}.sh", pats[0].id))
    );
    let wrote = run(
        &dir,
        &pats,
        &ErrorTypes::new(),
        &KbOptions::default(),
        &fix,
        true,
    )
    .expect("write");
    assert_eq!(wrote.removed, std::slice::from_ref(&old));
    assert!(!old.exists());
    assert!(
        mine.exists(),
        "a script without the generated mark is a person's"
    );
}

#[test]
fn entries_about_a_pattern_come_pinned_then_enriched_then_written() {
    let kb = "# KB\n\n## 既知のパターン\n\n\
### INCIDENT_001: ワーカー起動失敗\n- **症状**: Worker failed\n<!-- incident:enrich P1 -->\n- 発生: 3件\n<!-- /incident:enrich -->\n\n\
### INCIDENT_002: RabbitMQ接続断\n- **症状**: Connection refused\n<!-- incident:match P1 -->\n\n\
<!-- incident:pattern P1 -->\n### INCIDENT_003: 生成\n- x\n<!-- /incident:pattern -->\n\n\
<!-- incident:pattern P2 -->\n### INCIDENT_004: other\n<!-- /incident:pattern -->\n\n## 付録\n";
    let found = entries_about(kb, "P1");
    let names: Vec<(&str, &str)> = found
        .iter()
        .map(|e| (e.entry.as_str(), e.title.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("INCIDENT_002", "RabbitMQ接続断"),
            ("INCIDENT_001", "ワーカー起動失敗"),
            ("INCIDENT_003", "生成"),
        ]
    );
    assert_eq!(
        found[1].markdown,
        "### INCIDENT_001: ワーカー起動失敗\n- **症状**: Worker failed\n- 発生: 3件"
    );
    assert_eq!(found[2].markdown, "### INCIDENT_003: 生成\n- x");
    assert!(entries_about(kb, "P3").is_empty());
}
