//! Google Cloud naming rules, each behind the newtype only it can construct.

use std::net::IpAddr;

use super::regions::{REGIONS, region_of_zone};
use crate::diag::Code;
use crate::names::{DnsLabel, hyphenated_help, is_lower_name, lower_name_problem};
use crate::problem::{Checked, Problem, string_newtype};
use crate::suggest;

string_newtype!(
    /// A Google Cloud project id: 6–30 characters, `[a-z0-9-]`, a lowercase letter first,
    /// no trailing hyphen.
    ProjectId
);
string_newtype!(
    /// A known Google Cloud region such as `europe-west3`.
    Region
);
string_newtype!(
    /// A Cloud Storage bucket name (GCS naming rules).
    BucketName
);
string_newtype!(
    /// A Cloud SQL machine tier available in the Enterprise edition.
    Tier
);
string_newtype!(
    /// A GKE cluster name: 1–40 characters, a letter first, no trailing hyphen.
    ClusterName
);
string_newtype!(
    /// Where a GKE cluster is: a region (a regional cluster) or one of its zones (a zonal
    /// cluster).
    ClusterLocation
);
string_newtype!(
    /// An Artifact Registry repository id.
    RepositoryId
);
string_newtype!(
    /// A CIDR block in its network form, such as `203.0.113.0/24`.
    Cidr
);

fn lowercase_help(value: &str) -> Option<String> {
    (value.chars().any(|c| c.is_ascii_uppercase()))
        .then(|| format!("did you mean `{}`?", value.to_ascii_lowercase()))
}

impl ProjectId {
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |what: &str| {
            let help = hyphenated_help(value, |v| Self::parse(v).is_ok()).unwrap_or_else(|| {
                "a project id is 6 to 30 lowercase letters, digits and hyphens, starting with a \
                 letter (`gcloud projects list` shows yours)"
                    .into()
            });
            Problem::new(Code::InvalidProject, format!("`project` {what}"))
                .label("not a project id")
                .help(help)
        };
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Problem::new(
                Code::InvalidProject,
                "`project` is a project number, not a project id",
            )
            .label("a project number")
            .help(
                "use the project id, e.g. `acme-ml-prod`: `gcloud projects list` shows the id \
                 next to the number",
            ));
        }
        if value.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("must be lowercase"));
        }
        if !(6..=30).contains(&value.len()) {
            return Err(bad(&format!(
                "must be 6 to 30 characters long, not {}",
                value.len()
            )));
        }
        if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(bad("must start with a lowercase letter"));
        }
        if value.ends_with('-') {
            return Err(bad("must not end with a hyphen"));
        }
        if !is_lower_name(value) {
            return Err(bad("may hold only lowercase letters, digits and hyphens"));
        }
        Ok(Self(value.to_owned()))
    }
}

impl Region {
    pub fn parse(value: &str) -> Checked<Self> {
        if REGIONS.contains(&value) {
            return Ok(Self(value.to_owned()));
        }
        if let Some(region) = region_of_zone(value) {
            return Err(Problem::new(
                Code::ZoneNotRegion,
                format!("`{value}` is a zone; the region is `{region}`"),
            )
            .label("a zone, not a region")
            .help(format!(
                "write `region = \"{region}\"`: Cloud SQL, the bucket, the registry and the cluster are regional"
            )));
        }
        let help = region_help(value);
        Err(Problem::new(
            Code::UnknownRegion,
            format!(
                "`{}` is not a Google Cloud region",
                crate::diag::shown(value)
            ),
        )
        .label("unknown region")
        .help(help))
    }
}

