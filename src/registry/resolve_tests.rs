//! Unit tests of `resolve.rs`. The four tables marked "Masterminds" are copied from
//! Masterminds/semver's own `constraints_test.go` (MIT licence; v3.4.0, the release Helm 4.1
//! links, and v3.3.0 for Helm 3.17) so that the port is checked against its source's cases.

use super::*;

fn v(s: &str) -> SemVer {
    SemVer::parse(s).unwrap_or_else(|| panic!("{s} is a version"))
}

fn check(c: &str, ver: &str, d: Dialect) -> bool {
    Constraint::parse_as(c, d)
        .unwrap_or_else(|e| panic!("{c}: {e}"))
        .check(&v(ver))
}

/// Masterminds v3.4.0 `TestConstraintCheck` (single comparators; the three cases of the empty
/// string, which only the internal `parseConstraint` accepts, are left out).
const SINGLE: &[(&str, &str, bool)] = &[
    ("=2.0.0", "1.2.3", false),
    ("=2.0.0", "2.0.0", true),
    ("=2.0", "1.2.3", false),
    ("=2.0", "2.0.0", true),
    ("=2.0", "2.0.1", true),
    ("4.1", "4.1.0", true),
    ("!=4.1.0", "4.1.0", false),
    ("!=4.1.0", "4.1.1", true),
    ("!=4.1", "4.1.0", false),
    ("!=4.1", "4.1.1", false),
    ("!=4.1", "5.1.0-alpha.1", false),
    ("!=4.1.0", "5.1.0-alpha.1", false),
    ("!=4.1-alpha", "4.1.0", true),
    ("!=4.1", "5.1.0", true),
    ("<11", "0.1.0", true),
    ("<11", "11.1.0", false),
    ("<1.1", "0.1.0", true),
    ("<1.1", "1.1.0", false),
    ("<1.1", "1.1.1", false),
    ("<=11", "1.2.3", true),
    ("<=11", "12.2.3", false),
    ("<=11", "11.2.3", true),
    ("<=1.1", "1.2.3", false),
    ("<=1.1", "0.1.0", true),
    ("<=1.1", "1.1.0", true),
    ("<=1.1", "1.1.1", true),
    (">1.1", "4.1.0", true),
    (">1.1", "1.1.0", false),
    (">0", "0", false),
    (">0", "1", true),
    (">0", "0.0.1-alpha", false),
    (">0.0", "0.0.1-alpha", false),
    (">0-0", "0.0.1-alpha", false),
    (">0.0-0", "0.0.1-alpha", false),
    (">0", "0.0.0-alpha", false),
    (">0-0", "0.0.0-alpha", false),
    (">0.0.0-0", "0.0.0-alpha", true),
    (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
    (">1.2.3-alpha.1", "1.3.3-alpha.2", true),
    (">11", "11.1.0", false),
    (">11.1", "11.1.0", false),
    (">11.1", "11.1.1", false),
    (">11.1", "11.2.1", true),
    (">=11", "11.1.2", true),
    (">=11.1", "11.1.2", true),
    (">=11.1", "11.0.2", false),
    (">=1.1", "4.1.0", true),
    (">=1.1", "1.1.0", true),
    (">=1.1", "0.0.9", false),
    (">=0", "0.0.1-alpha", false),
    (">=0.0", "0.0.1-alpha", false),
    (">=0-0", "0.0.1-alpha", true),
    (">=0.0-0", "0.0.1-alpha", true),
    (">=0", "0.0.0-alpha", false),
    (">=0-0", "0.0.0-alpha", true),
    (">=0.0.0-0", "0.0.0-alpha", true),
    (">=0.0.0-0", "1.2.3", true),
    (">=0.0.0-0", "3.4.5-beta.1", true),
    ("<0", "0.0.0-alpha", false),
    ("<0-z", "0.0.0-alpha", true),
    (">=0", "0", true),
    ("=0", "1", false),
    ("*", "1", true),
    ("*", "4.5.6", true),
    ("*", "1.2.3-alpha.1", false),
    ("*-0", "1.2.3-alpha.1", true),
    ("2.*", "1", false),
    ("2.*", "3.4.5", false),
    ("2.*", "2.1.1", true),
    ("2.1.*", "2.1.1", true),
    ("2.1.*", "2.2.1", false),
    ("2", "1", false),
    ("2", "3.4.5", false),
    ("2", "2.1.1", true),
    ("2.1", "2.1.1", true),
    ("2.1", "2.2.1", false),
    ("~1.2.3", "1.2.4", true),
    ("~1.2.3", "1.3.4", false),
    ("~1.2", "1.2.4", true),
    ("~1.2", "1.3.4", false),
    ("~1", "1.2.4", true),
    ("~1", "2.3.4", false),
    ("~0.2.3", "0.2.5", true),
    ("~0.2.3", "0.3.5", false),
    ("~1.2.3-beta.2", "1.2.3-beta.4", true),
    ("~1.2.3-beta.2", "1.2.4-beta.2", true),
    ("~1.2.3-beta.2", "1.3.4-beta.2", false),
    ("^1.2.3", "1.8.9", true),
    ("^1.2.3", "2.8.9", false),
    ("^1.2.3", "1.2.1", false),
    ("^1.1.0", "2.1.0", false),
    ("^1.2.0", "2.2.1", false),
    ("^1.2.0", "1.2.1-alpha.1", false),
    ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
    ("^1.2.0-alpha.0", "1.2.1-alpha.0", true),
    ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
    ("^1.2", "1.8.9", true),
    ("^1.2", "2.8.9", false),
    ("^1", "1.8.9", true),
    ("^1", "2.8.9", false),
    ("^0.2.3", "0.2.5", true),
    ("^0.2.3", "0.5.6", false),
    ("^0.2", "0.2.5", true),
    ("^0.2", "0.5.6", false),
    ("^0.0.3", "0.0.3", true),
    ("^0.0.3", "0.0.4", false),
    ("^0.0", "0.0.3", true),
    ("^0.0", "0.1.4", false),
    ("^0.0", "1.0.4", false),
    ("^0", "0.2.3", true),
    ("^0", "1.1.4", false),
    ("^0.2.3-beta.2", "0.2.3-beta.4", true),
    ("^0.2.3-beta.2", "0.2.4-beta.2", true),
    ("^0.2.3-beta.2", "0.3.4-beta.2", false),
    ("^0.2.3-beta.2", "0.2.3-beta.2", true),
];

/// Masterminds v3.4.0 `TestConstraintsCheck`.
const MULTI_V34: &[(&str, &str, bool)] = &[
    ("*", "1.2.3", true),
    ("~0.0.0", "1.2.3", true),
    ("0.x.x", "1.2.3", false),
    ("0.0.x", "1.2.3", false),
    ("0.0.0", "1.2.3", false),
    ("*", "1.2.3", true),
    ("^0.0.0", "1.2.3", false),
    ("= 2.0", "1.2.3", false),
    ("= 2.0", "2.0.0", true),
    ("4.1", "4.1.0", true),
    ("4.1.x", "4.1.3", true),
    ("1.x", "1.4", true),
    ("!=4.1", "4.1.0", false),
    ("!=4.1-alpha", "4.1.0-alpha", false),
    ("!=4.1-alpha", "4.1.1-alpha", false),
    ("!=4.1-alpha", "4.1.0", true),
    ("!=4.1", "5.1.0", true),
    ("!=4.x", "5.1.0", true),
    ("!=4.x", "4.1.0", false),
    ("!=4.1.x", "4.2.0", true),
    ("!=4.2.x", "4.2.3", false),
    (">1.1", "4.1.0", true),
    (">1.1", "1.1.0", false),
    ("<1.1", "0.1.0", true),
    ("<1.1", "1.1.0", false),
    ("<1.1", "1.1.1", false),
    ("<1.x", "1.1.1", false),
    ("<1.x", "0.1.1", true),
    ("<1.x", "2.0.0", false),
    ("<1.1.x", "1.2.1", false),
    ("<1.1.x", "1.1.500", false),
    ("<1.1.x", "1.0.500", true),
    ("<1.2.x", "1.1.1", true),
    (">=1.1", "4.1.0", true),
    (">=1.1", "4.1.0-beta", false),
    (">=1.1", "1.1.0", true),
    (">=1.1", "0.0.9", false),
    ("<=1.1", "0.1.0", true),
    ("<=1.1", "0.1.0-alpha", false),
    ("<=1.1-a", "0.1.0-alpha", true),
    ("<=1.1", "1.1.0", true),
    ("<=1.x", "1.1.0", true),
    ("<=2.x", "3.0.0", false),
    ("<=1.1", "1.1.1", true),
    ("<=1.1.x", "1.2.500", false),
    ("<=4.5", "3.4.0", true),
    ("<=4.5", "3.7.0", true),
    ("<=4.5", "4.6.3", false),
    (">1.1, <2", "1.1.1", false),
    (">1.1, <2", "1.2.1", true),
    (">1.1, <3", "4.3.2", false),
    (">=1.1, <2, !=1.2.3", "1.2.3", false),
    (">1.1 <2", "1.1.1", false),
    (">1.1 <2", "1.2.1", true),
    (">1.1    <3", "4.3.2", false),
    (">=1.1    <2    !=1.2.3", "1.2.3", false),
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
    (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
    (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
    (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
    (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
    (">=1.1 <2 !=1.2.3", "1.2.3", false),
    (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
    (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
    (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
    (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
    (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
    ("> 1.1, <     2", "1.1.1", false),
    (">   1.1, <2", "1.2.1", true),
    (">1.1, <  3", "4.3.2", false),
    (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
    ("> 1.1 < 2", "1.1.1", false),
    (">1.1 < 2", "1.2.1", true),
    ("> 1.1    <3", "4.3.2", false),
    (">=1.1    < 2    != 1.2.3", "1.2.3", false),
    (">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
    (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false),
    (">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true),
    (">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
    (">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
    (">= 1.1 <2 != 1.2.3", "1.2.3", false),
    (">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true),
    (">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false),
    (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true),
    (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
    (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", true),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1", true),
    (">= 1.0.0  <= 2.0.0-beta", "3.0.0", false),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", true),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", false),
    (
        ">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3",
        "1.0.1-beta",
        true,
    ),
    (
        ">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3",
        "1.0.1-beta",
        false,
    ),
    (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", true),
    ("1.1 - 2", "1.1.1", true),
    ("1.5.0 - 4.5", "3.7.0", true),
    ("1.1-3", "4.3.2", false),
    ("^1.1", "1.1.1", true),
    ("^1.1", "4.3.2", false),
    ("^1.x", "1.1.1", true),
    ("^2.x", "1.1.1", false),
    ("^1.x", "2.1.1", false),
    ("^1.x", "1.1.1-beta1", false),
    ("^1.1.2-alpha", "1.2.1-beta1", true),
    ("^1.2.x-alpha", "1.1.1-beta1", false),
    ("^0.0.1", "0.0.1", true),
    ("^0.0.1", "0.3.1", false),
    ("~*", "2.1.1", true),
    ("~1", "2.1.1", false),
    ("~1", "1.3.5", true),
    ("~1", "1.4", true),
    ("~1.x", "2.1.1", false),
    ("~1.x", "1.3.5", true),
    ("~1.x", "1.4", true),
    ("~1.1", "1.1.1", true),
    ("~1.1", "1.1.1-alpha", false),
    ("~1.1-alpha", "1.1.1-beta", true),
    ("~1.1.1-beta", "1.1.1-alpha", false),
    ("~1.1.1-beta", "1.1.1", true),
    ("~1.2.3", "1.2.5", true),
    ("~1.2.3", "1.2.2", false),
    ("~1.2.3", "1.3.2", false),
    ("~1.1", "1.2.3", false),
    ("~1.3", "2.4.5", false),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
    ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
];

/// Masterminds v3.3.0 `TestConstraintsCheck`.
const MULTI_V33: &[(&str, &str, bool)] = &[
    ("*", "1.2.3", true),
    ("~0.0.0", "1.2.3", true),
    ("0.x.x", "1.2.3", false),
    ("0.0.x", "1.2.3", false),
    ("0.0.0", "1.2.3", false),
    ("*", "1.2.3", true),
    ("^0.0.0", "1.2.3", false),
    ("= 2.0", "1.2.3", false),
    ("= 2.0", "2.0.0", true),
    ("4.1", "4.1.0", true),
    ("4.1.x", "4.1.3", true),
    ("1.x", "1.4", true),
    ("!=4.1", "4.1.0", false),
    ("!=4.1-alpha", "4.1.0-alpha", false),
    ("!=4.1-alpha", "4.1.1-alpha", false),
    ("!=4.1-alpha", "4.1.0", true),
    ("!=4.1", "5.1.0", true),
    ("!=4.x", "5.1.0", true),
    ("!=4.x", "4.1.0", false),
    ("!=4.1.x", "4.2.0", true),
    ("!=4.2.x", "4.2.3", false),
    (">1.1", "4.1.0", true),
    (">1.1", "1.1.0", false),
    ("<1.1", "0.1.0", true),
    ("<1.1", "1.1.0", false),
    ("<1.1", "1.1.1", false),
    ("<1.x", "1.1.1", false),
    ("<1.x", "0.1.1", true),
    ("<1.x", "2.0.0", false),
    ("<1.1.x", "1.2.1", false),
    ("<1.1.x", "1.1.500", false),
    ("<1.1.x", "1.0.500", true),
    ("<1.2.x", "1.1.1", true),
    (">=1.1", "4.1.0", true),
    (">=1.1", "4.1.0-beta", false),
    (">=1.1", "1.1.0", true),
    (">=1.1", "0.0.9", false),
    ("<=1.1", "0.1.0", true),
    ("<=1.1", "0.1.0-alpha", false),
    ("<=1.1-a", "0.1.0-alpha", true),
    ("<=1.1", "1.1.0", true),
    ("<=1.x", "1.1.0", true),
    ("<=2.x", "3.0.0", false),
    ("<=1.1", "1.1.1", true),
    ("<=1.1.x", "1.2.500", false),
    ("<=4.5", "3.4.0", true),
    ("<=4.5", "3.7.0", true),
    ("<=4.5", "4.6.3", false),
    (">1.1, <2", "1.1.1", false),
    (">1.1, <2", "1.2.1", true),
    (">1.1, <3", "4.3.2", false),
    (">=1.1, <2, !=1.2.3", "1.2.3", false),
    (">1.1 <2", "1.1.1", false),
    (">1.1 <2", "1.2.1", true),
    (">1.1    <3", "4.3.2", false),
    (">=1.1    <2    !=1.2.3", "1.2.3", false),
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
    (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
    (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
    (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
    (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
    (">=1.1 <2 !=1.2.3", "1.2.3", false),
    (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
    (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
    (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
    (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
    (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
    ("> 1.1, <     2", "1.1.1", false),
    (">   1.1, <2", "1.2.1", true),
    (">1.1, <  3", "4.3.2", false),
    (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
    ("> 1.1 < 2", "1.1.1", false),
    (">1.1 < 2", "1.2.1", true),
    ("> 1.1    <3", "4.3.2", false),
    (">=1.1    < 2    != 1.2.3", "1.2.3", false),
    (">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
    (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false),
    (">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true),
    (">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
    (">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
    (">= 1.1 <2 != 1.2.3", "1.2.3", false),
    (">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true),
    (">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false),
    (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true),
    (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
    (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false),
    ("1.1 - 2", "1.1.1", true),
    ("1.5.0 - 4.5", "3.7.0", true),
    ("1.1-3", "4.3.2", false),
    ("^1.1", "1.1.1", true),
    ("^1.1", "4.3.2", false),
    ("^1.x", "1.1.1", true),
    ("^2.x", "1.1.1", false),
    ("^1.x", "2.1.1", false),
    ("^1.x", "1.1.1-beta1", false),
    ("^1.1.2-alpha", "1.2.1-beta1", true),
    ("^1.2.x-alpha", "1.1.1-beta1", false),
    ("^0.0.1", "0.0.1", true),
    ("^0.0.1", "0.3.1", false),
    ("~*", "2.1.1", true),
    ("~1", "2.1.1", false),
    ("~1", "1.3.5", true),
    ("~1", "1.4", true),
    ("~1.x", "2.1.1", false),
    ("~1.x", "1.3.5", true),
    ("~1.x", "1.4", true),
    ("~1.1", "1.1.1", true),
    ("~1.1", "1.1.1-alpha", false),
    ("~1.1-alpha", "1.1.1-beta", true),
    ("~1.1.1-beta", "1.1.1-alpha", false),
    ("~1.1.1-beta", "1.1.1", true),
    ("~1.2.3", "1.2.5", true),
    ("~1.2.3", "1.2.2", false),
    ("~1.2.3", "1.3.2", false),
    ("~1.1", "1.2.3", false),
    ("~1.3", "2.4.5", false),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
    ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
];

/// Masterminds v3.4.0 `TestNewConstraint`: input, OR groups, comparators in the first, error.
const NEW: &[(&str, usize, usize, bool)] = &[
    (">= 1.1", 1, 1, false),
    (">40.50.60, < 50.70", 1, 2, false),
    ("2.0", 1, 1, false),
    ("v2.3.5-20161202202307-sha.e8fc5e5", 1, 1, false),
    (">= bar", 0, 0, true),
    ("BAR >= 1.2.3", 0, 0, true),
    (">= 1.2.3 < 2.0", 1, 2, false),
    (">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2, false),
    (">= 1.2.3, < 2.0", 1, 2, false),
    (">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2, false),
    ("3 - 4 || => 3.0, < 4", 2, 2, false),
    ("12.3.4.1234", 0, 0, true),
    ("12.23.4.1234", 0, 0, true),
    ("12.3.34.1234", 0, 0, true),
    ("12.3.34 ~1.2.3", 1, 2, false),
    ("12.3.34~ 1.2.3", 0, 0, true),
    ("1.0.0 - 2.0.0, <=2.0.0", 1, 3, false),
];

/// Masterminds v3.4.0 `TestRewriteRange`.
const RANGES: &[(&str, &str)] = &[
    ("2 - 3", ">= 2, <= 3 "),
    ("2 - 3, 2 - 3", ">= 2, <= 3 ,>= 2, <= 3 "),
    ("2 - 3, 4.0.0 - 5.1", ">= 2, <= 3 ,>= 4.0.0, <= 5.1 "),
    ("2 - 3 4.0.0 - 5.1", ">= 2, <= 3 >= 4.0.0, <= 5.1 "),
    ("1.0.0 - 2.0.0 <=2.0.0", ">= 1.0.0, <= 2.0.0 <=2.0.0"),
];

#[test]
fn masterminds_single_comparators() {
    for &(c, ver, want) in SINGLE {
        assert_eq!(
            check(c, ver, Dialect::Helm4),
            want,
            "Helm 4: {c:?} vs {ver}"
        );
        // v3.3.0 lacked this case: a plain `!=` let every pre-release through.
        let want3 = if (c, ver) == ("!=4.1.0", "5.1.0-alpha.1") {
            true
        } else {
            want
        };
        assert_eq!(
            check(c, ver, Dialect::Helm3),
            want3,
            "Helm 3: {c:?} vs {ver}"
        );
    }
}

#[test]
fn masterminds_constraint_sets() {
    for &(c, ver, want) in MULTI_V34 {
        assert_eq!(
            check(c, ver, Dialect::Helm4),
            want,
            "Helm 4: {c:?} vs {ver}"
        );
    }
    for &(c, ver, want) in MULTI_V33 {
        assert_eq!(
            check(c, ver, Dialect::Helm3),
            want,
            "Helm 3: {c:?} vs {ver}"
        );
    }
}

#[test]
fn dialects_differ_only_on_prereleases() {
    // (constraint, version, Helm 3.17, Helm 4.1)
    for &(c, ver, h3, h4) in &[
        (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", false, true),
        (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", false, true),
        (">=1.0.0-0, <2.0.0", "1.5.0-beta", false, true),
        (">=1.0.0-0 <2.0.0 || >3", "3.5.0-rc.1", false, false),
        ("!=4.1.0", "5.1.0-alpha.1", true, false),
        ("!=4.1.0", "4.1.0-alpha.1", true, false),
        ("!=4.1.x", "5.1.0-alpha.1", false, false),
        (">0.0.0-0", "3.4.5-beta.1", true, true),
        (">0.0.0", "3.4.5-beta.1", false, false),
    ] {
        assert_eq!(check(c, ver, Dialect::Helm3), h3, "Helm 3: {c:?} vs {ver}");
        assert_eq!(check(c, ver, Dialect::Helm4), h4, "Helm 4: {c:?} vs {ver}");
    }
}

#[test]
fn masterminds_new_constraint() {
    for &(input, ors, count, err) in NEW {
        match Constraint::parse(input) {
            Err(e) => assert!(err, "{input}: unexpected {e}"),
            Ok(c) => {
                assert!(!err, "{input}: expected an error");
                assert_eq!(c.groups.len(), ors, "{input}");
                assert_eq!(c.groups[0].comparators.len(), count, "{input}");
            }
        }
    }
}

#[test]
fn masterminds_rewrite_range() {
    for &(c, want) in RANGES {
        assert_eq!(rewrite_range(c), want, "{c}");
    }
}

#[test]
fn parse_errors_carry_the_parsers_reason() {
    let reason = |c: &str, d| Constraint::parse_as(c, d).unwrap_err().reason;
    assert_eq!(
        reason(">= bar", Dialect::Helm4),
        "improper constraint: >= bar"
    );
    assert_eq!(reason("", Dialect::Helm4), "improper constraint: ");
    assert_eq!(
        reason("1.0.0_1", Dialect::Helm4),
        "improper constraint: 1.0.0_1"
    );
    assert_eq!(
        reason("latest", Dialect::Helm4),
        "improper constraint: latest"
    );
    assert_eq!(
        reason("1 || foo", Dialect::Helm4),
        "improper constraint:  foo"
    );
    // Accepted by the regular expressions, refused by NewVersion.
    assert_eq!(reason("1x", Dialect::Helm4), "constraint parser error");
    assert_eq!(reason("1x", Dialect::Helm3), "constraint Parser Error");
    assert_eq!(reason("1.2.3x", Dialect::Helm4), "constraint parser error");
    // No separator between comparators.
    assert!(Constraint::parse(">=1.0.0<2.0.0").is_err());
    assert!(Constraint::parse("12.3.4.1234").is_err());
}

#[test]
fn operators_and_wildcards() {
    let d = Dialect::Helm4;
    for &(c, ver, want) in &[
        ("=> 1.2", "1.2.0", true),
        ("=< 1.2", "1.2.9", true),
        ("~> 1.2", "1.2.9", true),
        ("~> 1.2", "1.3.0", false),
        ("~>1.2.3", "1.2.9", true),
        ("1.X", "1.9.0", true),
        ("1.*.*", "1.9.0", true),
        ("1.x.3", "1.9.0", true), // a wildcard makes the rest a wildcard
        ("v1.2.3", "1.2.3", true),
        ("1.2.3+build.1", "1.2.3", true), // build metadata is ignored by comparison
        ("1.2.3", "1.2.3+build.9", true),
        ("^*", "1.2.3", false), // only 0.0.z: what the code does, not what its comment says
        ("^*", "0.0.0", true),
        ("~*", "1.2.3", true),
        ("!=*", "1.2.3", true),
        ("1.0 - 2.0", "2.0.9", true), // `<= 2.0` is a wildcard bound
        ("1.0 - 2.0.0", "2.0.9", false),
        (">1.0 <1.2 || 2.x", "2.5.0", true),
        ("  >=1.0.0 ,  <2.0.0  ", "1.5.0", true),
    ] {
        assert_eq!(check(c, ver, d), want, "{c:?} vs {ver}");
    }
}

fn records(vs: &[&str]) -> Vec<VersionRecord> {
    vs.iter()
        .map(|v| VersionRecord {
            version: v.to_string(),
            ..Default::default()
        })
        .collect()
}

fn helm(vs: &[VersionRecord], w: Option<&str>) -> Result<String, ResolveError> {
    resolve_helm(vs, w).map(|r| r.version.clone())
}

fn oci(vs: &[VersionRecord], w: Option<&str>) -> Result<String, ResolveError> {
    resolve_oci(vs, w).map(|r| r.version.clone())
}

#[test]
fn helm_index_get() {
    let vs = records(&[
        "2.0.0-rc.1",
        "1.10.0",
        "1.9.3+build.7",
        "1.9.3",
        "1.9.0",
        "1.2.0",
        "0.1.0",
    ]);
    let ok = |w: Option<&str>| helm(&vs, w).unwrap();
    assert_eq!(ok(None), "1.10.0");
    assert_eq!(ok(Some("")), "1.10.0");
    assert_eq!(ok(Some("*")), "1.10.0");
    assert_eq!(ok(Some("1.9.3")), "1.9.3"); // exact string first
    assert_eq!(ok(Some("1.9.3+build.7")), "1.9.3+build.7");
    assert_eq!(ok(Some("~1.9")), "1.9.3+build.7"); // first of equal precedence
    assert_eq!(ok(Some("~1.9.0")), "1.9.3+build.7");
    assert_eq!(ok(Some("=1.9.0")), "1.9.0");
    assert_eq!(ok(Some("^1.2.0")), "1.10.0");
    assert_eq!(ok(Some("<1.9")), "1.2.0");
    assert_eq!(ok(Some(">=1.2.0, <1.9.0")), "1.2.0");
    assert_eq!(ok(Some("1.0.0 - 1.9.1")), "1.9.0");
    assert_eq!(ok(Some("0.x || 1.2.x")), "1.2.0");
    assert_eq!(ok(Some("v0.1.0")), "0.1.0");
    assert_eq!(ok(Some("^2.0.0-0")), "2.0.0-rc.1");
    assert_eq!(ok(Some(">0.0.0-0")), "2.0.0-rc.1");
    assert_eq!(ok(Some("2.0.0-rc.1")), "2.0.0-rc.1");
    assert_eq!(ok(Some("~2.0.0-rc.0")), "2.0.0-rc.1");
    // A pre-release constraint on another x.y.z still admits it (not npm's rule).
    assert_eq!(ok(Some(">=1.0.0-0")), "2.0.0-rc.1");
    assert_eq!(ok(Some(">=1.0.0-0, <3")), "2.0.0-rc.1");
    assert_eq!(
        resolve_helm_as(&vs, Some(">=1.0.0-0, <3"), Dialect::Helm3)
            .unwrap()
            .version,
        "1.10.0"
    );

    let nf = helm(&vs, Some("3.x")).unwrap_err();
    let ResolveError::NotFound(nf) = nf else {
        panic!("{nf:?}")
    };
    assert_eq!(nf.wanted.as_deref(), Some("3.x"));
    assert_eq!(nf.available, 7);
    assert_eq!(nf.closest[0], "2.0.0-rc.1");
    assert!(
        nf.to_string().contains("closest available: 2.0.0-rc.1"),
        "{nf}"
    );
}

#[test]
fn helm_parses_the_constraint_before_the_exact_match() {
    // Helm's index loader drops such versions; a snapshot may still carry one.
    let vs = records(&["latest", "1.0.0"]);
    let err = helm(&vs, Some("latest")).unwrap_err();
    assert!(
        matches!(&err, ResolveError::InvalidConstraint(w, e) if w == "latest" && e.reason == "improper constraint: latest"),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a valid version constraint"));
}

#[test]
fn helm_only_prereleases() {
    let vs = records(&["1.0.0-rc.2", "1.0.0-rc.1"]);
    let ResolveError::NotFound(nf) = helm(&vs, None).unwrap_err() else {
        panic!()
    };
    assert_eq!(nf.wanted, None);
    assert_eq!(nf.closest, ["1.0.0-rc.2", "1.0.0-rc.1"]);
    assert!(nf.to_string().contains("no stable version"), "{nf}");
    assert_eq!(helm(&vs, Some("1.0.0-rc.1")).unwrap(), "1.0.0-rc.1");
    assert_eq!(helm(&vs, Some(">=1.0.0-0")).unwrap(), "1.0.0-rc.2");
    let ResolveError::NotFound(nf) = helm(&[], None).unwrap_err() else {
        panic!()
    };
    assert!(nf.closest.is_empty() && nf.to_string() == "the chart has no version");
}

#[test]
fn helm_sorts_what_it_is_given() {
    let vs = records(&["1.0.0", "1.10.0", "1.2.0"]);
    assert_eq!(helm(&vs, None).unwrap(), "1.10.0");
    assert_eq!(helm(&vs, Some("<1.10")).unwrap(), "1.2.0");
}

#[test]
fn oci_validate_reference() {
    let vs = records(&[
        "2.0.0-rc.1",
        "1.2",
        "v1.1.0",
        "1.0.1+b.2",
        "1.0.0",
        "0.9.0",
        "01.0.0",
    ]);
    let ok = |w: Option<&str>| oci(&vs, w).unwrap();
    assert_eq!(ok(None), "1.0.1+b.2"); // newest strict semver tag ("1.2", "v1.1.0" are not)
    assert_eq!(ok(Some("~1.0")), "1.0.1+b.2");
    assert_eq!(ok(Some("1.0.1+b.2")), "1.0.1+b.2"); // pulled as tag 1.0.1_b.2
    assert_eq!(ok(Some("1.2")), "1.2"); // a version is the tag itself
    assert_eq!(ok(Some("v1.1.0")), "v1.1.0");
    assert_eq!(ok(Some("^2.0.0-0")), "2.0.0-rc.1");
    assert_eq!(ok(Some("<1")), "0.9.0");
    assert_eq!(ok(Some(">=1.0 <3")), "1.0.1+b.2"); // "1.2" and "v1.1.0" are not listed by Tags
                                                   // A version is not a constraint here: tag "1.1.0" does not exist.
    let ResolveError::NotFound(nf) = oci(&vs, Some("1.1.0")).unwrap_err() else {
        panic!()
    };
    assert_eq!(nf.closest[0], "v1.1.0");
    // `_` is how a tag writes `+`, not how a version does.
    assert!(matches!(
        oci(&vs, Some("1.0.1_b.2")),
        Err(ResolveError::InvalidConstraint(..))
    ));
    assert!(matches!(
        oci(&records(&["latest"]), None),
        Err(ResolveError::NotFound(_))
    ));
    assert!(matches!(
        oci(&vs, Some("3.x")),
        Err(ResolveError::NotFound(_))
    ));
}

#[test]
fn strict_and_exact() {
    for s in ["1.2.3", "0.0.0", "1.2.3-rc.1+b.2", "10.20.30-0"] {
        assert!(parse_strict(s).is_some(), "{s}");
        assert!(is_exact_version(s), "{s}");
    }
    for s in [
        "v1.2.3", "1.2", "01.2.3", "1.02.3", "1.2.03", "1.2.3.4", "", "1.2.x",
    ] {
        assert!(parse_strict(s).is_none(), "{s}");
    }
    assert!(is_exact_version("v1.2.3"));
    for s in [
        "1.2",
        "1",
        "~1.2.3",
        "1.2.x",
        "*",
        ">=1.0.0",
        "latest",
        "1.2.3 || 1.2.4",
    ] {
        assert!(!is_exact_version(s), "{s}");
    }
}

#[test]
fn closest_versions_rank_by_distance() {
    let avail = [
        "3.0.0",
        "2.1.0",
        "2.0.1",
        "2.0.0",
        "2.0.0-rc.1",
        "1.9.0",
        "1.0.0",
        "0.1.0",
    ];
    assert_eq!(
        closest_versions(&avail, Some("2.0.3")),
        ["2.0.1", "2.0.0", "2.0.0-rc.1", "2.1.0", "3.0.0"]
    );
    assert_eq!(
        closest_versions(&avail, Some("~> 1.5")),
        ["1.9.0", "1.0.0", "2.1.0", "0.1.0", "2.0.0"]
    );
    // Nothing to measure from: newest stable first.
    assert_eq!(
        closest_versions(&avail, Some("latest")),
        ["3.0.0", "2.1.0", "2.0.1", "2.0.0", "1.9.0"]
    );
    assert_eq!(closest_versions(&["x", "1.0.0"], None), ["1.0.0", "x"]);
    assert!(closest_versions(&[], Some("1")).is_empty());
}

#[test]
fn closest_names_rank_by_likeness() {
    let names = [
        "nginx",
        "nginx-ingress",
        "ingress-nginx",
        "NGINX",
        "redis",
        "grafana",
        "mariadb",
        "ngnix-old",
    ];
    assert_eq!(
        closest_names(&names, "nginx"),
        ["NGINX", "nginx", "ingress-nginx", "nginx-ingress"]
    );
    assert_eq!(closest_names(&names, "redsi"), ["redis"]);
    assert_eq!(
        closest_names(&names, "ngnix"),
        ["ngnix-old", "NGINX", "nginx"]
    );
    assert_eq!(closest_names(&names, "grafana-agent"), ["grafana"]);
    assert!(closest_names(&names, "postgresql").is_empty());
    assert!(closest_names(&[], "x").is_empty());
}

#[test]
fn levenshtein_counts_edits() {
    assert_eq!(levenshtein("", ""), 0);
    assert_eq!(levenshtein("abc", ""), 3);
    assert_eq!(levenshtein("kitten", "sitting"), 3);
    assert_eq!(levenshtein("ngnix", "nginx"), 2);
}
