//! The HTTP client of `incident serve`: the same library types, read from the JSON API.

use std::io::{Read, Write};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::Response;

/// A server at `base` (`http://127.0.0.1:7807`), with an optional Bearer token.
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(base: &str, token: Option<String>) -> Result<Self> {
        let base = base.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("--server must be an http:// or https:// URL, not {base:?}");
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Client {
            base,
            token: token.filter(|t| !t.trim().is_empty()),
            agent,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        // Recorded as the author only by a server open on loopback (no token).
        let req = req.header(incident::server::USER_HEADER, crate::config::local_user());
        match &self.token {
            Some(t) => req.header("Authorization", format!("Bearer {}", t.trim())),
            None => req,
        }
    }

    /// The response, or the server's error message as the error.
    fn check(&self, r: Result<Response<ureq::Body>, ureq::Error>) -> Result<Response<ureq::Body>> {
        let resp = r.map_err(|e| anyhow!("cannot reach the server {}: {e}", self.base))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        match serde_json::from_str::<incident::server::ErrorBody>(&text) {
            Ok(body) => Err(ServerError { body }.into()),
            Err(_) => Err(anyhow!(
                "the server {} answered {status}: {}",
                self.base,
                text.trim()
            )),
        }
    }

    fn json<T: DeserializeOwned>(resp: Response<ureq::Body>) -> Result<T> {
        resp.into_body()
            .with_config()
            .limit(u64::MAX)
            .read_json()
            .context("the server's answer is not what this client expects")
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let r = self.auth(self.agent.get(self.url(path))).call();
        Self::json(self.check(r)?)
    }

    pub(crate) fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let r = self.auth(self.agent.post(self.url(path))).send_json(body);
        Self::json(self.check(r)?)
    }

    pub(crate) fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let r = self.auth(self.agent.patch(self.url(path))).send_json(body);
        Self::json(self.check(r)?)
    }

    pub(crate) fn delete(&self, path: &str) -> Result<()> {
        let r = self.auth(self.agent.delete(self.url(path))).call();
        self.check(r)?;
        Ok(())
    }

    /// Posts `body` and returns the answer's bytes (a rendered report).
    pub(crate) fn post_for_bytes<B: Serialize>(&self, path: &str, body: &B) -> Result<Vec<u8>> {
        let r = self.auth(self.agent.post(self.url(path))).send_json(body);
        Ok(self
            .check(r)?
            .into_body()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?)
    }

    /// Streams `input` as the request body (chunked; never held in memory).
    pub(crate) fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        input: &mut dyn Read,
    ) -> Result<T> {
        let r = self
            .auth(self.agent.post(self.url(path)))
            .header("Content-Type", "application/octet-stream")
            .send(ureq::SendBody::from_reader(input));
        Self::json(self.check(r)?)
    }

    /// Copies the answer to `path` into `out` as it arrives.
    pub(crate) fn download(&self, path: &str, out: &mut dyn Write) -> Result<()> {
        let r = self.auth(self.agent.get(self.url(path))).call();
        let resp = self.check(r)?;
        let mut body = resp.into_body();
        let mut reader = body.as_reader();
        std::io::copy(&mut reader, out)
            .map_err(|e| anyhow!("the download from {} stopped: {e}", self.base))?;
        Ok(())
    }
}

/// An error answer: its message is what the command prints locally.
#[derive(Debug)]
pub(crate) struct ServerError {
    pub(crate) body: incident::server::ErrorBody,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.message)
    }
}

impl std::error::Error for ServerError {}

/// Appends `key=value` to a query string, encoded.
pub(crate) fn query(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}
