use super::header::{parse_signed, parse_unsigned};
use super::pax;
use super::reader::TarReader;
use super::writer::{MemberHeader, TarWriter};
use super::*;
use crate::compression::Compression;
use crate::error::LayerError;
use crate::limits::{Limit, Limits};

fn header<'a>(kind: MemberKind, path: &'a [u8]) -> MemberHeader<'a> {
    MemberHeader {
        kind,
        path,
        link: b"",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
        size: 0,
        dev_major: 0,
        dev_minor: 0,
        xattrs: &[],
    }
}

fn write(members: &[(MemberHeader<'_>, &[u8])]) -> Vec<u8> {
    let mut tar = TarWriter::new(Vec::new());
    for (h, content) in members {
        tar.write_header(h).unwrap();
        tar.copy_content(&mut &content[..], h.size).unwrap();
    }
    tar.finish().unwrap()
}

/// Reads every member with its content.
fn read_all(bytes: &[u8], limits: Limits) -> crate::Result<Vec<(Member, Vec<u8>)>> {
    let mut reader = TarReader::new(bytes, limits, Compression::None);
    let mut out = Vec::new();
    while let Some(member) = reader.next_member()? {
        let mut content = Vec::new();
        let mut buf = [0u8; 100];
        loop {
            let n = reader.read_content(&mut buf)?;
            if n == 0 {
                break;
            }
            content.extend_from_slice(&buf[..n]);
        }
        out.push((member, content));
    }
    reader.finish()?;
    Ok(out)
}

#[test]
fn written_members_read_back_identically() {
    let long_path = "d/".repeat(80) + "file";
    let long_link = "t/".repeat(70) + "target";
    let xattrs = vec![
        (b"user.b".to_vec(), b"2".to_vec()),
        (b"user.a".to_vec(), vec![0, 1, 2, 255]),
    ];
    let file = MemberHeader {
        size: 5,
        mode: 0o4755,
        uid: 1000,
        gid: 1000,
        xattrs: &xattrs,
        ..header(MemberKind::File, long_path.as_bytes())
    };
    let symlink = MemberHeader {
        link: long_link.as_bytes(),
        ..header(MemberKind::Symlink, b"s")
    };
    let big_ids = MemberHeader {
        uid: 5_000_000,
        gid: 4_000_000_000,
        mtime: -10,
        ..header(MemberKind::Dir, b"dir")
    };
    let dev = MemberHeader {
        dev_major: 4,
        dev_minor: 64,
        ..header(MemberKind::CharDevice, b"tty")
    };
    let bytes = write(&[(file, b"hello"), (symlink, b""), (big_ids, b""), (dev, b"")]);
    let read = read_all(&bytes, Limits::default()).unwrap();
    assert_eq!(read.len(), 4);

    let (m, content) = &read[0];
    assert_eq!(m.kind, MemberKind::File);
    assert_eq!(m.path, long_path.as_bytes());
    assert_eq!(
        (m.mode, m.uid, m.gid, m.mtime.sec),
        (0o4755, 1000, 1000, 1_700_000_000)
    );
    assert_eq!(content, b"hello");
    let mut sorted = xattrs.clone();
    sorted.sort();
    assert_eq!(m.xattrs, sorted, "PAX records are written sorted by key");

    assert_eq!(read[1].0.link, long_link.as_bytes());
    assert_eq!(read[2].0.path, b"dir/");
    assert_eq!(
        (read[2].0.uid, read[2].0.gid, read[2].0.mtime.sec),
        (5_000_000, 4_000_000_000, -10)
    );
    assert_eq!((read[3].0.dev_major, read[3].0.dev_minor), (4, 64));
}

#[test]
fn the_tar_crate_reads_what_we_write() {
    let long_path = "x/".repeat(60) + "y";
    let bytes = write(&[
        (header(MemberKind::Dir, b"a"), b""),
        (
            MemberHeader {
                size: 3,
                ..header(MemberKind::File, long_path.as_bytes())
            },
            b"abc",
        ),
    ]);
    let mut archive = tar::Archive::new(&bytes[..]);
    let paths: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(paths, vec!["a/".to_owned(), long_path]);
}

#[test]
fn gnu_long_names_from_the_tar_crate_are_read() {
    let long_path = "g/".repeat(100) + "leaf";
    let mut builder = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o600);
    h.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut h, &long_path, &b"hi"[..]).unwrap();
    let bytes = builder.into_inner().unwrap();
    let read = read_all(&bytes, Limits::default()).unwrap();
    assert_eq!(read[0].0.path, long_path.as_bytes());
    assert_eq!(read[0].1, b"hi");
}

