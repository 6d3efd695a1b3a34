//! A running `mpc serve`, driven with a real HTTP client: the HTTP routes
//! and the JSON-RPC endpoint's tests share it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::Value;

use crate::Deployment;

/// The share file `mpc serve` is started with, in the deployment's folder.
pub const SHARE: &str = "client_share.enc";

/// A running `mpc serve` and a client holding its token.
pub struct Api {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub base: String,
    pub token: String,
    pub http: Client,
    log: PathBuf,
}

impl Api {
    /// Starts `mpc serve` in `deployment` (its broker, home and passphrase),
    /// with `env` added, and waits for its "listening" line.
    pub fn start(deployment: &Deployment, env: &[(&str, &str)]) -> Api {
        Api::start_with(deployment, env, &[])
    }

    /// [`Api::start`] with more `mpc serve` arguments.
    pub fn start_with(deployment: &Deployment, env: &[(&str, &str)], args: &[&str]) -> Api {
        let port = mpc_testkit::free_port();
        let log = deployment.path(&format!("serve-{port}.log"));
        let mut child = deployment
            .mpc()
            .envs(env.iter().copied())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--share", SHARE, "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("serve log"))
            .spawn()
            .expect("spawn mpc serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read mpc serve stdout");
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = child.kill();
            panic!(
                "mpc serve printed no start line ({e}): {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        assert_eq!(started["listen"], format!("127.0.0.1:{port}"), "{started}");
        let token_file = PathBuf::from(started["token_file"].as_str().expect("token_file"));
        assert_eq!(
            token_file,
            deployment.path("client-home").join("http.token")
        );
        let token = std::fs::read_to_string(&token_file)
            .expect("token file")
            .trim()
            .to_owned();
        Api {
            child,
            _stdout: stdout,
            base: format!("http://127.0.0.1:{port}"),
            token,
            http: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("HTTP client"),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(&self.token)
    }

    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        read(self.authed(self.http.get(self.url(path))).send())
    }

    pub fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.authed(self.http.post(self.url(path)))
                .json(&body)
                .send(),
        )
    }

    /// POSTs `body`, expects 200 and returns the JSON.
    pub fn ok(&self, path: &str, body: Value) -> Value {
        let (status, json) = self.post(path, body);
        assert_eq!(
            status,
            StatusCode::OK,
            "POST {path}: {json}\n{}",
            self.logs()
        );
        json
    }

    /// POSTs `body`, expects `status` with a JSON error `code`; returns the message.
    pub fn err(&self, path: &str, body: Value, status: StatusCode, code: &str) -> String {
        let (got, json) = self.post(path, body);
        assert_error(&json, got, status, code);
        json["error"]["message"].as_str().unwrap().to_owned()
    }

    pub fn keygen(&self, body: Value) -> Value {
        let started = self.ok("/keygen/init", body);
        let session_id = started["session_id"].clone();
        assert!(session_id.is_string(), "{started}");
        // init's answer is, as is, the body complete takes.
        let wallet = self.ok("/keygen/complete", started);
        assert_eq!(wallet["session_id"], session_id);
        wallet
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn read(sent: reqwest::Result<Response>) -> (StatusCode, Value) {
    let response = sent.expect("the server answers");
    let status = response.status();
    let id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        id.is_some_and(|id| id.len() == 36),
        "no x-request-id on a {status} response"
    );
    let text = response.text().expect("response body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {text:?}"));
    (status, json)
}

pub fn assert_error(json: &Value, got: StatusCode, status: StatusCode, code: &str) {
    assert_eq!(got, status, "{json}");
    assert_eq!(json["error"]["code"], code, "{json}");
    let message = json["error"]["message"].as_str().expect("an error message");
    assert!(!message.is_empty(), "{json}");
    assert_eq!(json.as_object().unwrap().len(), 1, "only `error`: {json}");
}
