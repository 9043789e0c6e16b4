//! Zonemaster's default level for each message tag (its default profile, engine 4.6.2). A tag
//! not listed is INFO. Only the modules zonefeed runs are here.

use super::Level;

/// The level of `tag` in `module`.
pub fn of(module: &str, tag: &str) -> Level {
    match (module, tag) {
        (
            "BASIC",
            "DOMAIN_NAME_LABEL_TOO_LONG"
            | "DOMAIN_NAME_TOO_LONG"
            | "DOMAIN_NAME_ZERO_LENGTH_LABEL"
            | "NO_GLUE_PREVENTS_NAMESERVER_TESTS"
            | "NO_PARENT",
        ) => Level::Critical,
        ("BASIC", "HAS_A_RECORDS" | "NS_FAILED") => Level::Error,
        (
            "BASIC",
            "IPV4_DISABLED" | "IPV4_ENABLED" | "IPV6_DISABLED" | "IPV6_ENABLED" | "NS_NO_RESPONSE" | "TEST_CASE_END" | "TEST_CASE_START",
        ) => Level::Debug,
        ("CONNECTIVITY", "EMPTY_ASN_SET" | "ERROR_ASN_DATABASE" | "NAMESERVER_NO_TCP_53" | "NAMESERVER_NO_UDP_53") => Level::Error,
        (
            "CONNECTIVITY",
            "CN01_MISSING_NS_RECORD_UDP"
            | "CN01_MISSING_SOA_RECORD_UDP"
            | "CN01_NO_RESPONSE_NS_QUERY_UDP"
            | "CN01_NO_RESPONSE_SOA_QUERY_UDP"
            | "CN01_NO_RESPONSE_UDP"
            | "CN01_NS_RECORD_NOT_AA_UDP"
            | "CN01_SOA_RECORD_NOT_AA_UDP"
            | "CN01_UNEXPECTED_RCODE_NS_QUERY_UDP"
            | "CN01_UNEXPECTED_RCODE_SOA_QUERY_UDP"
            | "CN01_WRONG_NS_RECORD_UDP"
            | "CN01_WRONG_SOA_RECORD_UDP"
            | "CN02_MISSING_NS_RECORD_TCP"
            | "CN02_MISSING_SOA_RECORD_TCP"
            | "CN02_NO_RESPONSE_NS_QUERY_TCP"
            | "CN02_NO_RESPONSE_SOA_QUERY_TCP"
            | "CN02_NO_RESPONSE_TCP"
            | "CN02_NS_RECORD_NOT_AA_TCP"
            | "CN02_SOA_RECORD_NOT_AA_TCP"
            | "CN02_UNEXPECTED_RCODE_NS_QUERY_TCP"
            | "CN02_UNEXPECTED_RCODE_SOA_QUERY_TCP"
            | "CN02_WRONG_NS_RECORD_TCP"
            | "CN02_WRONG_SOA_RECORD_TCP"
            | "IPV4_ONE_ASN"
            | "IPV6_ONE_ASN",
        ) => Level::Warning,
        ("CONNECTIVITY", "CN01_IPV4_DISABLED" | "CN01_IPV6_DISABLED" | "IPV4_SAME_ASN" | "IPV6_SAME_ASN") => Level::Notice,
        (
            "CONNECTIVITY",
            "ASN_INFOS_ANNOUNCE_BY"
            | "ASN_INFOS_ANNOUNCE_IN"
            | "ASN_INFOS_RAW"
            | "IPV4_DISABLED"
            | "IPV6_DISABLED"
            | "NAMESERVER_HAS_TCP_53"
            | "NAMESERVER_HAS_UDP_53"
            | "TEST_CASE_END"
            | "TEST_CASE_START",
        ) => Level::Debug,
        ("CONSISTENCY", "CHILD_ZONE_LAME" | "IN_BAILIWICK_ADDR_MISMATCH" | "OUT_OF_BAILIWICK_ADDR_MISMATCH") => Level::Error,
        ("CONSISTENCY", "MULTIPLE_SOA_SERIALS") => Level::Warning,
        (
            "CONSISTENCY",
            "EXTRA_ADDRESS_CHILD"
            | "MULTIPLE_NS_SET"
            | "MULTIPLE_SOA_MNAMES"
            | "MULTIPLE_SOA_RNAMES"
            | "MULTIPLE_SOA_TIME_PARAMETER_SET"
            | "SOA_SERIAL_VARIATION",
        ) => Level::Notice,
        (
            "CONSISTENCY",
            "CHILD_NS_FAILED"
            | "IPV4_DISABLED"
            | "IPV6_DISABLED"
            | "NO_RESPONSE"
            | "NO_RESPONSE_NS_QUERY"
            | "NO_RESPONSE_SOA_QUERY"
            | "TEST_CASE_END"
            | "TEST_CASE_START",
        ) => Level::Debug,
        (
            "DELEGATION",
            "CHILD_NS_SAME_IP"
            | "DEL_NS_SAME_IP"
            | "EXTRA_NAME_PARENT"
            | "NOT_ENOUGH_IPV4_NS_CHILD"
            | "NOT_ENOUGH_IPV4_NS_DEL"
            | "NOT_ENOUGH_IPV6_NS_CHILD"
            | "NOT_ENOUGH_IPV6_NS_DEL"
            | "NOT_ENOUGH_NS_CHILD"
            | "NOT_ENOUGH_NS_DEL"
            | "NS_IS_CNAME"
            | "SAME_IP_ADDRESS"
            | "SOA_NOT_EXISTS"
            | "TOTAL_NAME_MISMATCH",
        ) => Level::Error,
        ("DELEGATION", "IS_NOT_AUTHORITATIVE" | "NO_IPV4_NS_CHILD" | "NO_IPV4_NS_DEL" | "REFERRAL_SIZE_TOO_LARGE" | "UNEXPECTED_RCODE") => {
            Level::Warning
        }
        ("DELEGATION", "EXTRA_NAME_CHILD" | "NO_IPV6_NS_CHILD" | "NO_IPV6_NS_DEL") => Level::Notice,
        ("DELEGATION", "IPV4_DISABLED" | "IPV6_DISABLED" | "NO_RESPONSE" | "TEST_CASE_END" | "TEST_CASE_START") => Level::Debug,
        (
            "NAMESERVER",
            "AAAA_BAD_RDATA"
            | "AAAA_QUERY_DROPPED"
            | "AAAA_UNEXPECTED_RCODE"
            | "BREAKS_ON_EDNS"
            | "CAN_NOT_BE_RESOLVED"
            | "CASE_QUERIES_RESULTS_DIFFER"
            | "EDNS_RESPONSE_WITHOUT_EDNS"
            | "EDNS_VERSION_ERROR"
            | "IS_A_RECURSOR"
            | "NO_RESOLUTION",
        ) => Level::Error,
        (
            "NAMESERVER",
            "A_UNEXPECTED_RCODE"
            | "CASE_QUERY_DIFFERENT_ANSWER"
            | "CASE_QUERY_DIFFERENT_RC"
            | "CASE_QUERY_NO_ANSWER"
            | "DIFFERENT_SOURCE_IP"
            | "MISSING_OPT_IN_TRUNCATED"
            | "N10_EDNS_RESPONSE_ERROR"
            | "N10_NO_RESPONSE_EDNS1_QUERY"
            | "N10_UNEXPECTED_RCODE"
            | "N11_NO_EDNS"
            | "N11_NO_RESPONSE"
            | "N11_RETURNS_UNKNOWN_OPTION_CODE"
            | "N11_UNEXPECTED_ANSWER_SECTION"
            | "N11_UNEXPECTED_RCODE"
            | "N11_UNSET_AA"
            | "NO_EDNS_SUPPORT"
            | "NS_ERROR"
            | "QNAME_CASE_INSENSITIVE"
            | "UPWARD_REFERRAL",
        ) => Level::Warning,
        ("NAMESERVER", "AXFR_AVAILABLE" | "QUERY_DROPPED") => Level::Notice,
        (
            "NAMESERVER",
            "CASE_QUERY_SAME_ANSWER"
            | "CASE_QUERY_SAME_RC"
            | "IPV4_DISABLED"
            | "IPV6_DISABLED"
            | "NO_RESPONSE"
            | "TEST_CASE_END"
            | "TEST_CASE_START",
        ) => Level::Debug,
        ("ZONE", "MULTIPLE_SOA") => Level::Error,
        (
            "ZONE",
            "EXPIRE_LOWER_THAN_REFRESH"
            | "EXPIRE_MINIMUM_VALUE_LOWER"
            | "MNAME_HAS_NO_ADDRESS"
            | "Z01_MNAME_HAS_LOCALHOST_ADDR"
            | "Z01_MNAME_IS_LOCALHOST"
            | "Z01_MNAME_MISSING_SOA_RECORD"
            | "Z01_MNAME_NOT_AUTHORITATIVE"
            | "Z01_MNAME_NOT_MASTER"
            | "Z01_MNAME_NOT_RESOLVE"
            | "Z01_MNAME_NO_RESPONSE"
            | "Z01_MNAME_UNEXPECTED_RCODE"
            | "Z09_INCONSISTENT_MX"
            | "Z09_INCONSISTENT_MX_DATA"
            | "Z09_NON_AUTH_MX_RESPONSE"
            | "Z09_NO_RESPONSE_MX_QUERY"
            | "Z09_NULL_MX_WITH_OTHER_MX"
            | "Z09_TLD_EMAIL_DOMAIN"
            | "Z09_UNEXPECTED_RCODE_MX",
        ) => Level::Warning,
        (
            "ZONE",
            "MNAME_IS_CNAME"
            | "REFRESH_MINIMUM_VALUE_LOWER"
            | "RETRY_MINIMUM_VALUE_LOWER"
            | "SOA_DEFAULT_TTL_MAXIMUM_VALUE_HIGHER"
            | "SOA_DEFAULT_TTL_MAXIMUM_VALUE_LOWER"
            | "Z01_MNAME_IS_DOT"
            | "Z09_MISSING_MAIL_TARGET"
            | "Z09_NULL_MX_NON_ZERO_PREF"
            | "Z09_ROOT_EMAIL_DOMAIN",
        ) => Level::Notice,
        (
            "ZONE",
            "NO_RESPONSE"
            | "NO_RESPONSE_MX_QUERY"
            | "NO_RESPONSE_SOA_QUERY"
            | "NO_SOA_IN_RESPONSE"
            | "TEST_CASE_END"
            | "TEST_CASE_START"
            | "WRONG_SOA"
            | "Z01_MNAME_IS_MASTER",
        ) => Level::Debug,
        _ => Level::Info,
    }
}