#[test]
fn numeric_fields_accept_octal_padding_and_base_256() {
    assert_eq!(parse_unsigned(b"0000644\0"), Some(0o644));
    assert_eq!(parse_unsigned(b"   644 \0"), Some(0o644));
    assert_eq!(parse_unsigned(b"\0\0\0\0\0\0\0\0"), Some(0));
    assert_eq!(parse_unsigned(b"0000648\0"), None);
    assert_eq!(parse_unsigned(b"12 3\0\0\0\0"), None);
    let mut big = [0u8; 12];
    big[0] = 0x80;
    big[4..].copy_from_slice(&(1u64 << 40).to_be_bytes());
    assert_eq!(parse_unsigned(&big), Some(1 << 40));
    let minus_two = [
        0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    ];
    assert_eq!(parse_signed(&minus_two), Some(-2));
    assert_eq!(parse_unsigned(&minus_two), None);
    let mut overflow = [0xffu8; 12];
    overflow[0] = 0x80;
    assert_eq!(parse_unsigned(&overflow), None);
}

#[test]
fn pax_records_parse_and_reject_malformed_lengths() {
    let mut body = Vec::new();
    pax::push_record(&mut body, b"path", b"a/b");
    pax::push_record(&mut body, b"mtime", b"-1.25");
    pax::push_record(&mut body, b"SCHILY.xattr.user.k", b"v");
    pax::push_record(&mut body, b"uname", b"ignored");
    let records = pax::parse(&body, 10).unwrap();
    assert_eq!(records.path.as_deref(), Some(&b"a/b"[..]));
    assert_eq!(
        records.mtime,
        Some(crate::sys::Time {
            sec: -2,
            nsec: 750_000_000
        })
    );
    assert_eq!(records.xattrs, vec![(b"user.k".to_vec(), b"v".to_vec())]);

    for bad in [
        &b"5 a=b"[..],
        b"99 path=x\n",
        b"x path=y\n",
        b"3 \n",
        b"10 pathxyz\n",
    ] {
        assert!(
            pax::parse(bad, 10).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let mut big = Vec::new();
    pax::push_record(&mut big, b"SCHILY.xattr.user.k", &[1u8; 11]);
    assert_eq!(pax::parse(&big, 10), Err(pax::PaxError::XattrTooLarge(11)));
}

#[test]
fn record_lengths_count_their_own_digits() {
    for len in 0..300 {
        let mut body = Vec::new();
        pax::push_record(&mut body, b"k", &vec![b'v'; len]);
        let space = body.iter().position(|&b| b == b' ').unwrap();
        let declared: usize = std::str::from_utf8(&body[..space])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
    }
}

#[test]
fn a_missing_end_marker_is_truncation() {
    let bytes = write(&[(header(MemberKind::Dir, b"a"), b"")]);
    let cut = &bytes[..BLOCK];
    assert!(matches!(
        read_all(cut, Limits::default()),
        Err(LayerError::Truncated { .. })
    ));
    assert!(matches!(
        read_all(b"", Limits::default()),
        Err(LayerError::Truncated { .. })
    ));
    // One zero block is accepted as the end, like GNU tar does.
    assert!(read_all(&bytes[..2 * BLOCK], Limits::default()).is_ok());
}

#[test]
fn truncated_content_is_named() {
    let h = MemberHeader {
        size: 1000,
        ..header(MemberKind::File, b"big")
    };
    let bytes = write(&[(h, &[7u8; 1000])]);
    let err = read_all(&bytes[..BLOCK + 600], Limits::default()).unwrap_err();
    assert!(matches!(err, LayerError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("\"big\""), "{err}");
}

#[test]
fn a_bad_checksum_is_corruption() {
    let mut bytes = write(&[(header(MemberKind::Dir, b"a"), b"")]);
    bytes[0] = b'b';
    assert!(matches!(
        read_all(&bytes, Limits::default()),
        Err(LayerError::CorruptTar { .. })
    ));
}

#[test]
fn limits_are_checked_before_reading() {
    let long = "n".repeat(300);
    let bytes = write(&[(header(MemberKind::Dir, long.as_bytes()), b"")]);
    let limits = Limits {
        max_path_len: 200,
        ..Limits::default()
    };
    assert!(matches!(
        read_all(&bytes, limits),
        Err(LayerError::LimitExceeded {
            limit: Limit::PathLength,
            ..
        })
    ));
    let limits = Limits {
        max_pax_header_size: 100,
        ..Limits::default()
    };
    assert!(matches!(
        read_all(&bytes, limits),
        Err(LayerError::LimitExceeded {
            limit: Limit::PaxHeaderSize,
            ..
        })
    ));

    let two = write(&[
        (header(MemberKind::Dir, b"a"), b""),
        (header(MemberKind::Dir, b"b"), b""),
    ]);
    let limits = Limits {
        max_entries: 1,
        ..Limits::default()
    };
    assert!(matches!(
        read_all(&two, limits),
        Err(LayerError::LimitExceeded {
            limit: Limit::Entries,
            ..
        })
    ));

    let file = MemberHeader {
        size: 10,
        ..header(MemberKind::File, b"f")
    };
    let bytes = write(&[(file, &[0u8; 10])]);
    let limits = Limits {
        max_file_size: 9,
        ..Limits::default()
    };
    assert!(matches!(
        read_all(&bytes, limits),
        Err(LayerError::LimitExceeded {
            limit: Limit::FileSize,
            ..
        })
    ));
}

#[test]
fn sparse_members_are_refused() {
    let mut bytes = write(&[(header(MemberKind::File, b"sparse"), b"")]);
    // Rewrite the type flag to GNU sparse and fix the checksum.
    bytes[156] = b'S';
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes[..BLOCK].iter().map(|&b| u32::from(b)).sum();
    bytes[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    assert!(matches!(
        read_all(&bytes, Limits::default()),
        Err(LayerError::UnsupportedEntry { .. })
    ));
}

#[test]
fn the_writer_is_deterministic_and_ends_with_two_zero_blocks() {
    let xattrs = vec![(b"user.x".to_vec(), b"1".to_vec())];
    let members = || {
        vec![(
            MemberHeader {
                xattrs: &xattrs,
                ..header(MemberKind::Dir, b"d")
            },
            &b""[..],
        )]
    };
    let a = write(&members());
    assert_eq!(a, write(&members()));
    assert_eq!(a.len() % BLOCK, 0);
    assert!(a[a.len() - 2 * BLOCK..].iter().all(|&b| b == 0));
}

#[test]
fn a_symlink_or_directory_that_claims_data_is_refused() {
    // GNU tar would skip the claimed bytes, Go's archive/tar would read them as the next
    // header: two readers, two archives. Built with the tar crate, which writes it.
    for kind in [tar::EntryType::Symlink, tar::EntryType::Directory] {
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(512);
        h.set_mode(0o777);
        h.set_path("smuggler").unwrap();
        h.set_cksum();
        builder.append(&h, &[0u8; 512][..]).unwrap();
        let bytes = builder.into_inner().unwrap();
        let err = read_all(&bytes, Limits::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a regular file but claims 512 bytes of data"),
            "{kind:?}: {err}"
        );
    }
}
