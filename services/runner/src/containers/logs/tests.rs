use std::io::Write;

use super::*;

fn filter(tail: Option<u64>) -> LogFilter {
    LogFilter {
        stdout: true,
        stderr: true,
        since: None,
        until: None,
        tail,
    }
}

fn line(text: &str) -> String {
    format!("{{\"log\":\"{text}\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.1Z\"}}\n")
}

fn write(path: &Path, lines: std::ops::Range<u32>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in lines {
        f.write_all(line(&format!("l{i}")).as_bytes()).unwrap();
    }
}

fn texts(entries: &[LogLine]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            String::from_utf8(e.data.clone())
                .unwrap()
                .trim_end()
                .to_owned()
        })
        .collect()
}

fn read_all(cursor: &mut LogCursor) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let batch = cursor.next_batch(7).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(texts(&batch));
    }
}

#[test]
fn tail_spans_rotated_files_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    write(&rotated_path(&log, 2), 0..10);
    write(&rotated_path(&log, 1), 10..20);
    write(&log, 20..25);
    let all = read_all(&mut LogCursor::open(&log, filter(None)).unwrap());
    assert_eq!(all.len(), 25);
    assert_eq!(all[0], "l0");
    assert_eq!(all[24], "l24");
    let tail = read_all(&mut LogCursor::open(&log, filter(Some(8))).unwrap());
    assert_eq!(tail, (17..25).map(|i| format!("l{i}")).collect::<Vec<_>>());
    assert!(read_all(&mut LogCursor::open(&log, filter(Some(0))).unwrap()).is_empty());
    assert_eq!(
        read_all(&mut LogCursor::open(&log, filter(Some(1000))).unwrap()).len(),
        25
    );
}

#[test]
fn tail_of_a_big_log_reads_backwards_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    write(&log, 0..20_000);
    let tail = read_all(&mut LogCursor::open(&log, filter(Some(3))).unwrap());
    assert_eq!(tail, vec!["l19997", "l19998", "l19999"]);
    let tail = read_all(&mut LogCursor::open(&log, filter(Some(5000))).unwrap());
    assert_eq!(tail.len(), 5000);
    assert_eq!(tail[0], "l15000");
}

#[test]
fn a_line_being_written_waits_and_rotation_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    write(&log, 0..2);
    let partial = line("l2");
    let (head, rest) = partial.split_at(10);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(head.as_bytes())
        .unwrap();
    let mut cursor = LogCursor::open(&log, filter(Some(1))).unwrap();
    assert_eq!(read_all(&mut cursor), vec!["l1"]);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(rest.as_bytes())
        .unwrap();
    write(&log, 3..4);
    assert_eq!(read_all(&mut cursor), vec!["l2", "l3"]);
    // The monitor rotates: the old file moves to .1 with a last line the follower has
    // not read yet, and a new live file begins.
    write(&log, 4..5);
    std::fs::rename(&log, rotated_path(&log, 1)).unwrap();
    write(&log, 5..7);
    assert_eq!(read_all(&mut cursor), vec!["l4", "l5", "l6"]);
}

#[test]
fn no_log_yet_reads_nothing_then_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let mut cursor = LogCursor::open(&log, filter(None)).unwrap();
    assert!(read_all(&mut cursor).is_empty());
    write(&log, 0..2);
    assert_eq!(read_all(&mut cursor), vec!["l0", "l1"]);
}

#[test]
fn daemon_log_opts_fill_in_what_the_container_does_not_set() {
    let defaults = parse_log_opts(&["max-size=10m".into(), "max-file=3".into()]).unwrap();
    let cfg = |asked: Option<crate::containers::spec::LogConfig>| {
        log_config(
            with_defaults(asked.as_ref(), &defaults).as_ref(),
            Path::new("/l"),
        )
        .unwrap()
    };
    let c = cfg(None);
    // json-file's max-size is decimal, as go-units' FromHumanSize reads it.
    assert_eq!((c.max_size, c.max_file), (10_000_000, 3));
    let own = crate::containers::spec::LogConfig {
        r#type: "json-file".into(),
        config: [("max-file".to_owned(), "5".to_owned())].into(),
    };
    let c = cfg(Some(own));
    assert_eq!((c.max_size, c.max_file), (10_000_000, 5));
    assert!(parse_log_opts(&["max-size".into()]).is_err());
    assert!(parse_log_opts(&["compress=true".into()]).is_err());
    assert!(parse_log_opts(&["nonsense=1".into()]).is_err());
    let e = parse_log_opts(&["max-size=0".into()]).unwrap_err();
    assert_eq!(e, "invalid log options: max-size must be a positive number");
    let e = parse_log_opts(&["max-file=0".into()]).unwrap_err();
    assert_eq!(e, "invalid log options: max-file cannot be less than 1");
}

#[test]
fn a_tail_of_u64_max_reads_everything() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    write(&log, 0..3);
    let all = read_all(&mut LogCursor::open(&log, filter(Some(u64::MAX))).unwrap());
    assert_eq!(all, vec!["l0", "l1", "l2"]);
}
