//! What can be known about an Amazon ECR registration without the network: the account and
//! region an ECR registry host names, and the syntax of regions and role ARNs (plan-time checks).

/// The parts of an Amazon ECR registry host
/// (`<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`, the dual-stack
/// `<account>.dkr-ecr[-fips].<region>.on.aws`, and the isolated partitions' domains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHost {
    /// The 12-digit account ID (the registry ID of `DescribeRepositories`).
    pub account: String,
    pub region: String,
    pub fips: bool,
}

/// The domains ECR registry hosts live under, per partition (as the Amazon ECR credential
/// helper recognises them).
const DOMAINS: [&str; 7] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
    "on.aws",
];

/// Parse an ECR registry host (no port, no path; case-insensitive). `None` for any other host.
pub fn parse_registry_host(host: &str) -> Option<RegistryHost> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (service, rest) = rest.split_once('.')?;
    let fips = match service {
        "dkr" => {
            // `dkr.ecr.` or `dkr.ecr-fips.`
            let (ecr, _) = rest.split_once('.')?;
            match ecr {
                "ecr" => false,
                "ecr-fips" => true,
                _ => return None,
            }
        }
        "dkr-ecr" => false,
        "dkr-ecr-fips" => true,
        _ => return None,
    };
    let rest = if service == "dkr" {
        rest.split_once('.')?.1
    } else {
        rest
    };
    let (region, domain) = rest.split_once('.')?;
    if !DOMAINS.contains(&domain) || !valid_region(region) {
        return None;
    }
    Some(RegistryHost {
        account: account.to_string(),
        region: region.to_string(),
        fips,
    })
}

/// An AWS region name: lower-case words joined by `-`, the last one a number
/// (`us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`).
pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
        && r.len() <= 32
}

/// Why `arn` is not the ARN of an IAM role (`arn:<partition>:iam::<12-digit account>:role/<path/>name`),
/// or `None` when it is one.
pub fn role_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Some("it is not an ARN (`arn:aws:iam::123456789012:role/NAME`)".into());
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    if !matches!(
        partition,
        "aws"
            | "aws-cn"
            | "aws-us-gov"
            | "aws-iso"
            | "aws-iso-b"
            | "aws-iso-e"
            | "aws-iso-f"
            | "aws-eusc"
    ) {
        return Some(format!(
            "{partition:?} is not an AWS partition (`aws`, `aws-cn`, `aws-us-gov`, …)"
        ));
    }
    if service != "iam" {
        return Some(format!(
            "it is an ARN of service {service:?}, not of an IAM role (`arn:{partition}:iam::ACCOUNT:role/NAME`)"
        ));
    }
    if !region.is_empty() {
        return Some("IAM ARNs have no region: the fourth field must be empty (`arn:aws:iam::ACCOUNT:role/NAME`)".into());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            "the account must be 12 digits (`arn:aws:iam::123456789012:role/NAME`)".into(),
        );
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Some(format!(
            "it names an IAM {:?}, not a role (`…:role/NAME`)",
            resource.split('/').next().unwrap_or_default()
        ));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    // IAM role names: 1-64 of `\w+=,.@-`; the path may hold more, up to 512 characters in all.
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    let path_ok = path_and_name.len() <= 512
        && path_and_name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':');
    if !name_ok || !path_ok {
        return Some(
            "the role name must be 1 to 64 letters, digits or `_+=,.@-` (after an optional path)"
                .into(),
        );
    }
    None
}

/// Why `name` is not a valid STS role session name (2-64 of `\w+=,.@-`), or `None`.
pub fn session_name_problem(name: &str) -> Option<String> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    (!ok).then(|| "a role session name is 2 to 64 letters, digits or `_+=,.@-`".to_string())
}

/// Why `id` is not a usable external ID (2-1224 of `\w+=,.@:/-`), or `None`. The value is never
/// quoted: it is a secret.
pub fn external_id_problem(id: &str) -> Option<String> {
    let ok = (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
    (!ok).then(|| "an external ID is 2 to 1224 letters, digits or `_+=,.@:/-`".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts() {
        let h = |s: &str| parse_registry_host(s).map(|h| (h.account, h.region, h.fips));
        let some = |a: &str, r: &str, f: bool| Some((a.to_string(), r.to_string(), f));
        assert_eq!(
            h("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
            some("123456789012", "us-east-1", false)
        );
        assert_eq!(
            h("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com"),
            some("123456789012", "us-gov-west-1", true)
        );
        assert_eq!(
            h("123456789012.DKR.ECR.cn-north-1.amazonaws.com.cn."),
            some("123456789012", "cn-north-1", false)
        );
        assert_eq!(
            h("123456789012.dkr-ecr.eu-west-1.on.aws"),
            some("123456789012", "eu-west-1", false)
        );
        assert_eq!(
            h("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov"),
            some("123456789012", "us-iso-east-1", false)
        );
        for other in [
            "127.0.0.1",
            "registry.example.com",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.example.com",
            "123456789012.dkr.ecs.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.useast1.amazonaws.com",
            "public.ecr.aws",
            "",
        ] {
            assert_eq!(h(other), None, "{other}");
        }
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "cn-northwest-1",
            "us-isob-east-1",
            "mars-west-9",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "us-east1",
            "US-EAST-1",
            "us-east-",
            "useast1",
            "",
            "us--east-1",
            "us east 1",
            "us-east-1a",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/chart-reader",
            "arn:aws-cn:iam::123456789012:role/path/to/Reader_1+=,.@-",
            "arn:aws-us-gov:iam::123456789012:role/x",
        ] {
            assert_eq!(role_arn_problem(ok), None, "{ok}");
        }
        for bad in [
            "chart-reader",
            "arn:aws:iam:123456789012:role/x",
            "arn:aws:sts::123456789012:assumed-role/x/y",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/bad name",
            "arn:amazon:iam::123456789012:role/x",
        ] {
            assert!(role_arn_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn session_names_and_external_ids() {
        assert_eq!(session_name_problem("chartreg"), None);
        assert!(session_name_problem("a").is_some());
        assert!(session_name_problem("has space").is_some());
        assert_eq!(external_id_problem("ext-1234:/x"), None);
        assert!(external_id_problem("x").is_some());
        assert!(external_id_problem("no spaces here").is_some());
    }
}
