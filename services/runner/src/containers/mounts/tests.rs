use super::*;

fn host(binds: &[&str]) -> HostConfig {
    HostConfig {
        binds: binds.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn error(r: Result<Vec<Planned>, ContainerError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn binds_name_volumes_or_host_paths() {
    let p = plan(&host(&["/h:/x:ro", "data:/d/../data/", "/anon"]), &[], &[]).unwrap();
    assert_eq!(p[0].destination, "/x");
    assert!(p[0].readonly);
    assert_eq!(p[0].mode, "ro");
    assert!(
        matches!(&p[0].wanted, Wanted::Bind { must_exist: false, propagation, .. } if propagation == "rprivate")
    );
    assert_eq!(p[1].destination, "/data");
    assert_eq!(p[1].mode, "z");
    assert!(
        matches!(&p[1].wanted, Wanted::Volume { name: Some(n), copy: true, .. } if n == "data")
    );
    assert!(matches!(&p[2].wanted, Wanted::Volume { name: None, .. }));
}

#[test]
fn bad_binds_are_refused() {
    assert!(
        error(plan(&host(&["data:/d:nocopy,rshared"]), &[], &[])).contains("invalid mode: rshared")
    );
    assert!(error(plan(&host(&["/h:/d:bogus"]), &[], &[])).contains("invalid mode: bogus"));
    assert!(error(plan(&host(&["/h:rel"]), &[], &[])).contains("must be absolute"));
    assert!(error(plan(&host(&["data:/"]), &[], &[])).contains("can't be '/'"));
    assert!(error(plan(&host(&["a:b:c:d"]), &[], &[])).contains("too many colons"));
    assert!(
        error(plan(&host(&["/a:/x", "v:/x/"]), &[], &[])).contains("Duplicate mount point: /x")
    );
}

#[test]
fn user_mounts_replace_anonymous_ones_at_the_same_path() {
    let p = plan(
        &host(&["v:/data"]),
        &["/data".into(), "/cache".into()],
        &["/cache".into(), "/img".into()],
    )
    .unwrap();
    let dests: Vec<&str> = p.iter().map(|p| p.destination.as_str()).collect();
    assert_eq!(dests, ["/data", "/cache", "/img"]);
    assert!(matches!(&p[0].wanted, Wanted::Volume { name: Some(_), .. }));
}

fn mount(kind: Option<MountKind>, source: &str, target: &str) -> Mount {
    Mount {
        kind,
        source: source.into(),
        target: target.into(),
        ..Default::default()
    }
}

#[test]
fn mounts_of_each_type() {
    let mut tmpfs = mount(Some(MountKind::Tmpfs), "", "/t");
    tmpfs.tmpfs_size_bytes = 1 << 20;
    tmpfs.tmpfs_mode = 0o1770;
    tmpfs.read_only = true;
    let mut vol = mount(Some(MountKind::Volume), "v", "/v");
    vol.no_copy = true;
    let h = HostConfig {
        mounts: vec![mount(Some(MountKind::Bind), "/h", "/b"), vol, tmpfs],
        ..Default::default()
    };
    let p = plan(&h, &[], &[]).unwrap();
    assert!(matches!(
        &p[0].wanted,
        Wanted::Bind {
            must_exist: true,
            ..
        }
    ));
    assert!(matches!(&p[1].wanted, Wanted::Volume { copy: false, .. }));
    assert!(
        matches!(&p[2].wanted, Wanted::Tmpfs { options } if options == "size=1048576,mode=1770,ro")
    );
}

#[test]
fn mounts_refuse_what_their_type_cannot_have() {
    let one = |m: Mount| {
        error(plan(
            &HostConfig {
                mounts: vec![m],
                ..Default::default()
            },
            &[],
            &[],
        ))
    };
    let mut bind_with_size = mount(Some(MountKind::Bind), "/h", "/b");
    bind_with_size.tmpfs_size_bytes = 1;
    assert!(one(bind_with_size).contains("tmpfs options must not be specified"));
    assert!(
        one(mount(Some(MountKind::Tmpfs), "/src", "/t")).contains("source must not be specified")
    );
    assert!(one(mount(None, "", "/t")).contains("type is missing"));
    assert!(one(mount(Some(MountKind::Bind), "rel", "/t")).contains("must be absolute"));
    let mut opts = mount(Some(MountKind::Volume), "v", "/v");
    opts.volume_driver_options
        .insert("type".into(), "nfs".into());
    assert!(one(opts).contains("takes no options"));
}
