from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import sqlite3
import sys
import unicodedata
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest

from saml_middleware.errors import ConfigError
from saml_middleware.user import SAMLUser
from saml_middleware.users import (
    AssertionDirectory,
    PythonDirectory,
    UserDirectory,
    directory_from_setting,
    merge_record,
)
from saml_middleware.users.file import FileDirectory
from saml_middleware.users.sql import SQLDirectory

HERE = Path(__file__).resolve().parents[2]
DATA = HERE / "data" / "directory"
NFC_JOSE = unicodedata.normalize("NFC", "josé@example.com")
NFD_JOSE = unicodedata.normalize("NFD", "josé@example.com")
FULLWIDTH_BOB = "\uff42ob@example.com"  # full-width b, then "ob@example.com"


def saml_user(email: str, **attributes: list[str]) -> SAMLUser:
    return SAMLUser(
        email=email,
        name_id=email,
        display_name="From the IdP",
        attributes=attributes,
        session_index="_idx",
        issuer="https://sts.windows.net/tenant/",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bump_mtime(path: Path, seconds: int = 10) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def config_error(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    return "\n".join(excinfo.value.problems)


# -- merge_record --------------------------------------------------------


def test_merge_record_takes_canonical_email_name_and_local_attributes() -> None:
    user = saml_user("ALICE@example.com", role=["guest"], given_name=["Alice"])
    merged = merge_record(
        user,
        {
            "email": "alice@example.com",
            "display_name": "Alice A.",
            "role": "admin",
            "groups": ("a", 2),
        },
    )
    assert merged.email == "alice@example.com"
    assert merged.display_name == "Alice A."
    assert merged.attributes == {"role": ["admin"], "given_name": ["Alice"], "groups": ["a", "2"]}
    assert (merged.name_id, merged.session_index, merged.issuer) == (
        user.name_id,
        user.session_index,
        user.issuer,
    )


def test_merge_record_keeps_idp_values_when_record_is_silent() -> None:
    user = saml_user("bob@example.com", role=["guest"])
    merged = merge_record(user, {"email": None, "display_name": "", "role": None, "level": 0})
    assert merged.email == "bob@example.com"
    assert merged.display_name == "From the IdP"
    assert merged.attributes == {"role": ["guest"], "level": ["0"]}
    assert merge_record(user, {"name": "Bob B."}).display_name == "Bob B."


# -- assertion -----------------------------------------------------------


def test_assertion_directory_admits_everyone_unchanged() -> None:
    user = saml_user("anyone@example.org", role=["x"])
    directory = directory_from_setting("assertion")
    assert isinstance(directory, AssertionDirectory)
    assert isinstance(directory, UserDirectory)
    assert directory.lookup(user) is user


# -- files ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["users.csv", "users.json", "users_by_email.json"])
def test_file_admits_listed_users_case_insensitively_and_merges(name: str) -> None:
    directory = directory_from_setting(f"file:{DATA / name}")
    user = directory.lookup(saml_user("  alice@EXAMPLE.COM ", role=["guest"], given_name=["Alice"]))
    assert isinstance(user, SAMLUser)
    assert user.email == "Alice@Example.com"
    assert user.display_name == "Alice Admin"
    assert user.attributes["role"] == ["admin"]
    assert user.attributes["given_name"] == ["Alice"]
    bob = directory.lookup(saml_user("BOB@example.com"))
    assert isinstance(bob, SAMLUser)
    assert bob.attributes["role"] == ["viewer"]
    assert "team" not in bob.attributes  # empty cell / null is not an attribute
    assert bob.display_name == "From the IdP"


def test_json_keeps_lists_and_stringifies_numbers() -> None:
    directory = FileDirectory(DATA / "users.json")
    alice = directory.lookup(saml_user("alice@example.com"))
    jose = directory.lookup(saml_user(NFC_JOSE))
    assert alice is not None and jose is not None
    assert alice.attributes["groups"] == ["ops", "dev"]
    assert jose.attributes["level"] == ["3"]
    assert jose.display_name == "José Núñez"


@pytest.mark.parametrize("name", ["users.csv", "users.json", "users_by_email.json"])
def test_file_refuses_unlisted_user(name: str) -> None:
    assert FileDirectory(DATA / name).lookup(saml_user("mallory@example.com")) is None


@pytest.mark.parametrize("name", ["users.csv", "users.json", "users_by_email.json"])
def test_fullwidth_lookalike_is_not_bob(name: str) -> None:
    # NFKC would fold the look-alike onto Bob's address: the directory must not.
    assert unicodedata.normalize("NFKC", FULLWIDTH_BOB) == "bob@example.com"
    directory = FileDirectory(DATA / name)
    assert directory.lookup(saml_user("bob@example.com")) is not None
    assert directory.lookup(saml_user(FULLWIDTH_BOB)) is None
    assert directory.lookup(saml_user(FULLWIDTH_BOB.upper())) is None


@pytest.mark.parametrize(("listed", "sent"), [(NFC_JOSE, NFD_JOSE), (NFD_JOSE, NFC_JOSE)])
def test_nfc_and_nfd_spellings_of_an_accented_email_match(tmp_path: Path, listed: str, sent: str) -> None:
    assert listed != sent
    path = tmp_path / "users.csv"
    path.write_text(f"email,role\n{listed},editor\n", encoding="utf-8")
    user = FileDirectory(path).lookup(saml_user(sent))
    assert user is not None
    assert user.attributes["role"] == ["editor"]
    assert user.email == NFC_JOSE


def test_csv_with_bom_and_header_spacing(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("\ufeffEmail , role\r\ncarol@example.com , admin\r\n\r\n", encoding="utf-8")
    user = FileDirectory(path).lookup(saml_user("Carol@example.com"))
    assert user is not None and user.attributes["role"] == ["admin"]


def test_file_reloads_when_mtime_changes(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("email,role\nalice@example.com,admin\n", encoding="utf-8")
    clock = Clock()
    directory = FileDirectory(path, clock=clock)
    assert directory.lookup(saml_user("dave@example.com")) is None

    path.write_text("email,role\nalice@example.com,admin\ndave@example.com,viewer\n", encoding="utf-8")
    bump_mtime(path)
    clock.now += 1.0  # checked at most once every 2 seconds
    assert directory.lookup(saml_user("dave@example.com")) is None
    clock.now += 1.0
    dave = directory.lookup(saml_user("dave@example.com"))
    assert dave is not None and dave.attributes["role"] == ["viewer"]


def test_broken_file_keeps_last_good_copy(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps([{"email": "alice@example.com", "role": "admin"}]), encoding="utf-8")
    clock = Clock()
    directory = FileDirectory(path, clock=clock)

    path.write_text('[{"email": "alice@example.com", ', encoding="utf-8")
    bump_mtime(path)
    clock.now += 5
    with caplog.at_level(logging.WARNING, logger="saml_middleware"):
        alice = directory.lookup(saml_user("alice@example.com"))
    assert alice is not None and alice.attributes["role"] == ["admin"]
    assert any("malformed JSON" in r.getMessage() and r.name == "saml_middleware" for r in caplog.records)

    path.unlink()
    clock.now += 5
    assert directory.lookup(saml_user("alice@example.com")) is not None

    path.write_text(json.dumps({"erin@example.com": {"role": "viewer"}}), encoding="utf-8")
    clock.now += 5
    assert directory.lookup(saml_user("alice@example.com")) is None
    assert directory.lookup(saml_user("erin@example.com")) is not None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("users.txt", "email\n", "must end in .csv or .json"),
        ("users.csv", "", "line 1 must be a header with an email column"),
        ("users.csv", "mail,role\nalice@example.com,admin\n", "with an email column"),
        ("users.csv", "email,role,role\na@example.com,x,y\n", "repeated"),
        ("users.csv", "email,role\na@example.com,x,extra\n", "line 2 has more fields"),
        ("users.csv", "email,role\na@example.com,x\n,admin\n", "line 3 has no e-mail"),
        ("users.csv", "email\na@x.org\nb@x.org\nA@X.org\n", "line 4 repeats the e-mail of line 2"),
        ("users.json", '[{"email": "a@example.com"},\n {"email": }]', "malformed JSON at line 2"),
        ("users.json", '"a@example.com"', "must hold a list of objects"),
        ("users.json", '["a@example.com"]', "entry 1 must be a JSON object"),
        ("users.json", '[{"role": "admin"}]', "entry 1 has no e-mail"),
        ("users.json", '[{"email": "a@x.org"}, {"email": " A@X.org"}]', "entry 2 repeats"),
        ("users.json", '{"a@x.org": {"role": {"nested": 1}}}', "'role' must be a string"),
        ("users.json", '{"a@x.org": {}, "A@x.org": {}}', "repeats the e-mail of entry 'a@x.org'"),
    ],
)
def test_bad_files_are_config_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        directory_from_setting(f"file:{path}")
    assert message in config_error(excinfo)
    assert "SAML_USERS=file:" in config_error(excinfo)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        FileDirectory(tmp_path / "nope.csv")
    assert "no such file" in config_error(excinfo)


# -- SQL -----------------------------------------------------------------

QUERY = "SELECT email, full_name AS display_name, role FROM users WHERE lower(email) = lower(:email)"


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (email TEXT, full_name TEXT, role TEXT)")
        conn.executemany(
            "INSERT INTO users VALUES (?, ?, ?)",
            [("Alice@Example.com", "Alice Admin", "admin"), ("bob@example.com", None, "viewer")],
        )
    conn.close()
    return f"sqlite:///{path}"


@pytest.fixture
def sql_directory(database: str) -> Iterator[SQLDirectory]:
    directory = directory_from_setting(f"sql:{database}", user_query=QUERY)
    assert isinstance(directory, SQLDirectory)
    yield directory
    directory.close()


def test_sql_admits_listed_user_and_merges_row(sql_directory: SQLDirectory) -> None:
    alice = sql_directory.lookup(saml_user("ALICE@example.com", role=["guest"], given_name=["A"]))
    assert alice is not None
    assert alice.email == "Alice@Example.com"
    assert alice.display_name == "Alice Admin"
    assert alice.attributes == {"role": ["admin"], "given_name": ["A"]}
    bob = sql_directory.lookup(saml_user("bob@example.com"))
    assert bob is not None and bob.display_name == "From the IdP"


def test_sql_refuses_unlisted_and_injection(sql_directory: SQLDirectory) -> None:
    assert sql_directory.lookup(saml_user("mallory@example.com")) is None
    assert sql_directory.lookup(saml_user("x' OR '1'='1")) is None
    assert sql_directory.lookup(saml_user("x') OR 1=1 --")) is None


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        ("sqlite://", "", "SAML_USER_QUERY is required"),
        ("sqlite://", "SELECT * FROM users WHERE email = '{email}'", "bind parameter :email"),
        (
            "sqlite://",
            "SELECT * FROM users WHERE email = :email AND t = :org",
            "not ['org']",
        ),  # :tenant is bound now
        ("not a url", QUERY, "unusable database URL"),
        ("nosuchdb://u:secret@h/db", QUERY, "unusable database URL: Can't load plugin"),
        (
            "mysql+mysqldb://u:secret@h/db",
            QUERY,
            "the database driver 'MySQLdb' is not installed: pip install",
        ),
    ],
)
def test_sql_misconfiguration(url: str, query: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        directory_from_setting(f"sql:{url}", user_query=query)
    assert message in config_error(excinfo)
    assert "secret" not in config_error(excinfo)


def test_sql_without_sqlalchemy_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # as if not installed
    with pytest.raises(ConfigError) as excinfo:
        SQLDirectory("sqlite://", QUERY)
    assert "pip install 'SQLAlchemy>=2.0'" in config_error(excinfo)  # saml-middleware is not on PyPI


# -- python hook ---------------------------------------------------------


@pytest.fixture
def hooks_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE / "support"))


