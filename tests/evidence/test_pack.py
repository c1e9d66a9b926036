"""The borrower's evidence pack: everything recorded, signed, checked with no database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.evidence.chain import Kind
from arrears.core.evidence.pack import check_pack, public_key_text
from arrears.services import evidence as log
from arrears.services.collection.complaints import file_complaint
from arrears.services.collection.evidence_pack import Pack, build_pack, render_pack_html
from arrears.services.collection.plans import request_plan
from arrears.services.own_records import add_file, add_note, own_records
from contact.test_cases_support import overdue_loans
from factories import refused, succeeded

SHANGHAI = timezone(timedelta(hours=8))
AT = datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI)
KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        log.append(  # as the close writes it: the number of rules checked, not a list
            conn,
            "B-L1",
            Kind.CONTACT_PLANNED,
            {"channel": "sms", "party": "debtor", "loan_id": "L1", "rules": 27, "step": "sms"},
            AT,
        )
        log.append(
            conn,
            "B-L1",
            Kind.CONTACT_BLOCKED,
            {
                "channel": "call",
                "party": "emergency_contact",
                "loan_id": "L1",
                "rules": ["cn.hours"],
            },
            AT,
        )
        succeeded(
            add_note(
                conn,
                key="n1",
                borrower_id="B-L1",
                at=AT + timedelta(hours=1),
                happened_at=AT,
                channel="call",
                caller_name="王经理",
                said="说不还钱就去我单位",
            )
        )
        succeeded(
            add_file(
                conn,
                key="f1",
                borrower_id="B-L1",
                at=AT + timedelta(hours=1),
                kind="screenshot",
                name="sms.png",
                data=b"\x89PNG fake screenshot bytes",
            )
        )
        succeeded(
            file_complaint(
                conn,
                key="c1",
                borrower_id="B-L1",
                at=AT + timedelta(hours=2),
                against="contact",
                text="打到我单位去了",
            )
        )
        succeeded(
            request_plan(
                conn,
                key="plan1",
                borrower_id="B-L1",
                loan_id="L1",
                at=AT + timedelta(hours=2),
                reason="job_loss",
                months=6,
            )
        )
        log.store_root(conn, "2024-03-04", AT + timedelta(hours=3))
    return engine


def _pack(engine: Engine) -> Pack:
    with engine.connect() as conn:
        return succeeded(build_pack(conn, "B-L1", AT + timedelta(hours=4), KEY, "示范消费金融"))


def test_a_pack_holds_everything_and_checks_out(book: Engine) -> None:
    pack = _pack(book)
    data = pack.data
    assert data["borrower_id"] == "B-L1" and data["anchor"] is not None
    kinds = [json.loads(line)["kind"] for line in data["chain"]]
    assert kinds[-6:] == [
        "contact.blocked",
        "borrower.note",
        "borrower.file",
        "borrower.request",
        "borrower.request",
        "plan.active",
    ]
    assert [p["status"] for p in data["plans"]] == ["active"]
    (planned,) = [c for c in data["contacts"] if c["kind"] == "contact.planned"]
    assert planned["rules"] == [] and planned["channel"] == "sms"
    (blocked,) = [c for c in data["contacts"] if c["kind"] == "contact.blocked"]
    assert blocked["rules"] == ["cn.hours"] and blocked["party"] == "emergency_contact"
    assert [r["kind"] for r in data["own_records"]] == ["note", "screenshot"]
    assert data["own_records"][0]["text"] == "说不还钱就去我单位"
    assert data["complaints"][0]["text"] == "打到我单位去了"
    (l1,) = [loan for loan in data["loans"] if loan["loan_id"] == "L1"]
    assert l1["dpd"] == 0 and l1["outstanding"]["principal"] > 120_000  # re-aged into the plan
    assert all(loan["loan_id"] != "L2" for loan in data["loans"])  # another borrower's loan
    check = check_pack(pack.text, KEY.public_key())
    assert check.intact, check.problems
    assert check.anchored and check.signed_by == public_key_text(KEY.public_key())


def _tampered(pack: Pack, change: object) -> str:
    data = json.loads(pack.text)
    change(data)  # type: ignore[operator]
    return json.dumps(data, ensure_ascii=False)


def _edit_record(data: dict) -> None:  # type: ignore[type-arg]
    rec = json.loads(data["chain"][0])
    rec["payload"] = {"edited": True}
    data["chain"][0] = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["loans"][0]["overdue"].update(principal=1), "signature"),
        (_edit_record, "chain"),
        (lambda d: d["chain"].pop(), "chain"),  # the anchor's head is no longer in the chain
        (lambda d: d["own_records"][0].update(text="他很客气"), "text"),
        (lambda d: d["complaints"][0].update(text="没事了"), "text"),
        (lambda d: d["contacts"].pop(), "contacts"),
        (lambda d: d["plans"][0].update(plan_id=99), "plan_id"),
        (lambda d: d.update(signature={"algorithm": "none"}), "signature"),
        (lambda d: d.update(format="something else"), "format"),
    ],
)
def test_a_tampered_pack_fails(book: Engine, change: object, field: str) -> None:
    check = check_pack(_tampered(_pack(book), change), KEY.public_key())
    assert not check.intact
    assert field in {p.field for p in check.problems}, check.problems


def test_a_pack_re_signed_by_someone_else_fails_against_the_published_key(book: Engine) -> None:
    from arrears.core.evidence.pack import sign

    data = json.loads(_pack(book).text)
    data.pop("signature")
    data["loans"][0]["overdue"]["principal"] = 1
    forged = json.dumps(sign(data, Ed25519PrivateKey.generate()), ensure_ascii=False)
    assert check_pack(forged).intact  # signed consistently, by somebody
    problem = check_pack(forged, KEY.public_key()).problems[0]
    assert "published key" in problem.reason
    assert not check_pack(_pack(book).text, expected_root="0" * 64).intact


def test_the_page_shows_it_in_both_languages(book: Engine) -> None:
    pack = _pack(book)
    zh = render_pack_html(pack, "zh-CN")
    assert "已核验" in zh and "说不还钱就去我单位" in zh and "被合规规则拦下" in zh
    assert "执行中" in zh
    en = render_pack_html(pack, "en")
    assert "in force" in en and "Checked: the record chain" in en and "stopped by our rules" in en
    assert "sms.png" in en


def test_own_records_are_idempotent_and_bad_ones_change_nothing(book: Engine) -> None:
    with book.begin() as conn:
        before = len(log.load_chain(conn, "B-L1"))
        again = succeeded(
            add_note(
                conn,
                key="n1",
                borrower_id="B-L1",
                at=AT + timedelta(hours=5),
                happened_at=AT,
                channel="call",
                caller_name="王经理",
                said="说不还钱就去我单位",
            )
        )
        assert again.already_recorded
        note = dict(key="n2", borrower_id="B-L1", at=AT, happened_at=AT, channel="call")
        bad = [
            refused(add_note(conn, **note, caller_name="x", said=" ")).field,  # type: ignore[arg-type]
            refused(add_note(conn, **{**note, "channel": "fax"}, caller_name="", said="x")).field,  # type: ignore[arg-type]
            refused(
                add_note(
                    conn,
                    **{**note, "happened_at": AT + timedelta(days=1)},
                    caller_name="",
                    said="x",
                )  # type: ignore[arg-type]
            ).field,
            refused(
                add_note(conn, **{**note, "key": "n1"}, caller_name="someone else", said="x")  # type: ignore[arg-type]
            ).field,
            refused(
                add_note(conn, **{**note, "borrower_id": "NOPE"}, caller_name="", said="x")
            ).code,  # type: ignore[arg-type]
            refused(
                add_file(
                    conn, key="f2", borrower_id="B-L1", at=AT, kind="video", name="a", data=b"1"
                )
            ).field,
            refused(
                add_file(
                    conn,
                    key="f2",
                    borrower_id="B-L1",
                    at=AT,
                    kind="recording",
                    name="../a",
                    data=b"1",
                )
            ).field,
            refused(
                add_file(
                    conn, key="f2", borrower_id="B-L1", at=AT, kind="recording", name="a", data=b""
                )
            ).field,
        ]
        assert bad == ["said", "channel", "happened_at", "key", "not_found", "kind", "name", "data"]
        assert len(log.load_chain(conn, "B-L1")) == before
        assert [r.key for r in own_records(conn, "B-L1")] == ["n1", "f1"]
        assert refused(build_pack(conn, "NOPE", AT, KEY, "x")).code == "not_found"


def test_cli_export_and_verify_pack(
    book: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_KEY_DIR", str(tmp_path / "keys"))
    runner = CliRunner()
    out = tmp_path / "pack.json"
    done = runner.invoke(
        app, ["evidence", "export", "--borrower", "B-L1", "--out", str(out), "--db", db_url]
    )
    assert done.exit_code == 0, done.output
    assert "不还钱" in (tmp_path / "pack.html").read_text(encoding="utf-8")
    ok_run = runner.invoke(app, ["evidence", "verify-pack", str(out), "--json"])
    assert ok_run.exit_code == 0, ok_run.output
    assert json.loads(ok_run.output)["intact"] is True
    public = runner.invoke(app, ["collectors", "public-key"])
    (tmp_path / "lender.pem").write_text(public.output)
    keyed = runner.invoke(
        app, ["evidence", "verify-pack", str(out), "--key", str(tmp_path / "lender.pem")]
    )
    assert keyed.exit_code == 0, keyed.output
    out.write_text(
        out.read_text(encoding="utf-8").replace("说不还钱就去我单位", "他很客气"), "utf-8"
    )
    bad = runner.invoke(app, ["evidence", "verify-pack", str(out)])
    assert bad.exit_code == 1 and "TAMPERED" in bad.output
    note = runner.invoke(
        app,
        [
            *["evidence", "note", "B-L1", "--key", "cli-n", "--happened-at", AT.isoformat()],
            *["--channel", "visit", "--said", "两个人上门，出示了工作证", "--db", db_url, "--json"],
        ],
    )
    assert note.exit_code == 0, note.output
    assert json.loads(note.output)["channel"] == "visit"
    shot = tmp_path / "call.m4a"
    shot.write_bytes(b"audio")
    attached = runner.invoke(
        app,
        [
            *["evidence", "attach", "B-L1", "--file", str(shot), "--kind", "recording"],
            *["--key", "cli-f", "--db", db_url, "--at", datetime.now(UTC).isoformat()],
        ],
    )
    assert attached.exit_code == 0, attached.output
    assert hashlib.sha256(b"audio").hexdigest() in attached.output
