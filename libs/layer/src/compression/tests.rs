use std::io::{Read, Write};

use super::*;

fn compress(compression: Compression, data: &[u8]) -> Vec<u8> {
    let mut encoder = Encoder::new(compression, Vec::new()).unwrap();
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn decompress(input: &[u8]) -> (Compression, std::io::Result<Vec<u8>>) {
    let (compression, mut reader) = open_decoder(input).unwrap();
    let mut out = Vec::new();
    let result = reader.read_to_end(&mut out).map(|_| out);
    (compression, result)
}

#[test]
fn every_compression_round_trips_and_is_detected() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let packed = compress(compression, &data);
        let (detected, unpacked) = decompress(&packed);
        assert_eq!(detected, compression);
        assert_eq!(unpacked.unwrap(), data);
    }
}

#[test]
fn encoders_are_deterministic() {
    let data = b"the same bytes twice".repeat(1000);
    for compression in [Compression::Gzip, Compression::Zstd] {
        assert_eq!(compress(compression, &data), compress(compression, &data));
    }
}

#[test]
fn concatenated_gzip_members_are_read_whole() {
    let mut packed = compress(Compression::Gzip, b"first ");
    packed.extend(compress(Compression::Gzip, b"second"));
    assert_eq!(decompress(&packed).1.unwrap(), b"first second");
}

#[test]
fn truncated_streams_fail_to_decode() {
    let data = vec![42u8; 100_000];
    for compression in [Compression::Gzip, Compression::Zstd] {
        let packed = compress(compression, &data);
        let cut = &packed[..packed.len() - 6];
        let (_, result) = decompress(cut);
        assert!(
            result.is_err(),
            "{compression} truncated stream decoded fine"
        );
    }
}

#[test]
fn xz_and_bzip2_are_named_not_misread_as_tar() {
    assert!(matches!(
        sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
        Err(LayerError::UnsupportedCompression("xz"))
    ));
    assert!(matches!(
        sniff(b"BZh91AY"),
        Err(LayerError::UnsupportedCompression("bzip2"))
    ));
    assert_eq!(sniff(b"").unwrap(), Compression::None);
    assert_eq!(sniff(b"\x1f").unwrap(), Compression::None);
}
