//! The runner's container decisions against a recording fake runtime, without root:
//! restart policies, re-adoption after a runner restart, and the order of events.

use std::sync::Arc;
use std::time::Duration;

use super::spec::{ContainerSpec, HostConfig, RestartPolicy, RestartPolicyName};
use berth_bus::{Bus, InProcessBus, Subscription};
use berth_runtime::Status;
use futures::StreamExt as _;

use super::fake_runtime::FakeRuntime;
use super::images::{ImageError, ImageSource, ResolvedImage};
use super::record::{Record, Records};
use super::runtime::ContainerRuntime as _;
use super::*;
use crate::error::ErrorKind;

/// An image store that has no images.
#[derive(Debug)]
struct NoImages;

#[async_trait::async_trait]
impl berth_snapshots::BlobSource for NoImages {
    async fn read_blob(
        &self,
        digest: &berth_oci::Digest,
    ) -> Result<
        futures::stream::BoxStream<'static, Result<bytes::Bytes, berth_snapshots::BlobError>>,
        berth_snapshots::BlobError,
    > {
        Err(format!("no blob {digest}").into())
    }
}

fn missing(what: &str) -> ImageError {
    ImageError {
        kind: ErrorKind::NotFound,
        message: format!("No such image: {what}"),
    }
}

#[async_trait::async_trait]
impl ImageSource for NoImages {
    async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        Err(missing(reference))
    }
    async fn config(&self, image_id: &str) -> Result<Vec<u8>, ImageError> {
        Err(missing(image_id))
    }
    async fn image_ids(&self) -> Result<Vec<String>, ImageError> {
        Ok(Vec::new())
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    containers: Arc<Containers>,
    runtime: Arc<FakeRuntime>,
    bus: Arc<InProcessBus>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bus = Arc::new(InProcessBus::new());
    let runtime = Arc::new(FakeRuntime::default());
    let networks = crate::networks::Networks::offline(root, bus.clone()).unwrap();
    let containers = Containers::new(Parts {
        runtime: runtime.clone(),
        snapshots: berth_snapshots::Snapshots::open(&root.join("snapshots"), Default::default())
            .unwrap(),
        records: Records::open(&root.join("containers.redb")).unwrap(),
        volumes: crate::volumes::Volumes::open(root).unwrap(),
        images: Arc::new(NoImages),
        root: root.join("containers"),
        networks: Arc::new(networks),
        bus: bus.clone(),
        log_defaults: Default::default(),
    });
    Fixture {
        _dir: dir,
        containers: Arc::new(containers),
        runtime,
        bus,
    }
}

