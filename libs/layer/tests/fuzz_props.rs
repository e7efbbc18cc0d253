//! Property tests in the spirit of fuzzing: random byte streams, random member lists
//! built from dangerous path pieces, and random corruptions of valid layers never
//! panic and never write outside the target.

mod common;

use berth_layer::{ApplyOptions, Limits, WhiteoutFormat, apply, apply_to_new_dir};
use common::{Entry, Sandbox, TarBuilder};
use proptest::prelude::*;

fn opts(overlay: bool, allow_devices: bool) -> ApplyOptions {
    ApplyOptions {
        whiteout_format: if overlay {
            WhiteoutFormat::Overlay
        } else {
            WhiteoutFormat::Oci
        },
        allow_devices,
        sync: false,
        limits: Limits {
            max_total_bytes: 1 << 20,
            max_entries: 64,
            ..Limits::default()
        },
        ..ApplyOptions::default()
    }
}

/// Path pieces chosen to hit every rule: escapes, whiteouts, the canary.
fn component() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just(".."),
        Just("."),
        Just(""),
        Just(".wh.a"),
        Just(".wh.b"),
        Just(".wh..wh..opq"),
        Just("CANARY"),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(component(), 1..4)).prop_map(|(absolute, parts)| {
        let joined = parts.join("/");
        if absolute {
            format!("/{joined}")
        } else {
            joined
        }
    })
}

#[derive(Debug, Clone)]
struct RandomEntry {
    kind: u8,
    name: String,
    link: String,
    content: Vec<u8>,
    mode: u32,
}

fn entry() -> impl Strategy<Value = RandomEntry> {
    (
        0u8..7,
        path(),
        path(),
        prop::collection::vec(any::<u8>(), 0..64),
        0u32..0o10000,
    )
        .prop_map(|(kind, name, link, content, mode)| RandomEntry {
            kind,
            name,
            link,
            content,
            mode,
        })
}

/// Builds the archive, substituting the sandbox's canary path for `CANARY`.
fn build(entries: &[RandomEntry], sandbox: &Sandbox) -> Vec<u8> {
    let canary = sandbox.canary_str();
    let mut builder = TarBuilder::new();
    for e in entries {
        let name = e.name.replace("CANARY", &canary);
        let link = e.link.replace("CANARY", &canary);
        if name.len() > 100 || link.len() > 100 {
            continue;
        }
        let kind = match e.kind {
            0 => tar::EntryType::Regular,
            1 => tar::EntryType::Directory,
            2 => tar::EntryType::Symlink,
            3 => tar::EntryType::Link,
            4 => tar::EntryType::Fifo,
            5 => tar::EntryType::Char,
            _ => tar::EntryType::Regular,
        };
        let content = if kind == tar::EntryType::Regular {
            &e.content[..]
        } else {
            &[][..]
        };
        builder.entry(Entry {
            name: name.as_bytes(),
            link: link.as_bytes(),
            content,
            mode: e.mode,
            dev: (1, 3),
            ..Entry::new("", kind)
        });
    }
    builder.finish()
}

fn check_apply(layer: &[u8], sandbox: &Sandbox, opts: &ApplyOptions, new_dir: bool) {
    let result = if new_dir {
        apply_to_new_dir(layer, &sandbox.target, opts)
    } else {
        apply(layer, &sandbox.target, opts)
    };
    if new_dir && result.is_err() {
        assert!(!sandbox.target.exists(), "final dir left after {result:?}");
    }
    sandbox.assert_outside_untouched();
}

fn sandbox(new_dir: bool) -> Sandbox {
    if new_dir {
        Sandbox::new()
    } else {
        Sandbox::with_target()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_escape(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        tar_magic in any::<bool>(),
        new_dir in any::<bool>(),
    ) {
        let mut layer = bytes;
        if tar_magic && layer.len() > 265 {
            layer[257..263].copy_from_slice(b"ustar\0");
        }
        let sandbox = sandbox(new_dir);
        check_apply(&layer, &sandbox, &opts(false, false), new_dir);
    }

    #[test]
    fn random_member_lists_never_escape(
        entries in prop::collection::vec(entry(), 1..12),
        overlay in any::<bool>(),
        devices in any::<bool>(),
        new_dir in any::<bool>(),
    ) {
        let sandbox = sandbox(new_dir);
        let layer = build(&entries, &sandbox);
        check_apply(&layer, &sandbox, &opts(overlay, devices), new_dir);
    }

    #[test]
    fn corrupted_layers_never_escape(
        entries in prop::collection::vec(entry(), 1..8),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        compress in 0u8..3,
        new_dir in any::<bool>(),
    ) {
        let sandbox = sandbox(new_dir);
        let mut layer = build(&entries, &sandbox);
        layer = match compress {
            1 => common::gzip(&layer),
            2 => common::zstd(&layer),
            _ => layer,
        };
        for (index, byte) in flips {
            let i = index.index(layer.len());
            layer[i] = byte;
        }
        check_apply(&layer, &sandbox, &opts(false, true), new_dir);
    }
}
