use std::io::{Read, Write};

use super::*;

#[test]
fn digest_of_empty_input_is_the_well_known_one() {
    assert_eq!(
        Sha256Digest::of(b"").to_string(),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn reader_hashes_and_counts_everything_it_passes_on() {
    let data = vec![7u8; 100_000];
    let mut reader = DigestingReader::new(&data[..], u64::MAX);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    let (digest, count) = reader.finish();
    assert_eq!(count, 100_000);
    assert_eq!(digest, Sha256Digest::of(&data));
}

#[test]
fn reader_stops_one_byte_past_the_budget() {
    let data = vec![0u8; 1000];
    let mut reader = DigestingReader::new(&data[..], 999);
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert!(is_budget_exceeded(&err));
    assert_eq!(reader.count(), 1000);

    let mut exact = DigestingReader::new(&data[..], 1000);
    exact.read_to_end(&mut Vec::new()).unwrap();
}

#[test]
fn writer_hashes_and_counts_everything_it_passes_on() {
    let mut writer = DigestingWriter::new(Vec::new());
    writer.write_all(b"hello ").unwrap();
    writer.write_all(b"world").unwrap();
    let (inner, digest, count) = writer.finish();
    assert_eq!(inner, b"hello world");
    assert_eq!(count, 11);
    assert_eq!(digest, Sha256Digest::of(b"hello world"));
}
