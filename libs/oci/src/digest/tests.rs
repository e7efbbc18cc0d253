use std::io::{Read, Write};

use super::*;

const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn digest_of_known_bytes() {
    assert_eq!(Digest::of(b"").to_string(), EMPTY);
    let d = Digest::of(b"hello\n");
    assert_eq!(
        d.hex(),
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    assert_eq!(d.short_id(), "5891b5b522d5");
}

#[test]
fn parse_round_trips() {
    let d = Digest::parse(EMPTY).unwrap();
    assert_eq!(d.to_string(), EMPTY);
    assert_eq!(EMPTY.parse::<Digest>().unwrap(), d);
    assert_eq!(Digest::from_oci(&d.to_oci()).unwrap(), d);
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("", "missing the algorithm prefix"),
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "missing the algorithm prefix",
        ),
        ("sha256:", "64 hex characters, this one has 0"),
        ("sha256:abc", "this one has 3"),
        (
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "lowercase",
        ),
        (
            "sha256:z3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "'z' is not a hex",
        ),
        (
            "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            "berth handles sha256 digests only",
        ),
        (
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "unsupported digest algorithm \"md5\"",
        ),
        ("sha 256:abc", "malformed algorithm"),
    ];
    for (input, want) in cases {
        let err = Digest::parse(input).unwrap_err().to_string();
        assert!(
            err.contains(want),
            "{input:?}: {err:?} should contain {want:?}"
        );
    }
}

#[test]
fn streaming_writer_matches_one_shot_digest() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = DigestWriter::new(Vec::new());
    for chunk in data.chunks(777) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.size(), data.len() as u64);
    let (out, digest, size) = w.finish();
    assert_eq!(out, data);
    assert_eq!(size, data.len() as u64);
    assert_eq!(digest, Digest::of(&data));
}

#[test]
fn streaming_reader_matches_one_shot_digest() {
    let data = b"some layer bytes".repeat(1000);
    let mut r = DigestReader::new(&data[..]);
    let mut half = vec![0; 5000];
    r.read_exact(&mut half).unwrap();
    assert_eq!(r.digest(), Digest::of(&data[..5000]));
    std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    let (_, digest, size) = r.finish();
    assert_eq!(size, data.len() as u64);
    assert_eq!(digest, Digest::of(&data));
}
