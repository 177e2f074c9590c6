"""SPEC §6: the default account mapping, its file format and its overrides.

Every expectation below is copied by hand from SPEC.md §6, never read from the implementation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plantech_tui.domain.errors import ValidationFailed
from plantech_tui.domain.mapping import (
    DefaultType,
    Mapping,
    MappingFileError,
    canonical_owner,
    normalize,
)
from plantech_tui.partners.redtail.partner import builtin_mapping, load_mapping

# --- SPEC §6, written out --------------------------------------------------------------------

INVESTMENT_TYPES = (
    "Taxable Brokerage",
    "Traditional IRA",
    "Roth IRA",
    "SEP IRA",
    "SIMPLE IRA",
    "Inherited IRA",
    "401(k)",
    "Roth 401(k)",
    "403(b)",
    "457(b)",
    "Pension / Profit Sharing",
    "529 Plan",
    "HSA",
    "Annuity (Non-Qualified)",
    "Custodial (UTMA/UGMA)",
    "Cash",
    "Other",
)

APPENDIX_A = [
    "Brokerage",
    "Individual",
    "Joint",
    "Trust",
    "TOD",
    "IRA",
    "Traditional IRA",
    "Rollover IRA",
    "SEP IRA",
    "SIMPLE IRA",
    "Inherited IRA",
    "Roth IRA",
    "401(k)",
    "Roth 401(k)",
    "403(b)",
    "457(b)",
    "Pension",
    "Profit Sharing",
    "529 Plan",
    "HSA",
    "UTMA/UGMA",
    "Annuity",
    "Fixed Annuity",
    "Variable Annuity",
    "Indexed Annuity",
    "Mutual Fund",
    "Checking",
    "Savings",
    "Money Market",
    "CD",
    "Other",
]

NOT_INCLUDED = [
    "Life Insurance",
    "Term Life",
    "Whole Life",
    "Universal Life",
    "Variable Universal Life",
    "Disability",
    "Long-Term Care",
    "Property & Casualty",
    "Loan",
    "Crypto Wallet",  # an unknown name
    "",
]

DIRECT = [
    ("Brokerage", "Taxable Brokerage"),
    ("Individual", "Taxable Brokerage"),
    ("Joint", "Taxable Brokerage"),
    ("Trust", "Taxable Brokerage"),
    ("TOD", "Taxable Brokerage"),
    ("IRA", "Traditional IRA"),
    ("Traditional IRA", "Traditional IRA"),
    ("Rollover IRA", "Traditional IRA"),
    ("SEP IRA", "SEP IRA"),
    ("SIMPLE IRA", "SIMPLE IRA"),
    ("Inherited IRA", "Inherited IRA"),
    ("Roth IRA", "Roth IRA"),
    ("401(k)", "401(k)"),
    ("Roth 401(k)", "Roth 401(k)"),
    ("403(b)", "403(b)"),
    ("457(b)", "457(b)"),
    ("Pension", "Pension / Profit Sharing"),
    ("Profit Sharing", "Pension / Profit Sharing"),
    ("529 Plan", "529 Plan"),
    ("HSA", "HSA"),
    ("UTMA/UGMA", "Custodial (UTMA/UGMA)"),
    ("Checking", "Cash"),
    ("Savings", "Cash"),
    ("Money Market", "Cash"),
    ("CD", "Cash"),
]

ANNUITY_TYPES = ["Annuity", "Fixed Annuity", "Variable Annuity", "Indexed Annuity"]
OTHER_TQ_TYPES = ["Mutual Fund", "Other"]
TQ_MAPPED = ANNUITY_TYPES + OTHER_TQ_TYPES

# tax-qualified type name (every alias) -> investment type; Non-Qualified is tested apart
TAX_QUALIFIED = [
    ("IRA", "Traditional IRA"),
    ("Traditional IRA", "Traditional IRA"),
    ("Rollover IRA", "Traditional IRA"),
    ("Roth IRA", "Roth IRA"),
    ("Roth", "Roth IRA"),
    ("SEP", "SEP IRA"),
    ("SEP IRA", "SEP IRA"),
    ("SIMPLE", "SIMPLE IRA"),
    ("SIMPLE IRA", "SIMPLE IRA"),
    ("Inherited IRA", "Inherited IRA"),
    ("401(k)", "401(k)"),
    ("Roth 401(k)", "Roth 401(k)"),
    ("403(b)", "403(b)"),
    ("457", "457(b)"),
    ("457(b)", "457(b)"),
    ("Pension", "Pension / Profit Sharing"),
    ("Profit Sharing", "Pension / Profit Sharing"),
    ("Keogh", "Pension / Profit Sharing"),
    ("529", "529 Plan"),
    ("529 Plan", "529 Plan"),
    ("HSA", "HSA"),
]


@pytest.fixture
def m() -> Mapping:
    return builtin_mapping()


# --- Appendix A ------------------------------------------------------------------------------


def test_investment_types_in_spec_order(m: Mapping) -> None:
    assert m.investment_types == INVESTMENT_TYPES


@pytest.mark.parametrize("account_type", APPENDIX_A)
def test_appendix_a_included(m: Mapping, account_type: str) -> None:
    assert m.is_included(account_type)


def test_appendix_a_is_exactly_the_included_list(m: Mapping) -> None:
    assert list(m.included_account_types) == APPENDIX_A


@pytest.mark.parametrize("account_type", NOT_INCLUDED)
def test_not_included(m: Mapping, account_type: str) -> None:
    assert not m.is_included(account_type)


def test_none_not_included(m: Mapping) -> None:
    assert not m.is_included(None)


def test_unknown_type_never_becomes_other(m: Mapping) -> None:
    got = m.default_investment_type("Life Insurance", None, None)
    assert got.review_type is True  # reported for review, never silently "Other"
    assert not m.is_included("Life Insurance")


# --- Appendix B, direct rows -----------------------------------------------------------------


@pytest.mark.parametrize(("account_type", "expected"), DIRECT)
def test_direct_rows(m: Mapping, account_type: str, expected: str) -> None:
    got = m.default_investment_type(account_type, None, None)
    assert got == DefaultType(expected, False, f"defaulted from Redtail type {account_type}")


@pytest.mark.parametrize(("account_type", "expected"), DIRECT)
@pytest.mark.parametrize(
    ("taxqualified", "tq_name"),
    [(True, None), (True, "Non-Qualified"), (False, "Roth IRA"), (None, "Defined Benefit")],
)
def test_direct_rows_ignore_tax_qualified_fields(
    m: Mapping, account_type: str, expected: str, taxqualified: bool | None, tq_name: str | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, tq_name)
    assert got.investment_type == expected
    assert got.review_type is False


def test_roth_ira_with_non_qualified_tq_stays_roth(m: Mapping) -> None:
    assert m.default_investment_type("Roth IRA", False, "Non-Qualified").investment_type == (
        "Roth IRA"
    )


# --- Appendix B, through the tax-qualified type ----------------------------------------------


@pytest.mark.parametrize("account_type", TQ_MAPPED)
@pytest.mark.parametrize(("tq_name", "expected"), TAX_QUALIFIED)
@pytest.mark.parametrize("taxqualified", [True, False, None])
def test_tax_qualified_rows(
    m: Mapping, account_type: str, tq_name: str, expected: str, taxqualified: bool | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, tq_name)
    assert got == DefaultType(
        expected,
        False,
        f"defaulted from tax-qualified type {tq_name} (Redtail type {account_type})",
    )


@pytest.mark.parametrize("account_type", ANNUITY_TYPES)
@pytest.mark.parametrize("taxqualified", [True, False, None])
def test_non_qualified_row_annuities(
    m: Mapping, account_type: str, taxqualified: bool | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, "Non-Qualified")
    assert got.investment_type == "Annuity (Non-Qualified)"
    assert got.review_type is False


@pytest.mark.parametrize("account_type", OTHER_TQ_TYPES)
@pytest.mark.parametrize("taxqualified", [True, False, None])
def test_non_qualified_row_mutual_fund_and_other(
    m: Mapping, account_type: str, taxqualified: bool | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, "Non-Qualified")
    assert got.investment_type == "Taxable Brokerage"
    assert got.review_type is False


@pytest.mark.parametrize("account_type", TQ_MAPPED)
@pytest.mark.parametrize("taxqualified", [True, False, None])
def test_unrecognised_tq_name_is_other_for_review(
    m: Mapping, account_type: str, taxqualified: bool | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, "Defined Benefit")
    assert got.investment_type == "Other"
    assert got.review_type is True
    assert '"Defined Benefit" not recognised' in got.reason


@pytest.mark.parametrize("account_type", TQ_MAPPED)
def test_taxqualified_true_without_name_is_other_for_review(m: Mapping, account_type: str) -> None:
    got = m.default_investment_type(account_type, True, None)
    assert (got.investment_type, got.review_type) == ("Other", True)


@pytest.mark.parametrize("account_type", ANNUITY_TYPES)
@pytest.mark.parametrize("taxqualified", [False, None])
def test_not_taxqualified_without_name_annuities(
    m: Mapping, account_type: str, taxqualified: bool | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, None)
    assert (got.investment_type, got.review_type) == ("Annuity (Non-Qualified)", False)
    assert got.reason == f"defaulted from Redtail type {account_type} (non-qualified)"


@pytest.mark.parametrize("account_type", OTHER_TQ_TYPES)
@pytest.mark.parametrize("taxqualified", [False, None])
def test_not_taxqualified_without_name_mutual_fund_and_other(
    m: Mapping, account_type: str, taxqualified: bool | None
) -> None:
    got = m.default_investment_type(account_type, taxqualified, None)
    assert (got.investment_type, got.review_type) == ("Taxable Brokerage", False)


@pytest.mark.parametrize("taxqualified", [True, False, None])
def test_unresolved_tq_id_is_other_for_review(m: Mapping, taxqualified: bool | None) -> None:
    got = m.default_investment_type(
        "Indexed Annuity", taxqualified, None, taxqualified_type_id=9999
    )
    assert (got.investment_type, got.review_type) == ("Other", True)
    assert "9999" in got.reason


def test_blank_tq_name_counts_as_absent(m: Mapping) -> None:
    assert m.default_investment_type("Annuity", False, "  ").investment_type == (
        "Annuity (Non-Qualified)"
    )


def test_reason_texts(m: Mapping) -> None:
    assert m.default_investment_type("Rollover IRA", None, None).reason == (
        "defaulted from Redtail type Rollover IRA"
    )
    assert m.default_investment_type("Indexed Annuity", True, "Roth IRA").reason == (
        "defaulted from tax-qualified type Roth IRA (Redtail type Indexed Annuity)"
    )


def test_missing_or_unmapped_account_type_is_other_for_review(m: Mapping) -> None:
    assert m.default_investment_type(None, None, None)[:2] == ("Other", True)
    assert m.default_investment_type("Whole Life", False, None)[:2] == ("Other", True)


# --- normalisation ---------------------------------------------------------------------------


def test_normalize() -> None:
    assert normalize("  Rollover \t  IRA ") == "rollover ira"
    assert normalize("ROTH 401(K)") == "roth 401(k)"
    assert normalize("401k") != normalize("401(k)")


def test_matching_is_case_and_whitespace_insensitive(m: Mapping) -> None:
    assert m.is_included(" rollover   ira ")
    assert m.default_investment_type(" rollover   ira ", None, None).investment_type == (
        "Traditional IRA"
    )
    assert m.default_investment_type("indexed  ANNUITY", True, "  roth\tira ").investment_type == (
        "Roth IRA"
    )
    assert m.default_investment_type("annuity", None, "non-qualified").investment_type == (
        "Annuity (Non-Qualified)"
    )


def test_punctuation_counts(m: Mapping) -> None:
    assert not m.is_included("401k")
    assert not m.is_included("UTMA UGMA")
    got = m.default_investment_type("Annuity", True, "401k")
    assert (got.investment_type, got.review_type) == ("Other", True)


# --- canonical investment type and owner -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Taxable Brokerage", "Taxable Brokerage"),
        ("  taxable   brokerage ", "Taxable Brokerage"),
        ("ROTH 401(K)", "Roth 401(k)"),
        ("pension / profit sharing", "Pension / Profit Sharing"),
        ("annuity (non-qualified)", "Annuity (Non-Qualified)"),
        ("custodial (utma/ugma)", "Custodial (UTMA/UGMA)"),
        ("cash", "Cash"),
        ("OTHER", "Other"),
    ],
)
def test_canonical_investment_type(m: Mapping, text: str, expected: str) -> None:
    assert m.canonical_investment_type(text) == expected


@pytest.mark.parametrize("text", ["401k", "Brokerage", "Rollover IRA", "", "   "])
def test_canonical_investment_type_rejects_with_valid_list(m: Mapping, text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        m.canonical_investment_type(text)
    message = str(info.value)
    assert "\n" not in message
    for valid in INVESTMENT_TYPES:
        assert valid in message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Client", "Client"),
        (" client ", "Client"),
        ("CLIENT", "Client"),
        ("Co-client", "Co-client"),
        ("co-client", "Co-client"),
        ("CO-CLIENT", "Co-client"),
        ("co client", "Co-client"),
        ("coclient", "Co-client"),
        ("Co - Client", "Co-client"),
        ("joint", "Joint"),
        (" JOINT\t", "Joint"),
    ],
)
def test_canonical_owner(text: str, expected: str) -> None:
    assert canonical_owner(text) == expected


@pytest.mark.parametrize("text", ["", "Spouse", "co_client", "co--client", "clients", "jointly"])
def test_canonical_owner_rejects_with_valid_list(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        canonical_owner(text)
    for valid in ("Client", "Co-client", "Joint"):
        assert valid in str(info.value)
    assert info.value.exit_code == 2


# --- overrides -------------------------------------------------------------------------------


def write_override(config_dir: Path, text: str) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "redtail_mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_dir_or_no_file_is_builtin(tmp_path: Path) -> None:
    assert load_mapping() is builtin_mapping()
    assert load_mapping(tmp_path / "nowhere") is builtin_mapping()
    assert builtin_mapping() is builtin_mapping()


def test_override_merges_direct_key_by_key(tmp_path: Path) -> None:
    write_override(
        tmp_path,
        '[direct]\n"trust" = "Other"\n"Crypto Wallet" = "Cash"\n',
    )
    m = load_mapping(tmp_path)
    assert m.default_investment_type("Trust", None, None).investment_type == "Other"
    assert m.default_investment_type("Crypto Wallet", None, None).investment_type == "Cash"
    # untouched entries stay
    assert m.default_investment_type("Rollover IRA", None, None).investment_type == (
        "Traditional IRA"
    )
    assert m.default_investment_type("Annuity", False, None).investment_type == (
        "Annuity (Non-Qualified)"
    )
    # the included list was not given, so it is the built-in one
    assert list(m.included_account_types) == APPENDIX_A
    assert not m.is_included("Crypto Wallet")
    assert m.investment_types == INVESTMENT_TYPES


def test_override_merges_tax_qualified_and_targets_are_canonicalised(tmp_path: Path) -> None:
    write_override(tmp_path, '[tax_qualified]\n"Defined Benefit" = "pension / profit sharing"\n')
    m = load_mapping(tmp_path)
    assert m.default_investment_type("Annuity", True, "Defined Benefit") == DefaultType(
        "Pension / Profit Sharing",
        False,
        "defaulted from tax-qualified type Defined Benefit (Redtail type Annuity)",
    )
    assert m.default_investment_type("Annuity", True, "Keogh").investment_type == (
        "Pension / Profit Sharing"
    )


def test_override_replaces_included_list(tmp_path: Path) -> None:
    write_override(tmp_path, 'included_account_types = ["Brokerage", "Life Insurance"]\n')
    m = load_mapping(tmp_path)
    assert m.is_included("brokerage")
    assert m.is_included("Life Insurance")
    assert not m.is_included("Rollover IRA")
    # mapping tables merged, not replaced: Rollover IRA still has a default
    assert m.default_investment_type("Rollover IRA", None, None).investment_type == (
        "Traditional IRA"
    )
    # an included type with no mapping row: Other, for review
    got = m.default_investment_type("Life Insurance", None, None)
    assert (got.investment_type, got.review_type) == ("Other", True)


def test_override_moves_type_between_direct_and_tax_qualified(tmp_path: Path) -> None:
    write_override(
        tmp_path,
        '[direct]\n"Mutual Fund" = "Taxable Brokerage"\n'
        '[via_tax_qualified]\n"Trust" = "Taxable Brokerage"\n',
    )
    m = load_mapping(tmp_path)
    assert m.default_investment_type("Mutual Fund", True, "Roth IRA").investment_type == (
        "Taxable Brokerage"
    )
    assert m.default_investment_type("Trust", True, "Roth IRA").investment_type == "Roth IRA"


def test_override_replaces_investment_types(tmp_path: Path) -> None:
    types = list(INVESTMENT_TYPES) + ["Crypto"]
    listed = ", ".join(f'"{t}"' for t in types)
    write_override(tmp_path, f'investment_types = [{listed}]\n[direct]\n"Wallet" = "crypto"\n')
    m = load_mapping(tmp_path)
    assert m.investment_types == (*INVESTMENT_TYPES, "Crypto")
    assert m.default_investment_type("Wallet", None, None).investment_type == "Crypto"
    assert m.canonical_investment_type("CRYPTO") == "Crypto"


def test_override_non_qualified_names(tmp_path: Path) -> None:
    write_override(tmp_path, 'non_qualified_names = ["Non-Qualified", "NQ"]\n')
    m = load_mapping(tmp_path)
    assert m.default_investment_type("Variable Annuity", True, "nq").investment_type == (
        "Annuity (Non-Qualified)"
    )
    assert m.default_investment_type("Mutual Fund", True, "NQ").investment_type == (
        "Taxable Brokerage"
    )


def test_empty_override_equals_builtin(tmp_path: Path) -> None:
    write_override(tmp_path, "# nothing to change\n")
    m = load_mapping(tmp_path)
    assert m == builtin_mapping()
    assert m.sources[-1].endswith("redtail_mapping.toml")


# --- invalid overrides name the file and the line ----------------------------------------------


def expect_error(tmp_path: Path, text: str, line: int) -> MappingFileError:
    path = write_override(tmp_path, text)
    with pytest.raises(MappingFileError) as info:
        load_mapping(tmp_path)
    err = info.value
    assert isinstance(err, ValidationFailed)
    assert err.exit_code == 2
    assert str(path) in str(err)
    assert f"line {line}" in str(err)
    assert err.line == line
    assert "\n" not in str(err)
    return err


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    expect_error(tmp_path, '# ok\n[direct]\n"Trust" = \n', line=3)


def test_unterminated_string_names_line(tmp_path: Path) -> None:
    expect_error(tmp_path, '[direct]\n"IRA" = "Traditional IRA"\n"Trust = "Cash"\n', line=3)


def test_target_not_an_investment_type(tmp_path: Path) -> None:
    err = expect_error(
        tmp_path,
        '# firm overrides\n\n[direct]\n"Trust" = "Cash"\n"Rollover IRA" = "Trad IRA"\n',
        line=5,
    )
    assert "Trad IRA" in str(err)
    assert "Traditional IRA" in str(err)  # the valid list


def test_tax_qualified_target_not_an_investment_type(tmp_path: Path) -> None:
    expect_error(tmp_path, '[direct]\n"Trust" = "Cash"\n\n[tax_qualified]\n"Roth" = "Rothy"\n', 5)


def test_wrong_value_type(tmp_path: Path) -> None:
    expect_error(tmp_path, '[direct]\n"Trust" = "Cash"\n"CD" = 3\n', line=3)


def test_wrong_list_type(tmp_path: Path) -> None:
    expect_error(tmp_path, '# x\nincluded_account_types = "Brokerage"\n', line=2)


def test_list_element_wrong_type(tmp_path: Path) -> None:
    expect_error(tmp_path, 'included_account_types = [\n  "Brokerage",\n  7,\n]\n', line=1)


def test_table_is_not_a_table(tmp_path: Path) -> None:
    expect_error(tmp_path, "\n\ndirect = 5\n", line=3)


def test_unknown_key(tmp_path: Path) -> None:
    expect_error(tmp_path, 'investment_types = ["Other"]\ninclued_account_types = []\n', line=2)


def test_duplicate_after_normalisation(tmp_path: Path) -> None:
    expect_error(tmp_path, '[direct]\n"Trust" = "Cash"\n"  trust" = "Other"\n', line=3)


def test_same_type_in_direct_and_via_tq_of_one_file(tmp_path: Path) -> None:
    expect_error(
        tmp_path,
        '[direct]\n"Annuity" = "Cash"\n[via_tax_qualified]\n"Annuity" = "Cash"\n',
        line=4,
    )


def test_investment_types_without_other(tmp_path: Path) -> None:
    expect_error(tmp_path, '\ninvestment_types = ["Cash"]\n', line=2)


def test_investment_types_dropping_a_builtin_target(tmp_path: Path) -> None:
    listed = ", ".join(f'"{t}"' for t in INVESTMENT_TYPES if t != "HSA")
    err = expect_error(tmp_path, f"# drop HSA\ninvestment_types = [{listed}]\n", line=2)
    assert "HSA" in str(err)


def test_not_utf8(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "redtail_mapping.toml"
    path.write_bytes(b'[direct]\n"Trust" = "\xff"\n')
    with pytest.raises(MappingFileError) as info:
        load_mapping(tmp_path)
    assert str(path) in str(info.value)
