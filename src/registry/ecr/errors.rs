//! AWS failures as [`Error::Aws`]: what went wrong ([`AwsFailure`], from AWS's error code or the
//! transport failure) and which `ecr` setting it is about ([`EcrSetting`]); the message shown is
//! AWS's code and the start of its message, scrubbed of every credential (a `SignatureDoesNotMatch`
//! from some services quotes the canonical request, session token included).

use std::error::Error as StdError;
use std::sync::Mutex;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::transport::Cancelled;
use super::EcrAuth;
use crate::error::{redact_url, AwsFailure, EcrSetting, Error};
use crate::registry::scrub::Secrets;

/// Characters of AWS's message shown.
const MESSAGE_CHARS: usize = 240;

/// What the mapping needs to know about the registration.
pub(super) struct Context<'a> {
    pub auth: &'a EcrAuth,
    pub secrets: &'a Mutex<Secrets>,
    pub cancelled: bool,
}

/// AWS error codes, by what they mean here.
pub(super) fn failure_of(code: &str) -> Option<AwsFailure> {
    Some(match code {
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "AuthFailure" => AwsFailure::UnknownAccessKey,
        "SignatureDoesNotMatch" | "IncompleteSignature" | "InvalidSignatureException" => {
            AwsFailure::WrongSecretKey
        }
        "ExpiredToken" | "ExpiredTokenException" | "InvalidToken" | "RequestExpired" => {
            AwsFailure::ExpiredCredentials
        }
        "AccessDenied" | "AccessDeniedException" => AwsFailure::NotAuthorized,
        "RegionDisabledException" | "InvalidRegion" => AwsFailure::Unreachable,
        _ => return None,
    })
}

/// The text of the first `<name>…</name>` of an XML error body (short, plain text only).
fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    let v = body[start..end].trim();
    (!v.is_empty() && v.len() < 1024 && !v.contains('<')).then(|| v.to_string())
}

/// Whether a host is one of AWS's own API endpoints (not an `AWS_ENDPOINT_URL*` override).
/// Texts of an error chain that name a layer, not a cause: the SDK's connector wrappers and
/// hyper's `client error (…)`.
fn is_wrapper(text: &str) -> bool {
    matches!(text, "dispatch failure" | "io error" | "other" | "timeout")
        || crate::error::is_library_wrapper(text)
}

fn is_aws_host(host: &str) -> bool {
    [
        ".amazonaws.com",
        ".amazonaws.com.cn",
        ".api.aws",
        ".c2s.ic.gov",
        ".sc2s.sgov.gov",
        ".cloud.adc-e.uk",
        ".csp.hci.ic.gov",
    ]
    .iter()
    .any(|d| host.ends_with(d))
}