/// The help for an unknown region: the region meant by an AWS- or Azure-style name
/// (`eu-west3`, `us-east-1`), a close spelling, the regions of a family (`europe-west`), or
/// how to list them.
fn region_help(value: &str) -> String {
    let lower = value.to_ascii_lowercase().replace('_', "-");
    // `us-east-1` → `us-east1`; `eu-west3` → `europe-west3`.
    let mut normal = lower.clone();
    if let Some((head, digits)) = normal.rsplit_once('-')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        normal = format!("{head}{digits}");
    }
    for (short, long) in [
        ("eu-", "europe-"),
        ("ap-", "asia-"),
        ("sa-", "southamerica-"),
        ("ca-", "northamerica-"),
        ("na-", "northamerica-"),
        ("au-", "australia-"),
        ("af-", "africa-"),
    ] {
        if let Some(rest) = normal.strip_prefix(short) {
            normal = format!("{long}{rest}");
        }
    }
    if REGIONS.contains(&normal.as_str()) {
        return format!("did you mean `{normal}`?");
    }
    if let Some(zone_region) = region_of_zone(&normal) {
        return format!("did you mean `{zone_region}`? (`{normal}` would be one of its zones)");
    }
    let family = normal.trim_end_matches(|c: char| c.is_ascii_digit());
    let siblings: Vec<&str> = REGIONS
        .iter()
        .copied()
        .filter(|region| {
            region.trim_end_matches(|c: char| c.is_ascii_digit()) == family && family.len() > 2
        })
        .collect();
    if siblings.len() > 1 && family != normal {
        return format!(
            "the `{family}` regions are {}",
            suggest::one_of(&siblings).replace(" or ", " and ")
        );
    }
    if let Some(region) = suggest::closest(&normal, REGIONS.iter().copied()) {
        return format!("did you mean `{region}`?");
    }
    if matches!(
        lower.as_str(),
        "eu" | "us" | "asia" | "eur4" | "nam4" | "asia1"
    ) {
        return "that is a multi-region location; Cloud SQL and GKE need a single region such as \
                `europe-west3` or `us-central1` (`gcloud compute regions list`)"
            .into();
    }
    "use a Google Cloud region such as `europe-west3` or `us-central1` (`gcloud compute regions list`)"
        .into()
}