impl Fixture {
    /// A container of this host with the restart policy `policy`, on no network, in the
    /// runtime as `status`.
    fn container(&self, name: &str, policy: RestartPolicyName, status: Status) -> Record {
        let id = format!("{name:0<64}");
        let record = Record {
            id: id.clone(),
            name: name.to_owned(),
            created: 0,
            image: "busybox".into(),
            image_id: String::new(),
            args: vec!["true".into()],
            lowers: Vec::new(),
            auto_remove: false,
            log_path: self.containers.root.join(&id).join("container-json.log"),
            network_mode: "none".into(),
            publish: Vec::new(),
            networks: Vec::new(),
            ports: Vec::new(),
            restart_count: 0,
            manually_stopped: false,
            mounts: Vec::new(),
        };
        let spec = ContainerSpec {
            name: name.to_owned(),
            image: "busybox".into(),
            host_config: Some(HostConfig {
                network_mode: "none".into(),
                restart_policy: Some(RestartPolicy {
                    name: policy,
                    max_retry_count: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.containers.records.put(&record, &spec).unwrap();
        let exit = (status == Status::Exited).then_some(0);
        self.runtime.add(&id, status, exit);
        record
    }

    async fn events(&self) -> Subscription {
        self.bus
            .subscribe("berth.events.container.*")
            .await
            .unwrap()
    }

    fn record(&self, id: &str) -> Record {
        self.containers.records.find(id).unwrap().unwrap()
    }
}

/// The next container event's action and its container: waits at most 10 s, so a
/// missing event fails the test instead of hanging it.
async fn next_event(events: &mut Subscription) -> (String, String) {
    let m = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("the bus is open");
    let e: berth_bus::event::Event = m.decode().unwrap();
    (e.action, e.actor.id)
}

/// The runtime calls about `id`, in order.
fn calls_on(runtime: &FakeRuntime, id: &str) -> Vec<String> {
    runtime
        .calls()
        .into_iter()
        .filter(|c| c.contains(id))
        .map(|c| c.replace(id, "C"))
        .collect()
}

#[tokio::test]
async fn an_exit_restarts_the_container_its_policy_wants_running() {
    let f = fixture();
    let c = f.container("always", RestartPolicyName::Always, Status::Running);
    let mut events = f.events().await;
    f.containers.watch_exit(c.id.clone());
    f.runtime.exit(&c.id, 3);

    assert_eq!(next_event(&mut events).await, ("die".into(), c.id.clone()));
    assert_eq!(
        next_event(&mut events).await,
        ("start".into(), c.id.clone())
    );
    // The old run's state goes before the new one is made on a (re)mounted root.
    assert_eq!(
        calls_on(&f.runtime, &c.id),
        ["mount C", "delete C", "create C", "start C"]
    );
    assert_eq!(f.record(&c.id).restart_count, 1);
    assert_eq!(f.runtime.state(&c.id).unwrap().status, Status::Running);
}

#[tokio::test]
async fn a_container_the_user_stopped_is_not_restarted() {
    let f = fixture();
    let c = f.container("stopped", RestartPolicyName::UnlessStopped, Status::Running);
    f.containers.mark_stopped(&c.id).unwrap();
    f.runtime.exit(&c.id, 137);
    f.containers
        .after_exit(&c.id, 137, Duration::from_secs(1))
        .await;
    assert!(calls_on(&f.runtime, &c.id).is_empty());
    assert_eq!(f.record(&c.id).restart_count, 0);

    // Without a policy, an exit is the end too.
    let n = f.container("never", RestartPolicyName::No, Status::Running);
    f.runtime.exit(&n.id, 1);
    f.containers
        .after_exit(&n.id, 1, Duration::from_secs(1))
        .await;
    assert!(calls_on(&f.runtime, &n.id).is_empty());
}

#[tokio::test]
async fn readoption_restarts_what_exited_meanwhile_and_watches_what_runs() {
    let f = fixture();
    let exited = f.container("exited", RestartPolicyName::Always, Status::Exited);
    let done = f.container("done", RestartPolicyName::No, Status::Exited);
    let running = f.container("running", RestartPolicyName::No, Status::Running);
    let mut events = f.events().await;

    let found = f.containers.begin_readopt();
    assert_eq!(found.len(), 3);
    f.containers.readopt(found).await;
    f.containers.all_adopted().await;

    // Docker's daemon start: the policy of a container that exited while the runner
    // was away is applied once.
    assert_eq!(
        next_event(&mut events).await,
        ("start".into(), exited.id.clone())
    );
    assert_eq!(f.record(&exited.id).restart_count, 1);
    assert_eq!(f.runtime.state(&exited.id).unwrap().status, Status::Running);
    assert!(calls_on(&f.runtime, &done.id).is_empty());
    assert_eq!(f.record(&done.id).restart_count, 0);

    // The running one's exit is seen by the new runner.
    f.runtime.exit(&running.id, 0);
    assert_eq!(
        next_event(&mut events).await,
        ("die".into(), running.id.clone())
    );
}

#[tokio::test]
async fn a_forced_remove_reports_die_before_destroy() {
    let f = fixture();
    let c = f.container("doomed", RestartPolicyName::No, Status::Running);
    let mut events = f.events().await;
    f.containers.remove(&c, true).await.unwrap();

    assert_eq!(next_event(&mut events).await, ("die".into(), c.id.clone()));
    assert_eq!(
        next_event(&mut events).await,
        ("destroy".into(), c.id.clone())
    );
    assert_eq!(
        calls_on(&f.runtime, &c.id),
        [
            format!("kill C {}", libc::SIGKILL),
            "delete C".into(),
            "unmount C".into()
        ]
    );
    assert!(f.containers.records.find(&c.id).unwrap().is_none());

    // Removing a running container without force changes nothing.
    let r = f.container("running", RestartPolicyName::No, Status::Running);
    let err = f.containers.remove(&r, false).await.unwrap_err();
    assert_eq!(crate::error::Classified::kind(&err), ErrorKind::State);
    assert!(calls_on(&f.runtime, &r.id).is_empty());
    assert!(f.containers.records.find(&r.id).unwrap().is_some());
}