async def resolve(result: SAMLUser | Awaitable[SAMLUser | None] | None) -> SAMLUser | None:
    """What the middleware does with a lookup result."""
    return await result if inspect.isawaitable(result) else result


def claims(email: str, country: str) -> SAMLUser:
    return saml_user(email, FirstName=["Ann"], LastName=["Jansen"], Country=[country], Email=[email.lower()])


@pytest.mark.usefixtures("hooks_importable")
def test_python_hook_creates_users_just_in_time() -> None:
    directory = directory_from_setting("python:directory_hooks:create_from_claims")
    user = directory.lookup(claims("Ann@Example.NL", "NL"))
    assert isinstance(user, SAMLUser)
    assert (user.email, user.display_name) == ("ann@example.nl", "Ann Jansen")
    assert user.attributes["role"] == ["member"]
    assert user.attributes["Country"] == ["NL"]
    assert directory.lookup(claims("zed@example.com", "US")) is None


@pytest.mark.usefixtures("hooks_importable")
def test_python_async_hook_is_resolved_by_the_caller() -> None:
    directory = PythonDirectory("directory_hooks:async_create_from_claims")
    admitted = directory.lookup(claims("piet@example.be", "BE"))
    refused = directory.lookup(claims("zed@example.com", "US"))
    assert inspect.isawaitable(admitted) and inspect.isawaitable(refused)
    user = asyncio.run(resolve(admitted))
    assert user is not None and user.display_name == "Ann Jansen"
    assert asyncio.run(resolve(refused)) is None