impl Context<'_> {
    fn scrub(&self, text: &str) -> String {
        let first = text.lines().next().unwrap_or_default();
        let s = self
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .scrub(first);
        let mut out: String = s.chars().take(MESSAGE_CHARS).collect();
        if s.chars().count() > MESSAGE_CHARS {
            out.push('…');
        }
        out
    }

    /// The setting a failure of an AWS call is about; `with_role`: the call was signed with the
    /// assumed role's credentials (an ECR call with `role_arn`).
    fn setting(&self, failure: AwsFailure, with_role: bool) -> EcrSetting {
        match failure {
            AwsFailure::NoRegion | AwsFailure::EmptyRegion => EcrSetting::Region,
            AwsFailure::AssumeRoleDenied => EcrSetting::RoleArn,
            _ if with_role => EcrSetting::RoleArn,
            AwsFailure::UnknownAccessKey
            | AwsFailure::WrongSecretKey
            | AwsFailure::ExpiredCredentials
            | AwsFailure::NotAuthorized => self.auth.keys_setting(failure),
            AwsFailure::NoCredentials | AwsFailure::Other | AwsFailure::Unreachable => {
                EcrSetting::Block
            }
        }
    }

    /// An SDK error of `call`. `sts`: the call is `AssumeRole` (its refusals are the role's).
    fn sdk<E>(&self, call: String, sts: bool, e: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let with_role = !sts && self.auth.role_arn.is_some();
        if let SdkError::ServiceError(ctx) = &e {
            // An answer in the other protocol's shape (an XML `ErrorResponse` to a JSON call,
            // as AWS-compatible endpoints such as moto give for authentication failures) has no
            // code for the SDK: read it from the body.
            let raw = ctx.raw();
            let body = raw
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let status = raw.status().as_u16();
            let code = e
                .code()
                .map(str::to_string)
                .or_else(|| xml_field(&body, "Code"))
                .unwrap_or_else(|| format!("HTTP {status}"));
            let mut failure = failure_of(&code).unwrap_or(AwsFailure::Other);
            if sts && failure == AwsFailure::NotAuthorized {
                failure = AwsFailure::AssumeRoleDenied;
            }
            let message = e
                .message()
                .map(str::to_string)
                .or_else(|| xml_field(&body, "Message"))
                .map(|m| self.scrub(&m))
                .unwrap_or_default();
            return Error::Aws {
                call,
                failure,
                setting: self.setting(failure, with_role),
                detail: if message.is_empty() {
                    code
                } else {
                    format!("{code}: {message}")
                },
            };
        }
        self.transport(call, &e, with_role)
    }

    /// A failure without an AWS answer (connection, DNS, timeout, cancellation, bad answer).
    fn transport(&self, call: String, e: &(dyn StdError + 'static), with_role: bool) -> Error {
        let mut chain = Vec::new();
        let mut url = None;
        let mut src: Option<&(dyn StdError + 'static)> = Some(e);
        let mut cancelled = self.cancelled;
        while let Some(s) = src {
            if s.downcast_ref::<Cancelled>().is_some() {
                cancelled = true;
            }
            if let Some(r) = s.downcast_ref::<reqwest::Error>() {
                url = r.url().cloned();
            }
            // reqwest's own message repeats the URL with its query: keep the inner causes only,
            // without the wrappers that name a layer rather than a cause (the SDK's `dispatch
            // failure` / `io error`, hyper's `client error (SendRequest)`).
            let text = s.to_string();
            if s.downcast_ref::<reqwest::Error>().is_none() && !is_wrapper(&text) {
                chain.push(text);
            }
            src = s.source();
        }
        let shown_url = url.as_ref().map(|u| redact_url(u.as_str()));
        if cancelled {
            return Error::Cancelled {
                url: shown_url.unwrap_or_else(|| call.clone()),
            };
        }
        chain.dedup();
        let mut detail = self.scrub(&chain.join(": "));
        if let Some(u) = &shown_url {
            detail = format!("{u}: {detail}");
        }
        let unreachable = url.is_some();
        let failure = if unreachable {
            AwsFailure::Unreachable
        } else {
            AwsFailure::Other
        };
        // An unknown region has no API host; an unreachable override is the override's fault.
        let setting = match url.as_ref().and_then(|u| u.host_str()) {
            Some(h) if is_aws_host(h) => EcrSetting::Region,
            Some(_) => EcrSetting::Block,
            None => self.setting(failure, with_role),
        };
        Error::Aws {
            call,
            failure,
            setting,
            detail,
        }
    }

    pub fn ecr<E>(&self, operation: &str, e: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        self.sdk(format!("Amazon ECR {operation}"), false, e)
    }

    pub fn sts<E>(&self, role: &str, e: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        self.sdk(format!("AWS STS AssumeRole of {role}"), true, e)
    }

    pub fn no_credentials(&self, why: Option<String>) -> Error {
        Error::Aws {
            call: "the AWS default credential chain".into(),
            failure: AwsFailure::NoCredentials,
            setting: EcrSetting::Block,
            detail: why.unwrap_or_else(|| "no credentials were found".into()),
        }
    }

    /// A failure of the default credential chain.
    pub fn credentials_error(&self, e: &CredentialsError) -> Error {
        match e {
            CredentialsError::CredentialsNotLoaded(_) => {
                let mut chain = Vec::new();
                let mut src = e.source();
                while let Some(s) = src {
                    chain.push(s.to_string());
                    src = s.source();
                }
                self.no_credentials(Some(if chain.is_empty() {
                    "no credentials were found".into()
                } else {
                    self.scrub(&chain.join(": "))
                }))
            }
            _ => {
                let mut err = self.transport("the AWS default credential chain".into(), e, false);
                if let Error::Aws { failure, .. } = &mut err {
                    if *failure == AwsFailure::Other {
                        *failure = AwsFailure::NoCredentials;
                    }
                }
                err
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(
            failure_of("InvalidClientTokenId"),
            Some(AwsFailure::UnknownAccessKey)
        );
        assert_eq!(
            failure_of("UnrecognizedClientException"),
            Some(AwsFailure::UnknownAccessKey)
        );
        assert_eq!(
            failure_of("SignatureDoesNotMatch"),
            Some(AwsFailure::WrongSecretKey)
        );
        assert_eq!(
            failure_of("AccessDeniedException"),
            Some(AwsFailure::NotAuthorized)
        );
        assert_eq!(failure_of("ThrottlingException"), None);
    }

    #[test]
    fn settings_follow_the_configuration() {
        let secrets = Mutex::new(Secrets::new());
        let keys = EcrAuth {
            access_key_id: Some("AKID".into()),
            secret_access_key: Some("secret-value".into()),
            ..Default::default()
        };
        let role = EcrAuth {
            role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
            ..keys.clone()
        };
        let chain = EcrAuth::default();
        let cx = |a| Context {
            auth: a,
            secrets: &secrets,
            cancelled: false,
        };
        assert_eq!(
            cx(&keys).setting(AwsFailure::UnknownAccessKey, false),
            EcrSetting::AccessKeyId
        );
        assert_eq!(
            cx(&keys).setting(AwsFailure::WrongSecretKey, false),
            EcrSetting::SecretAccessKey
        );
        assert_eq!(
            cx(&chain).setting(AwsFailure::UnknownAccessKey, false),
            EcrSetting::Block
        );
        assert_eq!(
            cx(&role).setting(AwsFailure::NotAuthorized, true),
            EcrSetting::RoleArn
        );
        assert_eq!(
            cx(&role).setting(AwsFailure::AssumeRoleDenied, false),
            EcrSetting::RoleArn
        );
        assert_eq!(
            cx(&chain).setting(AwsFailure::EmptyRegion, false),
            EcrSetting::Region
        );
    }

    /// The SDK's and hyper's wrappers are not quoted, the cause is (found by
    /// `faults::ecr::token_and_sts`: an AssumeRole reset read "dispatch failure: io error: client
    /// error (SendRequest): connection error: Connection reset by peer").
    #[test]
    fn transport_errors_name_the_cause_not_the_layers() {
        #[derive(Debug)]
        struct Link(&'static str, Option<Box<Link>>);
        impl std::fmt::Display for Link {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for Link {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.1.as_deref().map(|l| l as &(dyn StdError + 'static))
            }
        }
        let chain = [
            "dispatch failure",
            "io error",
            "client error (SendRequest)",
            "connection error",
            "Connection reset by peer (os error 104)",
        ]
        .iter()
        .rev()
        .fold(None, |inner, t| Some(Box::new(Link(t, inner))))
        .unwrap();
        let secrets = Mutex::new(Secrets::new());
        let auth = EcrAuth::default();
        let cx = Context {
            auth: &auth,
            secrets: &secrets,
            cancelled: false,
        };
        let Error::Aws { detail, .. } = cx.transport("AWS STS AssumeRole".into(), &*chain, true)
        else {
            panic!("not an AWS error");
        };
        assert_eq!(
            detail,
            "connection error: Connection reset by peer (os error 104)"
        );
    }

    #[test]
    fn messages_are_scrubbed_and_cut() {
        let mut s = Secrets::new();
        s.add("FwoGZXIvYXdzEXAMPLESESSIONTOKEN");
        let secrets = Mutex::new(s);
        let auth = EcrAuth::default();
        let cx = Context {
            auth: &auth,
            secrets: &secrets,
            cancelled: false,
        };
        let msg = format!(
            "The request signature we calculated does not match. x-amz-security-token:FwoGZXIvYXdzEXAMPLESESSIONTOKEN {}\nThe Canonical String for this request should have been",
            "x".repeat(400)
        );
        let out = cx.scrub(&msg);
        assert!(!out.contains("EXAMPLESESSIONTOKEN"), "{out}");
        assert!(!out.contains("Canonical"), "{out}");
        assert!(out.chars().count() <= MESSAGE_CHARS + 1);
        assert!(is_aws_host("api.ecr.eu-central-9.amazonaws.com"));
        let xml = "<?xml version=\"1.0\"?><ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>";
        assert_eq!(
            xml_field(xml, "Code").as_deref(),
            Some("InvalidClientTokenId")
        );
        assert!(xml_field(xml, "Message")
            .unwrap()
            .starts_with("The security token"));
        assert_eq!(xml_field("{}", "Code"), None);
        assert!(!is_aws_host("127.0.0.1"));
    }
}
