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
            "DNSSEC",
            "ALGORITHM_DEPRECATED"
            | "ALGORITHM_NOT_ZONE_SIGN"
            | "ALGORITHM_PRIVATE"
            | "ALGORITHM_RESERVED"
            | "ALGORITHM_UNASSIGNED"
            | "DNSKEY_TOO_LARGE_FOR_ALGO"
            | "DNSKEY_TOO_SMALL_FOR_ALGO"
            | "DS01_DS_ALGO_DEPRECATED"
            | "DS01_DS_ALGO_NOT_DS"
            | "DS01_DS_ALGO_RESERVED"
            | "DS02_DNSKEY_NOT_FOR_ZONE_SIGNING"
            | "DS02_DNSKEY_NOT_SIGNED_BY_ANY_DS"
            | "DS02_NO_MATCH_DS_DNSKEY"
            | "DS02_NO_VALID_DNSKEY_FOR_ANY_DS"
            | "DS02_RRSIG_NOT_VALID_BY_DNSKEY"
            | "DS08_DNSKEY_RRSIG_EXPIRED"
            | "DS08_DNSKEY_RRSIG_NOT_YET_VALID"
            | "DS08_MISSING_RRSIG_IN_RESPONSE"
            | "DS08_NO_MATCHING_DNSKEY"
            | "DS08_RRSIG_NOT_VALID_BY_DNSKEY"
            | "DS09_MISSING_RRSIG_IN_RESPONSE"
            | "DS09_NO_MATCHING_DNSKEY"
            | "DS09_RRSIG_NOT_VALID_BY_DNSKEY"
            | "DS09_SOA_RRSIG_EXPIRED"
            | "DS09_SOA_RRSIG_NOT_YET_VALID"
            | "DS10_ANSWER_VERIFY_ERROR"
            | "DS10_INCONSISTENT_NSEC_NSEC3"
            | "DS10_MISSING_NSEC_NSEC3"
            | "DS10_MIXED_NSEC_NSEC3"
            | "DS10_NAME_NOT_COVERED_BY_NSEC"
            | "DS10_NAME_NOT_COVERED_BY_NSEC3"
            | "DS10_NON_EXISTENT_RESPONSE_ERROR"
            | "DS10_NSEC3_MISSING_SIGNATURE"
            | "DS10_NSEC3_RRSIG_VERIFY_ERROR"
            | "DS10_NSEC_MISSING_SIGNATURE"
            | "DS10_NSEC_RRSIG_VERIFY_ERROR"
            | "DS10_UNSIGNED_ANSWER"
            | "DS11_DS_BUT_UNSIGNED_ZONE"
            | "DS11_INCONSISTENT_SIGNED_ZONE"
            | "DS11_UNDETERMINED_DS"
            | "DS11_UNDETERMINED_SIGNED_ZONE"
            | "DS15_INCONSISTENT_CDNSKEY"
            | "DS15_INCONSISTENT_CDS"
            | "DS15_MISMATCH_CDS_CDNSKEY"
            | "DS16_CDS_INVALID_RRSIG"
            | "DS16_CDS_MATCHES_NON_ZONE_DNSKEY"
            | "DS16_CDS_SIGNED_BY_UNKNOWN_DNSKEY"
            | "DS16_CDS_UNSIGNED"
            | "DS16_CDS_WITHOUT_DNSKEY"
            | "DS16_MIXED_DELETE_CDS"
            | "DS17_CDNSKEY_INVALID_RRSIG"
            | "DS17_CDNSKEY_IS_NON_ZONE"
            | "DS17_CDNSKEY_SIGNED_BY_UNKNOWN_DNSKEY"
            | "DS17_CDNSKEY_UNSIGNED"
            | "DS17_CDNSKEY_WITHOUT_DNSKEY"
            | "DS17_MIXED_DELETE_CDNSKEY"
            | "DS18_NO_MATCH_CDNSKEY_RRSIG_DS"
            | "DS18_NO_MATCH_CDS_RRSIG_DS"
            | "DS_BUT_NOT_DNSKEY"
            | "EXTRA_PROCESSING_BROKEN"
            | "NO_DNSKEY"
            | "NO_RESPONSE_DNSKEY"
            | "RRSIG_EXPIRED",
        ) => Level::Error,
        (
            "DNSSEC",
            "ALGORITHM_NOT_RECOMMENDED"
            | "DNSKEY_BUT_NOT_DS"
            | "DNSKEY_SMALLER_THAN_REC"
            | "DS02_NO_DNSKEY_FOR_DS"
            | "DS02_NO_MATCHING_DNSKEY_RRSIG"
            | "DS11_INCONSISTENT_DS"
            | "DS11_NS_WITH_UNSIGNED_ZONE"
            | "DS13_ALGO_NOT_SIGNED_DNSKEY"
            | "DS13_ALGO_NOT_SIGNED_NS"
            | "DS13_ALGO_NOT_SIGNED_SOA"
            | "DS16_CDS_MATCHES_NO_DNSKEY"
            | "DS16_DNSKEY_NOT_SIGNED_BY_CDS"
            | "DS17_CDNSKEY_MATCHES_NO_DNSKEY"
            | "DS17_DNSKEY_NOT_SIGNED_BY_CDNSKEY"
            | "DURATION_LONG"
            | "REMAINING_LONG"
            | "REMAINING_SHORT"
            | "TOO_MANY_ITERATIONS",
        ) => Level::Warning,
        (
            "DNSSEC",
            "DS01_DIGEST_NOT_SUPPORTED_BY_ZM"
            | "DS01_DS_ALGO_2_MISSING"
            | "DS02_ALGO_NOT_SUPPORTED_BY_ZM"
            | "DS02_DNSKEY_NOT_SEP"
            | "DS08_ALGO_NOT_SUPPORTED_BY_ZM"
            | "DS09_ALGO_NOT_SUPPORTED_BY_ZM"
            | "DS10_ALGO_NOT_SUPPORTED_BY_ZM"
            | "DS11_NS_WITH_SIGNED_ZONE"
            | "DS11_PARENT_WITHOUT_DS"
            | "DS11_PARENT_WITH_DS"
            | "DS15_HAS_CDNSKEY_NO_CDS"
            | "DS15_HAS_CDS_NO_CDNSKEY"
            | "DS16_CDS_MATCHES_NON_SEP_DNSKEY"
            | "DS16_CDS_NOT_SIGNED_BY_CDS"
            | "DS17_CDNSKEY_IS_NON_SEP"
            | "DS17_CDNSKEY_NOT_SIGNED_BY_CDNSKEY"
            | "INVALID_NAME_RCODE"
            | "MANY_ITERATIONS"
            | "NEITHER_DNSKEY_NOR_DS"
            | "NOT_SIGNED",
        ) => Level::Notice,
        (
            "DNSSEC",
            "ADDITIONAL_DNSKEY_SKIPPED"
            | "DNSKEY_AND_DS"
            | "DURATION_OK"
            | "EXTRA_PROCESSING_OK"
            | "IPV4_DISABLED"
            | "IPV6_DISABLED"
            | "ITERATIONS_OK"
            | "KEY_DETAILS"
            | "NO_NSEC3PARAM"
            | "NO_RESPONSE"
            | "TEST_CASE_END"
            | "TEST_CASE_START",
        ) => Level::Debug,
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
