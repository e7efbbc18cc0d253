//! docker-compose (Debian's 1.29, which talks to the Engine API through docker-py) against
//! a real berthd: a project network, service names that resolve, published ports, logs,
//! stop/start and down. Needs root, Debian's `docker-compose` and busybox-static; the
//! README's test command installs them.

use std::process::{Command, Output};

use berth_testkit::{Berthd, docker_ok, printed, require_tool};

struct Project<'a> {
    berthd: &'a Berthd,
    dir: std::path::PathBuf,
    name: String,
}

impl Project<'_> {
    fn compose(&self, args: &[&str]) -> Output {
        Command::new(require_tool("docker-compose", "docker-compose"))
            .args(["-p", &self.name])
            .args(args)
            .current_dir(&self.dir)
            .env("DOCKER_HOST", self.berthd.docker_host())
            .env_remove("DOCKER_CONTEXT")
            .output()
            .expect("run docker-compose")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}",
            printed(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

const COMPOSE_FILE: &str = r#"version: "3.8"
services:
  web:
    image: busybox
    command: sh -c 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www'
    ports:
      - "8080"
  client:
    image: busybox
    command: sleep 1000
    depends_on: [web]
"#;

#[test]
fn a_compose_project_comes_up_talks_by_service_name_and_goes_down() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let dir = berthd.dir().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE_FILE).unwrap();
    let project = Project {
        berthd: &berthd,
        dir,
        name: "demo".into(),
    };

    project.ok(&["up", "-d"]);
    let names = docker_ok(&host, &["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        ["demo_client_1", "demo_web_1"],
        "one container per service"
    );

    // The client finds the web service by its name on the project network.
    let page = project.ok(&["exec", "-T", "client", "wget", "-qO-", "http://web:8080/"]);
    assert_eq!(page, "hello-from-web");

    // The published port answers on the host.
    let port = project.ok(&["port", "web", "8080"]);
    let port = port.rsplit(':').next().unwrap();
    let page = Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/")])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&page.stdout).trim(),
        "hello-from-web"
    );

    project.ok(&["stop", "-t", "1"]);
    assert_eq!(docker_ok(&host, &["ps", "-q"]), "", "both stopped");
    project.ok(&["start"]);
    let page = project.ok(&["exec", "-T", "client", "wget", "-qO-", "http://web:8080/"]);
    assert_eq!(
        page, "hello-from-web",
        "names resolve again after a restart"
    );

    project.ok(&["down", "-t", "1"]);
    assert_eq!(docker_ok(&host, &["ps", "-aq"]), "");
    let networks = docker_ok(&host, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("demo_default"), "{networks}");
}