impl BucketName {
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |what: String, help: &str| {
            Problem::new(Code::InvalidBucket, format!("`bucket` {what}"))
                .label("not a valid bucket name")
                .help(lowercase_help(value).unwrap_or_else(|| help.to_owned()))
        };
        let rules = "bucket names are 3 to 63 lowercase letters, digits, `-`, `_` and `.`, starting and \
                     ending with a letter or digit";
        if let Some(rest) = value.strip_prefix("gs://") {
            let name = rest.split('/').next().unwrap_or_default();
            return Err(Problem::new(
                Code::InvalidBucket,
                "`bucket` is a `gs://` URL, not a bucket name",
            )
            .label("a URL")
            .help(format!(
                "write the bucket name alone: `bucket = \"{}\"`",
                crate::diag::shown(name)
            )));
        }
        if value.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("must be lowercase".into(), rules));
        }
        let max = if value.contains('.') { 222 } else { 63 };
        if value.len() < 3 || value.len() > max {
            return Err(bad(
                format!("must be 3 to {max} characters long, not {}", value.len()),
                rules,
            ));
        }
        if let Some(c) = value.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        }) {
            return Err(bad(format!("may not contain `{c}`"), rules));
        }
        let alnum =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !alnum(value.chars().next()) || !alnum(value.chars().last()) {
            return Err(bad(
                "must start and end with a letter or digit".into(),
                rules,
            ));
        }
        if value
            .split('.')
            .any(|part| part.is_empty() || part.len() > 63)
        {
            return Err(bad(
                "has a dot-separated part that is empty or longer than 63 characters".into(),
                rules,
            ));
        }
        if value.parse::<IpAddr>().is_ok() {
            return Err(bad(
                "may not be an IP address".into(),
                "choose a name such as `acme-ml-mlflow`",
            ));
        }
        if value.starts_with("goog") {
            return Err(bad(
                "may not start with `goog`".into(),
                "Google reserves the `goog` prefix; choose another name",
            ));
        }
        if value.contains("google") || value.contains("g00gle") {
            return Err(bad(
                "may not contain `google`".into(),
                "Google reserves names containing `google`; choose another name",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

impl Tier {
    pub fn parse(value: &str) -> Checked<Self> {
        if matches!(value, "db-f1-micro" | "db-g1-small") {
            return Ok(Self(value.to_owned()));
        }
        let help = "use `db-custom-CPUS-MEMORY_MB` (1 or an even number of CPUs up to 96, memory a \
                    multiple of 256 MB, 0.9 to 6.5 GB per CPU, at least 3840), `db-f1-micro` or \
                    `db-g1-small`; for example `db-custom-1-3840` or `db-custom-2-7680`";
        let bad = |what: &str| {
            Problem::new(Code::InvalidTier, format!("`database.tier` {what}"))
                .label("not a Cloud SQL tier")
                .help(help)
        };
        let Some(rest) = value.strip_prefix("db-custom-") else {
            // Compute Engine machine types have Cloud SQL equivalents with the same shape.
            let equivalent = ["standard", "highmem"].iter().find_map(|family| {
                let cpus: u32 = value
                    .strip_prefix("db-n1-")
                    .or_else(|| value.strip_prefix("n1-"))?
                    .strip_prefix(family)?
                    .strip_prefix('-')?
                    .parse()
                    .ok()?;
                let per_cpu = if *family == "standard" { 3840 } else { 6656 };
                let tier = format!("db-custom-{cpus}-{}", cpus * per_cpu);
                Self::parse(&tier).ok().map(|_| tier)
            });
            return Err(match equivalent {
                Some(tier) => Problem::new(
                    Code::InvalidTier,
                    format!(
                        "`database.tier` `{}` is a legacy machine type",
                        crate::diag::shown(value)
                    ),
                )
                .label("not a Cloud SQL Enterprise edition tier")
                .help(format!(
                    "use the same shape as a custom tier: `tier = \"{tier}\"`"
                )),
                None => bad("is not a Cloud SQL Enterprise edition tier"),
            });
        };
        let Some((cpus, memory)) = rest.split_once('-') else {
            return Err(bad("must name CPUs and memory: `db-custom-CPUS-MEMORY_MB`"));
        };
        let (Ok(cpus), Ok(memory)) = (cpus.parse::<u32>(), memory.parse::<u32>()) else {
            return Err(bad("must name CPUs and memory as numbers"));
        };
        if !(cpus == 1 || (cpus % 2 == 0 && (2..=96).contains(&cpus))) {
            return Err(bad("must have 1 or an even number of CPUs, up to 96"));
        }
        let min = 3840.max(cpus * 922);
        if memory % 256 != 0 || memory < min || memory > cpus * 6656 {
            return Err(bad(&format!(
                "memory must be a multiple of 256 MB between {min} and {} MB for {cpus} CPU(s)",
                cpus * 6656
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

impl Tier {
    /// The tier's CPUs (1 for the shared-core tiers) and memory in MiB.
    #[must_use]
    pub fn shape(&self) -> (u32, u32) {
        match self.0.as_str() {
            // Shared-core tiers: 0.6 GiB and 1.7 GiB.
            "db-f1-micro" => (1, 614),
            "db-g1-small" => (1, 1741),
            custom => custom
                .strip_prefix("db-custom-")
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(cpus, memory)| Some((cpus.parse().ok()?, memory.parse().ok()?)))
                .unwrap_or((1, 3840)),
        }
    }
}

impl ClusterName {
    pub fn parse(value: &str) -> Checked<Self> {
        if is_lower_name(value) && value.len() <= 40 {
            return Ok(Self(value.to_owned()));
        }
        Err(lower_name_problem(
            Code::InvalidClusterName,
            "cluster.name",
            value,
            40,
            "a GKE cluster name",
            hyphenated_help(value, |v| Self::parse(v).is_ok())
                .unwrap_or_else(|| "for example `ml-platform`".into()),
        ))
    }

    /// The default cluster name: the stack's name, already a valid cluster name.
    #[must_use]
    pub fn from_name(name: &DnsLabel) -> Self {
        Self(name.as_str().to_owned())
    }
}

impl ClusterLocation {
    pub fn parse(value: &str) -> Checked<Self> {
        if REGIONS.contains(&value) || region_of_zone(value).is_some() {
            return Ok(Self(value.to_owned()));
        }
        let zonal = value
            .rsplit_once('-')
            .filter(|(_, zone)| zone.len() == 1 && zone.bytes().all(|b| b.is_ascii_lowercase()));
        let help = match zonal {
            // A zone of a misspelt region: the same zone of the region meant.
            Some((region, zone)) => suggest::closest(region, REGIONS.iter().copied()).map_or_else(
                || format!("`{region}` is not a region; {}", region_help(region)),
                |meant| format!("did you mean `{meant}-{zone}`?"),
            ),
            None => format!(
                "{} (or a zone, such as `europe-west3-a`, for a zonal cluster)",
                region_help(value)
            ),
        };
        Err(Problem::new(
            Code::UnknownLocation,
            format!(
                "`{}` is neither a Google Cloud region nor a zone",
                crate::diag::shown(value)
            ),
        )
        .label("unknown location")
        .help(help))
    }

    /// Whether this is a zone (`europe-west3-a`), not a region.
    #[must_use]
    pub fn is_zone(&self) -> bool {
        region_of_zone(&self.0).is_some()
    }

    /// The region the cluster is in: itself, or the region of its zone.
    #[must_use]
    pub fn region(&self) -> &str {
        region_of_zone(&self.0).unwrap_or(&self.0)
    }

    /// The location of a cluster the stack does not place: its region.
    #[must_use]
    pub fn of_region(region: &Region) -> Self {
        Self(region.as_str().to_owned())
    }
}

impl RepositoryId {
    pub fn parse(value: &str) -> Checked<Self> {
        if is_lower_name(value) && value.len() <= 63 {
            return Ok(Self(value.to_owned()));
        }
        Err(lower_name_problem(
            Code::InvalidRepository,
            "registry.repository",
            value,
            63,
            "an Artifact Registry repository id",
            hyphenated_help(value, |v| Self::parse(v).is_ok())
                .unwrap_or_else(|| "for example `mlflow`".into()),
        ))
    }

    #[must_use]
    pub fn default_id() -> Self {
        Self("mlflow".into())
    }
}

impl Cidr {
    /// A CIDR block; a host address with bits set past the prefix is refused with the
    /// network address as the fix, a bare address with `/32` (or `/128`).
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |what: String, help: String| {
            Problem::new(Code::InvalidCidr, format!("`{value}` {what}"))
                .label("not a CIDR block")
                .help(help)
        };
        let Some((address, prefix)) = value.split_once('/') else {
            return match value.parse::<IpAddr>() {
                Ok(ip) => Err(bad(
                    "has no prefix length".into(),
                    format!(
                        "did you mean `{value}/{}`?",
                        if ip.is_ipv4() { 32 } else { 128 }
                    ),
                )),
                Err(_) => Err(bad(
                    "is not a CIDR block".into(),
                    "write an address range such as `203.0.113.0/24`".into(),
                )),
            };
        };
        let Ok(ip) = address.parse::<IpAddr>() else {
            return Err(bad(
                "does not start with an IP address".into(),
                "write an address range such as `203.0.113.0/24`".into(),
            ));
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix.parse::<u32>() {
            // `/024` parses, but is not how anyone writes a prefix length.
            Ok(bits) if bits <= max && bits.to_string() == prefix => bits,
            _ => {
                return Err(bad(
                    format!("has an invalid prefix length (0 to {max})"),
                    "write an address range such as `203.0.113.0/24`".into(),
                ));
            }
        };
        let network = network_of(ip, prefix);
        if network != ip {
            return Err(bad(
                "has host bits set past its prefix".into(),
                format!("did you mean `{network}/{prefix}`?"),
            ));
        }
        Ok(Self(format!("{ip}/{prefix}")))
    }

    /// Whether the block admits every address (`0.0.0.0/0` or `::/0`).
    #[must_use]
    pub fn is_everything(&self) -> bool {
        self.0.ends_with("/0")
    }

    /// The first and last address of the block, as numbers, and whether it is IPv6.
    fn bounds(&self) -> Option<(bool, u128, u128)> {
        let (address, prefix) = self.0.split_once('/')?;
        let prefix: u32 = prefix.parse().ok()?;
        let (v6, start, bits) = match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => (false, u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (true, u128::from(v6), 128),
        };
        let size_minus_one = u128::MAX.checked_shr(128 - (bits - prefix)).unwrap_or(0);
        Some((v6, start, start + size_minus_one))
    }
}

/// The address families (`"IPv4"`, `"IPv6"`) whose every address the blocks admit together,
/// however they are split or overlap (`0.0.0.0/1` with `128.0.0.0/1` is the whole of IPv4).
#[must_use]
pub fn families_covered(blocks: &[Cidr]) -> Vec<&'static str> {
    [
        (false, "IPv4", u128::from(u32::MAX)),
        (true, "IPv6", u128::MAX),
    ]
    .into_iter()
    .filter(|&(v6, _, last)| {
        let mut ranges: Vec<(u128, u128)> = blocks
            .iter()
            .filter_map(Cidr::bounds)
            .filter(|&(family, _, _)| family == v6)
            .map(|(_, start, end)| (start, end))
            .collect();
        ranges.sort_unstable();
        // The first address not yet covered (`None`: past the last one), walking the
        // ranges in order.
        let mut next = Some(0u128);
        for (start, end) in ranges {
            match next {
                Some(n) if start <= n => next = end.checked_add(1).map(|after| after.max(n)),
                _ => break,
            }
        }
        next.is_none_or(|n| n > last)
    })
    .map(|(_, name, _)| name)
    .collect()
}

fn network_of(ip: IpAddr, prefix: u32) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids() {
        assert!(ProjectId::parse("acme-ml-prod").is_ok());
        for bad in [
            "acme",
            "Acme-ml-prod",
            "1acme-ml",
            "acme-ml-",
            "acme_ml_prod",
            "a".repeat(31).as_str(),
        ] {
            assert_eq!(
                ProjectId::parse(bad).unwrap_err().code,
                Code::InvalidProject,
                "{bad}"
            );
        }
    }

    #[test]
    fn cluster_locations() {
        let region = ClusterLocation::parse("europe-west3").unwrap();
        assert!(!region.is_zone());
        assert!(ClusterLocation::parse("europe-west3-a").unwrap().is_zone());
        for (bad, help) in [
            ("europe-west3a", "did you mean `europe-west3`? (or a zone"),
            ("europe-wset3-b", "did you mean `europe-west3-b`?"),
            ("us-east-1", "did you mean `us-east1`? (or a zone"),
        ] {
            let problem = ClusterLocation::parse(bad).unwrap_err();
            assert_eq!(problem.code, Code::UnknownLocation, "{bad}");
            assert!(problem.help.starts_with(help), "{bad}: {}", problem.help);
        }
    }

    #[test]
    fn regions_and_zones() {
        assert!(Region::parse("europe-west3").is_ok());
        let zone = Region::parse("europe-west3-a").unwrap_err();
        assert_eq!(zone.code, Code::ZoneNotRegion);
        assert!(zone.message.contains("`europe-west3`"));
        let typo = Region::parse("europe-wst3").unwrap_err();
        assert_eq!(typo.code, Code::UnknownRegion);
        assert_eq!(typo.help, "did you mean `europe-west3`?");
    }

    #[test]
    fn buckets() {
        for good in ["acme-ml-prod-mlflow", "a_b", "abc", "my.bucket.example.com"] {
            assert!(BucketName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "192.168.5.4",
            "goog-bucket",
            "my-google-bucket",
            "a..b",
            "a$b",
        ] {
            assert_eq!(
                BucketName::parse(bad).unwrap_err().code,
                Code::InvalidBucket,
                "{bad}"
            );
        }
    }

    #[test]
    fn tiers() {
        for good in [
            "db-custom-1-3840",
            "db-custom-2-7680",
            "db-f1-micro",
            "db-custom-4-26624",
        ] {
            assert!(Tier::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "db-custom-3-7680",
            "db-custom-1-1000",
            "db-n1-standard-1",
            "db-custom-1",
            "db-custom-1-7000",
        ] {
            assert!(Tier::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(
            Cidr::parse("203.0.113.0/24").unwrap().as_str(),
            "203.0.113.0/24"
        );
        assert!(Cidr::parse("0.0.0.0/0").unwrap().is_everything());
        let blocks =
            |list: &[&str]| -> Vec<Cidr> { list.iter().map(|b| Cidr::parse(b).unwrap()).collect() };
        assert_eq!(families_covered(&blocks(&["0.0.0.0/0"])), ["IPv4"]);
        assert_eq!(families_covered(&blocks(&["::/0"])), ["IPv6"]);
        assert_eq!(
            families_covered(&blocks(&["0.0.0.0/1", "128.0.0.0/1"])),
            ["IPv4"]
        );
        assert_eq!(
            families_covered(&blocks(&[
                "128.0.0.0/2",
                "0.0.0.0/1",
                "10.0.0.0/8",
                "192.0.0.0/2"
            ])),
            ["IPv4"]
        );
        assert_eq!(
            families_covered(&blocks(&["::/1", "8000::/1", "0.0.0.0/1", "128.0.0.0/1"])),
            ["IPv4", "IPv6"]
        );
        assert!(families_covered(&blocks(&["0.0.0.0/1", "128.0.0.0/2"])).is_empty());
        assert!(families_covered(&blocks(&["0.0.0.0/1", "::/1", "8000::/1"])) == ["IPv6"]);
        assert!(families_covered(&blocks(&["1.0.0.0/8", "0.0.0.0/1"])).is_empty());
        assert!(families_covered(&blocks(&["255.255.255.255/32"])).is_empty());
        assert!(families_covered(&[]).is_empty());
        assert!(Cidr::parse("2001:db8::/32").is_ok());
        assert_eq!(
            Cidr::parse("203.0.113.7").unwrap_err().help,
            "did you mean `203.0.113.7/32`?"
        );
        assert_eq!(
            Cidr::parse("203.0.113.7/24").unwrap_err().help,
            "did you mean `203.0.113.0/24`?"
        );
        assert!(Cidr::parse("203.0.113.0/33").is_err());
        assert!(Cidr::parse("203.0.113.0/024").is_err());
        assert!(Cidr::parse("example.com/24").is_err());
    }
}