@pytest.mark.usefixtures("hooks_importable")
def test_python_hook_may_return_a_samluser_and_must_not_return_junk() -> None:
    user = PythonDirectory("directory_hooks:rename").lookup(saml_user("a@example.com"))
    assert isinstance(user, SAMLUser) and user.display_name == "Renamed by hook"
    with pytest.raises(TypeError, match="returned bool"):
        PythonDirectory("directory_hooks:wrong_type").lookup(saml_user("a@example.com"))


@pytest.mark.usefixtures("hooks_importable")
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("directory_hooks", "must name package.module:function"),
        ("no_such_module_for_directory:f", "cannot import module 'no_such_module_for_directory'"),
        ("no_such_module_for_directory:f", "(run from the app's directory, or add it to PYTHONPATH)"),
        ("directory_hooks:missing", "has no 'missing'"),
        ("directory_hooks:NOT_CALLABLE", "'NOT_CALLABLE' is not callable"),
    ],
)
def test_python_misconfiguration(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        directory_from_setting(f"python:{spec}")
    assert message in config_error(excinfo)


def test_python_hook_module_failing_at_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "directory_hook_that_fails.py").write_text("raise RuntimeError('no database')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as excinfo:
        PythonDirectory("directory_hook_that_fails:admit")
    assert "RuntimeError: no database" in config_error(excinfo)


# -- the setting -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ldap://dc.example.com", "SAML_USERS must be assertion, file:PATH"),
        ("", "SAML_USERS must be assertion"),
        ("assertion:yes", "SAML_USERS must be assertion"),
        ("file:", "SAML_USERS=file: needs a value"),
        ("sql:  ", "SAML_USERS=sql: needs a value"),
    ],
)
def test_unknown_setting_is_a_config_error(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        directory_from_setting(value)
    assert message in config_error(excinfo)
